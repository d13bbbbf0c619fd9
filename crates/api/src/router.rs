//! The whole HTTP surface, assembled in one place.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Request},
    http::StatusCode,
    http::header::CONTENT_LENGTH,
    middleware,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use mailroom_net::OutboundPolicy;
use mailroom_store::Store;
use serde_json::json;

use std::sync::Arc;

use crate::{error::ApiError, mailboxes::Mailboxes, request_id::assign_request_id, v3};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub policy: OutboundPolicy,
    pub mailboxes: Arc<dyn Mailboxes>,
    /// Where a domain's mail servers are, for the sign-in page.
    pub discovery: mailroom_net::MailDiscovery,
    /// Throttling of sign-ins, and the grant cap.
    pub sign_in: Arc<crate::sign_in_limits::SignInLimits>,
}

/// The largest request body accepted on most routes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest body of a send or a draft: multipart carries attachments of up to 25 MB
/// in total, as Nylas allows, plus the JSON part and the multipart framing.
pub const MAX_MAIL_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The limit for a request path.
pub fn body_limit(path: &str) -> usize {
    let mail = path.starts_with("/v3/grants/")
        && (path.ends_with("/messages/send") || path.contains("/drafts"));
    if mail {
        MAX_MAIL_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .merge(v3::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(refuse_oversized_bodies))
        .layer(middleware::from_fn(assign_request_id))
        .with_state(state)
}

/// Refuses a body whose declared length is over the limit before reading any of it.
async fn refuse_oversized_bodies(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = body_limit(request.uri().path());
    match declared {
        Some(length) if length > limit as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "api.invalid_request_payload",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

async fn health() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such route: {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "api.invalid_request_error",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
