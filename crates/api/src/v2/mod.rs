//! Nylas API v2, for applications still written against it (README.md, "Nylas v2
//! applications"): an account there is a v3 grant (`account_id` is the grant's id), its
//! access tokens are the same token store's, and the scopes are the same table's.
//! Errors take v2's shape, `{"message", "type"}` (`error`).

mod account;
pub(crate) mod account_auth;
mod accounts_admin;
pub(crate) mod calendars;
pub(crate) mod changes;
mod compose;
pub(crate) mod contacts;
pub(crate) mod delta;
pub(crate) mod drafts;
mod error;
pub(crate) mod files;
pub(crate) mod folder_changes;
pub(crate) mod folders;
mod listing;
pub(crate) mod messages;
mod native_auth;
mod oauth;
pub(crate) mod threads;
mod uploads;

use axum::{
    Router,
    routing::{get, post},
};

use crate::{
    http_limits::{RefusalShape, RouteBody},
    router::AppState,
};

/// v2's routes outside the mailbox: sign-in, tokens, the account and the application's
/// accounts. The mailbox's routes are in the one table of grant routes
/// (`crate::grant_routes`), with their scopes.
pub fn routes() -> Router<AppState> {
    // The sign-in and token routes read their body before any credential.
    let open = |route| RouteBody::BeforeCredentials.apply(route, RefusalShape::V2);
    let standard = |route| RouteBody::Standard.apply(route, RefusalShape::V2);
    Router::new()
        .route("/oauth/authorize", open(get(oauth::authorize)))
        .route("/oauth/token", open(get(oauth::token).post(oauth::token)))
        .route("/oauth/revoke", open(post(oauth::revoke)))
        .route("/connect/authorize", open(post(native_auth::authorize)))
        .route("/connect/token", open(post(native_auth::token)))
        .route("/account", standard(get(account::account)))
        .route(
            "/a/{client_id}/accounts",
            standard(get(accounts_admin::list_accounts)),
        )
        .route(
            "/a/{client_id}/accounts/{account_id}",
            standard(get(accounts_admin::get_account).delete(accounts_admin::delete_account)),
        )
        .route(
            "/a/{client_id}/accounts/{account_id}/revoke-all",
            standard(post(accounts_admin::revoke_all)),
        )
}
