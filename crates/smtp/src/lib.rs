//! SMTP submission under mailroom's outbound policy, on lettre.

mod error;
mod send;
mod session;
mod submission;
mod transport;

pub use error::SmtpError;
pub use send::{SubmitReceipt, submit};
pub use session::SmtpSession;
pub use submission::{SmtpAuth, SmtpServer, SmtpTls, verify_login, verify_login_with};
