//! MIME messages to mailroom's model, on mail-parser: header summaries (participants,
//! dates, thread references), bodies as HTML and text, snippets, attachments with their
//! decoded bytes, and the keys that thread messages together. No I/O; garbage in gives
//! whatever could be read, never a panic.

mod headers;
mod message;
mod threading;

pub use headers::{EmailName, MessageHeaders, parse_headers};
pub use message::{AttachmentInfo, ParsedMessage, attachment_content, parse_message};
pub use threading::{ThreadKeys, normalize_subject, thread_keys};
