//! The OAuth side of hosted authentication: `POST /v3/connect/token` (its response is
//! bare, not enveloped), `GET /v3/connect/tokeninfo`, and the claims of the id_token.

use serde::{Deserialize, Serialize};

/// A code exchange or a refresh. Every field is optional here: which ones are required
/// depends on `grant_type`, and a missing one is an OAuth `invalid_request`, not a
/// parse failure.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
}

/// What `grant_type` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "authorization_code" => Some(GrantType::AuthorizationCode),
            "refresh_token" => Some(GrantType::RefreshToken),
            _ => None,
        }
    }
}

/// The bare token response. `refresh_token` is left out unless the authorization asked
/// for `access_type=offline`.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub grant_id: String,
    pub email: String,
    /// Space-separated, as OAuth writes scopes (empty: every scope the grant has).
    pub scope: String,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub provider: String,
}

/// The claims of an id_token (an HS256 JWT): who signed in, for which client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    /// The client id (application id) the token was issued to.
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The grant id.
    pub sub: String,
    pub email: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub provider: String,
    pub email_verified: bool,
}

/// `GET /v3/connect/tokeninfo`: what an access token or id_token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub sub: String,
    pub email: String,
    /// Whether signing in proved the address: the grant's servers belong to its domain.
    pub email_verified: bool,
}

impl From<IdTokenClaims> for TokenInfo {
    fn from(claims: IdTokenClaims) -> Self {
        TokenInfo {
            iss: claims.iss,
            aud: claims.aud,
            iat: claims.iat,
            exp: claims.exp,
            sub: claims.sub,
            email: claims.email,
            email_verified: claims.email_verified,
        }
    }
}

/// A display name split the way id_tokens carry it: the first word as the given name,
/// the rest as the family name.
pub fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return (None, None);
    };
    match name.split_once(char::is_whitespace) {
        Some((given, family)) => (Some(given.to_owned()), Some(family.trim().to_owned())),
        None => (Some(name.to_owned()), None),
    }
}

// Secrets stay out of `Debug`, so that no log line can carry them.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("client_secret", &shown(&self.client_secret))
            .field("code", &shown(&self.code))
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &shown(&self.code_verifier))
            .field("refresh_token", &shown(&self.refresh_token))
            .finish()
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("grant_id", &self.grant_id)
            .field("email", &self.email)
            .field("scope", &self.scope)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// How a secret field appears in `Debug` output: whether it is there, never its value.
fn shown<T>(secret: &Option<T>) -> &'static str {
    if secret.is_some() {
        "<redacted>"
    } else {
        "None"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_given_and_family() {
        assert_eq!(split_name(None), (None, None));
        assert_eq!(split_name(Some("  ")), (None, None));
        assert_eq!(split_name(Some("Ada")), (Some("Ada".into()), None));
        assert_eq!(
            split_name(Some("Ada King Lovelace")),
            (Some("Ada".into()), Some("King Lovelace".into()))
        );
    }

    #[test]
    fn the_token_response_leaves_out_a_missing_refresh_token() {
        let response = TokenResponse {
            access_token: "a".into(),
            token_type: "Bearer",
            expires_in: 3600,
            grant_id: "g".into(),
            email: "e@example.test".into(),
            scope: "email.read_only email.send".into(),
            id_token: "x.y.z".into(),
            refresh_token: None,
            provider: "imap".into(),
        };
        let json = serde_json::to_value(&response).unwrap();
        assert!(json.get("refresh_token").is_none());
        assert_eq!(json["token_type"], "Bearer");
        assert_eq!(json["expires_in"], 3600);
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_output_names_secrets_without_showing_them() {
        let request = TokenRequest {
            grant_type: Some("refresh_token".into()),
            client_secret: Some("s3cret-client".into()),
            refresh_token: Some("s3cret-refresh".into()),
            ..Default::default()
        };
        let shown = format!("{request:?}");
        assert!(shown.contains("refresh_token") && shown.contains("<redacted>"));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
