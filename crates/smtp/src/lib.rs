//! SMTP submission under mailroom's outbound policy, on lettre.

mod error;
mod open_sessions;
mod send;
mod session;
mod submission;
mod transport;

pub use error::SmtpError;
pub use open_sessions::describe_smtp_metrics;
pub use send::{SubmitReceipt, submit};
pub use session::SmtpSession;
pub use submission::{SmtpAuth, SmtpServer, SmtpTls, verify_login, verify_login_with};
