//! SMTP submission under mailroom's outbound policy, on lettre.

mod error;
mod submission;

pub use error::SmtpError;
pub use submission::{SmtpServer, SmtpTls, verify_login};
