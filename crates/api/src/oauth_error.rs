//! The error shape of the OAuth endpoints (`/v3/connect/token`, `/tokeninfo`, `/revoke`):
//! `{"error", "error_code", "error_description", "error_uri", "request_id"}`, which the
//! Python SDK needs whole to raise a typed `NylasOAuthError` (docs/API.md §1.6).

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::request_id::current_request_id;

/// Where the error codes are explained.
const ERROR_URI: &str = "https://www.rfc-editor.org/rfc/rfc6749#section-5.2";

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    /// The OAuth error code: `invalid_request`, `invalid_client`, `invalid_grant`, …
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    /// A parameter is missing, repeated or malformed.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", description)
    }

    /// The client is unknown or did not authenticate. HTTP 400, as docs/API.md §2.4 has every
    /// token-endpoint error (RFC 6749 §5.2 allows it).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_client", description)
    }

    /// The code or refresh token yields nothing.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_grant", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::bad_request("unsupported_grant_type", description)
    }

    /// The access token or id_token presented for inspection is not a live one.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_token", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_code": self.status.as_u16(),
            "error_description": self.description,
            "error_uri": ERROR_URI,
            "request_id": current_request_id(),
        });
        (self.status, Json(body)).into_response()
    }
}

impl From<mailroom_store::StoreError> for OAuthError {
    fn from(e: mailroom_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "mailroom could not read or write its database; see the server log".into(),
        }
    }
}

impl From<mailroom_store::TokenError> for OAuthError {
    fn from(e: mailroom_store::TokenError) -> Self {
        match e {
            mailroom_store::TokenError::InvalidGrant(message) => OAuthError::invalid_grant(message),
            mailroom_store::TokenError::Store(e) => e.into(),
        }
    }
}
