//! `/v3/connectors`: one connector per provider per application. IMAP connectors have
//! no settings and no scopes. Google, Microsoft and Yahoo connectors carry the
//! application's OAuth client at that provider (`client_id`, `client_secret`, and for
//! Microsoft the `tenant`, `common` unless set) and the scopes its sign-ins ask for (by
//! default the provider's IMAP, SMTP and identity scopes with offline access). The
//! client secret is sealed like a mailbox password and never returned.

use axum::extract::{Path, State};
use mailroom_model::{
    OAuthProvider, Provider,
    v3::{Connector, ConnectorInput},
};
use mailroom_store::{ConnectorRecord, ConnectorWrite};
use serde_json::{Map, Value};

use crate::clip::clip;
use crate::{
    auth::AppAuth,
    envelope::{Done, Item, OffsetPage},
    error::ApiError,
    extract::{JsonBody, QueryParams},
    router::AppState,
};

pub async fn create_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    JsonBody(input): JsonBody<ConnectorInput>,
) -> Result<Item<Connector>, ApiError> {
    let provider = input.provider.as_deref().ok_or_else(|| {
        ApiError::invalid_payload("'provider' is required, e.g. {\"provider\": \"imap\"}")
    })?;
    let provider = parse_provider(provider)?;
    let checked = match provider.oauth() {
        None => {
            check_imap_input(&input)?;
            CheckedInput::default()
        }
        Some(oauth) => check_oauth_input(oauth, &input, None)?,
    };
    let record = state
        .store
        .create_connector(&auth.application_id, provider, checked.write(&input))
        .await?
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "this application already has a '{provider}' connector; there is one per provider (change it with PATCH /v3/connectors/{provider})"
            ))
        })?;
    Ok(Item::created(to_v3(record)))
}

pub async fn list_connectors(
    State(state): State<AppState>,
    auth: AppAuth,
    query: QueryParams,
) -> Result<OffsetPage<Connector>, ApiError> {
    let limit = query.bounded("limit", 10, 0, 200)?;
    let offset = query.bounded("offset", 0, 0, i64::MAX)?;
    let records = state
        .store
        .list_connectors(&auth.application_id, limit, offset)
        .await?;
    Ok(OffsetPage {
        data: records.into_iter().map(to_v3).collect(),
        limit,
        offset,
    })
}

pub async fn get_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(provider): Path<String>,
) -> Result<Item<Connector>, ApiError> {
    let provider = existing_provider(&provider)?;
    let record = state
        .store
        .connector(&auth.application_id, provider)
        .await?
        .ok_or_else(|| missing(provider))?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn update_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(provider): Path<String>,
    JsonBody(input): JsonBody<ConnectorInput>,
) -> Result<Item<Connector>, ApiError> {
    let provider = existing_provider(&provider)?;
    if let Some(other) = input.provider.as_deref()
        && parse_provider(other)? != provider
    {
        return Err(ApiError::invalid_payload(
            "a connector's provider cannot be changed; create a connector for the other provider",
        ));
    }
    let checked = match provider.oauth() {
        None => {
            check_imap_input(&input)?;
            CheckedInput::default()
        }
        Some(oauth) => {
            let current = state
                .store
                .connector(&auth.application_id, provider)
                .await?
                .ok_or_else(|| missing(provider))?;
            check_oauth_input(oauth, &input, Some(&current))?
        }
    };
    let record = state
        .store
        .update_connector(&auth.application_id, provider, checked.write(&input))
        .await?
        .ok_or_else(|| missing(provider))?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn delete_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(provider): Path<String>,
) -> Result<Done, ApiError> {
    let provider = existing_provider(&provider)?;
    if state
        .store
        .delete_connector(&auth.application_id, provider)
        .await?
    {
        Ok(Done)
    } else {
        Err(missing(provider))
    }
}

fn parse_provider(value: &str) -> Result<Provider, ApiError> {
    value
        .parse()
        .map_err(|e: mailroom_model::provider::ProviderError| {
            ApiError::invalid_payload(e.to_string())
        })
}

/// A provider named in a path: unknown providers simply have no connector.
fn existing_provider(value: &str) -> Result<Provider, ApiError> {
    value.parse().map_err(|_| {
        ApiError::not_found(format!("no connector for provider '{}'", clip(value, 64)))
    })
}

fn missing(provider: Provider) -> ApiError {
    ApiError::not_found(format!(
        "this application has no '{provider}' connector; create one with POST /v3/connectors"
    ))
}

/// IMAP has no OAuth app behind it: no settings, no credentials, no scopes.
fn check_imap_input(input: &ConnectorInput) -> Result<(), ApiError> {
    if input.scope.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid_payload(
            "IMAP connectors take no scopes: IMAP has no concept of scopes. Leave 'scope' out (granular scopes are set per grant)",
        ));
    }
    if input.settings.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid_payload(
            "IMAP connectors take no settings: server settings belong to each grant",
        ));
    }
    if input.active_credential_id.is_some() {
        return Err(ApiError::invalid_payload(
            "IMAP connectors have no credentials; leave 'active_credential_id' out",
        ));
    }
    Ok(())
}

/// An OAuth connector's input, checked: the settings and scopes to store, and the
/// client secret to seal.
#[derive(Default)]
struct CheckedInput {
    settings: Option<Map<String, Value>>,
    scope: Option<Vec<String>>,
    client_secret: Option<String>,
}

impl CheckedInput {
    fn write<'a>(&'a self, input: &'a ConnectorInput) -> ConnectorWrite<'a> {
        ConnectorWrite {
            name: input.name.as_deref(),
            settings: self.settings.as_ref(),
            scope: self.scope.as_deref(),
            client_secret: self.client_secret.as_deref(),
        }
    }
}

/// The settings an OAuth provider's connector takes.
fn known_settings(provider: OAuthProvider) -> &'static [&'static str] {
    match provider {
        OAuthProvider::Microsoft => &["client_id", "client_secret", "tenant"],
        OAuthProvider::Google | OAuthProvider::Yahoo => &["client_id", "client_secret"],
    }
}

/// The most scopes a connector may name, and the longest scope.
const MAX_SCOPES: usize = 50;
const MAX_SETTING_LEN: usize = 2048;

/// Checks a Google, Microsoft or Yahoo connector's input. Creating one needs the
/// client's id and secret; a change keeps what it leaves out. `current` is the stored
/// connector on a change.
fn check_oauth_input(
    provider: OAuthProvider,
    input: &ConnectorInput,
    current: Option<&ConnectorRecord>,
) -> Result<CheckedInput, ApiError> {
    if input.active_credential_id.is_some() {
        return Err(ApiError::invalid_payload(
            "mailroom keeps one client per connector, in its settings; leave 'active_credential_id' out",
        ));
    }
    let known = known_settings(provider);
    let given = input.settings.clone().unwrap_or_default();
    if let Some(unknown) = given.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::invalid_payload(format!(
            "a {provider} connector's settings take {}; '{}' is not one of them",
            known.join(", "),
            clip(unknown, 64)
        )));
    }
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match given.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value))
                if !value.trim().is_empty() && value.len() <= MAX_SETTING_LEN =>
            {
                Ok(Some(value.trim().to_owned()))
            }
            Some(_) => Err(ApiError::invalid_payload(format!(
                "settings.{key} must be a non-empty string of at most {MAX_SETTING_LEN} bytes"
            ))),
        }
    };
    let client_id = text("client_id")?;
    let client_secret = text("client_secret")?;
    let tenant = text("tenant")?;
    if let Some(tenant) = &tenant
        && !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(ApiError::invalid_payload(
            "settings.tenant must be a tenant id or domain, 'common', 'organizations' or 'consumers'",
        ));
    }
    if current.is_none() && (client_id.is_none() || client_secret.is_none()) {
        return Err(ApiError::invalid_payload(format!(
            "a {provider} connector needs settings.client_id and settings.client_secret: the OAuth client registered for mailroom at the provider (README.md, \"Connecting Google, Microsoft and Yahoo mailboxes\")"
        )));
    }
    let mut settings = current.map(|c| c.settings.clone()).unwrap_or_default();
    if let Some(client_id) = client_id {
        settings.insert("client_id".into(), Value::String(client_id));
    }
    if provider == OAuthProvider::Microsoft {
        let tenant = tenant
            .or_else(|| {
                settings
                    .get("tenant")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "common".into());
        settings.insert("tenant".into(), Value::String(tenant));
    }
    let scope = match &input.scope {
        Some(scope) => {
            if scope.len() > MAX_SCOPES
                || scope
                    .iter()
                    .any(|s| s.trim().is_empty() || s.len() > MAX_SETTING_LEN || s.contains(' '))
            {
                return Err(ApiError::invalid_payload(format!(
                    "scope must be a list of at most {MAX_SCOPES} provider scopes, each without spaces"
                )));
            }
            Some(if scope.is_empty() {
                default_scope(provider)
            } else {
                scope.clone()
            })
        }
        None if current.is_none() => Some(default_scope(provider)),
        None => None,
    };
    Ok(CheckedInput {
        settings: Some(settings),
        scope,
        client_secret,
    })
}

fn default_scope(provider: OAuthProvider) -> Vec<String> {
    provider
        .default_scopes()
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn to_v3(record: ConnectorRecord) -> Connector {
    Connector {
        provider: record.provider.to_string(),
        name: record.name,
        settings: record.settings,
        scope: record.scope,
        active_credential_id: None,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}
