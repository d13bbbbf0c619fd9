//! The Nylas v3 handlers, one file per resource. `routes` serves the application's routes
//! (applications, connectors, sign-in, tokens, grants, webhooks); the routes on a grant's
//! mailbox are in the one table of `crate::grant_routes`.

mod applications;
pub(crate) mod attachments;
pub(crate) mod calendars;
pub(crate) mod client_info;
pub mod compose_body;
pub(crate) mod connect_token;
mod connectors;
pub(crate) mod contacts;
mod custom_auth;
mod custom_oauth;
pub(crate) mod drafts;
pub(crate) mod events;
pub(crate) mod folder_changes;
pub(crate) mod folders;
pub(crate) mod grants;
pub(crate) mod hosted_auth;
pub(crate) mod message_json;
pub(crate) mod message_updates;
pub(crate) mod messages;
pub(crate) mod outgoing_mail;
mod redirect_uris;
pub(crate) mod schedules;
pub(crate) mod send;
pub(crate) mod thread_updates;
pub(crate) mod threads;
mod webhooks;

use axum::{
    Router,
    routing::{get, post, put},
};

use crate::router::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/applications", get(applications::get_application))
        .route(
            "/v3/applications/redirect-uris",
            get(redirect_uris::list_redirect_uris).post(redirect_uris::create_redirect_uri),
        )
        .route(
            "/v3/applications/redirect-uris/{id}",
            get(redirect_uris::get_redirect_uri)
                .patch(redirect_uris::update_redirect_uri)
                .delete(redirect_uris::delete_redirect_uri),
        )
        .route(
            "/v3/connectors",
            get(connectors::list_connectors).post(connectors::create_connector),
        )
        .route(
            "/v3/connectors/{provider}",
            get(connectors::get_connector)
                .patch(connectors::update_connector)
                .put(connectors::update_connector)
                .delete(connectors::delete_connector),
        )
        .route("/v3/connect/custom", post(custom_auth::custom_auth))
        .route("/v3/connect/token", post(connect_token::token))
        .route("/v3/connect/tokeninfo", get(connect_token::token_info))
        .route("/v3/connect/revoke", post(connect_token::revoke))
        .route(
            "/v3/connect/auth",
            get(hosted_auth::sign_in_page).post(hosted_auth::sign_in_submit),
        )
        .route("/v3/connect/callback", get(hosted_auth::provider_callback))
        .route("/v3/grants", get(grants::list_grants))
        .route(
            "/v3/grants/{grant_id}",
            get(grants::get_grant)
                .patch(grants::update_grant)
                .delete(grants::delete_grant),
        )
        .route(
            "/v3/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route("/v3/webhooks/ip-addresses", get(webhooks::ip_addresses))
        .route("/v3/webhooks/mock-payload", post(webhooks::mock_payload))
        .route(
            "/v3/webhooks/send-test-event",
            post(webhooks::send_test_event),
        )
        .route(
            "/v3/webhooks/rotate-secret/{id}",
            post(webhooks::rotate_secret),
        )
        .route(
            "/v3/webhooks/{id}",
            get(webhooks::get_webhook)
                .put(webhooks::update_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route(
            "/v3/webhooks/{id}/rotate-secret",
            put(webhooks::rotate_secret),
        )
}
