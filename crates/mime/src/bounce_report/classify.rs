//! What a failure says: its enhanced status code (RFC 3463) and SMTP reply code
//! (RFC 5321 §4.2) found in text, the diagnostic cleaned for people, whether it is
//! permanent, and which kind of bounce it is.

use super::BounceKind;

/// Characters of a reason kept; diagnostics are a line or two.
const MAX_REASON_CHARS: usize = 1000;
/// Words of a text searched for codes: they come first in a reply.
const MAX_CODE_WORDS: usize = 64;

/// An enhanced status code, RFC 3463 §2: class.subject.detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Status {
    class: u8,
    subject: u16,
    detail: u16,
}

impl Status {
    /// A status written alone, as in a `Status:` field or a reply ("5.1.1", "#5.1.1",
    /// "(#5.1.2)", "550-5.1.1" after its reply code).
    pub(super) fn parse(word: &str) -> Option<Status> {
        let word = word.trim_matches(|c: char| "#()[]<>'\";,:".contains(c));
        let word = match word.split_once('-') {
            Some((code, status)) if reply_code_word(code).is_some() => status,
            _ => word,
        };
        let mut numbers = word.split('.');
        let class = numbers.next()?;
        let subject = numbers.next()?;
        let detail = numbers.next()?;
        let is_number =
            |n: &str| (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit());
        if numbers.next().is_some()
            || !matches!(class, "2" | "4" | "5")
            || !is_number(subject)
            || !is_number(detail)
        {
            return None;
        }
        Some(Status {
            class: class.parse().ok()?,
            subject: subject.parse().ok()?,
            detail: detail.parse().ok()?,
        })
    }

    /// The first status in `text`.
    pub(super) fn find(text: &str) -> Option<Status> {
        text.split_whitespace()
            .take(MAX_CODE_WORDS)
            .find_map(Status::parse)
    }

    pub(super) fn is_permanent(self) -> bool {
        self.class == 5
    }

    pub(super) fn is_success(self) -> bool {
        self.class == 2
    }

    /// Whether it says no more than "failed" (X.0.0).
    fn is_unspecific(self) -> bool {
        self.subject == 0 && self.detail == 0
    }

    /// The RFC 3463 §3 (and RFC 7505 §4.2 for X.1.10) text for the code.
    pub(super) fn description(self) -> Option<&'static str> {
        Some(match (self.subject, self.detail) {
            (0, 0) => "Other undefined status",
            (1, 0) => "Other address status",
            (1, 1) => "Bad destination mailbox address",
            (1, 2) => "Bad destination system address",
            (1, 3) => "Bad destination mailbox address syntax",
            (1, 4) => "Destination mailbox address ambiguous",
            (1, 6) => "Destination mailbox has moved, no forwarding address",
            (1, 10) => "Recipient address has null MX",
            (2, 0) => "Other or undefined mailbox status",
            (2, 1) => "Mailbox disabled, not accepting messages",
            (2, 2) => "Mailbox full",
            (2, 3) => "Message length exceeds administrative limit",
            (2, 4) => "Mailing list expansion problem",
            (3, 0) => "Other or undefined mail system status",
            (3, 1) => "Mail system full",
            (3, 2) => "System not accepting network messages",
            (3, 3) => "System not capable of selected features",
            (3, 4) => "Message too big for system",
            (3, 5) => "System incorrectly configured",
            (4, 0) => "Other or undefined network or routing status",
            (4, 1) => "No answer from host",
            (4, 2) => "Bad connection",
            (4, 3) => "Directory server failure",
            (4, 4) => "Unable to route",
            (4, 5) => "Mail system congestion",
            (4, 6) => "Routing loop detected",
            (4, 7) => "Delivery time expired",
            (5, 0) => "Other or undefined protocol status",
            (5, 3) => "Too many recipients",
            (6, 0) => "Other or undefined media error",
            (6, 1) => "Media not supported",
            (7, 0) => "Other or undefined security status",
            (7, 1) => "Delivery not authorized, message refused",
            (7, 2) => "Mailing list expansion prohibited",
            _ => return None,
        })
    }

    /// The kind the code alone tells, when it tells one.
    fn kind(self) -> Option<BounceKind> {
        Some(match (self.subject, self.detail) {
            (1, 1) | (1, 3) | (1, 6) | (2, 1) => BounceKind::MailboxUnavailable,
            // X.1.10 is RFC 7505's null MX, but Exchange sends it for an unknown
            // recipient ("RecipientNotFound"): its text decides.
            (1, 2) | (4, 4) => BounceKind::DomainNotFound,
            (2, 2) => BounceKind::MailboxFull,
            (2, 3) | (3, 4) => BounceKind::MessageTooLarge,
            (7, _) => BounceKind::Rejected,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// The three digits of a reply code word ("550", "550-", "#550").
fn reply_code_word(word: &str) -> Option<&str> {
    let word = word.trim_start_matches(['#', '(', '\'', '<', '"']);
    let code = word.get(..3)?;
    let bytes = code.as_bytes();
    let valid = matches!(bytes.first(), Some(b'2' | b'4' | b'5'))
        && bytes.iter().all(u8::is_ascii_digit)
        && matches!(word.as_bytes().get(3), None | Some(b'-' | b' ' | b')'));
    valid.then_some(code)
}

/// The first SMTP reply code in `text` (RFC 5321 §4.2: three digits, then a space or,
/// on all but the last line of a reply, a hyphen).
pub(super) fn reply_code(text: &str) -> Option<String> {
    text.split_whitespace()
        .take(MAX_CODE_WORDS)
        .find_map(reply_code_word)
        .map(str::to_owned)
}

/// A diagnostic for people: whitespace collapsed, without its RFC 3464 §2.3.6
/// diagnostic-type ("smtp; "), and a multi-line reply read as one ("550-5.1.1 a
/// 550-5.1.1 b 550 5.1.1 c" is "550 5.1.1 a b c").
pub(super) fn clean_diagnostic(text: &str) -> String {
    let text = text.trim();
    let text = match text.split_once(';') {
        Some((kind, rest))
            if kind.len() <= 20
                && kind
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            rest
        }
        _ => text,
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut cleaned: Vec<String> = Vec::with_capacity(words.len());
    let first_code = words.first().and_then(|w| reply_code_word(w));
    let mut at = 0;
    while let Some(&word) = words.get(at) {
        at += 1;
        let code = reply_code_word(word);
        if cleaned.is_empty() {
            match (code, word.split_once('-')) {
                // "550-5.1.1" opening the reply is "550 5.1.1".
                (Some(code), Some((_, status))) if !status.is_empty() => {
                    cleaned.push(code.to_owned());
                    cleaned.push(status.to_owned());
                }
                _ => cleaned.push(word.to_owned()),
            }
            continue;
        }
        if code.is_some() && code == first_code {
            // A continuation line's code ("550-5.1.1", "550-", or the last line's "550"
            // with its status) repeats the first line's.
            if !word.contains('-')
                && let Some(next) = words.get(at)
                && Status::parse(next).is_some()
            {
                at += 1;
            }
            continue;
        }
        cleaned.push(word.to_owned());
    }
    truncate_chars(&cleaned.join(" "), MAX_REASON_CHARS)
}

pub(super) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text.get(..at).unwrap_or(text).to_owned(),
        None => text.to_owned(),
    }
}

/// Phrases that tell the kind of a failure whose code does not, most specific first.
const KIND_PHRASES: &[(BounceKind, &[&str])] = &[
    (
        BounceKind::MailboxFull,
        &[
            "mailbox full",
            "mailbox is full",
            "over quota",
            "overquota",
            "quota exceeded",
            "exceeded storage",
            "exceeds quota",
            "out of storage",
            "insufficient storage",
            "mailbox size limit",
            "inbox is full",
        ],
    ),
    (
        BounceKind::MessageTooLarge,
        &[
            "too large",
            "too big",
            "size exceeds",
            "exceeds size",
            "size limit",
            "message length exceeds",
            "maximum message size",
        ],
    ),
    (
        BounceKind::DomainNotFound,
        &[
            "host not found",
            "domain not found",
            "domain name not found",
            "no such domain",
            "name service error",
            "couldn't find any host",
            "could not find any host",
            "unrouteable",
            "unroutable",
            "domain does not exist",
            "nxdomain",
            "null mx",
            "non-existent host",
            "no mx record",
        ],
    ),
    (
        BounceKind::MailboxUnavailable,
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "no such mailbox",
            "no such recipient",
            "mailbox unavailable",
            "mailbox not found",
            "user not found",
            "does not exist",
            "doesn't exist",
            "recipient not found",
            "recipientnotfound",
            "recipnotfound",
            "address not found",
            "invalid recipient",
            "unknown recipient",
            "recipient unknown",
            "mailbox disabled",
            "account disabled",
            "account is disabled",
            "has been disabled",
            "not a valid mailbox",
            "couldn't be found",
            "could not be found",
            "wasn't found at",
            "unknown or illegal alias",
            "no mailbox here",
        ],
    ),
    (
        BounceKind::Rejected,
        &[
            "spam",
            "blocked",
            "block list",
            "blocklist",
            "blacklist",
            "denylist",
            "policy",
            "rejected",
            "refused",
            "denied",
            "not authorized",
            "not permitted",
            "spf",
            "dkim",
            "dmarc",
            "reputation",
            "virus",
            "malware",
            "banned",
            "prohibited",
        ],
    ),
];

/// The kind of a failure: by its status codes (the first specific one), else by what
/// its text says.
pub(super) fn kind(statuses: &[Option<Status>], text: &str) -> BounceKind {
    if let Some(kind) = statuses
        .iter()
        .flatten()
        .filter(|status| !status.is_unspecific())
        .find_map(|status| status.kind())
    {
        return kind;
    }
    let lower = text.to_lowercase();
    KIND_PHRASES
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| lower.contains(p)))
        .map_or(BounceKind::Other, |(kind, _)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_are_found_in_text() {
        let status = |s: &str| Status::find(s).map(|s| s.to_string());
        assert_eq!(
            status("5.1.1 (bad destination mailbox address)").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(status("Sorry, no host. (#5.1.2)").as_deref(), Some("5.1.2"));
        assert_eq!(
            status("550-5.1.1 The email account").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(status("#550 5.2.2 full ##").as_deref(), Some("5.2.2"));
        assert_eq!(status("host 203.0.113.5 said 1.2.3"), None);
        assert_eq!(
            reply_code("host x[203.0.113.5] said: 550 5.1.1 nope").as_deref(),
            Some("550")
        );
        assert_eq!(reply_code("#550 5.1.1 RESOLVER").as_deref(), Some("550"));
        assert_eq!(reply_code("552-5.2.2 over quota").as_deref(), Some("552"));
        assert_eq!(reply_code("connect to 203.0.113.5[25]: timed out"), None);
    }

    #[test]
    fn diagnostics_are_cleaned() {
        assert_eq!(
            clean_diagnostic("smtp; 550 5.1.1 <bob@example.net>: Recipient address\n    rejected"),
            "550 5.1.1 <bob@example.net>: Recipient address rejected"
        );
        assert_eq!(
            clean_diagnostic(
                "smtp; 550-5.1.1 The email account that you tried to reach does\n 550-5.1.1 not exist.\n 550 5.1.1 https://support.example/x - gsmtp"
            ),
            "550 5.1.1 The email account that you tried to reach does not exist. https://support.example/x - gsmtp"
        );
        assert_eq!(
            clean_diagnostic("X-Postfix; unknown user: \"bob\""),
            "unknown user: \"bob\""
        );
        assert_eq!(
            clean_diagnostic("no type here; at all"),
            "no type here; at all"
        );
    }

    #[test]
    fn kinds_by_code_then_by_text() {
        let s = |t: &str| Status::parse(t);
        assert_eq!(kind(&[s("5.1.1")], ""), BounceKind::MailboxUnavailable);
        assert_eq!(kind(&[s("4.2.2")], ""), BounceKind::MailboxFull);
        assert_eq!(kind(&[s("5.4.4")], ""), BounceKind::DomainNotFound);
        assert_eq!(kind(&[s("5.3.4")], ""), BounceKind::MessageTooLarge);
        assert_eq!(kind(&[s("5.7.1")], "user unknown"), BounceKind::Rejected);
        assert_eq!(
            kind(&[s("5.0.0"), s("5.1.1")], "whatever"),
            BounceKind::MailboxUnavailable
        );
        assert_eq!(
            kind(&[s("5.0.0")], "Recipient address rejected: User unknown"),
            BounceKind::MailboxUnavailable
        );
        assert_eq!(
            kind(&[], "Host or domain name not found"),
            BounceKind::DomainNotFound
        );
        assert_eq!(
            kind(&[], "Mailbox size limit exceeded"),
            BounceKind::MailboxFull
        );
        assert_eq!(kind(&[], "Message rejected as spam"), BounceKind::Rejected);
        assert_eq!(kind(&[], "Connection timed out"), BounceKind::Other);
    }
}
