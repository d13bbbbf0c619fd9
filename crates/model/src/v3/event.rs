//! Calendars and events as the v3 API returns them. For an IMAP grant there is one
//! read-only calendar holding the events of the invitations its mail carries.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::v3::EmailName;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Calendar {
    pub id: String,
    pub grant_id: String,
    pub object: &'static str,
    pub name: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub timezone: Option<String>,
    pub hex_color: Option<String>,
    pub hex_foreground_color: Option<String>,
    pub is_primary: bool,
    pub is_owned_by_user: bool,
    pub read_only: bool,
    pub metadata: Map<String, Value>,
    pub notetaker: Option<Value>,
}

/// When an event happens; `object` names the form (Python's SDK refuses others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename_all = "lowercase")]
pub enum When {
    /// A moment: an event with no length.
    Time { time: i64, timezone: Option<String> },
    Timespan {
        start_time: i64,
        end_time: i64,
        start_timezone: Option<String>,
        end_timezone: Option<String>,
    },
    /// One whole day, `YYYY-MM-DD`.
    Date { date: String },
    /// Whole days, first and last inclusive.
    Datespan {
        start_date: String,
        end_date: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Tentative => "tentative",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantStatus {
    Yes,
    No,
    Maybe,
    Noreply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Default,
    Public,
    Private,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Participant {
    pub email: String,
    pub name: Option<String>,
    pub status: ParticipantStatus,
    pub comment: Option<String>,
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: String,
    pub grant_id: String,
    pub calendar_id: String,
    pub object: &'static str,
    pub title: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub when: When,
    pub busy: bool,
    pub participants: Vec<Participant>,
    pub status: EventStatus,
    pub visibility: Option<Visibility>,
    pub conferencing: Option<Value>,
    pub reminders: Option<Value>,
    /// RRULE and EXDATE lines.
    pub recurrence: Vec<String>,
    pub ical_uid: String,
    pub html_link: Option<String>,
    pub read_only: bool,
    pub hide_participants: bool,
    pub creator: Option<EmailName>,
    pub organizer: Option<EmailName>,
    pub capacity: Option<i64>,
    pub master_event_id: Option<String>,
    pub original_start_time: Option<i64>,
    pub metadata: Map<String, Value>,
    pub resources: Vec<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn when_carries_its_object() {
        let cases = [
            (
                When::Time {
                    time: 5,
                    timezone: None,
                },
                json!({"object": "time", "time": 5, "timezone": null}),
            ),
            (
                When::Timespan {
                    start_time: 1,
                    end_time: 2,
                    start_timezone: Some("UTC".into()),
                    end_timezone: None,
                },
                json!({"object": "timespan", "start_time": 1, "end_time": 2,
                       "start_timezone": "UTC", "end_timezone": null}),
            ),
            (
                When::Date {
                    date: "2024-05-01".into(),
                },
                json!({"object": "date", "date": "2024-05-01"}),
            ),
            (
                When::Datespan {
                    start_date: "2024-05-01".into(),
                    end_date: "2024-05-03".into(),
                },
                json!({"object": "datespan", "start_date": "2024-05-01", "end_date": "2024-05-03"}),
            ),
        ];
        for (when, expected) in cases {
            assert_eq!(serde_json::to_value(&when).unwrap(), expected);
            assert_eq!(serde_json::from_value::<When>(expected).unwrap(), when);
        }
        assert_eq!(
            serde_json::to_value(ParticipantStatus::Noreply).unwrap(),
            "noreply"
        );
    }
}
