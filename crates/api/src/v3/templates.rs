//! `/v3/templates` (the application's, with an API key) and
//! `/v3/grants/{grant_id}/templates` (a grant's): message templates, listed, created,
//! read, changed and deleted (docs/API.md §5.10). Each owner sees only its own: another
//! owner's id is a 404. Every stored subject and body compiles in its engine; a change
//! is checked again before it is kept.

use axum::extract::{Path, State};
use mailroom_model::{
    TemplateId,
    v3::{Template, TemplateEngine, TemplateInput},
};
use mailroom_store::{
    NewTemplate, TemplateChange, TemplateCreation, TemplateOwner, TemplateRecord,
};

use crate::{
    auth::AppAuth,
    clip::clip,
    cursor,
    envelope::{CursorPage, Done, Item},
    error::ApiError,
    extract::{JsonBody, QueryParams},
    grant_access::GrantAccess,
    router::AppState,
    template_engines::{self, MAX_BODY_BYTES, MAX_SUBJECT_BYTES},
};

/// A page's size when the caller names none, and the most a page holds.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// The longest name accepted.
const MAX_NAME_BYTES: usize = 1024;

pub(crate) fn application(auth: &AppAuth) -> TemplateOwner {
    TemplateOwner::Application(auth.application_id.clone())
}

pub(crate) fn grant(access: &GrantAccess) -> TemplateOwner {
    TemplateOwner::Grant {
        application_id: access.grant.application_id.clone(),
        grant_id: access.grant.id.clone(),
    }
}

pub async fn list_app_templates(
    State(state): State<AppState>,
    auth: AppAuth,
    query: QueryParams,
) -> Result<CursorPage<Template>, ApiError> {
    list(&state, &application(&auth), &query).await
}

pub async fn list_grant_templates(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
) -> Result<CursorPage<Template>, ApiError> {
    list(&state, &grant(&access), &query).await
}

pub async fn create_app_template(
    State(state): State<AppState>,
    auth: AppAuth,
    JsonBody(input): JsonBody<TemplateInput>,
) -> Result<Item<Template>, ApiError> {
    create(&state, &application(&auth), input).await
}

pub async fn create_grant_template(
    State(state): State<AppState>,
    access: GrantAccess,
    JsonBody(input): JsonBody<TemplateInput>,
) -> Result<Item<Template>, ApiError> {
    create(&state, &grant(&access), input).await
}

pub async fn get_app_template(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
) -> Result<Item<Template>, ApiError> {
    let record = find(&state, &application(&auth), &id).await?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn get_grant_template(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Item<Template>, ApiError> {
    let record = find(&state, &grant(&access), &id).await?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn update_app_template(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TemplateInput>,
) -> Result<Item<Template>, ApiError> {
    update(&state, &application(&auth), &id, input).await
}

pub async fn update_grant_template(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<TemplateInput>,
) -> Result<Item<Template>, ApiError> {
    update(&state, &grant(&access), &id, input).await
}

pub async fn delete_app_template(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
) -> Result<Done, ApiError> {
    delete(&state, &application(&auth), &id).await
}

pub async fn delete_grant_template(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Done, ApiError> {
    delete(&state, &grant(&access), &id).await
}

async fn list(
    state: &AppState,
    owner: &TemplateOwner,
    query: &QueryParams,
) -> Result<CursorPage<Template>, ApiError> {
    let limit = query
        .bounded("limit", DEFAULT_LIMIT, 1, i64::MAX)?
        .min(MAX_LIMIT);
    let after = query
        .get("page_token")
        .map(|token| {
            let (_, id) = cursor::decode(token)?;
            TemplateId::parse(&id)
                .map_err(|_| ApiError::bad_request("page_token is not a cursor mailroom issued"))
        })
        .transpose()?;
    // One more than asked tells whether another page exists.
    let mut records = state
        .store
        .list_templates(owner, after.as_ref(), limit + 1)
        .await?;
    let more = records.len() as i64 > limit;
    records.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| records.last())
        .flatten()
        .map(|last| cursor::encode(last.created_at, last.id.as_str()));
    Ok(CursorPage {
        data: records.into_iter().map(to_v3).collect(),
        next_cursor,
    })
}

async fn create(
    state: &AppState,
    owner: &TemplateOwner,
    input: TemplateInput,
) -> Result<Item<Template>, ApiError> {
    let name = required(input.name, "name", "the template's name")?;
    let subject = required(input.subject, "subject", "the subject line, a template too")?;
    let body = required(input.body, "body", "the HTML body, a template too")?;
    let engine = input
        .engine
        .as_deref()
        .map(parse_engine)
        .transpose()?
        .unwrap_or_default();
    check_sizes(Some(&name), Some(&subject), Some(&body))?;
    compiles(engine, &subject, &body).await?;
    let new = NewTemplate {
        name: &name,
        subject: &subject,
        body: &body,
        engine,
    };
    match state.store.create_template(owner, &new).await? {
        TemplateCreation::Created(record) => Ok(Item::ok(to_v3(record))),
        TemplateCreation::OverQuota(reason) => Err(ApiError::bad_request(reason)),
    }
}

async fn update(
    state: &AppState,
    owner: &TemplateOwner,
    id: &str,
    input: TemplateInput,
) -> Result<Item<Template>, ApiError> {
    let current = find(state, owner, id).await?;
    let engine = input.engine.as_deref().map(parse_engine).transpose()?;
    if input.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid_payload("'name' cannot be empty"));
    }
    check_sizes(
        input.name.as_deref(),
        input.subject.as_deref(),
        input.body.as_deref(),
    )?;
    if engine.is_some() || input.subject.is_some() || input.body.is_some() {
        compiles(
            engine.unwrap_or(current.engine),
            input.subject.as_deref().unwrap_or(&current.subject),
            input.body.as_deref().unwrap_or(&current.body),
        )
        .await?;
    }
    let change = TemplateChange {
        name: input.name,
        subject: input.subject,
        body: input.body,
        engine,
    };
    let record = state
        .store
        .update_template(owner, &current.id, &change)
        .await?
        .ok_or_else(|| missing(current.id.as_str()))?;
    Ok(Item::ok(to_v3(record)))
}

async fn delete(state: &AppState, owner: &TemplateOwner, id: &str) -> Result<Done, ApiError> {
    let parsed = parse_id(id)?;
    if state.store.delete_template(owner, &parsed).await? {
        Ok(Done)
    } else {
        Err(missing(id))
    }
}

/// The owner's template named in a path.
pub(crate) async fn find(
    state: &AppState,
    owner: &TemplateOwner,
    id: &str,
) -> Result<TemplateRecord, ApiError> {
    let parsed = parse_id(id)?;
    state
        .store
        .template(owner, &parsed)
        .await?
        .ok_or_else(|| missing(id))
}

/// An id that cannot be ours names no template.
fn parse_id(id: &str) -> Result<TemplateId, ApiError> {
    TemplateId::parse(id).map_err(|_| missing(id))
}

pub(crate) fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("no template with id '{}'", clip(id, 128)))
}

pub(crate) fn parse_engine(value: &str) -> Result<TemplateEngine, ApiError> {
    value
        .parse()
        .map_err(|e: mailroom_model::v3::UnknownEngine| ApiError::invalid_payload(e.to_string()))
}

fn required(value: Option<String>, field: &str, what: &str) -> Result<String, ApiError> {
    match value {
        Some(value) if field != "name" || !value.trim().is_empty() => Ok(value),
        _ => Err(ApiError::invalid_payload(format!(
            "'{field}' is required: {what}"
        ))),
    }
}

fn check_sizes(
    name: Option<&str>,
    subject: Option<&str>,
    body: Option<&str>,
) -> Result<(), ApiError> {
    for (field, value, limit) in [
        ("name", name, MAX_NAME_BYTES),
        ("subject", subject, MAX_SUBJECT_BYTES),
        ("body", body, MAX_BODY_BYTES),
    ] {
        if value.is_some_and(|v| v.len() > limit) {
            return Err(ApiError::invalid_payload(format!(
                "'{field}' may hold at most {limit} bytes"
            )));
        }
    }
    Ok(())
}

/// Refuses a subject or body that does not compile in `engine`.
async fn compiles(engine: TemplateEngine, subject: &str, body: &str) -> Result<(), ApiError> {
    for (part, source) in [("subject", subject), ("body", body)] {
        template_engines::check_off_runtime(engine, source.to_owned())
            .await
            .map_err(|fault| ApiError::bad_request(format!("'{part}' is {}", fault.message())))?;
    }
    Ok(())
}

pub(crate) fn to_v3(record: TemplateRecord) -> Template {
    let (app_id, grant_id) = match record.grant_id {
        Some(grant_id) => (None, Some(grant_id.to_string())),
        None => (Some(record.application_id.to_string()), None),
    };
    Template {
        id: record.id.to_string(),
        app_id,
        grant_id,
        name: record.name,
        subject: record.subject,
        body: record.body,
        engine: record.engine,
        created_at: record.created_at,
        updated_at: record.updated_at,
        object: "template",
    }
}
