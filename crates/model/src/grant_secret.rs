//! What a grant proves itself with to its mail servers: passwords, or the OAuth 2.0
//! tokens of a Google, Microsoft or Yahoo mailbox. Kept only sealed at rest, in one
//! column, as JSON whose fields tell the two apart (so that grants sealed before OAuth
//! existed open unchanged).

use serde::{Deserialize, Serialize};

use crate::mail_settings::MailCredentials;

/// The OAuth 2.0 tokens of a grant (RFC 6749): the refresh token the user's consent
/// gave, and the access token last obtained with it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthTokens {
    pub refresh_token: String,
    pub access_token: String,
    /// When the access token stops working, in Unix seconds; 0 when unknown (it is then
    /// refreshed before use).
    pub access_expires_at: i64,
    /// The token endpoint the refresh token was issued by (for Microsoft, under the
    /// tenant the user signed in to), so that a refresh asks the same one.
    pub token_url: String,
}

impl std::fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("OAuthTokens")
            .field("access_expires_at", &self.access_expires_at)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// A grant's secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GrantSecret {
    Password(MailCredentials),
    OAuth(OAuthTokens),
}

impl GrantSecret {
    /// Whether `other` signs in as the same login: the same passwords; or, for tokens,
    /// any (the provider proved the same email, and every consent gives new tokens).
    pub fn same_login(&self, other: &GrantSecret) -> bool {
        match (self, other) {
            (GrantSecret::Password(a), GrantSecret::Password(b)) => a == b,
            (GrantSecret::OAuth(_), GrantSecret::OAuth(_)) => true,
            _ => false,
        }
    }

    pub fn passwords(&self) -> Option<&MailCredentials> {
        match self {
            GrantSecret::Password(credentials) => Some(credentials),
            GrantSecret::OAuth(_) => None,
        }
    }
}

impl From<MailCredentials> for GrantSecret {
    fn from(credentials: MailCredentials) -> Self {
        GrantSecret::Password(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_round_trip_and_old_passwords_still_open() {
        let old = r#"{"imap_password":"a","smtp_password":"b"}"#;
        let opened: GrantSecret = serde_json::from_str(old).unwrap();
        assert_eq!(
            opened.passwords().map(|p| p.imap_password.as_str()),
            Some("a")
        );
        let tokens = GrantSecret::OAuth(OAuthTokens {
            refresh_token: "rt".into(),
            access_token: "at".into(),
            access_expires_at: 7,
            token_url: "https://t.example/token".into(),
        });
        let json = serde_json::to_string(&tokens).unwrap();
        assert!(!json.contains("imap_password"));
        assert_eq!(serde_json::from_str::<GrantSecret>(&json).unwrap(), tokens);
        assert!(!format!("{tokens:?}").contains("rt"));
        assert!(tokens.same_login(&tokens) && !tokens.same_login(&opened));
    }
}
