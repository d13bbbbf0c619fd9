//! Keys that thread messages together, JWZ-style: a message joins the thread of any
//! message whose id it references, or that references the same ids. Only messages with
//! no reference headers at all fall back to their normalized subject.

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

pub fn thread_keys(headers: &MessageHeaders) -> ThreadKeys {
    let mut related: Vec<String> = Vec::new();
    for id in headers.references.iter().chain(&headers.in_reply_to) {
        if !related.contains(id) && Some(id) != headers.message_id.as_ref() {
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
/// (`Re:`, `RE[2]:`, `Fwd:`, `FW:`, `AW:`, `WG:`, `SV:`, `Antw:`, repeated).
pub fn normalize_subject(subject: &str) -> String {
    const PREFIXES: &[&str] = &["re", "fwd", "fw", "aw", "wg", "sv", "antw", "vs", "tr"];
    let mut rest = subject.trim();
    loop {
        let lower = rest.to_lowercase();
        let stripped = PREFIXES.iter().find_map(|prefix| {
            let after = lower.strip_prefix(prefix)?;
            // An optional counter: `Re[2]:` or `Re(2):`.
            let after = match after.chars().next() {
                Some('[') | Some('(') => {
                    let close = after.find([']', ')'])?;
                    if !after[1..close].chars().all(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    &after[close + 1..]
                }
                _ => after,
            };
            let after = after.trim_start();
            after.strip_prefix(':').map(|tail| lower.len() - tail.len())
        });
        match stripped {
            Some(consumed) => rest = rest.get(consumed..).unwrap_or("").trim_start(),
            None => break,
        }
    }
    rest.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
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
}
