//! Tracking applied to a message already built (a draft sent as saved, docs/API.md
//! §5.2): its HTML body part is read with mail-parser, rewritten by [`track_html`], and
//! put back in place of the old part as UTF-8 in base64 (RFC 2045 §6.8). Every other
//! byte of the message, headers and other parts alike, stays as it was.

use base64::Engine;
use mail_parser::{MessageParser, PartType};

use crate::tracking_html::{TrackedHtml, TrackingPlan, track_html};

/// `raw` with its first HTML body part tracked, and the links rewritten; `None` when the
/// message has no HTML body (a plain-text message is left alone) or cannot be read.
pub fn track_raw_message(
    raw: &[u8],
    plan: &TrackingPlan<'_>,
    followable: impl Fn(&str) -> bool,
) -> Option<(Vec<u8>, Vec<String>)> {
    let message = MessageParser::default().parse(raw)?;
    let part_id = *message.html_body.first()?;
    let part = message.parts.get(part_id as usize)?;
    let PartType::Html(html) = &part.body else {
        return None;
    };
    let (header_start, body_start, body_end) = (
        part.offset_header as usize,
        part.offset_body as usize,
        part.offset_end as usize,
    );
    let headers = raw.get(header_start..body_start)?;
    if body_start > body_end || body_end > raw.len() {
        return None;
    }
    let TrackedHtml { html, links } = track_html(html, plan, followable);
    let mut out = Vec::with_capacity(raw.len() + html.len() / 2);
    out.extend_from_slice(raw.get(..header_start)?);
    out.extend_from_slice(b"Content-Type: text/html; charset=\"utf-8\"\r\n");
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
    out.extend_from_slice(&headers_without(
        headers,
        &["content-type", "content-transfer-encoding"],
    ));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&base64_lines(html.as_bytes()));
    out.extend_from_slice(raw.get(body_end..)?);
    Some((out, links))
}

/// The header block's fields, each with its folded lines (RFC 5322 §2.2.3), but for those
/// named; without the blank line that ends the block.
fn headers_without(block: &[u8], dropped: &[&str]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(block.len());
    let mut keeping = true;
    for line in block.split_inclusive(|&b| b == b'\n') {
        let blank = line.iter().all(|b| matches!(b, b'\r' | b'\n'));
        if blank {
            break;
        }
        let folded = line.first().is_some_and(|b| matches!(b, b' ' | b'\t'));
        if !folded {
            let name = line
                .split(|&b| b == b':')
                .next()
                .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
                .unwrap_or_default();
            keeping = !dropped.contains(&name.as_str());
        }
        if keeping {
            kept.extend_from_slice(line);
        }
    }
    kept
}

/// Base64 in lines of 76 characters, each ended by CRLF (RFC 2045 §6.8).
fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EmailName, OutgoingAttachment, OutgoingMessage, build_message};
    use mail_parser::MimeHeaders;

    const PLAN: TrackingPlan<'static> = TrackingPlan {
        pixel_url: Some("https://mr.example.test/v3/tracking/t/open.gif"),
        link_prefix: Some("https://mr.example.test/v3/tracking/t/links/"),
    };

    fn built(body: &str, is_plaintext: bool, attachments: &[OutgoingAttachment]) -> Vec<u8> {
        let from = EmailName {
            name: Some("Ann".into()),
            email: "ann@example.test".into(),
        };
        let to = [EmailName {
            name: None,
            email: "bob@example.test".into(),
        }];
        let bcc = [EmailName {
            name: None,
            email: "carol@example.test".into(),
        }];
        build_message(&OutgoingMessage {
            from: &from,
            to: &to,
            cc: &[],
            bcc: &bcc,
            reply_to: &[],
            include_bcc: true,
            subject: Some("Spring — offers"),
            body: Some(body),
            is_plaintext,
            attachments,
            in_reply_to: None,
            references: &[],
            custom_headers: &[("X-Campaign".into(), "spring".into())],
            message_id: Some("draft-1@example.test"),
            message_id_domain: "example.test",
            date: 1_700_000_000,
        })
        .expect("built")
        .bytes
    }

    #[test]
    fn the_html_part_is_tracked_and_everything_else_is_kept() {
        let attachment = OutgoingAttachment {
            filename: Some("price list.pdf".into()),
            content_type: "application/pdf".into(),
            content: b"%PDF-1.4 pretend".to_vec(),
            content_id: None,
            inline: false,
        };
        let html =
            "<p>Grüße — see <a href=\"https://shop.example/spring?a=1&amp;b=2\">the range</a></p>";
        let raw = built(html, false, std::slice::from_ref(&attachment));
        let (tracked, links) = track_raw_message(&raw, &PLAN, |_| true).expect("tracked");
        assert_eq!(links, ["https://shop.example/spring?a=1&b=2"]);

        let before = MessageParser::default().parse(&raw).expect("parsed");
        let after = MessageParser::default().parse(&tracked).expect("parsed");
        let body = after.body_html(0).expect("an HTML body");
        assert!(
            body.starts_with(
                "<p>Grüße — see <a href=\"https://mr.example.test/v3/tracking/t/links/0\">"
            ),
            "{body}"
        );
        assert!(body.contains("/v3/tracking/t/open.gif"), "{body}");
        assert_eq!(
            after.body_text(0),
            before.body_text(0),
            "the text alternative is kept"
        );
        assert_eq!(after.subject(), before.subject());
        assert_eq!(after.message_id(), Some("draft-1@example.test"));
        assert_eq!(
            after.header_raw("X-Campaign").map(str::trim),
            Some("spring")
        );
        assert!(
            after.header_raw("Bcc").is_some(),
            "the draft's Bcc, left out when submitted"
        );
        let attached = after.attachment(0).expect("the attachment");
        assert_eq!(attached.contents(), attachment.content.as_slice());
        assert_eq!(attached.attachment_name(), Some("price list.pdf"));
        // Only the HTML part's bytes changed.
        let at = raw
            .windows(b"Content-Type: text/html".len())
            .position(|w| w == b"Content-Type: text/html")
            .expect("an html part");
        assert_eq!(&tracked[..at], &raw[..at]);
    }

    #[test]
    fn a_message_that_is_only_html_keeps_its_headers() {
        let raw = b"From: ann@example.test\r\nTo: bob@example.test\r\nSubject: Hi\r\n\
            Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\
            X-After: kept\r\n\r\n<p>Caf=E9 <a href=3D\"https://x.example/\">x</a></p>\r\n";
        let (tracked, links) = track_raw_message(raw, &PLAN, |_| true).expect("tracked");
        assert_eq!(links, ["https://x.example/"]);
        let after = MessageParser::default().parse(&tracked).expect("parsed");
        assert_eq!(after.subject(), Some("Hi"));
        assert_eq!(after.header_raw("X-After").map(str::trim), Some("kept"));
        let body = after.body_html(0).expect("html");
        assert!(
            body.starts_with("<p>Café <a href=\"https://mr.example.test/v3/tracking/t/links/0\">"),
            "{body}"
        );
    }

    #[test]
    fn plain_text_and_unreadable_messages_are_left_alone() {
        let raw = built("See https://shop.example/", true, &[]);
        assert!(track_raw_message(&raw, &PLAN, |_| true).is_none());
        assert!(track_raw_message(b"", &PLAN, |_| true).is_none());
        assert!(track_raw_message(b"\xff\xfe garbage", &PLAN, |_| true).is_none());
    }
}
