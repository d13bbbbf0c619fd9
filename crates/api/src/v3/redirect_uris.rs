//! `/v3/applications/redirect-uris`: the redirect (callback) URIs hosted authentication
//! may send users back to. Each URL once per application; a PATCH replaces `settings`
//! whole, as Nylas does.

use axum::extract::{Path, State};
use mailroom_model::{
    CallbackUriId, RedirectPlatform, RedirectUrl, RedirectUrlError,
    v3::{RedirectUri, RedirectUriInput},
};
use mailroom_store::{CallbackUriRecord, CallbackUriUpdate};

use crate::clip::clip;
use crate::{
    auth::AppAuth,
    envelope::{Done, Item, List},
    error::ApiError,
    extract::JsonBody,
    router::AppState,
};

pub async fn list_redirect_uris(
    State(state): State<AppState>,
    auth: AppAuth,
) -> Result<List<RedirectUri>, ApiError> {
    let records = state.store.list_callback_uris(&auth.application_id).await?;
    Ok(List(records.into_iter().map(to_v3).collect()))
}

pub async fn create_redirect_uri(
    State(state): State<AppState>,
    auth: AppAuth,
    JsonBody(input): JsonBody<RedirectUriInput>,
) -> Result<Item<RedirectUri>, ApiError> {
    if input.id.is_some() {
        return Err(ApiError::invalid_payload(
            "mailroom assigns redirect URI ids; leave 'id' out",
        ));
    }
    let url = input.url.as_deref().ok_or_else(|| {
        ApiError::invalid_payload(
            "'url' is required, e.g. {\"url\": \"https://example.com/callback\", \"platform\": \"web\"}",
        )
    })?;
    let platform = match input.platform.as_deref() {
        Some(platform) => parse_platform(platform)?,
        None => RedirectPlatform::default(),
    };
    let url = parse_url(url, platform)?;
    let settings = input.settings.unwrap_or_default();
    let record = state
        .store
        .create_callback_uri(&auth.application_id, &url, &settings)
        .await?
        .ok_or_else(|| duplicate(&url))?;
    // Nylas answers this POST with 200, not 201.
    Ok(Item::ok(to_v3(record)))
}

pub async fn get_redirect_uri(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
) -> Result<Item<RedirectUri>, ApiError> {
    let id = existing_id(&id)?;
    let record = state
        .store
        .callback_uri(&auth.application_id, &id)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn update_redirect_uri(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RedirectUriInput>,
) -> Result<Item<RedirectUri>, ApiError> {
    let id = existing_id(&id)?;
    if input
        .id
        .as_deref()
        .is_some_and(|given| given != id.as_str())
    {
        return Err(ApiError::invalid_payload(
            "a redirect URI's id cannot be changed; leave 'id' out",
        ));
    }
    let current = state
        .store
        .callback_uri(&auth.application_id, &id)
        .await?
        .ok_or_else(|| missing(&id))?;
    let platform = match input.platform.as_deref() {
        Some(platform) => parse_platform(platform)?,
        None => current.platform,
    };
    // The URL is checked again when only the platform changes: `myapp://cb` is fine for
    // ios but not for web.
    let url = parse_url(input.url.as_deref().unwrap_or(&current.url), platform)?;
    let settings = input.settings.unwrap_or(current.settings);
    match state
        .store
        .update_callback_uri(&auth.application_id, &id, &url, &settings)
        .await?
    {
        CallbackUriUpdate::Updated(record) => Ok(Item::ok(to_v3(record))),
        CallbackUriUpdate::NotFound => Err(missing(&id)),
        CallbackUriUpdate::DuplicateUrl => Err(duplicate(&url)),
    }
}

pub async fn delete_redirect_uri(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
) -> Result<Done, ApiError> {
    let id = existing_id(&id)?;
    if state
        .store
        .delete_callback_uri(&auth.application_id, &id)
        .await?
    {
        Ok(Done)
    } else {
        Err(missing(&id))
    }
}

pub(super) fn to_v3(record: CallbackUriRecord) -> RedirectUri {
    RedirectUri {
        id: record.id.to_string(),
        url: record.url,
        platform: record.platform,
        settings: record.settings,
    }
}

fn parse_platform(value: &str) -> Result<RedirectPlatform, ApiError> {
    value.parse().map_err(invalid)
}

fn parse_url(url: &str, platform: RedirectPlatform) -> Result<RedirectUrl, ApiError> {
    RedirectUrl::parse(url, platform).map_err(invalid)
}

fn invalid(e: RedirectUrlError) -> ApiError {
    ApiError::invalid_payload(e.to_string())
}

/// An id named in a path: one that cannot be ours names no redirect URI.
fn existing_id(value: &str) -> Result<CallbackUriId, ApiError> {
    CallbackUriId::parse(value)
        .map_err(|_| ApiError::not_found(format!("no redirect URI with id '{}'", clip(value, 64))))
}

fn missing(id: &CallbackUriId) -> ApiError {
    ApiError::not_found(format!(
        "this application has no redirect URI with id '{id}'; list them with GET /v3/applications/redirect-uris"
    ))
}

fn duplicate(url: &RedirectUrl) -> ApiError {
    ApiError::bad_request(format!(
        "this application already has the redirect URI '{}'; each URL is registered once",
        url.as_str()
    ))
}
