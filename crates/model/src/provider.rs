//! Which kind of mailbox a connector or grant talks to.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::oauth_providers::OAuthProvider;

/// The providers mailroom can connect: any IMAP/SMTP server with a password, and
/// Google, Microsoft and Yahoo mailboxes with OAuth 2.0 tokens over IMAP and SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Imap,
    Google,
    Microsoft,
    Yahoo,
}

pub const SUPPORTED_PROVIDERS: &str = "imap, google, microsoft, yahoo";

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
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
            Provider::Yahoo => "yahoo",
        }
    }

    /// The OAuth provider behind it; `None` for password mailboxes.
    pub fn oauth(self) -> Option<OAuthProvider> {
        match self {
            Provider::Imap => None,
            Provider::Google => Some(OAuthProvider::Google),
            Provider::Microsoft => Some(OAuthProvider::Microsoft),
            Provider::Yahoo => Some(OAuthProvider::Yahoo),
        }
    }
}

impl From<OAuthProvider> for Provider {
    fn from(provider: OAuthProvider) -> Self {
        match provider {
            OAuthProvider::Google => Provider::Google,
            OAuthProvider::Microsoft => Provider::Microsoft,
            OAuthProvider::Yahoo => Provider::Yahoo,
        }
    }
}

impl FromStr for Provider {
    type Err = ProviderError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "imap" => Ok(Provider::Imap),
            "google" => Ok(Provider::Google),
            "microsoft" => Ok(Provider::Microsoft),
            "yahoo" => Ok(Provider::Yahoo),
            _ => Err(ProviderError::Unsupported(value.chars().take(64).collect())),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
