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
        // This listing answers what was reported of mailbox names before it.
        self.discard_unsolicited();
        self.heard.mailbox_names = false;
        let listed = collect_capped(
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
        .await?;
        // Its own `* LIST` lines are no news for the next SELECT.
        self.session.get_mut().take_list_seen();
        Ok(listed)
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

/// Modified UTF-7 (RFC 3501 §5.1.3) to UTF-8; names already in UTF-8 pass through. A
/// shifted run (`&…-`) that is not modified BASE64 of UTF-16 is kept as sent: a server's
/// name, or a Gmail label, is never a reason to fail.
pub fn decode_mailbox_name(name: &str) -> String {
    if !name.contains('&') {
        return name.to_owned();
    }
    let mut decoded = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        decoded.push_str(&rest[..start]);
        let shifted = &rest[start + 1..];
        let Some(end) = shifted.find('-') else {
            decoded.push_str(&rest[start..]);
            return decoded;
        };
        match &shifted[..end] {
            "" => decoded.push('&'),
            run => match decode_utf16_run(run) {
                Some(text) => decoded.push_str(&text),
                None => decoded.push_str(&rest[start..start + end + 2]),
            },
        }
        rest = &shifted[end + 1..];
    }
    decoded.push_str(rest);
    decoded
}

/// One shifted run: modified BASE64 (`,` for `/`, no padding) of UTF-16BE.
fn decode_utf16_run(run: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(run.len() * 3 / 4);
    let (mut bits, mut held) = (0u32, 0u32);
    for c in run.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        held += 6;
        if held >= 8 {
            held -= 8;
            bytes.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    // Whole UTF-16 units, and no stray bits left over (fewer than a character's six).
    if bits != 0 || held >= 6 || bytes.is_empty() || bytes.len() % 2 != 0 {
        return None;
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
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
        assert_eq!(decode_mailbox_name("A&-B"), "A&B");
        assert_eq!(decode_mailbox_name("&2D3eAA-"), "😀");
        assert_eq!(
            decode_mailbox_name("&AWA-iuk&AWE-liad&ARcBfgEX-"),
            "Šiukšliadėžė"
        );
    }

    #[test]
    fn broken_modified_utf7_is_kept_as_sent() {
        for name in [
            "&A-",     // not a whole byte
            "&AB*-",   // not BASE64
            "&AMk",    // never shifted back
            "&AM-",    // stray bits
            "&2D0-",   // a lone surrogate
            "&AAAA-&", // odd bytes, then an unfinished shift
        ] {
            assert_eq!(decode_mailbox_name(name), name);
        }
        assert_eq!(decode_mailbox_name("ok &A- &AMk-"), "ok &A- É");
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
