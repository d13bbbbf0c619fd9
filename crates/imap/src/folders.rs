//! Listing mailboxes: names as the server spells them (for commands) and decoded for
//! people, hierarchy delimiters, and special-use roles normalised.

use async_imap::imap_proto::NameAttribute;

use crate::{error::ImapError, fetch::collect_capped, session::ImapSession};

/// The most mailboxes mailroom reads from one LIST; a server that lists more is cut off.
pub const MAX_FOLDERS: usize = 100_000;

/// One mailbox from LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFolder {
    /// The name on the wire (modified UTF-7), to use in later commands.
    pub imap_name: String,
    /// The full name decoded to UTF-8 (servers with UTF8=ACCEPT send UTF-8 already).
    pub decoded_name: String,
    pub delimiter: Option<String>,
    /// Special-use and other attributes as `\Sent`, `\Noselect`, … in canonical case.
    pub attributes: Vec<String>,
}

impl ListedFolder {
    pub fn is_selectable(&self) -> bool {
        !self
            .attributes
            .iter()
            .any(|a| a == "\\Noselect" || a == "\\NonExistent")
    }

    /// The last level of the decoded name.
    pub fn leaf_name(&self) -> &str {
        match self.delimiter.as_deref() {
            Some(d) if !d.is_empty() => self
                .decoded_name
                .rsplit(d)
                .next()
                .unwrap_or(&self.decoded_name),
            _ => &self.decoded_name,
        }
    }

    /// The decoded name of the parent, if this mailbox is nested.
    pub fn parent_name(&self) -> Option<&str> {
        let d = self.delimiter.as_deref().filter(|d| !d.is_empty())?;
        self.imap_name.rsplit_once(d).map(|(parent, _)| parent)
    }
}

impl ImapSession {
    /// Every mailbox of the account.
    pub async fn list_folders(&mut self) -> Result<Vec<ListedFolder>, ImapError> {
        collect_capped(
            self.session.list(Some(""), Some("*")).await?,
            MAX_FOLDERS,
            "LIST",
            |name| {
                let attributes: Vec<String> =
                    name.attributes().iter().map(canonical_attribute).collect();
                // `\NonExistent` names a mailbox that is not there (RFC 5258): a hierarchy
                // placeholder, or one just deleted as NOTIFY reports it (RFC 5465), whose
                // line can arrive among the answers to LIST. It is not a folder.
                if attributes.iter().any(|a| a == "\\NonExistent") {
                    return None;
                }
                Some(ListedFolder {
                    imap_name: name.name().to_owned(),
                    decoded_name: decode_mailbox_name(name.name()),
                    delimiter: name.delimiter().map(str::to_owned),
                    attributes,
                })
            },
        )
        .await
    }
}

impl ImapSession {
    /// The hierarchy delimiter (`LIST "" ""`); `None` for a flat namespace.
    pub async fn hierarchy_delimiter(&mut self) -> Result<Option<String>, ImapError> {
        let delimiters = collect_capped(
            self.session.list(Some(""), Some("")).await?,
            MAX_FOLDERS,
            "LIST",
            |n| n.delimiter().map(str::to_owned),
        )
        .await?;
        Ok(delimiters.into_iter().find(|d| !d.is_empty()))
    }
}

/// UTF-8 to modified UTF-7 (RFC 3501 §5.1.3), the spelling every server accepts in
/// commands (`&` becomes `&-`).
pub fn encode_mailbox_name(name: &str) -> String {
    if name.is_ascii() && !name.contains('&') {
        name.to_owned()
    } else {
        utf7_imap::encode_utf7_imap(name.to_owned())
    }
}

/// A mailbox name as an IMAP quoted string; line breaks cannot be quoted.
pub(crate) fn quoted(name: &str) -> Result<String, ImapError> {
    if name.contains(['\r', '\n', '\0']) {
        return Err(ImapError::Protocol(
            "a mailbox name cannot contain line breaks".into(),
        ));
    }
    Ok(format!(
        "\"{}\"",
        name.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Modified UTF-7 (RFC 3501 §5.1.3) to UTF-8; names already in UTF-8 pass through.
pub fn decode_mailbox_name(name: &str) -> String {
    if name.contains('&') {
        utf7_imap::decode_utf7_imap(name.to_owned())
    } else {
        name.to_owned()
    }
}

/// Quirk: some servers (Cyrus) send special-use flags in lower case (`\sent`); mailroom
/// reports them as RFC 6154 spells them.
fn canonical_attribute(attribute: &NameAttribute<'_>) -> String {
    let text = match attribute {
        NameAttribute::NoInferiors => "\\Noinferiors".to_owned(),
        NameAttribute::NoSelect => "\\Noselect".to_owned(),
        NameAttribute::Marked => "\\Marked".to_owned(),
        NameAttribute::Unmarked => "\\Unmarked".to_owned(),
        NameAttribute::All => "\\All".to_owned(),
        NameAttribute::Archive => "\\Archive".to_owned(),
        NameAttribute::Drafts => "\\Drafts".to_owned(),
        NameAttribute::Flagged => "\\Flagged".to_owned(),
        NameAttribute::Junk => "\\Junk".to_owned(),
        NameAttribute::Sent => "\\Sent".to_owned(),
        NameAttribute::Trash => "\\Trash".to_owned(),
        NameAttribute::Extension(other) => other.to_string(),
        _ => String::new(),
    };
    canonical_case(&text)
}

fn canonical_case(attribute: &str) -> String {
    const KNOWN: &[&str] = &[
        "\\Noinferiors",
        "\\Noselect",
        "\\NonExistent",
        "\\HasChildren",
        "\\HasNoChildren",
        "\\Marked",
        "\\Unmarked",
        "\\Subscribed",
        "\\Remote",
        "\\All",
        "\\Archive",
        "\\Drafts",
        "\\Flagged",
        "\\Junk",
        "\\Sent",
        "\\Trash",
        "\\Important",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(attribute))
        .map(|k| (*k).to_owned())
        .unwrap_or_else(|| attribute.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names_are_quoted_and_line_breaks_refused() {
        assert_eq!(quoted(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert!(quoted("x\r\nA2 DELETE INBOX").is_err());
    }

    #[test]
    fn names_are_encoded_to_modified_utf7_and_back() {
        for name in [
            "Entwürfe",
            "Projects & Plans",
            "Отправленные",
            "plain/Child",
        ] {
            assert_eq!(decode_mailbox_name(&encode_mailbox_name(name)), name);
        }
        assert_eq!(encode_mailbox_name("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode_mailbox_name("A&B"), "A&-B");
        assert_eq!(encode_mailbox_name("plain"), "plain");
    }

    #[test]
    fn modified_utf7_names_are_decoded() {
        assert_eq!(decode_mailbox_name("Entw&APw-rfe"), "Entwürfe");
        assert_eq!(decode_mailbox_name("INBOX"), "INBOX");
        assert_eq!(decode_mailbox_name("Caf&AOk- & Co"), "Café & Co");
    }

    #[test]
    fn lower_case_special_use_is_canonicalised() {
        assert_eq!(canonical_case("\\sent"), "\\Sent");
        assert_eq!(canonical_case("\\HASCHILDREN"), "\\HasChildren");
        assert_eq!(canonical_case("$Custom"), "$Custom");
    }

    #[test]
    fn hierarchy_is_read_from_the_delimiter() {
        let folder = ListedFolder {
            imap_name: "Archive/2023".into(),
            decoded_name: "Archive/2023".into(),
            delimiter: Some("/".into()),
            attributes: vec![],
        };
        assert_eq!(folder.leaf_name(), "2023");
        assert_eq!(folder.parent_name(), Some("Archive"));
    }
}
