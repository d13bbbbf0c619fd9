//! How a connection to a mail server is protected.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// `ssl`: TLS from the first byte (IMAPS 993, SMTPS 465). `starttls`: plain greeting, then
/// an upgrade that must succeed. `none`: plaintext, refused unless the server allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportSecurity {
    Ssl,
    Starttls,
    None,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not a security mode; use ssl, starttls or none")]
pub struct InvalidSecurity(pub String);

impl TransportSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportSecurity::Ssl => "ssl",
            TransportSecurity::Starttls => "starttls",
            TransportSecurity::None => "none",
        }
    }

    /// The conventional mode for a port: implicit TLS on the TLS ports, STARTTLS elsewhere.
    pub fn default_for_port(port: u16) -> Self {
        match port {
            993 | 465 => TransportSecurity::Ssl,
            _ => TransportSecurity::Starttls,
        }
    }

    pub fn is_encrypted(self) -> bool {
        self != TransportSecurity::None
    }
}

impl FromStr for TransportSecurity {
    type Err = InvalidSecurity;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "ssl" | "tls" | "ssl/tls" => Ok(TransportSecurity::Ssl),
            "starttls" => Ok(TransportSecurity::Starttls),
            "none" | "plain" => Ok(TransportSecurity::None),
            _ => Err(InvalidSecurity(value.chars().take(32).collect())),
        }
    }
}

impl fmt::Display for TransportSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
