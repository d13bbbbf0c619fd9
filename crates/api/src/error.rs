//! The one error type of the API. Every failure leaves as the v3 envelope
//! `{"request_id", "error": {"type", "message", "provider_error"?}}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::request_id::current_request_id;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub provider_error: Option<Value>,
    /// Seconds after which a retry may succeed: the `Retry-After` header of a 429 or 503.
    pub retry_after: Option<u64>,
    /// A send failed in a way that leaves open whether the message went out (its final
    /// reply never came): it must not be sent again blindly (`crate::idempotency`).
    pub may_have_sent: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            provider_error: None,
            retry_after: None,
            may_have_sent: false,
        }
    }

    /// A 429: the caller sent more than its share and may try again in `retry_after`
    /// seconds.
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "api.rate_limit_error",
            message,
        );
        error.retry_after = Some(retry_after);
        error
    }

    /// The request ran past the server's deadline for one request and was stopped.
    pub fn deadline_exceeded(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api.internal_error",
            format!(
                "the request took longer than {} seconds and was stopped; try again",
                limit.as_secs()
            ),
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "api.invalid_request_payload",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            message,
        )
    }

    pub fn invalid_payload(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            message,
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "api.authentication_error",
            message,
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "api.forbidden_error", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "api.not_found_error", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "api.invalid_request_error", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api.internal_error",
            message,
        )
    }

    pub fn with_provider_error(mut self, provider_error: Value) -> Self {
        self.provider_error = Some(provider_error);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"type": self.kind, "message": self.message});
        if let Some(provider_error) = self.provider_error {
            error["provider_error"] = provider_error;
        }
        let body = json!({"request_id": current_request_id(), "error": error});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<mailroom_store::StoreError> for ApiError {
    fn from(e: mailroom_store::StoreError) -> Self {
        // The detail goes to the log; the caller learns only that it was ours.
        tracing::error!(error = %e, "store error");
        ApiError::internal("mailroom could not read or write its database; see the server log")
    }
}

impl From<crate::mailboxes::ChangeFailure> for ApiError {
    fn from(failure: crate::mailboxes::ChangeFailure) -> Self {
        use crate::mailboxes::ChangeFailure;
        match failure {
            ChangeFailure::Gone => {
                ApiError::not_found("the message or folder is no longer on the mail server")
            }
            ChangeFailure::Invalid(reason) => ApiError::bad_request(reason),
            ChangeFailure::Refused(words) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "api.provider_error",
                format!("the IMAP server refused the change: {words}"),
            )
            .with_provider_error(json!({"error": words})),
            ChangeFailure::SendRefused(reply) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "api.provider_error",
                format!("the message was not sent: {reply}"),
            )
            .with_provider_error(json!({"error": reply})),
            ChangeFailure::SendUnconfirmed(reason) => {
                let mut error = ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "api.provider_error",
                    format!("the message may or may not have been sent: {reason}"),
                );
                error.may_have_sent = true;
                error
            }
            ChangeFailure::Provider(reason) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "api.provider_error",
                format!("the mail server could not be reached or failed: {reason}"),
            ),
            ChangeFailure::Database(e) => e.into(),
        }
    }
}
