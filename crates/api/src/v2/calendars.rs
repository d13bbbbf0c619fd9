//! `GET /calendars[/{id}]` and `GET /events[/{id}]` in v2's shapes: the account's one
//! read-only calendar and the events of the invitations in its mail, as v3's routes
//! show them, with v2's paging and views and the filters `calendar_id`, `title`,
//! `starts_after`, `starts_before`, `ends_after`, `ends_before`, `busy` and
//! `show_cancelled`.

use axum::{
    Json,
    extract::{Path, State},
};
use mailroom_model::v3::When;
use mailroom_store::{EventQuery, EventRecord, GrantRecord};
use serde_json::{Value, json};

use super::{
    account_auth::V2Account,
    error::V2Error,
    folders::not_found,
    listing::{Paging, View},
};
use crate::{extract::QueryParams, router::AppState, v3::calendars::calendar_id};

/// Events read per step of a walk.
const STEP: i64 = 1000;
const DAY_SECS: i64 = 86_400;

pub async fn list_calendars(
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let paging = Paging::from_query(&query)?;
    // docs/API.md §11: the calendar holds what message bodies say, so it exists only where
    // the token reads content too.
    let calendars: Vec<Value> = if account.may_read_content() {
        vec![calendar_json(&account.grant)]
    } else {
        Vec::new()
    };
    Ok(Json(match paging.view {
        View::Count => json!({"count": calendars.len()}),
        view => {
            let page = calendars
                .into_iter()
                .skip(usize::try_from(paging.offset).unwrap_or(usize::MAX))
                .take(usize::try_from(paging.limit).unwrap_or(0));
            match view {
                View::Ids => page.map(|c| c["id"].clone()).collect(),
                _ => page.collect(),
            }
        }
    }))
}

pub async fn get_calendar(
    account: V2Account,
    Path(id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    find_calendar(&account, &id)?;
    Ok(Json(calendar_json(&account.grant)))
}

pub async fn list_events(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let paging = Paging::from_query(&query)?;
    let calendar = match query.get("calendar_id") {
        Some(id) => Some(find_calendar(&account, id)?),
        None if account.may_read_content() => Some(calendar_id(&account.grant)),
        None => None,
    };
    let Some(calendar) = calendar else {
        return Ok(Json(match paging.view {
            View::Count => json!({"count": 0}),
            _ => json!([]),
        }));
    };
    let window = Window::from_query(&query)?;
    let filter = EventQuery {
        limit: STEP,
        after: None,
        start: window.lower_bound(),
        end: window.upper_bound(),
        title: query.get("title").map(str::to_owned),
        ical_uid: query.get("ical_uid").map(str::to_owned),
        busy: query.bool("busy").map_err(V2Error::from_api)?,
        master_event_id: None,
        show_cancelled: query
            .bool("show_cancelled")
            .map_err(V2Error::from_api)?
            .unwrap_or(false),
    };
    let (offset, limit) = match paging.view {
        View::Count => (0, None),
        _ => (paging.offset, Some(paging.limit)),
    };
    let events = walk_events(&state, &account, filter, &window, offset, limit).await?;
    Ok(Json(match paging.view {
        View::Count => json!({"count": events.len()}),
        View::Ids => events.into_iter().map(|e| Value::String(e.id)).collect(),
        View::Objects | View::Expanded => events.iter().map(|e| event_json(e, &calendar)).collect(),
    }))
}

pub async fn get_event(
    State(state): State<AppState>,
    account: V2Account,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    if !account.may_read_content() {
        return Err(not_found("event", &event_id));
    }
    let record = state
        .store
        .event(&account.grant.id, &event_id)
        .await?
        .ok_or_else(|| not_found("event", &event_id))?;
    Ok(Json(event_json(&record, &calendar_id(&account.grant))))
}

/// The account's calendar named by `id` (its id, or `primary`), if the token sees it.
fn find_calendar(account: &V2Account, id: &str) -> Result<String, V2Error> {
    let own = calendar_id(&account.grant);
    if account.may_read_content() && (id == own || id == "primary") {
        Ok(own)
    } else {
        Err(not_found("calendar", id))
    }
}

fn calendar_json(grant: &GrantRecord) -> Value {
    json!({
        "id": calendar_id(grant),
        "object": "calendar",
        "account_id": grant.id.as_str(),
        "name": grant.email.to_string(),
        "description": "Events from the invitations received by email",
        "location": null,
        "timezone": null,
        "read_only": true,
        "is_primary": true,
        "metadata": {},
        "job_status_id": null,
    })
}

/// v2's time filters (unix seconds), each optional.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    starts_after: Option<i64>,
    starts_before: Option<i64>,
    ends_after: Option<i64>,
    ends_before: Option<i64>,
}

impl Window {
    fn from_query(query: &QueryParams) -> Result<Self, V2Error> {
        let int = |key: &str| query.int(key).map_err(V2Error::from_api);
        Ok(Self {
            starts_after: int("starts_after")?,
            starts_before: int("starts_before")?,
            ends_after: int("ends_after")?,
            ends_before: int("ends_before")?,
        })
    }

    /// For the index: events that end after this or start at or after it, which takes
    /// in every event the window admits.
    fn lower_bound(&self) -> Option<i64> {
        self.starts_after.into_iter().chain(self.ends_after).max()
    }

    /// For the index: events that start before this, which takes in every event the
    /// window admits (an event ending by `ends_before` starts at or before it).
    fn upper_bound(&self) -> Option<i64> {
        self.starts_before
            .into_iter()
            .chain(self.ends_before.map(|t| t.saturating_add(1)))
            .min()
    }

    fn admits(&self, event: &EventRecord) -> bool {
        let (start, end) = (event.start_time, end_time(&event.when, event.start_time));
        self.starts_after.is_none_or(|t| start > t)
            && self.starts_before.is_none_or(|t| start < t)
            && self.ends_after.is_none_or(|t| end > t)
            && self.ends_before.is_none_or(|t| end <= t)
    }
}

/// Events by start from `offset` that the window admits, at most `limit` (`None`: all,
/// for a count).
async fn walk_events(
    state: &AppState,
    account: &V2Account,
    mut query: EventQuery,
    window: &Window,
    offset: i64,
    limit: Option<i64>,
) -> Result<Vec<EventRecord>, V2Error> {
    let mut skipped = 0;
    let mut taken = Vec::new();
    loop {
        let page = state.store.list_events(&account.grant.id, &query).await?;
        let full = page.len() as i64 == STEP;
        query.after = page.last().map(|e| (e.start_time, e.id.clone()));
        for event in page.into_iter().filter(|e| window.admits(e)) {
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if limit.is_some_and(|limit| taken.len() as i64 >= limit) {
                return Ok(taken);
            }
            taken.push(event);
        }
        if !full {
            return Ok(taken);
        }
    }
}

/// Where an event ends (unix seconds): all-day events at 00:00 UTC after their last day,
/// as the index places their start at 00:00 UTC of the first.
fn end_time(when: &When, start: i64) -> i64 {
    match when {
        When::Time { time, .. } => *time,
        When::Timespan { end_time, .. } => *end_time,
        When::Date { date } => day_start(date).map_or(start, |d| d + DAY_SECS),
        When::Datespan { end_date, .. } => day_start(end_date).map_or(start, |d| d + DAY_SECS),
    }
}

/// 00:00 UTC of a `YYYY-MM-DD` day, in unix seconds (the proleptic Gregorian calendar).
fn day_start(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from 1970-01-01, counting years from March so that leap days come last.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * DAY_SECS)
}

/// An event as v2 showed it.
pub(super) fn event_json(record: &EventRecord, calendar_id: &str) -> Value {
    let participants: Vec<Value> = record
        .participants
        .iter()
        .map(|p| {
            json!({
                "email": p.email,
                "name": p.name,
                "status": p.status,
                "comment": p.comment,
            })
        })
        .collect();
    let owner = record.organizer.as_ref().map(|o| match &o.name {
        Some(name) => format!("{name} <{}>", o.email),
        None => format!("<{}>", o.email),
    });
    let timezone = match &record.when {
        When::Timespan { start_timezone, .. } => start_timezone.clone(),
        When::Time { timezone, .. } => timezone.clone(),
        _ => None,
    };
    let recurrence = (!record.recurrence.is_empty())
        .then(|| json!({"rrule": record.recurrence, "timezone": timezone}));
    json!({
        "id": record.id,
        "object": "event",
        "account_id": record.grant_id.as_str(),
        "calendar_id": calendar_id,
        "ical_uid": record.ical_uid,
        "message_id": record.message_id,
        "title": record.title,
        "description": record.description,
        "location": record.location,
        "owner": owner,
        "participants": participants,
        // Events mirror invitations: only new mail changes them.
        "read_only": true,
        "when": record.when,
        "busy": record.busy,
        "status": record.status,
        "visibility": record.visibility,
        "recurrence": recurrence,
        "master_event_id": record.master_event_id,
        "original_start_time": record.original_start_time,
        "metadata": {},
        "conferencing": null,
        "job_status_id": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_midnight_utc() {
        assert_eq!(day_start("1970-01-01"), Some(0));
        assert_eq!(day_start("2024-03-15"), Some(1_710_460_800));
        assert_eq!(day_start("2000-02-29"), Some(951_782_400));
        assert_eq!(day_start("2024-13-01"), None);
        assert_eq!(day_start("soon"), None);
    }

    #[test]
    fn all_day_events_end_after_their_last_day() {
        let when = When::Datespan {
            start_date: "2024-03-15".into(),
            end_date: "2024-03-16".into(),
        };
        assert_eq!(end_time(&when, 1_710_460_800), 1_710_460_800 + 2 * DAY_SECS);
    }
}
