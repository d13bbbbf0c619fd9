//! MIME messages to mailroom's model, on mail-parser: header summaries (participants,
//! dates, thread references), bodies as HTML and text, snippets, attachments with their
//! decoded bytes, and the keys that thread messages together; events from iCalendar
//! parts (`calendar`, on calcard); non-delivery reports and their failed recipients
//! (`bounce_report`); the new part of a message body without quotes, signatures and
//! closings, as text or Markdown (`clean_conversation`, HTML read with html5gum's
//! tokenizer); outgoing messages built and checked on mail-builder (`outgoing`); and
//! open and link tracking of an HTML body, composed or already built (`tracking_html`,
//! `tracked_raw_message`).
//! No I/O; garbage in gives whatever could be read, never a panic.

mod bcc;
mod bounce_report;
mod calendar;
mod clean_conversation;
mod headers;
mod message;
mod outgoing;
mod threading;
mod tracked_raw_message;
mod tracking_html;

pub use bcc::without_bcc;
pub use bounce_report::{BounceKind, BounceReport, BouncedRecipient, bounce_report};
pub use calendar::{
    Attendee, AttendeeStatus, CalendarEvent, CalendarMethod, EventStatus, EventTime,
    EventVisibility, calendar_events, parse_calendar,
};
pub use clean_conversation::{CleanOptions, clean_conversation};
pub use headers::{EmailName, MessageHeaders, parse_headers};
pub use message::{AttachmentInfo, ParsedMessage, attachment_content, parse_message};
pub use outgoing::{
    BuiltMessage, ComposeError, OutgoingAttachment, OutgoingMessage, RawEnvelope, build_message,
    envelope_recipients, raw_envelope,
};
pub use threading::{ThreadKeys, normalize_subject, thread_keys};
pub use tracked_raw_message::track_raw_message;
pub use tracking_html::{MAX_TRACKED_LINKS, TrackedHtml, TrackingPlan, track_html};
