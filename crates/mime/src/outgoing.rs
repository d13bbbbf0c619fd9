//! Outgoing mail: the RFC 5322 message built from what an API caller composed (on
//! mail-builder), its SMTP envelope, and the envelope of raw MIME a caller sends as is.
//!
//! Everything that reaches a header is checked or encoded here, so nothing a caller sends
//! can add a header or a MIME part of its own: addresses are refused if they could break
//! out of `<…>`, display names and the subject lose their control characters, custom
//! headers may not replace the ones written here, and attachment bytes are always base64.

use base64::Engine;
use mail_builder::{
    MessageBuilder,
    headers::{
        HeaderType, address::Address, content_type::ContentType, date::Date, message_id::MessageId,
        raw::Raw, text::Text,
    },
    mime::{BodyPart, MimePart},
};
use mail_parser::decoders::html::html_to_text;

use crate::headers::{EmailName, parse_headers};

/// Headers a caller may not set through `custom_headers`, because this module writes them
/// (or, for `Sender`, `Return-Path`, `Received` and `Resent-*`, because they speak for
/// the mail system and would let a caller misstate who sent the message). Compared
/// case-insensitively; every `Content-*` header is refused as well.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "return-path",
    "received",
];
const RESERVED_HEADER_PREFIXES: &[&str] = &["content-", "resent-"];

/// Used for an attachment whose declared type is missing, malformed, or one that cannot
/// be carried in base64 (`multipart/*`, `message/*`, RFC 2046 §5).
const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";

/// Base64 line length in MIME bodies (RFC 2045 §6.8: at most 76).
const BASE64_LINE: usize = 76;

/// A message to build, as an API caller composed it.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingMessage<'a> {
    pub from: &'a EmailName,
    pub to: &'a [EmailName],
    pub cc: &'a [EmailName],
    pub bcc: &'a [EmailName],
    pub reply_to: &'a [EmailName],
    /// Writes the Bcc header. Only for a copy kept in Drafts: in a sent message, Bcc
    /// recipients are in the SMTP envelope and nowhere else.
    pub include_bcc: bool,
    pub subject: Option<&'a str>,
    /// HTML; plain text when `is_plaintext`.
    pub body: Option<&'a str>,
    pub is_plaintext: bool,
    pub attachments: &'a [OutgoingAttachment],
    /// Message-ID of the message replied to, without angle brackets.
    pub in_reply_to: Option<&'a str>,
    /// Message-IDs of the thread so far, oldest first, without angle brackets.
    pub references: &'a [String],
    pub custom_headers: &'a [(String, String)],
    /// Keeps this Message-ID (without angle brackets) instead of generating one, for a
    /// draft that is rewritten or sent under the id it already has.
    pub message_id: Option<&'a str>,
    /// Generated Message-IDs are `<uuid@message_id_domain>`.
    pub message_id_domain: &'a str,
    /// The Date header, unix seconds.
    pub date: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingAttachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub content: Vec<u8>,
    /// Without angle brackets.
    pub content_id: Option<String>,
    /// Shown in the body rather than listed; with a `content_id` and an HTML body, the
    /// part goes into `multipart/related` beside the HTML that refers to it.
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltMessage {
    /// The whole message, CRLF line endings, 7-bit clean.
    pub bytes: Vec<u8>,
    /// Without angle brackets.
    pub message_id: String,
}

/// What the SMTP envelope needs from a message supplied as raw MIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEnvelope {
    /// The first From address.
    pub from: Option<String>,
    /// To, Cc and Bcc addresses (group members included), each once, in order.
    pub recipients: Vec<String>,
    /// Without angle brackets.
    pub message_id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComposeError {
    #[error("'{address}' in {field} is not an email address")]
    InvalidAddress {
        field: &'static str,
        address: String,
    },
    #[error(
        "custom header '{0}' is not allowed: mailroom writes it itself (From, To, Cc, Bcc, Reply-To, Sender, Subject, Date, Message-ID, In-Reply-To, References, MIME-Version, Content-*, Resent-*, Return-Path, Received)"
    )]
    ReservedHeader(String),
    #[error(
        "custom header name '{0}' is not a valid header name (printable ASCII, no ':' or spaces)"
    )]
    InvalidHeaderName(String),
    #[error("custom header '{0}' has a line break or control character in its value")]
    InvalidHeaderValue(String),
    #[error("content_id '{0}' is not a valid Content-ID (no spaces, control characters or '<>')")]
    InvalidContentId(String),
    #[error("'{0}' is not a valid Message-ID")]
    InvalidMessageId(String),
    #[error("the message is empty or its headers cannot be read")]
    UnreadableMessage,
    #[error("the message names no recipients (To, Cc or Bcc)")]
    NoRecipients,
}

/// Builds the message. The bytes are 7-bit ASCII with CRLF line endings: headers are
/// RFC 2047/2231 encoded, bodies quoted-printable or base64 where needed.
pub fn build_message(message: &OutgoingMessage<'_>) -> Result<BuiltMessage, ComposeError> {
    let message_id = match message.message_id {
        Some(id) => checked_message_id(id)?.to_owned(),
        None => format!(
            "{}@{}",
            uuid::Uuid::new_v4(),
            checked_message_id_domain(message.message_id_domain)?
        ),
    };
    let mut builder = MessageBuilder::new()
        .from(mailbox_list("from", std::slice::from_ref(message.from))?)
        .date(Date::new(message.date))
        .message_id(message_id.clone());
    for (field, header, list) in [("to", "To", message.to), ("cc", "Cc", message.cc)] {
        if !list.is_empty() {
            builder = builder.header(header, mailbox_list(field, list)?);
        }
    }
    let bcc = mailbox_list("bcc", message.bcc)?;
    if message.include_bcc && !message.bcc.is_empty() {
        builder = builder.bcc(bcc);
    }
    if !message.reply_to.is_empty() {
        builder = builder.reply_to(mailbox_list("reply_to", message.reply_to)?);
    }
    if let Some(subject) = message.subject.map(single_line).filter(|s| !s.is_empty()) {
        builder = builder.subject(Text::new(subject));
    }
    let in_reply_to = message.in_reply_to.and_then(usable_reference);
    if let Some(parent) = in_reply_to {
        builder = builder.in_reply_to(parent);
    }
    let mut references: Vec<&str> = message
        .references
        .iter()
        .filter_map(|id| usable_reference(id))
        .collect();
    // A reply's References end with its parent (RFC 5322 §3.6.4).
    if let Some(parent) = in_reply_to
        && references.last() != Some(&parent)
    {
        references.push(parent);
    }
    if !references.is_empty() {
        builder = builder.references(MessageId::new_list(references.into_iter()));
    }
    for (name, value) in message.custom_headers {
        builder = builder.header(name.as_str(), custom_header_value(name, value)?);
    }
    let mut bytes = Vec::new();
    builder.body(body_structure(message)?).serialize(&mut bytes);
    Ok(BuiltMessage { bytes, message_id })
}

/// The SMTP recipients of a built message: To, Cc and Bcc, each address once.
pub fn envelope_recipients(message: &OutgoingMessage<'_>) -> Vec<String> {
    unique_addresses(
        message
            .to
            .iter()
            .chain(message.cc)
            .chain(message.bcc)
            .map(|n| n.email.trim()),
    )
}

/// Reads the SMTP envelope from a message supplied as raw MIME, which is sent as it is.
pub fn raw_envelope(raw: &[u8]) -> Result<RawEnvelope, ComposeError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ComposeError::UnreadableMessage);
    }
    let headers = parse_headers(raw);
    let recipients = unique_addresses(
        headers
            .to
            .iter()
            .chain(&headers.cc)
            .chain(&headers.bcc)
            .map(|n| n.email.as_str()),
    );
    for (field, list) in [
        ("To", &headers.to),
        ("Cc", &headers.cc),
        ("Bcc", &headers.bcc),
    ] {
        for name in list {
            checked_address(field, &name.email)?;
        }
    }
    if recipients.is_empty() {
        return Err(ComposeError::NoRecipients);
    }
    let from = match headers.from.first() {
        Some(name) => Some(checked_address("From", &name.email)?.to_owned()),
        None => None,
    };
    Ok(RawEnvelope {
        from,
        recipients,
        message_id: headers.message_id,
    })
}

/// Addresses in order, each once (compared case-insensitively), empty ones dropped.
fn unique_addresses<'a>(addresses: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for address in addresses {
        if !address.is_empty() && !unique.iter().any(|u| u.eq_ignore_ascii_case(address)) {
            unique.push(address.to_owned());
        }
    }
    unique
}

fn mailbox_list(
    field: &'static str,
    names: &[EmailName],
) -> Result<Address<'static>, ComposeError> {
    let mut list = Vec::with_capacity(names.len());
    for name in names {
        let email = checked_address(field, &name.email)?.to_owned();
        let display = name
            .name
            .as_deref()
            .map(single_line)
            .filter(|n| !n.is_empty() && *n != email);
        list.push(Address::new_address(display, email));
    }
    Ok(Address::new_list(list))
}

/// An address that cannot leave its `<…>` or the header: `local@domain` with no spaces,
/// control characters or address-list punctuation.
fn checked_address<'a>(field: &'static str, email: &'a str) -> Result<&'a str, ComposeError> {
    let email = email.trim();
    // One '@': a quoted local part holding another is legal but not worth the risk.
    let plausible = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && email.len() <= 320
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if plausible {
        Ok(email)
    } else {
        Err(ComposeError::InvalidAddress {
            field,
            address: email.chars().take(320).collect(),
        })
    }
}

/// Text for a one-line header: control characters (line breaks included) become spaces,
/// runs of white space one space.
fn single_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_id_text(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 995
        && id
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>'))
}

fn checked_message_id(id: &str) -> Result<&str, ComposeError> {
    let bare = strip_angles(id);
    if is_id_text(bare) && bare.contains('@') {
        Ok(bare)
    } else {
        Err(ComposeError::InvalidMessageId(id.to_owned()))
    }
}

fn checked_message_id_domain(domain: &str) -> Result<&str, ComposeError> {
    let domain = domain.trim();
    if is_id_text(domain) && !domain.contains('@') {
        Ok(domain)
    } else {
        Err(ComposeError::InvalidMessageId(format!("<uuid@{domain}>")))
    }
}

/// Reply references come from stored messages written by anyone; one that could not be
/// written back safely is left out (the reply loses a threading hint, not its send).
fn usable_reference(id: &str) -> Option<&str> {
    let bare = strip_angles(id);
    is_id_text(bare).then_some(bare)
}

fn strip_angles(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(id)
}

fn custom_header_value<'a>(name: &str, value: &'a str) -> Result<HeaderType<'a>, ComposeError> {
    let name_ok = !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !name_ok {
        return Err(ComposeError::InvalidHeaderName(
            name.chars().take(80).collect(),
        ));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str())
        || RESERVED_HEADER_PREFIXES
            .iter()
            .any(|prefix| lower.starts_with(prefix))
    {
        return Err(ComposeError::ReservedHeader(name.to_owned()));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ComposeError::InvalidHeaderValue(name.to_owned()));
    }
    // ASCII values are kept as written (only folded), so structured ones such as
    // List-Unsubscribe stay valid; other text is RFC 2047 encoded.
    Ok(if value.is_ascii() {
        Raw::new(value).into()
    } else {
        Text::new(value).into()
    })
}

/// The MIME tree: the body (text, or HTML with a generated text alternative and its
/// inline parts in `multipart/related`), inside `multipart/mixed` with the other
/// attachments when there are any.
fn body_structure<'a>(message: &OutgoingMessage<'a>) -> Result<MimePart<'a>, ComposeError> {
    let body = message.body.unwrap_or_default();
    let html_body = !message.is_plaintext && !body.is_empty();
    let mut related = Vec::new();
    let mut mixed = Vec::new();
    for attachment in message.attachments {
        let goes_with_html = html_body && attachment.inline && attachment.content_id.is_some();
        let part = attachment_part(attachment)?;
        if goes_with_html {
            related.push(part);
        } else {
            mixed.push(part);
        }
    }
    let content = if html_body {
        let html = MimePart::new("text/html", body);
        let html = if related.is_empty() {
            html
        } else {
            related.insert(0, html);
            // RFC 2387 asks for the type of the root part.
            MimePart::new(
                ContentType::new("multipart/related").attribute("type", "text/html"),
                related,
            )
        };
        let text = MimePart::new("text/plain", html_to_text(body));
        MimePart::new("multipart/alternative", vec![text, html])
    } else {
        MimePart::new("text/plain", body)
    };
    Ok(if mixed.is_empty() {
        content
    } else {
        mixed.insert(0, content);
        MimePart::new("multipart/mixed", mixed)
    })
}

fn attachment_part(attachment: &OutgoingAttachment) -> Result<MimePart<'static>, ComposeError> {
    let filename = attachment
        .filename
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let mut content_type = media_type(&attachment.content_type);
    if let Some(filename) = filename {
        content_type = content_type.attribute("name", filename.to_owned());
    }
    let mut disposition = ContentType::new(if attachment.inline {
        "inline"
    } else {
        "attachment"
    });
    if let Some(filename) = filename {
        disposition = disposition.attribute("filename", filename.to_owned());
    }
    // Encoded here rather than by mail-builder, which sends text/* parts as 7bit when
    // they look like text: bytes such as a lone CR or NUL would not survive transport.
    let mut part = MimePart::new(
        content_type,
        BodyPart::Binary(base64_lines(&attachment.content).into()),
    )
    .header("Content-Disposition", disposition)
    .transfer_encoding("base64");
    if let Some(content_id) = &attachment.content_id {
        let bare = strip_angles(content_id);
        if !is_id_text(bare) {
            return Err(ComposeError::InvalidContentId(content_id.clone()));
        }
        part = part.cid(bare.to_owned());
    }
    Ok(part)
}

/// `type/subtype` from a declared content type (a text type keeps a valid `charset`);
/// the fallback type when it is not one.
fn media_type(declared: &str) -> ContentType<'static> {
    let mut pieces = declared.split(';');
    let essence = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let valid = essence
        .split_once('/')
        .is_some_and(|(kind, sub)| is_token(kind) && is_token(sub))
        && !essence.starts_with("multipart/")
        && !essence.starts_with("message/");
    if !valid {
        return ContentType::new(FALLBACK_CONTENT_TYPE);
    }
    let charset = essence
        .starts_with("text/")
        .then(|| {
            pieces.find_map(|param| {
                let (key, value) = param.split_once('=')?;
                let value = value.trim().trim_matches('"');
                (key.trim().eq_ignore_ascii_case("charset") && is_token(value))
                    .then(|| value.to_owned())
            })
        })
        .flatten();
    let content_type = ContentType::new(essence);
    match charset {
        Some(charset) => content_type.attribute("charset", charset),
        None => content_type,
    }
}

/// An RFC 2045 token.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b))
}

fn base64_lines(content: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let mut lines = Vec::with_capacity(encoded.len() + encoded.len() / BASE64_LINE * 2 + 2);
    for line in encoded.as_bytes().chunks(BASE64_LINE) {
        lines.extend_from_slice(line);
        lines.extend_from_slice(b"\r\n");
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};

    fn name(name: Option<&str>, email: &str) -> EmailName {
        EmailName {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }

    struct Fixture {
        from: EmailName,
        to: Vec<EmailName>,
        cc: Vec<EmailName>,
        bcc: Vec<EmailName>,
        reply_to: Vec<EmailName>,
        attachments: Vec<OutgoingAttachment>,
        references: Vec<String>,
        custom_headers: Vec<(String, String)>,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                from: name(Some("Ann Sender"), "ann@example.test"),
                to: vec![name(Some("Bob"), "bob@example.test")],
                cc: vec![name(None, "carol@example.test")],
                bcc: vec![name(Some("Hidden"), "hidden@example.test")],
                reply_to: vec![],
                attachments: vec![],
                references: vec![],
                custom_headers: vec![],
            }
        }

        fn message(&self) -> OutgoingMessage<'_> {
            OutgoingMessage {
                from: &self.from,
                to: &self.to,
                cc: &self.cc,
                bcc: &self.bcc,
                reply_to: &self.reply_to,
                include_bcc: false,
                subject: Some("Hello"),
                body: Some("<p>Hello <b>there</b></p><p>Second&nbsp;line</p>"),
                is_plaintext: false,
                attachments: &self.attachments,
                in_reply_to: None,
                references: &self.references,
                custom_headers: &self.custom_headers,
                message_id: None,
                message_id_domain: "example.test",
                date: 1_700_000_000,
            }
        }
    }

    fn parse(bytes: &[u8]) -> Message<'_> {
        MessageParser::default().parse(bytes).expect("parses")
    }

    fn header_text<'a>(message: &'a Message<'a>, name: &str) -> Option<String> {
        message
            .headers()
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .and_then(|h| h.value().as_text().map(str::to_owned))
    }

    fn only_crlf_line_endings(bytes: &[u8]) -> bool {
        bytes.iter().enumerate().all(|(i, &b)| match b {
            b'\n' => i > 0 && bytes[i - 1] == b'\r',
            b'\r' => bytes.get(i + 1) == Some(&b'\n'),
            _ => true,
        })
    }

    fn attachment(filename: &str, content_type: &str, content: Vec<u8>) -> OutgoingAttachment {
        OutgoingAttachment {
            filename: Some(filename.to_owned()),
            content_type: content_type.to_owned(),
            content,
            content_id: None,
            inline: false,
        }
    }

    #[test]
    fn headers_and_an_html_body_with_a_text_alternative() {
        let fixture = Fixture::new();
        let built = build_message(&fixture.message()).unwrap();
        assert!(built.bytes.is_ascii());
        assert!(built.message_id.ends_with("@example.test"));
        assert!(only_crlf_line_endings(&built.bytes));
        let text = String::from_utf8_lossy(&built.bytes);
        let parsed = parse(&built.bytes);
        assert_eq!(parsed.subject(), Some("Hello"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Ann Sender"));
        assert_eq!(from.address(), Some("ann@example.test"));
        assert_eq!(
            parsed.to().unwrap().first().unwrap().address(),
            Some("bob@example.test")
        );
        assert_eq!(
            parsed.cc().unwrap().first().unwrap().address(),
            Some("carol@example.test")
        );
        assert!(parsed.bcc().is_none(), "Bcc stays out of a sent message");
        assert!(!text.contains("hidden@example.test"));
        assert_eq!(parsed.message_id(), Some(built.message_id.as_str()));
        assert_eq!(parsed.date().unwrap().to_timestamp(), 1_700_000_000);
        assert_eq!(
            parsed.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("multipart", Some("alternative")))
        );
        assert_eq!(
            parsed.body_html(0).as_deref(),
            Some("<p>Hello <b>there</b></p><p>Second&nbsp;line</p>")
        );
        let plain = parsed.body_text(0).unwrap();
        assert!(plain.contains("Hello there"), "{plain:?}");
        assert!(plain.contains("Second\u{a0}line"), "{plain:?}");
        assert!(!plain.contains('<'), "{plain:?}");
        assert_eq!(parsed.attachment_count(), 0);
        assert!(parsed.header(HeaderName::MimeVersion).is_some());
    }

    #[test]
    fn generated_message_ids_are_unique_and_a_given_one_is_kept() {
        let fixture = Fixture::new();
        let a = build_message(&fixture.message()).unwrap();
        let b = build_message(&fixture.message()).unwrap();
        assert_ne!(a.message_id, b.message_id);
        let mut message = fixture.message();
        message.message_id = Some("<draft-1@example.test>");
        let kept = build_message(&message).unwrap();
        assert_eq!(kept.message_id, "draft-1@example.test");
        assert_eq!(
            parse(&kept.bytes).message_id(),
            Some("draft-1@example.test")
        );
        message.message_id = Some("no at sign");
        assert!(matches!(
            build_message(&message),
            Err(ComposeError::InvalidMessageId(_))
        ));
        message.message_id = None;
        message.message_id_domain = "bad domain>";
        assert!(matches!(
            build_message(&message),
            Err(ComposeError::InvalidMessageId(_))
        ));
    }

    #[test]
    fn bcc_is_written_only_when_asked_for_a_draft() {
        let fixture = Fixture::new();
        let mut message = fixture.message();
        message.include_bcc = true;
        let built = build_message(&message).unwrap();
        let parsed = parse(&built.bytes);
        let bcc = parsed.bcc().unwrap().first().unwrap();
        assert_eq!(bcc.address(), Some("hidden@example.test"));
        assert_eq!(bcc.name(), Some("Hidden"));
    }

    #[test]
    fn envelope_recipients_include_bcc_once_each() {
        let mut fixture = Fixture::new();
        fixture.cc.push(name(None, "BOB@example.test"));
        assert_eq!(
            envelope_recipients(&fixture.message()),
            vec![
                "bob@example.test",
                "carol@example.test",
                "hidden@example.test"
            ]
        );
    }

    #[test]
    fn a_plaintext_message_has_one_text_part() {
        let fixture = Fixture::new();
        let mut message = fixture.message();
        message.is_plaintext = true;
        message.body = Some("line one\nline <two>\n");
        let built = build_message(&message).unwrap();
        let parsed = parse(&built.bytes);
        assert_eq!(
            parsed.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("text", Some("plain")))
        );
        assert_eq!(
            parsed.body_text(0).as_deref(),
            Some("line one\r\nline <two>\r\n")
        );
        assert!(
            parsed
                .html_bodies()
                .all(|p| !matches!(p.body, PartType::Html(_)))
        );
    }

    #[test]
    fn an_empty_body_is_an_empty_text_part() {
        let fixture = Fixture::new();
        let mut message = fixture.message();
        message.body = None;
        message.subject = None;
        let built = build_message(&message).unwrap();
        let parsed = parse(&built.bytes);
        assert_eq!(parsed.subject(), None);
        assert_eq!(
            parsed.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("text", Some("plain")))
        );
    }

    #[test]
    fn non_ascii_subject_names_filenames_and_body_survive() {
        let mut fixture = Fixture::new();
        fixture.from = name(Some("Jürgen Müller"), "juergen@example.test");
        fixture.to = vec![name(Some("山田 太郎"), "taro@example.test")];
        fixture.attachments = vec![attachment(
            "Jahresabschluß 2024 – résumé 報告.pdf",
            "application/pdf",
            b"%PDF-1.4".to_vec(),
        )];
        let mut message = fixture.message();
        message.subject = Some("Grüße aus Köln – 東京 🎉");
        message.body = Some("<p>Schöne Grüße 🎉</p>");
        let built = build_message(&message).unwrap();
        assert!(built.bytes.is_ascii());
        let parsed = parse(&built.bytes);
        assert_eq!(parsed.subject(), Some("Grüße aus Köln – 東京 🎉"));
        assert_eq!(
            parsed.from().unwrap().first().unwrap().name(),
            Some("Jürgen Müller")
        );
        assert_eq!(
            parsed.to().unwrap().first().unwrap().name(),
            Some("山田 太郎")
        );
        assert_eq!(
            parsed.body_html(0).as_deref(),
            Some("<p>Schöne Grüße 🎉</p>")
        );
        let file = parsed.attachment(0).unwrap();
        assert_eq!(
            file.attachment_name(),
            Some("Jahresabschluß 2024 – résumé 報告.pdf")
        );
        assert_eq!(file.contents(), b"%PDF-1.4");
    }

    #[test]
    fn attachment_bytes_come_back_identical() {
        let mut fixture = Fixture::new();
        let every_byte: Vec<u8> = (0..=255u8).cycle().take(256 * 5).collect();
        let five_megabytes: Vec<u8> = (0..5 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        // Text that a 7bit encoding would damage: lone CR, NUL, bare LF, a dot line.
        let awkward_text = b"a\rb\0c\nd\r\n.\r\ntrailing space \r\n".to_vec();
        fixture.attachments = vec![
            attachment("bytes.bin", "application/octet-stream", every_byte.clone()),
            attachment("big.dat", "application/x-big", five_megabytes.clone()),
            attachment(
                "notes.txt",
                "text/plain; charset=\"us-ascii\"",
                awkward_text.clone(),
            ),
            attachment("empty.txt", "text/plain", Vec::new()),
        ];
        let built = build_message(&fixture.message()).unwrap();
        let parsed = parse(&built.bytes);
        assert_eq!(
            parsed.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("multipart", Some("mixed")))
        );
        assert_eq!(parsed.attachment_count(), 4);
        let contents: Vec<(Option<&str>, &[u8])> = parsed
            .attachments()
            .map(|a| (a.attachment_name(), a.contents()))
            .collect();
        assert_eq!(contents[0], (Some("bytes.bin"), every_byte.as_slice()));
        assert_eq!(contents[1].0, Some("big.dat"));
        assert!(
            contents[1].1 == five_megabytes.as_slice(),
            "5 MB attachment differs"
        );
        assert_eq!(contents[2], (Some("notes.txt"), awkward_text.as_slice()));
        assert_eq!(contents[3], (Some("empty.txt"), &b""[..]));
        let notes = parsed.attachment(2).unwrap();
        let content_type = notes.content_type().unwrap();
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("text", Some("plain"))
        );
        assert_eq!(content_type.attribute("charset"), Some("us-ascii"));
        assert_eq!(parsed.body_html(0).as_deref(), fixture.message().body);
    }

    #[test]
    fn inline_parts_go_into_multipart_related_with_the_html() {
        let mut fixture = Fixture::new();
        let mut logo = attachment("logo.png", "image/png", vec![0x89, b'P', b'N', b'G', 0, 1]);
        logo.content_id = Some("<logo@mailroom>".into());
        logo.inline = true;
        fixture.attachments = vec![logo, attachment("a.pdf", "application/pdf", vec![1, 2, 3])];
        let mut message = fixture.message();
        message.body = Some(r#"<p>Logo: <img src="cid:logo@mailroom"></p>"#);
        let built = build_message(&message).unwrap();
        let parsed = parse(&built.bytes);
        let structure: Vec<String> = parsed
            .parts
            .iter()
            .filter_map(|p| p.content_type())
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
            .collect();
        assert_eq!(
            structure,
            [
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "multipart/related",
                "text/html",
                "image/png",
                "application/pdf"
            ]
        );
        let png = parsed
            .parts
            .iter()
            .find(|p| p.content_id() == Some("logo@mailroom"))
            .unwrap();
        assert_eq!(png.contents(), [0x89, b'P', b'N', b'G', 0, 1]);
        assert!(
            png.content_disposition()
                .is_some_and(|d| d.ctype() == "inline")
        );
        let pdf = parsed
            .attachments()
            .find(|a| a.attachment_name() == Some("a.pdf"))
            .unwrap();
        assert!(
            pdf.content_disposition()
                .is_some_and(|d| d.ctype() == "attachment")
        );
    }

    #[test]
    fn inline_parts_of_a_plaintext_message_are_listed_as_attachments() {
        let mut fixture = Fixture::new();
        let mut logo = attachment("logo.png", "image/png", vec![1, 2]);
        logo.content_id = Some("logo".into());
        logo.inline = true;
        fixture.attachments = vec![logo];
        let mut message = fixture.message();
        message.is_plaintext = true;
        message.body = Some("see logo");
        let parsed_bytes = build_message(&message).unwrap().bytes;
        let parsed = parse(&parsed_bytes);
        assert_eq!(
            parsed.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("multipart", Some("mixed")))
        );
        assert_eq!(parsed.attachment(0).unwrap().content_id(), Some("logo"));
    }

    #[test]
    fn odd_attachment_types_fall_back_to_octet_stream() {
        let mut fixture = Fixture::new();
        fixture.attachments = vec![
            attachment("a", "not a type", vec![1]),
            attachment("b", "text/plain\r\nX-Injected: yes", vec![2]),
            attachment(
                "c.eml",
                "message/rfc822",
                b"Subject: x\r\n\r\nbody".to_vec(),
            ),
            attachment("d", "", vec![4]),
            attachment(
                "e.ics",
                "Text/Calendar; method=REQUEST; name=\"e.ics\"",
                vec![5],
            ),
        ];
        let built = build_message(&fixture.message()).unwrap();
        let text = String::from_utf8_lossy(&built.bytes);
        assert!(!text.contains("\r\nX-Injected"));
        let parsed = parse(&built.bytes);
        let types: Vec<String> = parsed
            .attachments()
            .map(|a| {
                let c = a.content_type().unwrap();
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default())
            })
            .collect();
        assert_eq!(
            types,
            [
                "application/octet-stream",
                "application/octet-stream",
                "application/octet-stream",
                "application/octet-stream",
                "text/calendar"
            ]
        );
        assert_eq!(
            parsed.attachment(2).unwrap().contents(),
            b"Subject: x\r\n\r\nbody"
        );
    }

    #[test]
    fn a_bad_content_id_is_refused() {
        let mut fixture = Fixture::new();
        let mut part = attachment("a", "image/png", vec![1]);
        part.content_id = Some("two words".into());
        part.inline = true;
        fixture.attachments = vec![part];
        assert!(matches!(
            build_message(&fixture.message()),
            Err(ComposeError::InvalidContentId(_))
        ));
    }

    #[test]
    fn reply_headers_are_written() {
        let mut fixture = Fixture::new();
        fixture.references = vec!["<root@example.test>".into(), "bad id with spaces".into()];
        let mut message = fixture.message();
        message.in_reply_to = Some("parent@example.test");
        message.subject = Some("Re: Hello");
        let built = build_message(&message).unwrap();
        let parsed = parse(&built.bytes);
        assert_eq!(
            parsed.in_reply_to().as_text_list().map(|l| l.to_vec()),
            Some(vec!["parent@example.test".into()])
        );
        assert_eq!(
            parsed.references().as_text_list().map(|l| l.to_vec()),
            Some(vec![
                "root@example.test".into(),
                "parent@example.test".into()
            ])
        );
    }

    #[test]
    fn custom_headers_are_written_and_structural_ones_refused() {
        let mut fixture = Fixture::new();
        fixture.custom_headers = vec![
            ("X-Campaign".into(), "spring 2024".into()),
            ("List-Unsubscribe".into(), "<mailto:unsub@example.test?subject=x>, <https://example.test/unsubscribe/a-very-long-token-that-goes-past-the-fold-column>".into()),
            ("X-Greeting".into(), "Grüße".into()),
        ];
        let built = build_message(&fixture.message()).unwrap();
        let parsed = parse(&built.bytes);
        assert_eq!(
            header_text(&parsed, "X-Campaign").as_deref(),
            Some("spring 2024")
        );
        let decoded = MessageParser::default()
            .header_text(HeaderName::Other("X-Greeting".into()))
            .parse(&built.bytes)
            .unwrap();
        assert_eq!(
            header_text(&decoded, "X-Greeting").as_deref(),
            Some("Grüße")
        );
        let unsubscribe = String::from_utf8_lossy(&built.bytes);
        assert!(unsubscribe.contains("<https://example.test/unsubscribe/a-very-long-token"));

        for (header, expected) in [
            ("From", "reserved"),
            ("bcc", "reserved"),
            ("Message-Id", "reserved"),
            ("MIME-Version", "reserved"),
            ("Content-Type", "reserved"),
            ("content-transfer-encoding", "reserved"),
            ("Sender", "reserved"),
            ("Resent-From", "reserved"),
            ("In-Reply-To", "reserved"),
            ("X Bad", "name"),
            ("X-Bad:", "name"),
            ("", "name"),
            ("X-Über", "name"),
        ] {
            fixture.custom_headers = vec![(header.into(), "value".into())];
            let error = build_message(&fixture.message()).unwrap_err();
            let kind = match error {
                ComposeError::ReservedHeader(_) => "reserved",
                ComposeError::InvalidHeaderName(_) => "name",
                other => panic!("{header}: {other:?}"),
            };
            assert_eq!(kind, expected, "{header}");
        }
        for value in ["a\r\nBcc: evil@example.test", "a\nb", "a\rb", "a\0b"] {
            fixture.custom_headers = vec![("X-Ok".into(), value.into())];
            assert_eq!(
                build_message(&fixture.message()),
                Err(ComposeError::InvalidHeaderValue("X-Ok".into()))
            );
        }
    }

    #[test]
    fn line_breaks_in_names_and_subject_cannot_add_headers() {
        let mut fixture = Fixture::new();
        fixture.to = vec![name(
            Some("Eve\r\nBcc: victim@example.test"),
            "eve@example.test",
        )];
        let mut message = fixture.message();
        message.subject = Some("Hi\r\nBcc: victim@example.test\r\n\r\nbody");
        let built = build_message(&message).unwrap();
        let parsed = parse(&built.bytes);
        assert!(parsed.bcc().is_none());
        assert_eq!(parsed.subject(), Some("Hi Bcc: victim@example.test body"));
        assert_eq!(
            parsed.to().unwrap().first().unwrap().name(),
            Some("Eve Bcc: victim@example.test")
        );
    }

    #[test]
    fn addresses_that_could_break_out_are_refused() {
        for bad in [
            "no-at-sign",
            "@example.test",
            "a@",
            "a b@example.test",
            "a@example.test>, evil@example.test",
            "a\r\n@example.test",
            "a@b@c",
        ] {
            let mut fixture = Fixture::new();
            fixture.to = vec![name(None, bad)];
            assert!(
                matches!(
                    build_message(&fixture.message()),
                    Err(ComposeError::InvalidAddress { field: "to", .. })
                ),
                "{bad:?}"
            );
        }
        let mut fixture = Fixture::new();
        fixture.from = name(None, "bad");
        assert!(matches!(
            build_message(&fixture.message()),
            Err(ComposeError::InvalidAddress { field: "from", .. })
        ));
    }

    #[test]
    fn raw_envelope_reads_every_recipient_and_the_sender() {
        let raw = b"From: Ann <ann@example.test>\r\n\
To: Bob <bob@example.test>, carol@example.test\r\n\
Cc: Team: dan@example.test, BOB@example.test;\r\n\
Bcc: hidden@example.test\r\n\
Message-ID: <raw-1@example.test>\r\n\
Subject: raw\r\n\r\nbody\r\n";
        let envelope = raw_envelope(raw).unwrap();
        assert_eq!(envelope.from.as_deref(), Some("ann@example.test"));
        assert_eq!(
            envelope.recipients,
            vec![
                "bob@example.test",
                "carol@example.test",
                "dan@example.test",
                "hidden@example.test"
            ]
        );
        assert_eq!(envelope.message_id.as_deref(), Some("raw-1@example.test"));
    }

    #[test]
    fn raw_envelope_refuses_empty_and_recipientless_messages() {
        assert_eq!(raw_envelope(b""), Err(ComposeError::UnreadableMessage));
        assert_eq!(
            raw_envelope(b"\r\n \r\n"),
            Err(ComposeError::UnreadableMessage)
        );
        assert_eq!(
            raw_envelope(b"From: a@example.test\r\nSubject: x\r\n\r\nbody"),
            Err(ComposeError::NoRecipients)
        );
        assert_eq!(
            raw_envelope(&[0xff, 0xfe, 0, 1, 2]),
            Err(ComposeError::NoRecipients)
        );
    }

    #[test]
    fn raw_envelope_of_a_built_message_matches_its_recipients_without_bcc() {
        let fixture = Fixture::new();
        let built = build_message(&fixture.message()).unwrap();
        let envelope = raw_envelope(&built.bytes).unwrap();
        assert_eq!(
            envelope.recipients,
            vec!["bob@example.test", "carol@example.test"]
        );
        assert_eq!(envelope.message_id, Some(built.message_id));
    }
}
