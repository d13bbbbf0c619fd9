//! The `message/delivery-status` part of an RFC 3464 report (and RFC 6533's
//! `message/global-delivery-status`): a block of per-message fields, then a block of
//! fields per recipient, blocks separated by blank lines (RFC 3464 §2.1). Each block is
//! a header block, read by mail-parser.

use mail_parser::{DateTime, MessageParser};

use super::classify::{self, Status};
use super::{BouncedRecipient, MAX_RECIPIENTS};

/// Bytes of a delivery-status part read; a hundred recipients need a few kilobytes.
const MAX_DELIVERY_STATUS_BYTES: usize = 256 * 1024;
/// Longest address taken (RFC 5321 §4.5.3.1: 64 + 1 + 255).
const MAX_ADDRESS_BYTES: usize = 320;

/// What the part says.
#[derive(Debug, Default)]
pub(super) struct DeliveryStatus {
    pub(super) recipients: Vec<BouncedRecipient>,
    /// `X-Original-Message-ID` among the per-message fields (Exchange writes it there).
    pub(super) original_message_id: Option<String>,
    /// `Last-Attempt-Date` of the first failed recipient, else `Arrival-Date`.
    pub(super) reported_at: Option<i64>,
}

/// One block's fields: names in lower case, values unfolded.
type Fields = Vec<(String, String)>;

pub(super) fn read(body: &[u8]) -> DeliveryStatus {
    let body = body.get(..MAX_DELIVERY_STATUS_BYTES).unwrap_or(body);
    let mut blocks = blocks(body).into_iter().map(fields).peekable();
    // The per-message block comes first (RFC 3464 §2.2); a report that starts with a
    // recipient's block has none.
    let starts_with_recipient = blocks.peek().is_some_and(|first| {
        field(first, "final-recipient").is_some() && field(first, "reporting-mta").is_none()
    });
    let per_message = if starts_with_recipient {
        Fields::new()
    } else {
        blocks.next().unwrap_or_default()
    };
    let mut status = DeliveryStatus {
        original_message_id: field(&per_message, "x-original-message-id").and_then(message_id),
        ..DeliveryStatus::default()
    };
    let mut last_attempt = None;
    for block in blocks {
        if status.recipients.len() >= MAX_RECIPIENTS {
            break;
        }
        if let Some(recipient) = recipient(&block) {
            last_attempt =
                last_attempt.or_else(|| field(&block, "last-attempt-date").and_then(timestamp));
            status.recipients.push(recipient);
        }
    }
    status.reported_at =
        last_attempt.or_else(|| field(&per_message, "arrival-date").and_then(timestamp));
    status
}

/// The blocks of `body`, split at blank lines.
fn blocks(body: &[u8]) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let line_start = at;
        at += line.len();
        if line.iter().all(u8::is_ascii_whitespace) {
            if let Some(block) = body.get(start..line_start)
                && !block.iter().all(u8::is_ascii_whitespace)
            {
                blocks.push(block);
            }
            start = at;
            if blocks.len() > MAX_RECIPIENTS {
                return blocks;
            }
        }
    }
    if let Some(block) = body.get(start..)
        && !block.iter().all(u8::is_ascii_whitespace)
    {
        blocks.push(block);
    }
    blocks
}

fn fields(block: &[u8]) -> Fields {
    let parser = MessageParser::new().default_header_text();
    let Some(parsed) = parser.parse_headers(block) else {
        return Fields::new();
    };
    parsed
        .headers()
        .iter()
        .filter_map(|header| {
            let value = header.value.as_text()?;
            Some((
                header.name.as_str().to_ascii_lowercase(),
                value.trim().to_owned(),
            ))
        })
        .collect()
}

fn field<'f>(fields: &'f Fields, name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

fn timestamp(value: &str) -> Option<i64> {
    DateTime::parse_rfc822(value).map(|date| date.to_timestamp())
}

fn message_id(value: &str) -> Option<String> {
    let id = value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// An address as a field gives it: after its address type (RFC 3464 §2.3.2,
/// "rfc822; bob@example.net"), without angle brackets, in lower case.
pub(super) fn address(value: &str) -> Option<String> {
    let value = value.split_once(';').map_or(value, |(_, address)| address);
    let address = value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase();
    let valid = !address.is_empty()
        && address.len() <= MAX_ADDRESS_BYTES
        && !address.contains(char::is_whitespace);
    valid.then_some(address)
}

/// A failed or delayed recipient (RFC 3464 §2.3); None for one delivered, relayed or
/// expanded (§2.3.3), or one with no address.
fn recipient(fields: &Fields) -> Option<BouncedRecipient> {
    let address = field(fields, "final-recipient")
        .and_then(address)
        .or_else(|| field(fields, "original-recipient").and_then(address))?;
    let action = field(fields, "action").map(|a| a.to_ascii_lowercase());
    let action_word = action.as_deref().and_then(|a| a.split_whitespace().next());
    if matches!(action_word, Some("delivered" | "relayed" | "expanded")) {
        return None;
    }
    let diagnostic = field(fields, "diagnostic-code")
        .map(classify::clean_diagnostic)
        .unwrap_or_default();
    let field_status = field(fields, "status").and_then(Status::find);
    let text_status = Status::find(&diagnostic);
    let status = field_status.or(text_status);
    if action_word.is_none() && status.is_some_and(Status::is_success) {
        return None;
    }
    let code = classify::reply_code(&diagnostic);
    let permanent = match action_word {
        Some("failed") => true,
        Some("delayed") => false,
        _ => status.map_or_else(
            || code.as_deref().is_none_or(|c| c.starts_with('5')),
            Status::is_permanent,
        ),
    };
    let reason = if diagnostic.is_empty() {
        status
            .and_then(Status::description)
            .or(action_word)
            .unwrap_or("failed")
            .to_owned()
    } else {
        diagnostic
    };
    Some(BouncedRecipient {
        kind: classify::kind(&[field_status, text_status], &reason),
        address,
        status: status.map(|s| s.to_string()),
        code,
        reason,
        permanent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BounceKind;

    #[test]
    fn blocks_are_read_as_header_fields() {
        let body = b"Reporting-MTA: dns; mail.example.com\r\nX-Original-Message-ID: <abc@example.com>\r\nArrival-Date: Tue,  3 Dec 2024 10:00:00 +0000 (UTC)\r\n\r\nFinal-Recipient: rfc822; Bob@Example.NET\r\nOriginal-Recipient: rfc822;bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.net\r\nDiagnostic-Code: smtp; 550 5.1.1 <bob@example.net>:\r\n    Recipient address rejected: User unknown\r\n\r\nFinal-Recipient: rfc822; carol@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n";
        let status = read(body);
        assert_eq!(
            status.original_message_id.as_deref(),
            Some("abc@example.com")
        );
        assert_eq!(status.reported_at, Some(1_733_220_000));
        assert_eq!(status.recipients.len(), 1);
        let bob = &status.recipients[0];
        assert_eq!(bob.address, "bob@example.net");
        assert_eq!(bob.status.as_deref(), Some("5.1.1"));
        assert_eq!(bob.code.as_deref(), Some("550"));
        assert_eq!(
            bob.reason,
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown"
        );
        assert!(bob.permanent);
        assert_eq!(bob.kind, BounceKind::MailboxUnavailable);
    }

    #[test]
    fn missing_fields_give_what_can_be_read() {
        let status = read(b"Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@x.example\nStatus: 4.2.2\n\nAction: failed\n\n");
        assert_eq!(status.recipients.len(), 1);
        let a = &status.recipients[0];
        assert!(!a.permanent);
        assert_eq!(a.reason, "Mailbox full");
        assert_eq!(a.kind, BounceKind::MailboxFull);
    }

    #[test]
    fn a_report_without_per_message_fields_keeps_its_first_recipient() {
        let status = read(b"Final-Recipient: rfc822; a@x.example\nAction: failed\nStatus: 5.1.1\n");
        assert_eq!(status.recipients.len(), 1);
        assert_eq!(
            status.recipients[0].reason,
            "Bad destination mailbox address"
        );
    }

    #[test]
    fn recipients_are_bounded() {
        let mut body = String::from("Reporting-MTA: dns; x\n\n");
        for n in 0..1000 {
            body.push_str(&format!(
                "Final-Recipient: rfc822; u{n}@x.example\nAction: failed\n\n"
            ));
        }
        assert_eq!(read(body.as_bytes()).recipients.len(), MAX_RECIPIENTS);
    }
}
