//! The whole HTTP surface, assembled in one place.

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use mailroom_net::OutboundPolicy;
use mailroom_store::Store;
use serde_json::json;

use std::sync::Arc;

use crate::{
    error::ApiError, http_limits::enforce_limits, http_metrics::record_http_metrics,
    mailboxes::Mailboxes, request_id::assign_request_id, v3,
};

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
    /// Where Google's, Microsoft's and Yahoo's authorization and mail servers are.
    pub providers: mailroom_model::ProviderTable,
    /// The URL browsers and providers reach this server at, if configured; otherwise
    /// the provider's return address is made from the sign-in request's `Host`.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<crate::v3::client_info::TrustedProxies>,
    /// Whether the operator configured a notification mailer (`notification_smtp_url`):
    /// without one, webhooks take no `notification_email_addresses`, as nothing would
    /// ever be sent to them.
    pub notification_mailer: bool,
}

pub use crate::http_limits::{HttpLimits, MAX_BODY_BYTES, MAX_MAIL_BODY_BYTES};

pub fn router(state: AppState, limits: HttpLimits) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/openapi.json", get(crate::openapi::serve))
        .merge(v3::routes())
        .merge(crate::v2::routes())
        .merge(crate::grant_routes::router())
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(limits, enforce_limits))
        .layer(middleware::from_fn(record_http_metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::cors::cors,
        ))
        .layer(middleware::from_fn(assign_request_id))
        .with_state(state)
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
