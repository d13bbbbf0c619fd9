//! A whole message: bodies, snippet and attachments.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::headers::{MessageHeaders, summarize};

/// Plain-text characters kept for a snippet.
const SNIPPET_CHARS: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct ParsedMessage {
    pub headers: MessageHeaders,
    /// The HTML body; a text-only message is converted (escaped, line breaks kept).
    pub body_html: String,
    pub body_text: String,
    pub snippet: String,
    pub attachments: Vec<AttachmentInfo>,
    /// Decoded `text/calendar` parts and `.ics` attachments.
    pub calendar_parts: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// Position among the message's attachments; stable for the same bytes.
    pub index: usize,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub content_id: Option<String>,
    pub content_disposition: Option<String>,
    pub is_inline: bool,
}

pub fn parse_message(raw: &[u8]) -> ParsedMessage {
    let Some(message) = MessageParser::default().parse(raw) else {
        return ParsedMessage::default();
    };
    let mut body_text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    // Quirk: a truncated multipart leaves its text part among the attachments; an
    // unnamed text part is still the body.
    if body_text.is_empty()
        && let Some(text) = message.attachments().find_map(|part| match &part.body {
            PartType::Text(text) if part.attachment_name().is_none() => Some(text.to_string()),
            _ => None,
        })
    {
        body_text = text;
    }
    let has_html = message
        .html_bodies()
        .next()
        .is_some_and(|part| matches!(part.body, PartType::Html(_)));
    let body_html = if has_html {
        message
            .body_html(0)
            .map(|h| h.into_owned())
            .unwrap_or_default()
    } else if body_text.is_empty() {
        String::new()
    } else {
        text_to_html(&body_text)
    };
    let attachments = message
        .attachments()
        .enumerate()
        .map(|(index, part)| describe(&message, index, part))
        .collect();
    let calendar_parts = message
        .parts
        .iter()
        .filter(|part| is_calendar(part))
        .map(|part| part.contents().to_vec())
        .collect();
    ParsedMessage {
        headers: summarize(&message),
        snippet: snippet(&body_text),
        body_html,
        body_text,
        attachments,
        calendar_parts,
    }
}

/// The decoded bytes of the attachment at `index`.
pub fn attachment_content(raw: &[u8], index: usize) -> Option<(AttachmentInfo, Vec<u8>)> {
    let message = MessageParser::default().parse(raw)?;
    let part = message.attachments().nth(index)?;
    let info = describe(&message, index, part);
    Some((info, part_bytes(&message, part)))
}

fn describe(message: &Message<'_>, index: usize, part: &MessagePart<'_>) -> AttachmentInfo {
    let is_message = matches!(part.body, PartType::Message(_));
    let content_type = if is_message {
        "message/rfc822".to_owned()
    } else {
        part.content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned())
            .to_ascii_lowercase()
    };
    let disposition = part
        .content_disposition()
        .map(|d| d.ctype().to_ascii_lowercase());
    let content_id = part.content_id().map(|id| {
        id.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned()
    });
    let is_inline = match disposition.as_deref() {
        Some("inline") => true,
        Some(_) => false,
        None => content_id.is_some(),
    };
    let filename = part
        .attachment_name()
        .map(str::to_owned)
        .or_else(|| is_message.then(|| "forwarded.eml".to_owned()));
    AttachmentInfo {
        index,
        filename,
        content_type,
        size: part_bytes(message, part).len() as u64,
        content_id,
        content_disposition: disposition,
        is_inline,
    }
}

/// Decoded bytes; a forwarded message is returned as the bytes it was sent as.
fn part_bytes(message: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    match &part.body {
        PartType::Message(_) => message
            .raw_message()
            .get(part.offset_body as usize..part.offset_end as usize)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        _ => part.contents().to_vec(),
    }
}

fn is_calendar(part: &MessagePart<'_>) -> bool {
    let calendar_type = part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
    });
    let ics_name = part
        .attachment_name()
        .is_some_and(|name| name.to_ascii_lowercase().ends_with(".ics"));
    calendar_type || ics_name
}

/// Plain text as HTML: escaped, line breaks kept.
fn text_to_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 32);
    html.push_str("<div>");
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\n' => html.push_str("<br>"),
            '\r' => {}
            other => html.push(other),
        }
    }
    html.push_str("</div>");
    html
}

/// The first [`SNIPPET_CHARS`] characters of `text` with its whitespace collapsed; only
/// the words that reach into them are looked at (a body may be megabytes long).
fn snippet(text: &str) -> String {
    let mut collapsed = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars >= SNIPPET_CHARS {
            break;
        }
        if chars > 0 {
            collapsed.push(' ');
            chars += 1;
        }
        collapsed.push_str(word);
        chars += word.chars().count();
    }
    collapsed.chars().take(SNIPPET_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crlf(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    #[test]
    fn plain_text_becomes_html_and_a_snippet() {
        let raw = crlf(
            "Subject: Hi\nContent-Type: text/plain; charset=utf-8\n\nHello <world>,\n\n  see   you soon.\n",
        );
        let parsed = parse_message(&raw);
        assert!(
            parsed.body_html.contains("Hello &lt;world&gt;"),
            "{}",
            parsed.body_html
        );
        assert_eq!(parsed.snippet, "Hello <world>, see you soon.");
        assert!(parsed.attachments.is_empty());
    }

    #[test]
    fn alternative_prefers_html_and_snippets_text() {
        let raw = crlf(
            "Subject: Alt\nContent-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain\n\nPlain words\n--x\nContent-Type: text/html\n\n<p>Rich <b>words</b></p>\n--x--\n",
        );
        let parsed = parse_message(&raw);
        assert!(parsed.body_html.contains("<b>words</b>"));
        assert_eq!(parsed.snippet, "Plain words");
    }

    #[test]
    fn attachments_inline_images_forwards_and_calendars_are_listed() {
        let raw = crlf(
            "Subject: Mixed\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<img src=\"cid:logo@x\">\n--r\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\niVBORw0K\n--r--\n--m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=UTF-8''na%C3%AFve.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQ=\n--m\nContent-Type: message/rfc822\n\nSubject: Inner\n\nInner body\n--m\nContent-Type: text/calendar; method=REQUEST\nContent-Disposition: attachment; filename=invite.ics\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n--m--\n",
        );
        let parsed = parse_message(&raw);
        let names: Vec<_> = parsed
            .attachments
            .iter()
            .map(|a| a.filename.clone())
            .collect();
        assert!(names.contains(&Some("naïve.pdf".to_owned())), "{names:?}");
        let image = parsed
            .attachments
            .iter()
            .find(|a| a.content_type == "image/png")
            .unwrap();
        assert!(image.is_inline);
        assert_eq!(image.content_id.as_deref(), Some("logo@x"));
        let pdf = parsed
            .attachments
            .iter()
            .find(|a| a.content_type == "application/pdf")
            .unwrap();
        assert!(!pdf.is_inline);
        let (_, bytes) = attachment_content(&raw, pdf.index).unwrap();
        assert_eq!(bytes, b"%PDF-1.4");
        assert_eq!(pdf.size, 8);
        let forwarded = parsed
            .attachments
            .iter()
            .find(|a| a.content_type == "message/rfc822")
            .unwrap();
        assert_eq!(forwarded.filename.as_deref(), Some("forwarded.eml"));
        let (_, inner) = attachment_content(&raw, forwarded.index).unwrap();
        assert!(String::from_utf8_lossy(&inner).contains("Subject: Inner"));
        assert_eq!(parsed.calendar_parts.len(), 1);
        assert!(parsed.calendar_parts[0].starts_with(b"BEGIN:VCALENDAR"));
    }

    #[test]
    fn a_large_attachment_keeps_its_bytes() {
        let content: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let encoded = {
            const TABLE: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::new();
            for chunk in content.chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for i in 0..4 {
                    if i <= chunk.len() {
                        out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            out.as_bytes()
                .chunks(76)
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        let raw = format!(
            "Subject: Big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
        );
        let parsed = parse_message(raw.as_bytes());
        assert_eq!(parsed.attachments[0].size, 2_000_000);
        let (_, bytes) = attachment_content(raw.as_bytes(), 0).unwrap();
        assert_eq!(bytes, content);
    }

    #[test]
    fn malformed_messages_yield_what_could_be_read() {
        for raw in [
            &b""[..],
            b"Subject: only headers\r\n",
            b"Subject: x\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all",
            b"Subject: x\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\ntruncated",
            b"Subject: x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
            &[0xff, 0x00, 0xfe, 0x0a],
        ] {
            let parsed = parse_message(raw);
            let _ = attachment_content(raw, 0);
            assert!(parsed.snippet.chars().count() <= SNIPPET_CHARS);
        }
        let truncated = parse_message(b"Subject: Still here\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\ntruncated body");
        assert_eq!(truncated.headers.subject.as_deref(), Some("Still here"));
        assert!(truncated.snippet.contains("truncated"), "{truncated:?}");
    }
}
