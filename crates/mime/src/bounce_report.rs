//! Non-delivery reports (bounces), what `message.bounce_detected` (docs/API.md §6.2)
//! tells of: which recipients of which message failed, why, and whether for good. Read from an RFC 3464 `multipart/report` with its
//! `message/delivery-status` part (`delivery_status`), or from the text of the reports
//! that have none (`text_forms`: Postfix, qmail, Exim, Gmail, Exchange); classified by
//! their RFC 3463 status codes and words (`classify`).
//!
//! A message is a report only if it presents itself as one (a mailer-daemon or postmaster
//! sender, an RFC 3834 `Auto-Submitted` field, the RFC 5321 §4.5.5 null return path, or
//! a `multipart/report` type) *and* reports a failed recipient: mail that only talks
//! about bounces is not one.

mod classify;
mod delivery_status;
mod text_forms;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// Bytes of a report read. The delivery-status part comes before the returned message
/// (RFC 3464 §2), so a report whose returned message is large is still read: only its
/// first bytes are.
const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024;
/// Recipients reported at most.
const MAX_RECIPIENTS: usize = 100;

/// A non-delivery report found in a message, per failed recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceReport {
    /// Message-ID of the message that bounced (angle brackets stripped), when the report
    /// carries it (the returned message/rfc822 or text/rfc822-headers part, or an
    /// X-Original-Message-ID, or In-Reply-To/References of the report).
    pub original_message_id: Option<String>,
    pub original_subject: Option<String>,
    /// When the report says it happened (Arrival-Date/Last-Attempt-Date or the report's
    /// Date), unix seconds.
    pub reported_at: Option<i64>,
    pub recipients: Vec<BouncedRecipient>,
}

/// One recipient the message could not be delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BouncedRecipient {
    /// Lower-cased, without "rfc822;".
    pub address: String,
    /// Enhanced status code (RFC 3463), e.g. "5.1.1".
    pub status: Option<String>,
    /// SMTP reply code (RFC 5321 §4.2), e.g. "550", from Diagnostic-Code or the text.
    pub code: Option<String>,
    /// Human-readable: the diagnostic text, cleaned of the "smtp;" prefix.
    pub reason: String,
    /// Action: failed / 5.x.x (true); delayed / 4.x.x (false).
    pub permanent: bool,
    pub kind: BounceKind,
}

/// Why a recipient bounced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    MailboxUnavailable,
    MailboxFull,
    DomainNotFound,
    /// Refused by policy: spam, blocked, not authorised.
    Rejected,
    MessageTooLarge,
    Other,
}

impl BounceKind {
    /// The kind's name on the wire, in snake case.
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::MailboxUnavailable => "mailbox_unavailable",
            BounceKind::MailboxFull => "mailbox_full",
            BounceKind::DomainNotFound => "domain_not_found",
            BounceKind::Rejected => "rejected",
            BounceKind::MessageTooLarge => "message_too_large",
            BounceKind::Other => "other",
        }
    }
}

/// The report in `raw` (a whole RFC 5322 message), if it is one; None for ordinary mail.
pub fn bounce_report(raw: &[u8]) -> Option<BounceReport> {
    let raw = raw.get(..MAX_REPORT_BYTES).unwrap_or(raw);
    // The headers alone decide most mail is no report, before its body is parsed.
    let headers = MessageParser::default().parse_headers(raw)?;
    if !presents_as_report(&headers) {
        return None;
    }
    let message = MessageParser::default().parse(raw)?;
    let status = message
        .parts
        .iter()
        .find(|part| has_type(part, &["delivery-status", "global-delivery-status"]))
        .map(|part| delivery_status::read(part.contents()))
        .unwrap_or_default();
    let mut report_id = status.original_message_id;
    let mut reported_at = status.reported_at;
    let mut recipients = status.recipients;
    let text = message
        .body_text(0)
        .map(|text| text.into_owned())
        .unwrap_or_default();
    if recipients.is_empty() {
        recipients = text_forms::recipients(&text);
    }
    if recipients.is_empty() {
        return None;
    }
    let (returned_id, returned_subject) = returned_message(&message, &text);
    report_id = report_id
        .or_else(|| header_message_id(&message, "X-Original-Message-ID"))
        .or_else(|| {
            let in_reply_to = message.in_reply_to().as_text_list()?;
            in_reply_to.first().map(|id| id.to_string())
        })
        .or_else(|| {
            let references = message.references().as_text_list()?;
            references.last().map(|id| id.to_string())
        });
    reported_at = reported_at.or_else(|| message.date().map(|date| date.to_timestamp()));
    Some(BounceReport {
        original_message_id: returned_id.or(report_id),
        original_subject: returned_subject.or_else(|| subject_of_report(&message)),
        reported_at,
        recipients,
    })
}

/// Whether the message presents itself as an automatic report.
fn presents_as_report(headers: &Message<'_>) -> bool {
    let report_type = headers.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    // RFC 3834 §5: auto-generated and auto-replied are automatic; "no" is not.
    let auto_submitted = headers.header_raw("Auto-Submitted").is_some_and(|value| {
        let value = value.trim().to_ascii_lowercase();
        value.starts_with("auto-generated") || value.starts_with("auto-replied")
    });
    let null_return_path = headers
        .header_raw("Return-Path")
        .is_some_and(|value| value.trim() == "<>");
    let daemon_sender = headers
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .is_some_and(is_daemon_address);
    let exim_failures = headers.header_raw("X-Failed-Recipients").is_some();
    report_type || auto_submitted || null_return_path || daemon_sender || exim_failures
}

/// The senders mail systems send reports from (RFC 5321 §4.5.1 postmaster, the
/// traditional mailer-daemon, and Exchange's system mailbox).
fn is_daemon_address(address: &str) -> bool {
    let local = address
        .rsplit_once('@')
        .map_or(address, |(local, _)| local)
        .to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon" | "mailer_daemon" | "mailerdaemon" | "mail-daemon" | "postmaster"
    ) || local.starts_with("microsoftexchange")
}

fn has_type(part: &mail_parser::MessagePart<'_>, subtypes: &[&str]) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct
                .subtype()
                .is_some_and(|s| subtypes.iter().any(|wanted| s.eq_ignore_ascii_case(wanted)))
    })
}

/// The Message-ID and Subject of the message that bounced, from the returned message or
/// its headers (RFC 3464 §2: the third part), else from a copy in the text.
fn returned_message(message: &Message<'_>, text: &str) -> (Option<String>, Option<String>) {
    for part in message.parts.iter().skip(1) {
        if let PartType::Message(returned) = &part.body {
            return (
                returned.message_id().map(str::to_owned),
                returned.subject().map(str::to_owned),
            );
        }
        let headers_only = has_type(part, &["global-headers"])
            || part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("text")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
            });
        if headers_only && let Some(found) = headers_in(part.contents()) {
            return found;
        }
    }
    text_forms::returned_headers(text)
        .and_then(headers_in)
        .unwrap_or_default()
}

fn headers_in(bytes: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let headers = MessageParser::default().parse_headers(bytes)?;
    let id = headers.message_id().map(str::to_owned);
    let subject = headers.subject().map(str::to_owned);
    (id.is_some() || subject.is_some()).then_some((id, subject))
}

fn header_message_id(message: &Message<'_>, name: &str) -> Option<String> {
    let value = message.header_raw(name)?;
    let id = value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// The original subject from a report's own subject, where the reporting system wrote
/// it after a fixed label ("Undeliverable: Lunch on Friday?").
fn subject_of_report(message: &Message<'_>) -> Option<String> {
    const LABELS: &[&str] = &[
        "undeliverable:",
        "undelivered:",
        "unzustellbar:",
        "non remis :",
        "non remis:",
        "no se puede entregar:",
        "delayed:",
    ];
    let subject = message.subject()?.trim();
    let lower = subject.to_lowercase();
    let label = LABELS.iter().find(|label| lower.starts_with(*label))?;
    let original = subject.get(label.len()..)?.trim();
    (!original.is_empty()).then(|| original.to_owned())
}
