//! Keys that thread messages together, JWZ-style: a message joins the thread of any
//! message whose id it references, or that references the same ids. Only messages with
//! no reference headers at all fall back to their normalized subject.

use std::collections::HashSet;

use crate::headers::MessageHeaders;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadKeys {
    /// The message's own id.
    pub own: Option<String>,
    /// References and In-Reply-To, deduplicated, in order.
    pub related: Vec<String>,
    /// Set only for messages without any reference header.
    pub subject_key: Option<String>,
}

/// References kept for threading: the newest end of the chain. JWZ links a message
/// to its parent and the parent's ancestors, and any one of the last ids is enough to
/// join the thread; the rest only costs work on headers an outside sender controls.
pub const MAX_REFERENCES: usize = 100;
/// Bytes of a normalized subject kept as its thread key.
pub const MAX_SUBJECT_KEY_BYTES: usize = 1024;

pub fn thread_keys(headers: &MessageHeaders) -> ThreadKeys {
    let references = &headers.references;
    let tail = &references[references.len().saturating_sub(MAX_REFERENCES)..];
    let mut seen: HashSet<&str> = HashSet::new();
    if let Some(own) = &headers.message_id {
        seen.insert(own.as_str());
    }
    let mut related: Vec<String> = Vec::new();
    for id in tail
        .iter()
        .chain(headers.in_reply_to.iter().take(MAX_REFERENCES))
    {
        if seen.insert(id.as_str()) {
            related.push(id.clone());
        }
    }
    let subject_key = if related.is_empty() {
        headers
            .subject
            .as_deref()
            .map(normalize_subject)
            .filter(|s| !s.is_empty())
    } else {
        None
    };
    ThreadKeys {
        own: headers.message_id.clone(),
        related,
        subject_key,
    }
}

/// Lower case, whitespace collapsed, reply and forward prefixes removed
/// (`Re:`, `RE[2]:`, `Fwd:`, `FW:`, `AW:`, `WG:`, `SV:`, `Antw:`, repeated), at most
/// `MAX_SUBJECT_KEY_BYTES`. One pass over the subject: the prefixes are ASCII and are
/// matched in place, case-insensitively.
pub fn normalize_subject(subject: &str) -> String {
    let mut rest = subject.trim();
    while let Some(consumed) = reply_prefix_len(rest) {
        rest = rest.get(consumed..).unwrap_or("").trim_start();
    }
    let mut key = String::new();
    for word in rest.split_whitespace() {
        if key.len() + word.len() + 1 > MAX_SUBJECT_KEY_BYTES {
            break;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(word);
    }
    key.to_lowercase()
}

/// The length of one reply or forward prefix at the start of `text` (with its counter,
/// the whitespace before the colon and the colon), if it starts with one.
fn reply_prefix_len(text: &str) -> Option<usize> {
    const PREFIXES: &[&str] = &["antw", "fwd", "re", "fw", "aw", "wg", "sv", "vs", "tr"];
    let bytes = text.as_bytes();
    PREFIXES.iter().find_map(|prefix| {
        let head = bytes.get(..prefix.len())?;
        if !head.eq_ignore_ascii_case(prefix.as_bytes()) {
            return None;
        }
        let mut at = prefix.len();
        // An optional counter: `Re[2]:` or `Re(2):`.
        if matches!(bytes.get(at), Some(b'[') | Some(b'(')) {
            let digits = bytes[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            at += 1 + digits;
            if !matches!(bytes.get(at), Some(b']') | Some(b')')) {
                return None;
            }
            at += 1;
        }
        let after = text.get(at..)?;
        let trimmed = after.trim_start();
        let colon = at + (after.len() - trimmed.len());
        (bytes.get(colon) == Some(&b':')).then_some(colon + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str, refs: &[&str], subject: &str) -> MessageHeaders {
        MessageHeaders {
            message_id: Some(id.into()),
            references: refs.iter().map(|r| r.to_string()).collect(),
            subject: Some(subject.into()),
            ..Default::default()
        }
    }

    #[test]
    fn prefixes_are_stripped_repeatedly() {
        assert_eq!(
            normalize_subject("Re: RE[2]: Fwd:  Budget   2024"),
            "budget 2024"
        );
        assert_eq!(normalize_subject("AW: WG: Angebot"), "angebot");
        assert_eq!(normalize_subject("Reply needed"), "reply needed");
        assert_eq!(normalize_subject("Re:"), "");
        assert_eq!(normalize_subject("Ré: été"), "ré: été");
    }

    #[test]
    fn replies_carry_references_and_no_subject_key() {
        let keys = thread_keys(&headers("b@x", &["a@x", "a@x"], "Re: Plan"));
        assert_eq!(keys.own.as_deref(), Some("b@x"));
        assert_eq!(keys.related, vec!["a@x"]);
        assert_eq!(keys.subject_key, None);
    }

    #[test]
    fn only_unreferenced_messages_fall_back_to_the_subject() {
        let keys = thread_keys(&headers("a@x", &[], "Re: Plan"));
        assert!(keys.related.is_empty());
        assert_eq!(keys.subject_key.as_deref(), Some("plan"));
    }

    #[test]
    fn thirty_thousand_reply_prefixes_are_stripped() {
        let subject = format!("{}Budget", "Re: ".repeat(30_000));
        assert_eq!(normalize_subject(&subject), "budget");
        let bare = "RE:".repeat(30_000);
        assert_eq!(normalize_subject(&bare), "");
    }

    #[test]
    fn a_long_subject_key_is_capped() {
        let subject = "word ".repeat(100_000);
        let key = normalize_subject(&subject);
        assert!(key.len() <= MAX_SUBJECT_KEY_BYTES);
        assert!(key.starts_with("word word"));
    }

    #[test]
    fn fifty_thousand_references_keep_the_last_distinct_ids() {
        let mut refs: Vec<String> = (0..50_000).map(|i| format!("m{i}@x")).collect();
        // Repeats of ids in the tail count once.
        refs.extend((49_990..50_000).map(|i| format!("m{i}@x")));
        let keys = thread_keys(&MessageHeaders {
            message_id: Some("own@x".into()),
            references: refs,
            in_reply_to: vec!["m49999@x".into()],
            ..Default::default()
        });
        assert!(keys.related.len() <= MAX_REFERENCES);
        assert!(keys.related.contains(&"m49999@x".to_owned()));
        assert!(keys.related.contains(&"m49910@x".to_owned()));
        assert!(!keys.related.contains(&"m0@x".to_owned()));
        let distinct: HashSet<&String> = keys.related.iter().collect();
        assert_eq!(distinct.len(), keys.related.len());
    }

    #[test]
    fn fifty_thousand_repeats_of_one_reference_give_one_key() {
        let keys = thread_keys(&headers("b@x", &["a@x"; 50_000], "Re: Plan"));
        assert_eq!(keys.related, vec!["a@x"]);
    }
}
