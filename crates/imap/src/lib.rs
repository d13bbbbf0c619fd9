//! mailroom's IMAP session: connecting under the outbound policy, TLS or STARTTLS,
//! logging in and reading capabilities, on top of async-imap.

mod error;
mod session;
mod stream;

pub use error::ImapError;
pub use session::{ImapServer, ImapSession, ImapTls};
pub use stream::ImapStream;
