//! The grant a `/v3/grants/{grant_id}/…` route works on, checked against the caller and
//! against the scopes the caller holds on it (the route's entry in the grant route table).
//! An API key reaches every grant of its application, named by id; an access token
//! reaches its own grant only, as `me` or by id, within the grant's scopes narrowed to
//! the token's.

use axum::{
    extract::{FromRequestParts, MatchedPath, Path},
    http::{StatusCode, request::Parts},
};
use mailroom_model::{GrantId, Scope};
use mailroom_store::{ACCESS_TOKEN_PREFIX, GrantRecord};

use crate::clip::clip;
use crate::{auth::Caller, error::ApiError, grant_routes, router::AppState};

pub struct GrantAccess {
    pub grant: GrantRecord,
    /// What the caller may do with the grant: its scopes, narrowed to those of an access
    /// token issued for fewer (empty: every scope).
    pub scope: Vec<Scope>,
}

impl GrantAccess {
    /// Whether the caller's scopes reach past metadata to bodies and attachment content.
    pub fn may_read_content(&self) -> bool {
        Scope::allows(&self.scope, grant_routes::CONTENT_SCOPES)
    }

    /// Refuses, as an out-of-scope call, what only content scopes may do.
    pub fn require_content(&self) -> Result<(), ApiError> {
        if self.may_read_content() {
            Ok(())
        } else {
            Err(out_of_scope(&self.scope, grant_routes::CONTENT_SCOPES))
        }
    }
}

/// The grant named by a path's `{grant_id}`, if the caller reaches it. Another
/// application's grant, and for an access token any grant but its own, is a 404: the
/// caller learns nothing about grants it cannot use.
pub async fn resolve_grant(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<GrantRecord, ApiError> {
    let not_found = || ApiError::not_found(format!("no grant with id '{}'", clip(raw_id, 128)));
    let id = match (caller, raw_id) {
        (Caller::Application(_), "me") => {
            return Err(ApiError::bad_request(
                "'me' stands for the grant of a grant access token; with an API key, name the grant id",
            ));
        }
        (Caller::GrantToken(token), "me") => token.grant_id.clone(),
        (_, raw) => GrantId::parse(raw).map_err(|_| not_found())?,
    };
    if let Caller::GrantToken(token) = caller
        && token.grant_id != id
    {
        return Err(not_found());
    }
    let grant = state
        .store
        .grant(caller.application_id(), &id)
        .await?
        .ok_or_else(not_found)?;
    crate::request_id::note_grant(grant.id.as_str());
    Ok(grant)
}

/// The path's `{grant_id}`.
async fn grant_param(parts: &mut Parts, state: &AppState) -> Result<String, ApiError> {
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(params
        .into_iter()
        .find(|(k, _)| k == "grant_id")
        .map(|(_, v)| v)
        .unwrap_or_default())
}

/// The common case in one store round trip instead of two: an API key naming one of its
/// application's grants by id. `None` for anything else (an access token, `me`, an
/// unknown or revoked key, another application's grant), which the full path then
/// answers with its own error. Nothing is cached, so a revoked key or a deleted grant
/// fails the very next request, whichever process changed it.
async fn by_api_key(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Option<(Caller, GrantRecord)>, ApiError> {
    let Ok(credential) = crate::auth::bearer_credential(parts) else {
        return Ok(None);
    };
    if credential.starts_with(ACCESS_TOKEN_PREFIX) {
        return Ok(None);
    }
    let credential = credential.to_owned();
    let Ok(raw) = grant_param(parts, state).await else {
        return Ok(None);
    };
    let Ok(id) = GrantId::parse(&raw) else {
        return Ok(None);
    };
    Ok(state
        .store
        .grant_for_api_key(&credential, &id)
        .await?
        .map(|grant| (Caller::Application(grant.application_id.clone()), grant)))
}

/// The 403 of docs/API.md §11: the scopes held and the scopes that would do.
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
        let (caller, grant) = match by_api_key(parts, state).await? {
            Some(found) => found,
            None => {
                let caller = Caller::from_request_parts(parts, state).await?;
                let raw = grant_param(parts, state).await?;
                let grant = resolve_grant(state, &caller, &raw).await?;
                (caller, grant)
            }
        };
        crate::request_id::note_application(grant.application_id.as_str());
        crate::request_id::note_grant(grant.id.as_str());
        crate::grant_rate_limit::check(parts, &grant.id)?;
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
        let scope = match &caller {
            Caller::Application(_) => grant.scope.clone(),
            // A token whose scopes the grant no longer holds at all reaches nothing; the
            // grant's scopes are what would have to change.
            Caller::GrantToken(token) => Scope::narrowed(&grant.scope, &token.scope)
                .ok_or_else(|| out_of_scope(&grant.scope, route.any_of))?,
        };
        if !Scope::allows(&scope, route.any_of) {
            return Err(out_of_scope(&scope, route.any_of));
        }
        Ok(GrantAccess { grant, scope })
    }
}
