//! How a connection to a mail server is protected, one name for IMAP and SMTP alike:
//! TLS from the first byte (RFC 8314 implicit TLS), a plain greeting upgraded by
//! STARTTLS (RFC 3501 §6.2.1, RFC 3207), or no TLS where the policy allows plaintext.

use mailroom_model::TransportSecurity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionTls {
    /// TLS from the first byte (IMAPS on 993, SMTPS on 465).
    Implicit,
    /// A plain greeting, then STARTTLS, which must succeed.
    StartTls,
    /// No TLS at all; only where the policy allows plaintext.
    Plain,
}

impl From<TransportSecurity> for ConnectionTls {
    fn from(security: TransportSecurity) -> Self {
        match security {
            TransportSecurity::Ssl => ConnectionTls::Implicit,
            TransportSecurity::Starttls => ConnectionTls::StartTls,
            TransportSecurity::None => ConnectionTls::Plain,
        }
    }
}
