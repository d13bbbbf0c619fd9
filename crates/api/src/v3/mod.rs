//! The Nylas v3 routes, one file per resource.

mod applications;
mod client_info;
mod connectors;
mod custom_auth;
mod grants;

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
}
