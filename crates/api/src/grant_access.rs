//! The grant a `/v3/grants/{grant_id}/…` route works on, checked against the caller and
//! against the grant's scopes (the route's entry in the grant route table).

use axum::{
    extract::{FromRequestParts, MatchedPath, Path},
    http::{StatusCode, request::Parts},
};
use mailroom_model::{GrantId, Scope};
use mailroom_store::GrantRecord;

use crate::{auth::AppAuth, error::ApiError, router::AppState, v3::grant_routes};

pub struct GrantAccess {
    pub grant: GrantRecord,
}

impl GrantAccess {
    /// Whether the grant's scopes reach past metadata to bodies and attachment content.
    pub fn may_read_content(&self) -> bool {
        Scope::allows(&self.grant.scope, grant_routes::CONTENT_SCOPES)
    }

    /// Refuses, as an out-of-scope call, what only content scopes may do.
    pub fn require_content(&self) -> Result<(), ApiError> {
        if self.may_read_content() {
            Ok(())
        } else {
            Err(out_of_scope(
                &self.grant.scope,
                grant_routes::CONTENT_SCOPES,
            ))
        }
    }
}

/// The 403 of API.md §11: the scopes held and the scopes that would do.
pub fn out_of_scope(held: &[Scope], any_of: &[Scope]) -> ApiError {
    let list = |scopes: &[Scope]| {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    ApiError::forbidden(format!(
        "You do not have access to the required scopes. You provided a token which has the \
         following scopes: [{}]. You would need a token with at least one of the following \
         scopes: [{}]",
        list(held),
        list(&Scope::sufficient_for(any_of))
    ))
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
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let Some(route) = grant_routes::find(&parts.method, &path) else {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api.internal_error",
                format!(
                    "{} {path} has no entry in the grant route table",
                    parts.method
                ),
            ));
        };
        if !Scope::allows(&grant.scope, route.any_of) {
            return Err(out_of_scope(&grant.scope, route.any_of));
        }
        Ok(GrantAccess { grant })
    }
}
