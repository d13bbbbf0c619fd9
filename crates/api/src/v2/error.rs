//! v2's error body: `{"message": …, "type": …}` with the HTTP status, where `type` is
//! `invalid_request_error` for what the caller sent and `api_error` for the rest.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use mailroom_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub struct V2Error {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl V2Error {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message: message.into(),
        }
    }

    /// The access token (or client secret) is missing, unknown or revoked, in v2's words.
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            kind: "invalid_request_error",
            message: "Could not verify access credential.".into(),
        }
    }

    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }
}

impl V2Error {
    /// An error the v3 helpers raised, in v2's shape.
    pub fn from_api(e: crate::error::ApiError) -> Self {
        let kind = if e.status.is_client_error() {
            "invalid_request_error"
        } else {
            "api_error"
        };
        Self::new(e.status, kind, e.message)
    }
}

impl From<StoreError> for V2Error {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "mailroom could not read or write its database",
        )
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"message": self.message, "type": self.kind})),
        )
            .into_response()
    }
}
