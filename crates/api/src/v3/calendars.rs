//! `GET /v3/grants/{grant_id}/calendars[/{calendar_id}]`: an IMAP grant has one calendar,
//! read-only, holding the events of the invitations in its mail.

use axum::{
    extract::Path,
    response::{IntoResponse, Response},
};
use mailroom_model::{Scope, v3::Calendar};
use mailroom_store::GrantRecord;
use serde_json::{Map, Value};

use crate::clip::clip;
use crate::{
    envelope::Item,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    grant_routes::CONTENT_SCOPES,
    v3::{message_json::apply_select, messages::DEFAULT_LIMIT},
};

/// docs/API.md §11: an IMAP grant's events exist only as read from its mail — from message
/// bodies, so only where a scope that reads content (`email.read_only` and above) comes
/// with the calendar scope. Without one the calendar scope still admits the call, which
/// finds no calendar: an empty list, a 404 for an id.
pub fn invitations_exist(access: &GrantAccess) -> bool {
    Scope::allows(&access.scope, CONTENT_SCOPES)
}

/// The grant's calendar id: stable, URL-safe, and never another grant's.
pub fn calendar_id(grant: &GrantRecord) -> String {
    format!("invitations-{}", grant.id)
}

/// The grant's calendar named by `id` (its id, or `primary`), if it has one.
pub fn find_calendar(access: &GrantAccess, id: &str) -> Result<Calendar, ApiError> {
    if invitations_exist(access) && (id == "primary" || id == calendar_id(&access.grant)) {
        Ok(calendar(&access.grant))
    } else {
        Err(ApiError::not_found(format!(
            "no calendar with id '{}'",
            clip(id, 128)
        )))
    }
}

pub async fn list_calendars(access: GrantAccess, query: QueryParams) -> Result<Response, ApiError> {
    query.bounded("limit", DEFAULT_LIMIT, 1, i64::MAX)?;
    // There is one calendar: any page after the first is empty.
    let data: Vec<Value> = if invitations_exist(&access) && query.get("page_token").is_none() {
        vec![apply_select(
            calendar_json(&calendar(&access.grant)),
            &query,
        )]
    } else {
        Vec::new()
    };
    Ok(Item::ok(data).into_response())
}

pub async fn get_calendar(
    access: GrantAccess,
    Path((_, id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let data = apply_select(calendar_json(&find_calendar(&access, &id)?), &query);
    Ok(Item::ok(data).into_response())
}

fn calendar_json(calendar: &Calendar) -> Value {
    serde_json::to_value(calendar).unwrap_or(Value::Null)
}

fn calendar(grant: &GrantRecord) -> Calendar {
    Calendar {
        id: calendar_id(grant),
        grant_id: grant.id.to_string(),
        object: "calendar",
        name: grant.email.to_string(),
        description: Some("Events from the invitations received by email".to_owned()),
        location: None,
        timezone: None,
        hex_color: None,
        hex_foreground_color: None,
        is_primary: true,
        is_owned_by_user: true,
        read_only: true,
        metadata: Map::new(),
        notetaker: None,
    }
}
