//! A draft keeps its Bcc header (so the author sees who is copied); the message sent from
//! it must not carry one. The header is cut out at the offsets mail-parser reports.

use mail_parser::{HeaderName, MessageParser};

/// The message without its Bcc header fields; unchanged if it has none.
pub fn without_bcc(raw: &[u8]) -> Vec<u8> {
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return raw.to_vec();
    };
    let mut cuts: Vec<(usize, usize)> = message
        .headers()
        .iter()
        .filter(|h| matches!(h.name, HeaderName::Bcc))
        .map(|h| (h.offset_field as usize, h.offset_end as usize))
        .filter(|(start, end)| start < end && *end <= raw.len())
        .collect();
    if cuts.is_empty() {
        return raw.to_vec();
    }
    cuts.sort_unstable();
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for (start, end) in cuts {
        if start < at {
            continue;
        }
        out.extend_from_slice(&raw[at..start]);
        at = end;
    }
    out.extend_from_slice(&raw[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bcc_field_and_its_folded_lines_go_and_nothing_else() {
        let raw = b"From: a@example.test\r\nTo: b@example.test\r\nBcc: c@example.test,\r\n d@example.test\r\nSubject: Hi\r\n\r\nBody Bcc: stays\r\n";
        let stripped = without_bcc(raw);
        assert_eq!(
            String::from_utf8_lossy(&stripped),
            "From: a@example.test\r\nTo: b@example.test\r\nSubject: Hi\r\n\r\nBody Bcc: stays\r\n"
        );
        let parsed = MessageParser::default()
            .parse(&stripped[..])
            .expect("parses");
        assert!(parsed.bcc().is_none());
        assert_eq!(parsed.subject(), Some("Hi"));
    }

    #[test]
    fn a_message_without_bcc_is_unchanged() {
        let raw = b"From: a@example.test\r\nSubject: x\r\n\r\nbody";
        assert_eq!(without_bcc(raw), raw.to_vec());
        assert_eq!(without_bcc(b""), Vec::<u8>::new());
    }
}
