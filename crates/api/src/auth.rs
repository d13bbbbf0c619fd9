//! Who is calling. `Authorization: Bearer <credential>` carries either an API key, which
//! names an application and reaches all of it, or a grant access token from
//! `/v3/connect/token`, which reaches one grant's routes only.

use axum::{extract::FromRequestParts, http::request::Parts};
use mailroom_model::ApplicationId;
use mailroom_store::{ACCESS_TOKEN_PREFIX, AccessTokenRecord};

use crate::{
    error::ApiError,
    request_id::{note_application, note_grant},
    router::AppState,
};

/// The credential of a request.
pub enum Caller {
    /// An API key of this application.
    Application(ApplicationId),
    /// A live access token, confined to its grant and scopes.
    GrantToken(AccessTokenRecord),
}

impl Caller {
    pub fn application_id(&self) -> &ApplicationId {
        match self {
            Caller::Application(id) => id,
            Caller::GrantToken(token) => &token.application_id,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credential = bearer_credential(parts)?;
        if credential.starts_with(ACCESS_TOKEN_PREFIX) {
            return match state.store.access_token(credential).await? {
                Some(token) => {
                    note_application(token.application_id.as_str());
                    note_grant(token.grant_id.as_str());
                    Ok(Caller::GrantToken(token))
                }
                None => Err(ApiError::unauthorized(
                    "the access token is unknown, has expired or has been revoked",
                )),
            };
        }
        match state.store.application_for_api_key(credential).await? {
            Some(application_id) => {
                note_application(application_id.as_str());
                Ok(Caller::Application(application_id))
            }
            None => Err(ApiError::unauthorized(
                "the API key is unknown or has been revoked",
            )),
        }
    }
}

/// The application whose API key authenticated the request: what application-level
/// routes require. A grant access token is refused here.
pub struct AppAuth {
    pub application_id: ApplicationId,
}

impl FromRequestParts<AppState> for AppAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Application(application_id) => Ok(AppAuth { application_id }),
            Caller::GrantToken(_) => Err(ApiError::unauthorized(
                "a grant access token reaches only its own grant (/v3/grants/me/…); \
                 this route needs the application's API key",
            )),
        }
    }
}

/// The credential of a `Bearer` authorization header.
pub(crate) fn bearer_credential(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing Authorization header: send 'Authorization: Bearer <api key>'",
            )
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, credential) = value.trim().split_once(' ').ok_or_else(|| {
        ApiError::unauthorized("the Authorization header must be 'Bearer <api key>'")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "the Authorization header must be 'Bearer <api key>'",
        ));
    }
    Ok(credential.trim())
}
