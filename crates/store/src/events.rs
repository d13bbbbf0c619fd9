//! Events read from the invitations in a grant's mail, kept as the latest version of
//! each (UID, RECURRENCE-ID): a later SEQUENCE, or the same SEQUENCE and a later DTSTAMP,
//! replaces what is stored; a CANCEL marks it cancelled; older versions change nothing,
//! so bodies read in any order (newest first, re-read) give the same result.

use mailroom_mime::{AttendeeStatus, CalendarEvent, CalendarMethod, EventTime};
use mailroom_model::{
    GrantId,
    time::unix_now,
    v3::{EmailName, EventStatus, Participant, ParticipantStatus, Visibility, When},
};
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    messages::escape_like,
    open::Store,
    sql_filter::{Bind, SqlFilter},
};

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: String,
    pub grant_id: GrantId,
    pub ical_uid: String,
    /// For one changed occurrence of a recurring event: the series' event id and the
    /// occurrence's original start.
    pub master_event_id: Option<String>,
    pub original_start_time: Option<i64>,
    pub status: EventStatus,
    pub title: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub when: When,
    /// Where lists place it, and where a cursor resumes: the start in unix seconds
    /// (00:00 UTC of the first day of an all-day event).
    pub start_time: i64,
    pub busy: bool,
    pub visibility: Option<Visibility>,
    pub organizer: Option<EmailName>,
    pub participants: Vec<Participant>,
    /// RRULE, RDATE, EXRULE and EXDATE lines.
    pub recurrence: Vec<String>,
    /// The message the current version came from.
    pub message_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An event a message created or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventChange {
    pub id: String,
    pub grant_id: GrantId,
    pub created: bool,
}

/// Filters and paging of an event list, ordered by start.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub limit: i64,
    /// (start_time, id) of the last event of the previous page.
    pub after: Option<(i64, String)>,
    /// Events overlapping `[start, end)` (unix seconds); an instant at `start` counts.
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Case-insensitive substring of the title.
    pub title: Option<String>,
    pub ical_uid: Option<String>,
    pub busy: Option<bool>,
    /// Changed occurrences of this series.
    pub master_event_id: Option<String>,
    pub show_cancelled: bool,
}

impl Store {
    /// Events by start, at most `query.limit`, after the cursor.
    pub async fn list_events(
        &self,
        grant_id: &GrantId,
        query: &EventQuery,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut filter = SqlFilter::default();
        filter.compare("grant_id", "=", Bind::Text(grant_id.to_string()));
        if !query.show_cancelled {
            filter.compare(
                "status",
                "<>",
                Bind::Text(EventStatus::Cancelled.as_str().to_owned()),
            );
        }
        if let Some(start) = query.start {
            let ends_after = filter.placeholder(Bind::Int(start));
            let starts_at = filter.placeholder(Bind::Int(start));
            filter.clause(format!(
                "(end_time > {ends_after} OR start_time >= {starts_at})"
            ));
        }
        if let Some(end) = query.end {
            filter.compare("start_time", "<", Bind::Int(end));
        }
        if let Some(title) = &query.title {
            filter.compare_like(
                "title_lower",
                Bind::Text(format!("%{}%", escape_like(&title.to_lowercase()))),
            );
        }
        if let Some(uid) = &query.ical_uid {
            filter.compare("ical_uid", "=", Bind::Text(uid.clone()));
        }
        if let Some(busy) = query.busy {
            filter.compare("busy", "=", Bind::Int(i64::from(busy)));
        }
        if let Some(master) = &query.master_event_id {
            filter.compare("master_event_id", "=", Bind::Text(master.clone()));
        }
        if let Some((start, id)) = &query.after {
            let s1 = filter.placeholder(Bind::Int(*start));
            let s2 = filter.placeholder(Bind::Int(*start));
            let i = filter.placeholder(Bind::Text(id.clone()));
            filter.clause(format!(
                "(start_time > {s1} OR (start_time = {s2} AND id > {i}))"
            ));
        }
        let where_sql = filter.where_sql();
        let limit = filter.placeholder(Bind::Int(query.limit));
        let sql = format!(
            "SELECT {COLUMNS} FROM events{where_sql} ORDER BY start_time, id LIMIT {limit}"
        );
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    pub async fn event(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM events WHERE grant_id = $1 AND id = $2"
        ))
        .bind(grant_id.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }
}

/// Records the events of one message's invitations, inside the transaction that stores
/// its body. Returns the events created or changed.
pub(crate) async fn record_message_events(
    tx: &mut Transaction<'_, Any>,
    message_id: &str,
    events: &[CalendarEvent],
) -> Result<Vec<EventChange>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let Some(row) = sqlx::query("SELECT grant_id, from_json FROM messages WHERE id = $1")
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(Vec::new());
    };
    let grant_id = GrantId::from_stored(row.try_get("grant_id")?);
    let from_json: String = row.try_get("from_json")?;
    let sender = serde_json::from_str::<Vec<EmailName>>(&from_json)
        .ok()
        .and_then(|from| from.into_iter().next())
        .map(|from| from.email.trim().to_lowercase());
    let now = unix_now();
    let mut changes = Vec::new();
    for event in events {
        // Replies change one attendee's answer on the organizer's copy; mailroom keeps
        // the invitations it receives, so they and counter-proposals are not recorded.
        if matches!(
            event.method,
            CalendarMethod::Reply | CalendarMethod::Ignored
        ) {
            continue;
        }
        let id = event_id(&grant_id, &event.uid, event.recurrence_id);
        let version = (event.sequence, event.dtstamp.unwrap_or(0));
        let stored = sqlx::query(
            "SELECT sequence, dtstamp, described, created_at, organizer_json FROM events WHERE id = $1",
        )
        .bind(&id)
        .fetch_optional(&mut **tx)
        .await?;
        let row = EventRow::new(&grant_id, &id, message_id, event, now);
        let created = match stored {
            None => {
                row.insert(tx).await?;
                true
            }
            Some(stored) => {
                // RFC 6047 §3: a REQUEST or CANCEL comes from the organizer. One from
                // anyone else (who may know the UID from their own invitation) changes
                // nothing.
                let organizer: Option<String> = stored.try_get("organizer_json")?;
                if !sent_by_organizer(sender.as_deref(), organizer.as_deref()) {
                    continue;
                }
                let stored_version: (i64, i64) =
                    (stored.try_get("sequence")?, stored.try_get("dtstamp")?);
                let described = stored.try_get::<i64, _>("described")? != 0;
                let created_at: i64 = stored.try_get("created_at")?;
                if version > stored_version {
                    if event.time.is_none() {
                        // A cancellation that gives no times keeps what was known.
                        mark_cancelled(tx, &id, version, message_id, row.updated_at).await?;
                    } else {
                        row.replace(tx, event.created.unwrap_or(created_at)).await?;
                    }
                } else if !described && event.time.is_some() {
                    // An older, full description of an event so far known only from its
                    // cancellation: its details, with the later version's status.
                    row.describe(tx).await?;
                } else {
                    continue;
                }
                false
            }
        };
        changes.push(EventChange {
            id,
            grant_id: grant_id.clone(),
            created,
        });
    }
    Ok(changes)
}

/// Whether `sender` (the message's From, lower case) is the stored event's organizer.
/// An event stored without an organizer has nobody to compare with.
fn sent_by_organizer(sender: Option<&str>, organizer_json: Option<&str>) -> bool {
    let Some(organizer) =
        organizer_json.and_then(|text| serde_json::from_str::<EmailName>(text).ok())
    else {
        return true;
    };
    sender.is_some_and(|sender| organizer.email.trim().eq_ignore_ascii_case(sender))
}

async fn mark_cancelled(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    (sequence, dtstamp): (i64, i64),
    message_id: &str,
    updated_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE events SET status = $1, sequence = $2, dtstamp = $3, message_id = $4, \
         updated_at = $5 WHERE id = $6",
    )
    .bind(EventStatus::Cancelled.as_str())
    .bind(sequence)
    .bind(dtstamp)
    .bind(message_id)
    .bind(updated_at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An event as its row holds it.
struct EventRow {
    id: String,
    grant_id: String,
    ical_uid: String,
    original_start_time: Option<i64>,
    master_event_id: Option<String>,
    sequence: i64,
    dtstamp: i64,
    described: bool,
    status: &'static str,
    title: Option<String>,
    title_lower: Option<String>,
    description: Option<String>,
    location: Option<String>,
    all_day: bool,
    start_time: i64,
    end_time: i64,
    start_timezone: Option<String>,
    end_timezone: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    busy: bool,
    visibility: Option<&'static str>,
    organizer_json: Option<String>,
    participants_json: String,
    recurrence_json: String,
    message_id: String,
    created_at: i64,
    updated_at: i64,
}

impl EventRow {
    fn new(
        grant_id: &GrantId,
        id: &str,
        message_id: &str,
        event: &CalendarEvent,
        now: i64,
    ) -> Self {
        let (all_day, start_time, end_time, start_timezone, end_timezone, start_date, end_date) =
            match &event.time {
                Some(time @ EventTime::AllDay { first, last }) => {
                    let (start, end) = time.bounds();
                    let (first, last) = (first.to_string(), last.to_string());
                    (true, start, end, None, None, Some(first), Some(last))
                }
                Some(EventTime::Timed {
                    start,
                    end,
                    start_timezone,
                    end_timezone,
                }) => (
                    false,
                    *start,
                    *end,
                    start_timezone.clone(),
                    end_timezone.clone(),
                    None,
                    None,
                ),
                // Only the occurrence a cancellation names is known, if that.
                None => {
                    let at = event.recurrence_id.unwrap_or(0);
                    (false, at, at, None, None, None, None)
                }
            };
        let participants: Vec<Participant> = event
            .participants
            .iter()
            .map(|a| Participant {
                email: a.email.clone(),
                name: a.name.clone(),
                status: match a.status {
                    AttendeeStatus::Yes => ParticipantStatus::Yes,
                    AttendeeStatus::No => ParticipantStatus::No,
                    AttendeeStatus::Maybe => ParticipantStatus::Maybe,
                    AttendeeStatus::NoReply => ParticipantStatus::Noreply,
                },
                comment: None,
                phone_number: None,
            })
            .collect();
        let organizer = event.organizer.as_ref().map(|o| EmailName {
            name: o.name.clone(),
            email: o.email.clone(),
        });
        let json = |value: serde_json::Result<String>| value.unwrap_or_else(|_| "[]".to_owned());
        let status = match event.status {
            mailroom_mime::EventStatus::Confirmed => EventStatus::Confirmed,
            mailroom_mime::EventStatus::Tentative => EventStatus::Tentative,
            mailroom_mime::EventStatus::Cancelled => EventStatus::Cancelled,
        };
        EventRow {
            id: id.to_owned(),
            grant_id: grant_id.to_string(),
            ical_uid: event.uid.clone(),
            original_start_time: event.recurrence_id,
            master_event_id: event
                .recurrence_id
                .map(|_| event_id(grant_id, &event.uid, None)),
            sequence: event.sequence,
            dtstamp: event.dtstamp.unwrap_or(0),
            described: event.time.is_some(),
            status: status.as_str(),
            title_lower: event.title.as_ref().map(|t| t.to_lowercase()),
            title: event.title.clone(),
            description: event.description.clone(),
            location: event.location.clone(),
            all_day,
            start_time,
            end_time,
            start_timezone,
            end_timezone,
            start_date,
            end_date,
            busy: event.busy,
            visibility: event.visibility.map(|v| v.as_str()),
            organizer_json: organizer
                .as_ref()
                .and_then(|o| serde_json::to_string(o).ok()),
            participants_json: json(serde_json::to_string(&participants)),
            recurrence_json: json(serde_json::to_string(&event.recurrence)),
            message_id: message_id.to_owned(),
            created_at: event.created.or(event.dtstamp).unwrap_or(now),
            updated_at: event.last_modified.or(event.dtstamp).unwrap_or(now),
        }
    }

    async fn insert(&self, tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO events (id, grant_id, ical_uid, original_start_time, master_event_id, \
                 sequence, dtstamp, described, status, title, title_lower, description, location, \
                 all_day, start_time, end_time, start_timezone, end_timezone, start_date, end_date, \
                 busy, visibility, organizer_json, participants_json, recurrence_json, message_id, \
                 created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
        )
        .bind(&self.id)
        .bind(&self.grant_id)
        .bind(&self.ical_uid)
        .bind(self.original_start_time)
        .bind(&self.master_event_id)
        .bind(self.sequence)
        .bind(self.dtstamp)
        .bind(i64::from(self.described))
        .bind(self.status)
        .bind(&self.title)
        .bind(&self.title_lower)
        .bind(&self.description)
        .bind(&self.location)
        .bind(i64::from(self.all_day))
        .bind(self.start_time)
        .bind(self.end_time)
        .bind(&self.start_timezone)
        .bind(&self.end_timezone)
        .bind(&self.start_date)
        .bind(&self.end_date)
        .bind(i64::from(self.busy))
        .bind(self.visibility)
        .bind(&self.organizer_json)
        .bind(&self.participants_json)
        .bind(&self.recurrence_json)
        .bind(&self.message_id)
        .bind(self.created_at)
        .bind(self.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Overwrites a stored event with this newer version.
    async fn replace(
        &self,
        tx: &mut Transaction<'_, Any>,
        created_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE events SET sequence = $1, dtstamp = $2, status = $3, message_id = $4, \
                 created_at = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(self.sequence)
        .bind(self.dtstamp)
        .bind(self.status)
        .bind(&self.message_id)
        .bind(created_at)
        .bind(self.updated_at)
        .bind(&self.id)
        .execute(&mut **tx)
        .await?;
        self.describe(tx).await
    }

    /// Writes the details (what, when, who), leaving version and status as stored.
    async fn describe(&self, tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE events SET described = $1, title = $2, title_lower = $3, description = $4, \
                 location = $5, all_day = $6, start_time = $7, end_time = $8, \
                 start_timezone = $9, end_timezone = $10, start_date = $11, end_date = $12, \
                 busy = $13, visibility = $14, organizer_json = $15, participants_json = $16, \
                 recurrence_json = $17 WHERE id = $18",
        )
        .bind(i64::from(self.described))
        .bind(&self.title)
        .bind(&self.title_lower)
        .bind(&self.description)
        .bind(&self.location)
        .bind(i64::from(self.all_day))
        .bind(self.start_time)
        .bind(self.end_time)
        .bind(&self.start_timezone)
        .bind(&self.end_timezone)
        .bind(&self.start_date)
        .bind(&self.end_date)
        .bind(i64::from(self.busy))
        .bind(self.visibility)
        .bind(&self.organizer_json)
        .bind(&self.participants_json)
        .bind(&self.recurrence_json)
        .bind(&self.id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

const COLUMNS: &str = "id, grant_id, ical_uid, original_start_time, master_event_id, status, \
     title, description, location, all_day, start_time, end_time, start_timezone, end_timezone, \
     start_date, end_date, busy, visibility, organizer_json, participants_json, recurrence_json, \
     message_id, created_at, updated_at";

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<EventRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "confirmed" => EventStatus::Confirmed,
        "tentative" => EventStatus::Tentative,
        "cancelled" => EventStatus::Cancelled,
        other => return Err(StoreError::corrupt(format!("event status '{other}'"))),
    };
    let visibility: Option<String> = row.try_get("visibility")?;
    let visibility = match visibility.as_deref() {
        Some("public") => Some(Visibility::Public),
        Some("private") => Some(Visibility::Private),
        Some("default") => Some(Visibility::Default),
        _ => None,
    };
    let start_time: i64 = row.try_get("start_time")?;
    let end_time: i64 = row.try_get("end_time")?;
    let start_timezone: Option<String> = row.try_get("start_timezone")?;
    let when = if row.try_get::<i64, _>("all_day")? != 0 {
        let start_date: Option<String> = row.try_get("start_date")?;
        let end_date: Option<String> = row.try_get("end_date")?;
        let start_date =
            start_date.ok_or_else(|| StoreError::corrupt("all-day event without a date"))?;
        let end_date = end_date.unwrap_or_else(|| start_date.clone());
        if start_date == end_date {
            When::Date { date: start_date }
        } else {
            When::Datespan {
                start_date,
                end_date,
            }
        }
    } else if start_time == end_time {
        When::Time {
            time: start_time,
            timezone: start_timezone,
        }
    } else {
        When::Timespan {
            start_time,
            end_time,
            start_timezone,
            end_timezone: row.try_get("end_timezone")?,
        }
    };
    let organizer: Option<String> = row.try_get("organizer_json")?;
    let participants: String = row.try_get("participants_json")?;
    let recurrence: String = row.try_get("recurrence_json")?;
    Ok(EventRecord {
        id: row.try_get("id")?,
        grant_id: GrantId::from_stored(row.try_get("grant_id")?),
        ical_uid: row.try_get("ical_uid")?,
        master_event_id: row.try_get("master_event_id")?,
        original_start_time: row.try_get("original_start_time")?,
        status,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        location: row.try_get("location")?,
        when,
        start_time,
        busy: row.try_get::<i64, _>("busy")? != 0,
        visibility,
        organizer: organizer
            .map(|o| serde_json::from_str(&o))
            .transpose()
            .map_err(StoreError::corrupt)?,
        participants: serde_json::from_str(&participants).map_err(StoreError::corrupt)?,
        recurrence: serde_json::from_str(&recurrence).map_err(StoreError::corrupt)?,
        message_id: row.try_get("message_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Stable and URL-safe: the same grant, UID and occurrence always give the same id.
fn event_id(grant_id: &GrantId, uid: &str, recurrence_id: Option<i64>) -> String {
    let occurrence = recurrence_id.map(|r| r.to_string()).unwrap_or_default();
    let digest = Sha256::digest(format!("event\0{grant_id}\0{uid}\0{occurrence}"));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
