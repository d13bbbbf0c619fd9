//! The operator dashboard (README.md, "Operator dashboard"): one server-rendered page of
//! applications, their grants with sync state and last error, their webhooks with the
//! deliveries failing and a "Retry now", and the sends waiting on a schedule. No script
//! and no external asset; signed in with an admin token (`mailroom admin-token create`)
//! that opens a session kept in a cookie of the dashboard's path.

mod overview;
mod session;
mod utc;

use axum::{
    Router,
    routing::{get, post},
};

use crate::{
    http_limits::{RefusalShape, RouteBody},
    router::AppState,
};

pub fn routes() -> Router<AppState> {
    // Its forms are read before the session is checked: small bodies only.
    let form = |route| RouteBody::BeforeCredentials.apply(route, RefusalShape::Envelope);
    Router::new()
        .route("/admin", get(overview::show))
        .route("/admin/login", form(post(session::login)))
        .route("/admin/logout", form(post(session::logout)))
        .route(
            "/admin/webhooks/{id}/retry",
            form(post(overview::retry_webhook)),
        )
}
