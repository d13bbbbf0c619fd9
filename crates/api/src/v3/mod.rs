//! The Nylas v3 routes, one file per resource.

mod applications;
mod attachments;
mod client_info;
mod connectors;
mod custom_auth;
mod folders;
mod grants;
mod message_json;
mod messages;
mod threads;

use axum::{
    Router,
    routing::{get, post},
};

use crate::router::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/applications", get(applications::get_application))
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
        .route("/v3/grants", get(grants::list_grants))
        .route(
            "/v3/grants/{grant_id}",
            get(grants::get_grant)
                .patch(grants::update_grant)
                .delete(grants::delete_grant),
        )
        .route(
            "/v3/grants/{grant_id}/messages",
            get(messages::list_messages),
        )
        .route(
            "/v3/grants/{grant_id}/messages/{message_id}",
            get(messages::get_message),
        )
        .route("/v3/grants/{grant_id}/threads", get(threads::list_threads))
        .route(
            "/v3/grants/{grant_id}/threads/{thread_id}",
            get(threads::get_thread),
        )
        .route("/v3/grants/{grant_id}/folders", get(folders::list_folders))
        .route(
            "/v3/grants/{grant_id}/folders/{folder_id}",
            get(folders::get_folder),
        )
        .route(
            "/v3/grants/{grant_id}/attachments/{attachment_id}",
            get(attachments::get_attachment),
        )
        .route(
            "/v3/grants/{grant_id}/attachments/{attachment_id}/download",
            get(attachments::download_attachment),
        )
}
