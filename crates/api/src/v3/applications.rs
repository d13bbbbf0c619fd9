//! `GET /v3/applications`: the application behind the API key.

use axum::extract::State;
use mailroom_model::v3::{Application, Branding};
use serde_json::json;

use crate::{auth::AppAuth, envelope::Item, error::ApiError, router::AppState};

use super::redirect_uris;

pub async fn get_application(
    State(state): State<AppState>,
    auth: AppAuth,
) -> Result<Item<Application>, ApiError> {
    let record = state
        .store
        .application(&auth.application_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the application no longer exists"))?;
    let callback_uris = state
        .store
        .list_callback_uris(&auth.application_id)
        .await?
        .into_iter()
        .map(redirect_uris::to_v3)
        .collect();
    Ok(Item::ok(Application {
        application_id: record.id.to_string(),
        organization_id: record.organization_id,
        region: "us".into(),
        environment: "production".into(),
        branding: Branding {
            name: record.name,
            icon_url: None,
            website_url: None,
            description: None,
        },
        domain: None,
        hosted_authentication: json!({}),
        callback_uris,
        created_at: record.created_at,
        updated_at: record.updated_at,
        blocked: false,
        allow_custom_servers: record.allow_custom_servers,
    }))
}
