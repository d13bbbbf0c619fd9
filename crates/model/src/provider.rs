//! Which kind of mailbox a connector or grant talks to.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The providers mailroom can connect. Nylas knows more (google, microsoft, …); those need
/// OAuth apps at the provider and are refused with a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Imap,
}

pub const SUPPORTED_PROVIDERS: &str = "imap";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    #[error(
        "provider '{0}' is not supported by mailroom; supported providers: {SUPPORTED_PROVIDERS}"
    )]
    Unsupported(String),
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Imap => "imap",
        }
    }
}

impl FromStr for Provider {
    type Err = ProviderError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "imap" => Ok(Provider::Imap),
            _ => Err(ProviderError::Unsupported(value.chars().take(64).collect())),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
