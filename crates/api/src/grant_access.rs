//! The grant a `/v3/grants/{grant_id}/…` route works on, checked against the caller.

use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};
use mailroom_model::GrantId;
use mailroom_store::GrantRecord;

use crate::{auth::AppAuth, error::ApiError, router::AppState};

pub struct GrantAccess {
    pub grant: GrantRecord,
}

impl FromRequestParts<AppState> for GrantAccess {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = AppAuth::from_request_parts(parts, state).await?;
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let raw = params
            .iter()
            .find(|(k, _)| k == "grant_id")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        if raw == "me" {
            return Err(ApiError::bad_request(
                "'me' stands for the grant of a grant access token; with an API key, name the grant id",
            ));
        }
        let not_found = || {
            ApiError::not_found(format!(
                "no grant with id '{}'",
                raw.chars().take(128).collect::<String>()
            ))
        };
        let id = GrantId::parse(raw).map_err(|_| not_found())?;
        let grant = state
            .store
            .grant(&auth.application_id, &id)
            .await?
            .ok_or_else(not_found)?;
        Ok(GrantAccess { grant })
    }
}
