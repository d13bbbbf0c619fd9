//! `GET /v3/grants/{grant_id}/events[/{event_id}]?calendar_id=…`: the events of the
//! invitations in the grant's mail, on its one read-only calendar.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use mailroom_model::v3::Event;
use mailroom_store::{EventQuery, EventRecord};
use serde_json::{Map, Value};

use crate::clip::clip;
use crate::{
    cursor,
    envelope::CursorPage,
    envelope::Item,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    router::AppState,
    v3::{
        calendars::find_calendar,
        message_json::apply_select,
        messages::{DEFAULT_LIMIT, MAX_LIMIT},
    },
};

/// The calendar a request names, which every event route requires (as Nylas does).
fn required_calendar(access: &GrantAccess, query: &QueryParams) -> Result<String, ApiError> {
    let id = query.get("calendar_id").ok_or_else(|| {
        ApiError::bad_request(
            "query parameter 'calendar_id' is required (a calendar id, or 'primary')",
        )
    })?;
    Ok(find_calendar(access, id)?.id)
}

pub async fn list_events(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let calendar_id = required_calendar(&access, &query)?;
    let limit = query
        .bounded("limit", DEFAULT_LIMIT, 1, i64::MAX)?
        .min(MAX_LIMIT);
    let filter = EventQuery {
        // One more than asked tells whether another page exists.
        limit: limit + 1,
        after: query.get("page_token").map(cursor::decode).transpose()?,
        start: query.int("start")?,
        end: query.int("end")?,
        title: query.get("title").map(str::to_owned),
        ical_uid: query.get("ical_uid").map(str::to_owned),
        busy: query.bool("busy")?,
        master_event_id: query.get("master_event_id").map(str::to_owned),
        show_cancelled: query.bool("show_cancelled")?.unwrap_or(false),
    };
    let mut records = state.store.list_events(&access.grant.id, &filter).await?;
    let more = records.len() as i64 > limit;
    records.truncate(limit as usize);
    let data: Vec<Value> = records
        .iter()
        .map(|r| apply_select(event_json(r, &calendar_id), &query))
        .collect();
    let next_cursor = records
        .last()
        .filter(|_| more)
        .map(|last| cursor::encode(last.start_time, &last.id));
    Ok(CursorPage { data, next_cursor }.into_response())
}

pub async fn get_event(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, event_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let calendar_id = required_calendar(&access, &query)?;
    let record = state
        .store
        .event(&access.grant.id, &event_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no event with id '{}'", clip(&event_id, 128)))
        })?;
    let data = apply_select(event_json(&record, &calendar_id), &query);
    Ok(Item::ok(data).into_response())
}

fn event_json(record: &EventRecord, calendar_id: &str) -> Value {
    serde_json::to_value(to_v3(record, calendar_id)).unwrap_or(Value::Null)
}

pub fn to_v3(record: &EventRecord, calendar_id: &str) -> Event {
    Event {
        id: record.id.clone(),
        grant_id: record.grant_id.to_string(),
        calendar_id: calendar_id.to_owned(),
        object: "event",
        title: record.title.clone(),
        description: record.description.clone(),
        location: record.location.clone(),
        when: record.when.clone(),
        busy: record.busy,
        participants: record.participants.clone(),
        status: record.status,
        visibility: record.visibility,
        conferencing: None,
        reminders: None,
        recurrence: record.recurrence.clone(),
        ical_uid: record.ical_uid.clone(),
        html_link: None,
        // Events mirror invitations: only new mail changes them.
        read_only: true,
        hide_participants: false,
        creator: None,
        organizer: record.organizer.clone(),
        capacity: None,
        master_event_id: record.master_event_id.clone(),
        original_start_time: record.original_start_time,
        metadata: Map::new(),
        resources: Vec::new(),
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}
