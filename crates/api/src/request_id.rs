//! Every response names its request: `request_id` in the JSON body and the
//! `x-request-id` header (the Node SDK reads error ids from the header). A task-local
//! carries the id from the middleware to whatever builds the body, so no handler can
//! forget it.
//!
//! The request is also a tracing span, `request`, with the id, the method and the route
//! template, so that every line logged while it is handled carries them; the
//! application and the grant are added to it once authentication has named them
//! ([`note_application`], [`note_grant`]).

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::{Instrument, Span, field::Empty};

use crate::http_metrics::route_label;

tokio::task_local! {
    static REQUEST_ID: String;
    static REQUEST_SPAN: Span;
}

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being handled (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

/// Adds the application the caller authenticated as to the request's log lines.
pub(crate) fn note_application(application_id: &str) {
    let _ = REQUEST_SPAN.try_with(|span| {
        span.record("application_id", tracing::field::display(application_id));
    });
}

/// Adds the grant the request acts on to the request's log lines.
pub(crate) fn note_grant(grant_id: &str) {
    let _ = REQUEST_SPAN.try_with(|span| {
        span.record("grant_id", tracing::field::display(grant_id));
    });
}

/// `work` with the current request's id and log span, for a task spawned to finish it
/// whatever becomes of the request (`crate::idempotency`).
pub(crate) fn within_request<F: std::future::Future>(
    work: F,
) -> impl std::future::Future<Output = F::Output> {
    let id = current_request_id();
    let span = REQUEST_SPAN
        .try_with(Span::clone)
        .unwrap_or_else(|_| Span::none());
    REQUEST_SPAN.scope(span.clone(), REQUEST_ID.scope(id, work.instrument(span)))
}

pub async fn assign_request_id(request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route_label(request.extensions().get::<MatchedPath>()),
        application_id = Empty,
        grant_id = Empty,
    );
    let handled = REQUEST_SPAN.scope(
        span.clone(),
        REQUEST_ID.scope(id.clone(), next.run(request)),
    );
    let mut response = handled.instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(status = response.status().as_u16(), "request answered"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(REQUEST_ID_HEADER.clone(), value);
    }
    response
}
