//! The header block of a message: what the index needs before any body is read.

use mail_parser::{Address, HeaderName, HeaderValue, Message, MessageParser};
use serde::Serialize;

/// A participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailName {
    pub name: Option<String>,
    pub email: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageHeaders {
    pub subject: Option<String>,
    pub from: Vec<EmailName>,
    pub to: Vec<EmailName>,
    pub cc: Vec<EmailName>,
    pub bcc: Vec<EmailName>,
    pub reply_to: Vec<EmailName>,
    /// The Date header, unix seconds.
    pub date: Option<i64>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Every header as written, values decoded to text.
    pub headers: Vec<(String, String)>,
}

/// Reads a header block (as `BODY.PEEK[HEADER]` returns it) or a whole message.
pub fn parse_headers(raw: &[u8]) -> MessageHeaders {
    match MessageParser::default().parse_headers(raw) {
        Some(message) => summarize(&message),
        None => MessageHeaders::default(),
    }
}

pub(crate) fn summarize(message: &Message<'_>) -> MessageHeaders {
    MessageHeaders {
        subject: message.subject().map(clean_text).filter(|s| !s.is_empty()),
        from: names(message.from()),
        to: names(message.to()),
        cc: names(message.cc()),
        bcc: names(message.bcc()),
        reply_to: names(message.reply_to()),
        date: message.date().map(|d| d.to_timestamp()),
        message_id: message
            .message_id()
            .map(strip_angles)
            .filter(|s| !s.is_empty()),
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        headers: header_list(message),
    }
}

fn names(address: Option<&Address<'_>>) -> Vec<EmailName> {
    let Some(address) = address else {
        return Vec::new();
    };
    address
        .iter()
        .filter_map(|addr| {
            let email = addr.address.as_deref()?.trim();
            if email.is_empty() {
                return None;
            }
            Some(EmailName {
                name: addr
                    .name
                    .as_deref()
                    .map(clean_text)
                    .filter(|n| !n.is_empty() && n != email),
                email: email.to_owned(),
            })
        })
        .collect()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    let mut ids: Vec<String> = match value {
        HeaderValue::Text(id) => vec![strip_angles(id)],
        HeaderValue::TextList(list) => list.iter().map(|id| strip_angles(id)).collect(),
        _ => Vec::new(),
    };
    ids.retain(|id| !id.is_empty());
    ids
}

fn header_list(message: &Message<'_>) -> Vec<(String, String)> {
    let raw = message.raw_message();
    message
        .headers()
        .iter()
        .map(|header| {
            // Message ids keep their angle brackets, as written: the parser drops them.
            let id_header = matches!(
                header.name,
                HeaderName::MessageId
                    | HeaderName::InReplyTo
                    | HeaderName::References
                    | HeaderName::ResentMessageId
                    | HeaderName::ContentId
            );
            let value = match header.value() {
                HeaderValue::Text(text) if !id_header => text.to_string(),
                _ => raw
                    .get(header.offset_start() as usize..header.offset_end() as usize)
                    .map(|bytes| unfold(&String::from_utf8_lossy(bytes)))
                    .unwrap_or_default(),
            };
            (header.name().to_owned(), value)
        })
        .collect()
}

fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn clean_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn strip_angles(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_dates_and_references_are_read() {
        let raw = b"From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>\r\n\
To: Bob <bob@example.test>, carol@example.test\r\n\
Cc: Team: dan@example.test, eve@example.test;\r\n\
Subject: =?ISO-8859-1?Q?Caf=E9_plans?=\r\n\
Date: Mon, 20 Nov 2023 10:00:00 +0000\r\n\
Message-ID: <abc@example.de>\r\n\
In-Reply-To: <parent@example.test>\r\n\
References: <root@example.test>\r\n <parent@example.test>\r\n\r\n";
        let h = parse_headers(raw);
        assert_eq!(h.subject.as_deref(), Some("Café plans"));
        assert_eq!(h.from[0].name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(h.from[0].email, "juergen@example.de");
        assert_eq!(h.to.len(), 2);
        assert_eq!(h.to[1].name, None);
        assert_eq!(h.cc.len(), 2, "group members are participants");
        assert_eq!(h.date, Some(1_700_474_400));
        assert_eq!(h.message_id.as_deref(), Some("abc@example.de"));
        assert_eq!(h.in_reply_to, vec!["parent@example.test"]);
        assert_eq!(
            h.references,
            vec!["root@example.test", "parent@example.test"]
        );
        assert!(
            h.headers
                .iter()
                .any(|(n, v)| n == "Subject" && v == "Café plans")
        );
        let refs = h.headers.iter().find(|(n, _)| n == "References").unwrap();
        assert!(!refs.1.contains('\n'));
        let header = |name: &str| h.headers.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(header("Message-ID"), "<abc@example.de>");
        assert_eq!(header("In-Reply-To"), "<parent@example.test>");
    }

    #[test]
    fn raw_eight_bit_and_garbage_headers_do_not_panic() {
        let h = parse_headers("Subject: Grüße ohne Kodierung\r\nFrom: <<<>>>\r\n\r\n".as_bytes());
        assert_eq!(h.subject.as_deref(), Some("Grüße ohne Kodierung"));
        assert!(h.from.iter().all(|f| !f.email.is_empty()));
        let latin1 = parse_headers(b"Subject: caf\xe9\r\n\r\n");
        assert!(latin1.subject.is_some());
        assert_eq!(parse_headers(b""), MessageHeaders::default());
        let _ = parse_headers(&[0xff, 0xfe, b'\r', b'\n', 0x00]);
    }
}
