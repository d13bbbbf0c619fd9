//! The token endpoint of an OAuth 2.0 provider (RFC 6749): trading an authorization
//! code (with its PKCE verifier, RFC 7636) or a refresh token for an access token, under
//! the outbound policy like every other connection mailroom makes. What the provider
//! answers is bounded in size and time and read as JSON; a refusal keeps the provider's
//! error code, so that a revoked or expired refresh token (`invalid_grant`) can be told
//! from a provider that is down.

use std::time::Duration;

use base64::Engine;
use hyper::body::Bytes;
use serde::Deserialize;

use crate::{
    outbound::OutboundPolicy,
    webhook_http::{WebhookHttpError, WebhookUrl, webhook_post},
};

/// The most of a token answer that is read: tokens and an ID token fit in a few KiB.
const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;

/// Where and as which client mailroom asks for tokens.
#[derive(Clone)]
pub struct TokenEndpoint {
    pub url: WebhookUrl,
    pub client_id: String,
    pub client_secret: String,
    pub client_auth: ClientAuth,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the client secret.
        f.debug_struct("TokenEndpoint")
            .field("url", &self.url.as_str())
            .field("client_id", &self.client_id)
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

/// How the client proves itself to the token endpoint (RFC 6749, section 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// HTTP Basic with the form-encoded id and secret.
    Basic,
}

/// What is traded for an access token.
#[derive(Clone, Copy)]
pub enum TokenGrant<'a> {
    /// RFC 6749, section 4.1.3, with the PKCE verifier (RFC 7636, section 4.5).
    AuthorizationCode {
        code: &'a str,
        redirect_uri: &'a str,
        code_verifier: &'a str,
    },
    /// RFC 6749, section 6.
    RefreshToken(&'a str),
}

/// A successful answer (RFC 6749, section 5.1).
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// Seconds the access token lives, if the provider says.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// A new refresh token: on a code exchange, and where the provider rotates them.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// OpenID Connect: who signed in.
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .field("scope", &self.scope)
            .finish()
    }
}

/// An error answer (RFC 6749, section 5.2).
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The provider refused the grant, in its words (`invalid_grant`: the code or
    /// refresh token is expired, revoked or was issued to another client).
    #[error("the provider refused the token request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error(transparent)]
    Http(#[from] WebhookHttpError),
    #[error("the provider's token endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the provider's token answer is not one mailroom can read: {0}")]
    Malformed(String),
}

impl TokenError {
    /// The grant will not work again: the user must sign in anew.
    pub fn is_revoked(&self) -> bool {
        matches!(self, TokenError::Refused { error, .. } if error == "invalid_grant")
    }
}

/// Asks the token endpoint for an access token.
pub async fn request_token(
    policy: &OutboundPolicy,
    endpoint: &TokenEndpoint,
    grant: TokenGrant<'_>,
    timeout: Duration,
) -> Result<TokenResponse, TokenError> {
    let (body, authorization) = token_request(endpoint, grant);
    let mut headers = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Accept", "application/json"),
    ];
    if let Some(authorization) = &authorization {
        headers.push(("Authorization", authorization.as_str()));
    }
    let reply = webhook_post(
        policy,
        &endpoint.url,
        &headers,
        Bytes::from(body),
        timeout,
        MAX_TOKEN_ANSWER_BYTES,
    )
    .await?;
    read_answer(reply.status, &reply.body)
}

/// The form body and, for HTTP Basic, the Authorization header.
fn token_request(endpoint: &TokenEndpoint, grant: TokenGrant<'_>) -> (String, Option<String>) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    match grant {
        TokenGrant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_verifier", code_verifier);
        }
        TokenGrant::RefreshToken(token) => {
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", token);
        }
    }
    let authorization = match endpoint.client_auth {
        ClientAuth::Post => {
            form.append_pair("client_id", &endpoint.client_id)
                .append_pair("client_secret", &endpoint.client_secret);
            None
        }
        ClientAuth::Basic => {
            // RFC 6749, section 2.3.1: each part form-encoded before joining.
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!(
                "{}:{}",
                encode(&endpoint.client_id),
                encode(&endpoint.client_secret)
            );
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ))
        }
    };
    (form.finish(), authorization)
}

fn read_answer(status: u16, body: &[u8]) -> Result<TokenResponse, TokenError> {
    if status == 200 {
        let answer: TokenResponse =
            serde_json::from_slice(body).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::Malformed(format!(
                "token type '{}', not Bearer",
                answer.token_type.chars().take(32).collect::<String>()
            )));
        }
        if answer.access_token.is_empty() {
            return Err(TokenError::Malformed("an empty access token".into()));
        }
        return Ok(answer);
    }
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(refusal) if (400..500).contains(&status) => Err(TokenError::Refused {
            error: refusal.error.chars().take(64).collect(),
            description: refusal
                .error_description
                .map(|d| d.chars().take(300).collect()),
        }),
        _ => Err(TokenError::Status(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(client_auth: ClientAuth) -> TokenEndpoint {
        TokenEndpoint {
            url: WebhookUrl::parse("https://oauth2.example/token").unwrap(),
            client_id: "client one".into(),
            client_secret: "s3cr&t:".into(),
            client_auth,
        }
    }

    #[test]
    fn a_code_exchange_carries_the_verifier_and_the_client_in_the_body() {
        let (body, authorization) = token_request(
            &endpoint(ClientAuth::Post),
            TokenGrant::AuthorizationCode {
                code: "c/1",
                redirect_uri: "https://mailroom.example/v3/connect/callback",
                code_verifier: "v",
            },
        );
        assert_eq!(
            body,
            "grant_type=authorization_code&code=c%2F1&redirect_uri=https%3A%2F%2Fmailroom.example%2Fv3%2Fconnect%2Fcallback&code_verifier=v&client_id=client+one&client_secret=s3cr%26t%3A"
        );
        assert_eq!(authorization, None);
    }

    #[test]
    fn basic_client_auth_encodes_id_and_secret_first() {
        let (body, authorization) = token_request(
            &endpoint(ClientAuth::Basic),
            TokenGrant::RefreshToken("r t"),
        );
        assert_eq!(body, "grant_type=refresh_token&refresh_token=r+t");
        let expected = base64::engine::general_purpose::STANDARD.encode("client+one:s3cr%26t%3A");
        assert_eq!(authorization, Some(format!("Basic {expected}")));
    }

    #[test]
    fn a_bearer_answer_is_read() {
        let answer = read_answer(
            200,
            br#"{"access_token":"a","token_type":"bearer","expires_in":3599,"refresh_token":"r","id_token":"x.y.z","scope":"openid"}"#,
        )
        .unwrap();
        assert_eq!(answer.access_token, "a");
        assert_eq!(answer.expires_in, Some(3599));
        assert_eq!(answer.refresh_token.as_deref(), Some("r"));
        assert!(
            !format!("{answer:?}").contains("\"a\""),
            "tokens never printed"
        );
    }

    #[test]
    fn refusals_and_oddities_are_told_apart() {
        let revoked = read_answer(
            400,
            br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        )
        .unwrap_err();
        assert!(revoked.is_revoked(), "{revoked}");
        assert!(revoked.to_string().contains("expired or revoked"));
        let client = read_answer(401, br#"{"error":"invalid_client"}"#).unwrap_err();
        assert!(!client.is_revoked());
        assert!(matches!(
            read_answer(503, b"<html>down</html>"),
            Err(TokenError::Status(503))
        ));
        assert!(matches!(
            read_answer(500, br#"{"error":"server_error"}"#),
            Err(TokenError::Status(500))
        ));
        assert!(matches!(
            read_answer(200, b"not json"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            read_answer(200, br#"{"access_token":"a","token_type":"mac"}"#),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            read_answer(200, br#"{"access_token":"","token_type":"Bearer"}"#),
            Err(TokenError::Malformed(_))
        ));
    }
}
