//! iCalendar invitations to events, on calcard: the `text/calendar` parts and `.ics`
//! attachments of a message become the events they describe, with the scheduling method
//! (REQUEST, CANCEL, REPLY) and the SEQUENCE/DTSTAMP that order later versions of the
//! same event. No I/O; malformed input gives the events that could be read (often none),
//! never a panic.

use calcard::{
    Entry, Parser,
    common::{PartialDateTime, timezone::Tz},
    icalendar::{
        ICalendar, ICalendarClassification, ICalendarComponent, ICalendarComponentType,
        ICalendarEntry, ICalendarMethod, ICalendarParameterName, ICalendarParameterValue,
        ICalendarParticipationStatus, ICalendarProperty, ICalendarStatus, ICalendarTransparency,
        ICalendarValue, timezone::TzResolver,
    },
};
use chrono::{FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone};

/// A part this large is a calendar export, not an invitation: it is skipped.
const MAX_PART_BYTES: usize = 1 << 20;
/// Events read from one message at most.
const MAX_EVENTS: usize = 100;
/// Components parsed from one part at most (an invitation has a handful).
const MAX_CALENDARS_PER_PART: usize = 8;

/// What the sender asks of the recipient (RFC 5546 METHOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarMethod {
    /// REQUEST, PUBLISH, ADD, or none given: the event as it now stands.
    Request,
    /// The event, or this occurrence of it, is cancelled.
    Cancel,
    /// An attendee's answer: updates that attendee's status only.
    Reply,
    /// REFRESH, COUNTER, DECLINECOUNTER: nothing to record.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// An attendee's answer (PARTSTAT) in the API's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttendeeStatus {
    Yes,
    No,
    Maybe,
    NoReply,
}

impl AttendeeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AttendeeStatus::Yes => "yes",
            AttendeeStatus::No => "no",
            AttendeeStatus::Maybe => "maybe",
            AttendeeStatus::NoReply => "noreply",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventVisibility {
    Public,
    Private,
}

impl EventVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            EventVisibility::Public => "public",
            EventVisibility::Private => "private",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub email: String,
    pub name: Option<String>,
    pub status: AttendeeStatus,
}

/// When an event takes place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTime {
    /// DATE values: the first and the last day (inclusive; DTEND itself is exclusive).
    AllDay { first: NaiveDate, last: NaiveDate },
    /// Unix seconds; the zones are IANA names where the times had one ("UTC" for `Z`).
    Timed {
        start: i64,
        end: i64,
        start_timezone: Option<String>,
        end_timezone: Option<String>,
    },
}

impl EventTime {
    /// The unix seconds the event covers, `[start, end)`; all-day events by UTC days.
    pub fn bounds(&self) -> (i64, i64) {
        match self {
            EventTime::AllDay { first, last } => (
                day_start(*first),
                day_start(last.succ_opt().unwrap_or(*last)),
            ),
            EventTime::Timed { start, end, .. } => (*start, *end),
        }
    }
}

/// One VEVENT of an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    pub uid: String,
    /// RECURRENCE-ID (unix seconds): this is one changed occurrence of a recurring event.
    pub recurrence_id: Option<i64>,
    pub method: CalendarMethod,
    pub sequence: i64,
    pub dtstamp: Option<i64>,
    pub status: EventStatus,
    pub title: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    /// None only in a cancellation or reply that gives no times.
    pub time: Option<EventTime>,
    /// TRANSP:TRANSPARENT frees the time.
    pub busy: bool,
    pub organizer: Option<Attendee>,
    pub participants: Vec<Attendee>,
    /// RRULE, RDATE, EXRULE and EXDATE lines as written (`RRULE:FREQ=WEEKLY;BYDAY=MO`).
    pub recurrence: Vec<String>,
    pub visibility: Option<EventVisibility>,
    pub created: Option<i64>,
    pub last_modified: Option<i64>,
}

/// Every event of a message's calendar parts (decoded bytes of each part), at most
/// `MAX_EVENTS`. Unreadable parts add nothing.
pub fn calendar_events(parts: &[Vec<u8>]) -> Vec<CalendarEvent> {
    let mut events = Vec::new();
    for part in parts {
        if part.len() > MAX_PART_BYTES {
            continue;
        }
        events.extend(parse_calendar(&String::from_utf8_lossy(part)));
        if events.len() >= MAX_EVENTS {
            events.truncate(MAX_EVENTS);
            break;
        }
    }
    events
}

/// The events of one iCalendar text.
pub fn parse_calendar(text: &str) -> Vec<CalendarEvent> {
    let mut parser = Parser::new(text);
    let mut events = Vec::new();
    for _ in 0..MAX_CALENDARS_PER_PART {
        match parser.entry() {
            Entry::ICalendar(calendar) => events.extend(calendar_to_events(&calendar)),
            Entry::Eof => break,
            // A stray line or a broken component: read on, the rest may be whole.
            _ => {}
        }
    }
    events
}

fn calendar_to_events(calendar: &ICalendar) -> Vec<CalendarEvent> {
    let method = calendar
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VCalendar)
        .find_map(|c| match first_value(c, &ICalendarProperty::Method) {
            Some(ICalendarValue::Method(method)) => Some(method.clone()),
            _ => None,
        });
    let method = match method {
        None
        | Some(ICalendarMethod::Request)
        | Some(ICalendarMethod::Publish)
        | Some(ICalendarMethod::Add) => CalendarMethod::Request,
        Some(ICalendarMethod::Cancel) => CalendarMethod::Cancel,
        Some(ICalendarMethod::Reply) => CalendarMethod::Reply,
        Some(_) => CalendarMethod::Ignored,
    };
    let zones = Zones::new(calendar);
    calendar
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
        .filter_map(|c| read_event(c, method, &zones))
        .collect()
}

fn read_event(
    component: &ICalendarComponent,
    method: CalendarMethod,
    zones: &Zones<'_>,
) -> Option<CalendarEvent> {
    let uid = component.uid()?.trim();
    if uid.is_empty() {
        return None;
    }
    let recurrence_id = component
        .property(&ICalendarProperty::RecurrenceId)
        .and_then(|entry| zones.instant(entry))
        .map(|instant| instant.unix);
    // A CANCEL or REPLY may carry no times at all; it still names the event.
    let time = event_time(component, zones);
    if time.is_none() && method == CalendarMethod::Request {
        return None;
    }
    let status = match (method, component.status()) {
        (CalendarMethod::Cancel, _) | (_, Some(ICalendarStatus::Cancelled)) => {
            EventStatus::Cancelled
        }
        (_, Some(ICalendarStatus::Tentative)) => EventStatus::Tentative,
        _ => EventStatus::Confirmed,
    };
    let visibility = match first_value(component, &ICalendarProperty::Class) {
        Some(ICalendarValue::Classification(ICalendarClassification::Public)) => {
            Some(EventVisibility::Public)
        }
        Some(ICalendarValue::Classification(
            ICalendarClassification::Private | ICalendarClassification::Confidential,
        )) => Some(EventVisibility::Private),
        _ => None,
    };
    let recurrence = component
        .entries
        .iter()
        .filter(|e| {
            matches!(
                e.name,
                ICalendarProperty::Rrule
                    | ICalendarProperty::Rdate
                    | ICalendarProperty::Exrule
                    | ICalendarProperty::Exdate
            )
        })
        .filter_map(property_line)
        .collect();
    Some(CalendarEvent {
        uid: uid.to_owned(),
        recurrence_id,
        method,
        sequence: first_value(component, &ICalendarProperty::Sequence)
            .and_then(ICalendarValue::as_integer)
            .unwrap_or(0),
        dtstamp: timestamp(component, &ICalendarProperty::Dtstamp, zones),
        status,
        title: text(component, &ICalendarProperty::Summary),
        description: text(component, &ICalendarProperty::Description),
        location: text(component, &ICalendarProperty::Location),
        time,
        busy: !matches!(
            component.transparency(),
            Some(ICalendarTransparency::Transparent)
        ),
        organizer: component
            .property(&ICalendarProperty::Organizer)
            .and_then(attendee),
        participants: component
            .properties(&ICalendarProperty::Attendee)
            .filter_map(attendee)
            .collect(),
        recurrence,
        visibility,
        created: timestamp(component, &ICalendarProperty::Created, zones),
        last_modified: timestamp(component, &ICalendarProperty::LastModified, zones),
    })
}

/// DTSTART with DTEND or DURATION (RFC 5545 §3.6.1: without either, a DATE event lasts
/// its day and a DATE-TIME event is an instant).
fn event_time(component: &ICalendarComponent, zones: &Zones<'_>) -> Option<EventTime> {
    let start_entry = component.property(&ICalendarProperty::Dtstart)?;
    let start = start_entry.values.first()?.as_partial_date_time()?;
    let duration = match first_value(component, &ICalendarProperty::Duration) {
        Some(ICalendarValue::Duration(d)) => Some(d.as_seconds()),
        _ => None,
    };
    if !start.has_time() {
        let first = date_of(start)?;
        let end = component
            .property(&ICalendarProperty::Dtend)
            .and_then(|e| e.values.first())
            .and_then(ICalendarValue::as_partial_date_time)
            .and_then(date_of);
        let exclusive_end = match (end, duration) {
            (Some(end), _) => end,
            (None, Some(seconds)) => first.checked_add_signed(TimeDelta::seconds(seconds))?,
            (None, None) => first.succ_opt()?,
        };
        // An end on or before the start is read as a one-day event.
        let last = exclusive_end.pred_opt().filter(|last| *last >= first);
        return Some(EventTime::AllDay {
            first,
            last: last.unwrap_or(first),
        });
    }
    let start = zones.instant(start_entry)?;
    let end = match component.property(&ICalendarProperty::Dtend) {
        Some(entry) => zones.instant(entry),
        None => None,
    };
    let end = match (end, duration) {
        (Some(end), _) => end,
        (None, Some(seconds)) => Instant {
            unix: start.unix.saturating_add(seconds),
            zone: start.zone.clone(),
        },
        (None, None) => start.clone(),
    };
    Some(EventTime::Timed {
        start: start.unix,
        end: end.unix.max(start.unix),
        start_timezone: start.zone,
        end_timezone: end.zone,
    })
}

/// A moment, and the IANA name of the zone it was written in.
#[derive(Debug, Clone)]
struct Instant {
    unix: i64,
    zone: Option<String>,
}

/// The time zones an iCalendar object names: IANA names, Windows names and the
/// VTIMEZONE definitions calcard recognises, and, failing those, the standard offset of
/// the object's own VTIMEZONE.
struct Zones<'x> {
    resolver: TzResolver<&'x str>,
    calendar: &'x ICalendar,
}

impl<'x> Zones<'x> {
    fn new(calendar: &'x ICalendar) -> Self {
        Self {
            resolver: calendar.build_tz_resolver(),
            calendar,
        }
    }

    fn instant(&self, entry: &ICalendarEntry) -> Option<Instant> {
        let value = entry.values.first()?.as_partial_date_time()?;
        let date_time = value.to_date_time()?;
        let local = date_time.date_time;
        if let Some(offset) = date_time.offset {
            // `Z` or an explicit offset: the time is absolute.
            let zone = (offset.local_minus_utc() == 0).then(|| "UTC".to_owned());
            return Some(Instant {
                unix: local_to_unix(&offset, local)?,
                zone,
            });
        }
        let Some(tz_id) = entry.tz_id() else {
            // A floating time belongs to no zone; with no attendee's zone to go by, it
            // is read as UTC.
            return Some(Instant {
                unix: local.and_utc().timestamp(),
                zone: None,
            });
        };
        match self.resolver.resolve(tz_id) {
            Some(tz @ Tz::Tz(_)) => Some(Instant {
                unix: local_to_unix(&tz, local)?,
                zone: if tz.is_utc() {
                    Some("UTC".to_owned())
                } else {
                    tz.name().map(|name| name.into_owned())
                },
            }),
            Some(Tz::Fixed(offset)) => Some(Instant {
                unix: local_to_unix(&offset, local)?,
                zone: None,
            }),
            // A zone that neither calcard nor its definition names: its standard offset.
            Some(Tz::Floating) | None => Some(Instant {
                unix: local_to_unix(&self.standard_offset(tz_id), local)?,
                zone: None,
            }),
        }
    }

    /// TZOFFSETTO of the STANDARD observance of this object's VTIMEZONE `tz_id`
    /// (the daylight saving rules of a zone nobody names are not applied); UTC when there
    /// is none.
    fn standard_offset(&self, tz_id: &str) -> FixedOffset {
        let definition = self.calendar.timezones().find(|tz| {
            first_value(tz, &ICalendarProperty::Tzid).and_then(ICalendarValue::as_text)
                == Some(tz_id)
        });
        definition
            .into_iter()
            .flat_map(|tz| tz.component_ids.iter())
            .filter_map(|id| self.calendar.component_by_id(*id))
            .filter(|c| c.component_type == ICalendarComponentType::Standard)
            .find_map(|c| {
                first_value(c, &ICalendarProperty::Tzoffsetto)
                    .and_then(ICalendarValue::as_partial_date_time)
                    .and_then(utc_offset)
            })
            .unwrap_or_else(|| chrono::Utc.fix())
    }
}

fn utc_offset(value: &PartialDateTime) -> Option<FixedOffset> {
    let seconds = i32::from(value.tz_hour?) * 3600 + i32::from(value.tz_minute.unwrap_or(0)) * 60;
    if value.tz_minus {
        FixedOffset::west_opt(seconds)
    } else {
        FixedOffset::east_opt(seconds)
    }
}

/// A local time in a zone as unix seconds. Of a time that occurs twice (clocks going
/// back) the first; a time that does not occur (clocks going forward) is read an hour on.
fn local_to_unix<Z: TimeZone>(zone: &Z, local: NaiveDateTime) -> Option<i64> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.timestamp()),
        LocalResult::Ambiguous(first, _) => Some(first.timestamp()),
        LocalResult::None => zone
            .from_local_datetime(&(local + TimeDelta::hours(1)))
            .earliest()
            .map(|t| t.timestamp()),
    }
}

fn date_of(value: &PartialDateTime) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::from(value.year?),
        u32::from(value.month?),
        u32::from(value.day?),
    )
}

fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0)
}

fn first_value<'c>(
    component: &'c ICalendarComponent,
    property: &ICalendarProperty,
) -> Option<&'c ICalendarValue> {
    component.property(property)?.values.first()
}

/// A text property, trimmed; empty counts as absent.
fn text(component: &ICalendarComponent, property: &ICalendarProperty) -> Option<String> {
    let entry = component.property(property)?;
    let joined = entry
        .values
        .iter()
        .filter_map(ICalendarValue::as_text)
        .collect::<Vec<_>>()
        .join(",");
    let trimmed = joined.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn timestamp(
    component: &ICalendarComponent,
    property: &ICalendarProperty,
    zones: &Zones<'_>,
) -> Option<i64> {
    zones
        .instant(component.property(property)?)
        .map(|instant| instant.unix)
}

/// ORGANIZER or ATTENDEE: the address (without `mailto:`), CN and PARTSTAT.
fn attendee(entry: &ICalendarEntry) -> Option<Attendee> {
    let email = entry.calendar_address()?.trim();
    if email.is_empty() || !email.contains('@') {
        return None;
    }
    let name = entry
        .parameter(&ICalendarParameterName::Cn)
        .and_then(ICalendarParameterValue::as_text)
        .map(|cn| cn.trim().trim_matches('"').trim())
        // Google writes the address as the name of people it has no name for.
        .filter(|cn| !cn.is_empty() && !cn.eq_ignore_ascii_case(email))
        .map(str::to_owned);
    let status = match entry.parameter(&ICalendarParameterName::Partstat) {
        Some(ICalendarParameterValue::Partstat(ICalendarParticipationStatus::Accepted)) => {
            AttendeeStatus::Yes
        }
        Some(ICalendarParameterValue::Partstat(ICalendarParticipationStatus::Declined)) => {
            AttendeeStatus::No
        }
        Some(ICalendarParameterValue::Partstat(ICalendarParticipationStatus::Tentative)) => {
            AttendeeStatus::Maybe
        }
        _ => AttendeeStatus::NoReply,
    };
    Some(Attendee {
        email: email.to_owned(),
        name,
        status,
    })
}

/// A property as one unfolded iCalendar line, e.g. `EXDATE;TZID=Europe/Berlin:2024…`.
fn property_line(entry: &ICalendarEntry) -> Option<String> {
    let mut line = String::new();
    entry.write_to(&mut line).ok()?;
    let unfolded = line.replace("\r\n ", "").replace("\n ", "");
    let trimmed = unfolded.trim_end();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crlf(text: &str) -> String {
        text.replace('\n', "\r\n")
    }

    /// A Google Calendar invitation: VTIMEZONE, folded lines, escaped text, attendees in
    /// every state.
    const GOOGLE_REQUEST: &str = "BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:America/Los_Angeles
X-LIC-LOCATION:America/Los_Angeles
BEGIN:DAYLIGHT
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
TZNAME:PDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
TZNAME:PST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=America/Los_Angeles:20240315T100000
DTEND;TZID=America/Los_Angeles:20240315T110000
DTSTAMP:20240301T120000Z
ORGANIZER;CN=Ada Lovelace:mailto:ada@example.com
UID:7kukuqrfedlm2f9t0vvd6p8c2o@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE
 ;CN=Ada Lovelace;X-NUM-GUESTS=0:mailto:ada@example.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=bob@example.test;X-NUM-GUESTS=0:mailto:bob@example.test
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE;CN=\"Carol
  King\":mailto:carol@example.org
ATTENDEE;PARTSTAT=DECLINED:mailto:dan@example.org
X-MICROSOFT-CDO-OWNERAPPTID:-1240000000
CREATED:20240301T115900Z
DESCRIPTION:Agenda: budget\\, roadmap\\nJoin with Google Meet: https://meet.goo
 gle.com/abc-defg-hij
LAST-MODIFIED:20240301T120000Z
LOCATION:Room 4\\, Building B
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Quarterly planning
TRANSP:OPAQUE
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:This is an event reminder
TRIGGER:-P0DT0H10M0S
END:VALARM
END:VEVENT
END:VCALENDAR
";

    /// An Outlook invitation: Windows zone names, a quoted CN with a comma.
    const OUTLOOK_REQUEST: &str = "BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
ORGANIZER;CN=\"Smith, John\":mailto:john.smith@contoso.example
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Erin Example:mailto:erin@example.test
DESCRIPTION;LANGUAGE=en-US:Weekly sync\\n\\n
UID:040000008200E00074C5B7101A82E00800000000D0B8A4F0B543DA01000000000000000010000000A1B2C3
SUMMARY;LANGUAGE=en-US:Weekly sync
DTSTART;TZID=W. Europe Standard Time:20240110T090000
DTEND;TZID=W. Europe Standard Time:20240110T103000
RRULE:FREQ=WEEKLY;UNTIL=20241231T080000Z;INTERVAL=1;BYDAY=WE;WKST=MO
EXDATE;TZID=W. Europe Standard Time:20240117T090000
CLASS:PRIVATE
PRIORITY:5
DTSTAMP:20240105T101500Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:3
LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
END:VEVENT
END:VCALENDAR
";

    #[test]
    fn a_google_invitation_is_read_whole() {
        let events = parse_calendar(&crlf(GOOGLE_REQUEST));
        assert_eq!(events.len(), 1, "{events:?}");
        let event = &events[0];
        assert_eq!(event.uid, "7kukuqrfedlm2f9t0vvd6p8c2o@google.com");
        assert_eq!(event.method, CalendarMethod::Request);
        assert_eq!(event.status, EventStatus::Confirmed);
        assert_eq!(event.sequence, 0);
        assert_eq!(event.dtstamp, Some(1_709_294_400));
        assert_eq!(event.title.as_deref(), Some("Quarterly planning"));
        assert_eq!(event.location.as_deref(), Some("Room 4, Building B"));
        let description = event.description.as_deref().unwrap_or_default();
        assert!(
            description.starts_with("Agenda: budget, roadmap\nJoin"),
            "{description}"
        );
        assert!(description.ends_with("https://meet.google.com/abc-defg-hij"));
        // 10:00 in Los Angeles on 15 March 2024 is daylight time, UTC-7.
        assert_eq!(
            event.time,
            Some(EventTime::Timed {
                start: 1_710_522_000,
                end: 1_710_525_600,
                start_timezone: Some("America/Los_Angeles".into()),
                end_timezone: Some("America/Los_Angeles".into()),
            })
        );
        assert!(event.busy);
        assert_eq!(
            event.organizer,
            Some(Attendee {
                email: "ada@example.com".into(),
                name: Some("Ada Lovelace".into()),
                status: AttendeeStatus::NoReply,
            })
        );
        let answers: Vec<(&str, Option<&str>, AttendeeStatus)> = event
            .participants
            .iter()
            .map(|p| (p.email.as_str(), p.name.as_deref(), p.status))
            .collect();
        assert_eq!(
            answers,
            vec![
                ("ada@example.com", Some("Ada Lovelace"), AttendeeStatus::Yes),
                ("bob@example.test", None, AttendeeStatus::NoReply),
                (
                    "carol@example.org",
                    Some("Carol King"),
                    AttendeeStatus::Maybe
                ),
                ("dan@example.org", None, AttendeeStatus::No),
            ]
        );
        assert!(event.recurrence.is_empty());
        assert_eq!(event.created, Some(1_709_294_340));
        assert_eq!(event.last_modified, Some(1_709_294_400));
        assert_eq!(event.recurrence_id, None);
    }

    #[test]
    fn an_outlook_invitation_with_windows_zones_and_recurrence() {
        let events = parse_calendar(&crlf(OUTLOOK_REQUEST));
        assert_eq!(events.len(), 1, "{events:?}");
        let event = &events[0];
        assert_eq!(event.sequence, 3);
        assert_eq!(event.title.as_deref(), Some("Weekly sync"));
        assert_eq!(event.visibility, Some(EventVisibility::Private));
        // "W. Europe Standard Time" is Europe/Berlin: UTC+1 in January.
        let Some(EventTime::Timed {
            start,
            end,
            start_timezone,
            ..
        }) = &event.time
        else {
            panic!("{:?}", event.time)
        };
        assert_eq!((*start, *end), (1_704_873_600, 1_704_879_000));
        assert_eq!(start_timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            event.organizer.as_ref().and_then(|o| o.name.as_deref()),
            Some("Smith, John")
        );
        assert_eq!(event.recurrence.len(), 2, "{:?}", event.recurrence);
        assert!(
            event.recurrence[0].starts_with("RRULE:FREQ=WEEKLY"),
            "{:?}",
            event.recurrence
        );
        assert!(event.recurrence[0].contains("BYDAY=WE"));
        assert!(event.recurrence[0].contains("UNTIL=20241231T080000Z"));
        assert_eq!(
            event.recurrence[1],
            "EXDATE;TZID=\"W. Europe Standard Time\":20240117T090000"
        );
    }

    #[test]
    fn all_day_events_are_dates_with_an_inclusive_last_day() {
        let one_day = "BEGIN:VCALENDAR\nMETHOD:PUBLISH\nBEGIN:VEVENT\nUID:holiday-1\nDTSTAMP:20240401T000000Z\nDTSTART;VALUE=DATE:20240501\nDTEND;VALUE=DATE:20240502\nSUMMARY:Labour Day\nTRANSP:TRANSPARENT\nEND:VEVENT\nEND:VCALENDAR\n";
        let events = parse_calendar(one_day);
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        assert_eq!(events[0].time, Some(events_day(day)));
        assert_eq!(bounds(&events[0]), (1_714_521_600, 1_714_608_000));
        assert!(!events[0].busy);

        let three_days = one_day.replace("DTEND;VALUE=DATE:20240502", "DTEND;VALUE=DATE:20240504");
        let events = parse_calendar(&three_days);
        assert_eq!(
            events[0].time,
            Some(EventTime::AllDay {
                first: day,
                last: NaiveDate::from_ymd_opt(2024, 5, 3).unwrap()
            })
        );
        assert_eq!(bounds(&events[0]), (1_714_521_600, 1_714_780_800));

        // No DTEND: the day itself.
        let no_end = one_day.replace("DTEND;VALUE=DATE:20240502\n", "");
        assert_eq!(parse_calendar(&no_end)[0].time, Some(events_day(day)));
    }

    fn bounds(event: &CalendarEvent) -> (i64, i64) {
        event
            .time
            .as_ref()
            .map(EventTime::bounds)
            .unwrap_or_default()
    }

    fn events_day(day: NaiveDate) -> EventTime {
        EventTime::AllDay {
            first: day,
            last: day,
        }
    }

    #[test]
    fn a_cancellation_names_the_event_and_its_sequence() {
        let cancel = "BEGIN:VCALENDAR\nMETHOD:CANCEL\nBEGIN:VEVENT\nUID:7kukuqrfedlm2f9t0vvd6p8c2o@google.com\nSEQUENCE:1\nDTSTAMP:20240302T090000Z\nDTSTART;TZID=America/Los_Angeles:20240315T100000\nDTEND;TZID=America/Los_Angeles:20240315T110000\nSTATUS:CANCELLED\nSUMMARY:Quarterly planning\nEND:VEVENT\nEND:VCALENDAR\n";
        let events = parse_calendar(cancel);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].method, CalendarMethod::Cancel);
        assert_eq!(events[0].status, EventStatus::Cancelled);
        assert_eq!(events[0].sequence, 1);
        // Outlook's cancellations may omit the times altogether.
        let bare = "BEGIN:VCALENDAR\nMETHOD:CANCEL\nBEGIN:VEVENT\nUID:abc\nSEQUENCE:2\nDTSTAMP:20240302T090000Z\nEND:VEVENT\nEND:VCALENDAR\n";
        let events = parse_calendar(bare);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].status, EventStatus::Cancelled);
        assert_eq!(events[0].time, None);
        // …but a request without a start describes nothing.
        assert!(parse_calendar(&bare.replace("METHOD:CANCEL", "METHOD:REQUEST")).is_empty());
    }

    #[test]
    fn times_in_utc_offsets_floating_durations_and_unknown_zones() {
        let event = |props: &str| {
            let text = format!(
                "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Customized Time Zone\nBEGIN:STANDARD\nDTSTART:16010101T000000\nTZOFFSETFROM:+0530\nTZOFFSETTO:+0530\nEND:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:t\nDTSTAMP:20240101T000000Z\n{props}END:VEVENT\nEND:VCALENDAR\n"
            );
            parse_calendar(&text)
                .into_iter()
                .next()
                .and_then(|e| e.time)
        };
        let timed = |start, end, zone: Option<&str>| EventTime::Timed {
            start,
            end,
            start_timezone: zone.map(str::to_owned),
            end_timezone: zone.map(str::to_owned),
        };
        assert_eq!(
            event("DTSTART:20240601T120000Z\nDURATION:PT1H30M\n"),
            Some(timed(1_717_243_200, 1_717_248_600, Some("UTC")))
        );
        // Floating: read as UTC, with no zone named.
        assert_eq!(
            event("DTSTART:20240601T120000\nDTEND:20240601T130000\n"),
            Some(timed(1_717_243_200, 1_717_246_800, None))
        );
        // No end: an instant.
        assert_eq!(
            event("DTSTART:20240601T120000Z\n"),
            Some(timed(1_717_243_200, 1_717_243_200, Some("UTC")))
        );
        // A zone only the object's own VTIMEZONE defines.
        assert_eq!(
            event(
                "DTSTART;TZID=Customized Time Zone:20240201T100000\nDTEND;TZID=Customized Time Zone:20240201T100000\n"
            ),
            Some(timed(1_706_761_800, 1_706_761_800, None))
        );
        // 02:30 on 10 March 2024 does not exist in New York: read as 03:30 EDT.
        let Some(EventTime::Timed { start, .. }) = event(
            "DTSTART;TZID=America/New_York:20240310T023000\nDTEND;TZID=America/New_York:20240310T040000\n",
        ) else {
            panic!()
        };
        assert_eq!(start, 1_710_055_800);
        // Summer in Berlin is UTC+2.
        let Some(EventTime::Timed { start, .. }) =
            event("DTSTART;TZID=Europe/Berlin:20240710T090000\n")
        else {
            panic!()
        };
        assert_eq!(start, 1_720_594_800);
        // An end before the start is clamped to the start.
        assert_eq!(
            event("DTSTART:20240601T120000Z\nDTEND:20240601T110000Z\n"),
            Some(timed(1_717_243_200, 1_717_243_200, Some("UTC")))
        );
    }

    #[test]
    fn an_override_of_one_occurrence_carries_its_recurrence_id() {
        let text = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:series\nDTSTAMP:20240101T000000Z\nDTSTART:20240108T090000Z\nDTEND:20240108T100000Z\nRRULE:FREQ=WEEKLY\nSUMMARY:Standup\nEND:VEVENT\nBEGIN:VEVENT\nUID:series\nRECURRENCE-ID:20240115T090000Z\nDTSTAMP:20240101T000000Z\nDTSTART:20240115T110000Z\nDTEND:20240115T120000Z\nSUMMARY:Standup (moved)\nEND:VEVENT\nEND:VCALENDAR\n";
        let events = parse_calendar(text);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].recurrence, vec!["RRULE:FREQ=WEEKLY".to_owned()]);
        assert_eq!(events[0].recurrence_id, None);
        assert_eq!(events[1].recurrence_id, Some(1_705_309_200));
        assert_eq!(events[1].title.as_deref(), Some("Standup (moved)"));
    }

    #[test]
    fn replies_and_other_methods_are_labelled() {
        let reply = "BEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\nUID:x\nDTSTAMP:20240101T000000Z\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.test\nEND:VEVENT\nEND:VCALENDAR\n";
        let events = parse_calendar(reply);
        assert_eq!(events[0].method, CalendarMethod::Reply);
        assert_eq!(events[0].participants[0].status, AttendeeStatus::Yes);
        let counter = reply.replace("METHOD:REPLY", "METHOD:COUNTER");
        assert_eq!(parse_calendar(&counter)[0].method, CalendarMethod::Ignored);
    }

    #[test]
    fn malformed_calendars_give_no_events_and_no_panic() {
        for text in [
            "",
            "not a calendar at all",
            "BEGIN:VCALENDAR\n",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:u\nDTSTART:2024",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20240101T100000Z\nEND:VEVENT\nEND:VCALENDAR\n",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:u\nDTSTART:99999999T999999Z\nEND:VEVENT\nEND:VCALENDAR\n",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:u\nDTSTART;TZID=Nowhere/Special:20240101T100000\nEND:VEVENT\nEND:VCALENDAR\n",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:u\nDTSTART:20240101T100000Z\nDURATION:garbage\nEND:VEVENT\nEND:VEVENT\nEND:VCALENDAR\n",
            "END:VCALENDAR\nBEGIN:VEVENT\n\u{0}\u{1}\u{ff}",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:u\nDTSTART;VALUE=DATE:20240230\nEND:VEVENT\nEND:VCALENDAR\n",
        ] {
            for event in parse_calendar(text) {
                // What is read must at least be usable.
                assert!(!event.uid.is_empty());
                let (start, end) = bounds(&event);
                assert!(start <= end, "{text:?}");
            }
        }
        assert!(parse_calendar("garbage\nBEGIN:VCARD\nFN:x\nEND:VCARD\n").is_empty());
        assert!(calendar_events(&[vec![0xff, 0xfe, 0x00], b"BEGIN:VCALENDAR".to_vec()]).is_empty());
        // An unknown zone without a definition is read as UTC rather than dropped.
        let unknown = parse_calendar(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:u\nDTSTART;TZID=Nowhere/Special:20240101T100000\nEND:VEVENT\nEND:VCALENDAR\n",
        );
        assert_eq!(unknown.len(), 1);
        assert_eq!(bounds(&unknown[0]).0, 1_704_103_200);
    }

    #[test]
    fn messages_are_capped_in_size_and_count() {
        let many: String = (0..150)
            .map(|i| {
                format!(
                    "BEGIN:VEVENT\nUID:e{i}\nDTSTAMP:20240101T000000Z\nDTSTART:20240101T100000Z\nEND:VEVENT\n"
                )
            })
            .collect();
        let text = format!("BEGIN:VCALENDAR\n{many}END:VCALENDAR\n");
        assert_eq!(
            calendar_events(&[text.clone().into_bytes()]).len(),
            MAX_EVENTS
        );
        let huge = format!("{text}{}", " ".repeat(MAX_PART_BYTES));
        assert!(calendar_events(&[huge.into_bytes()]).is_empty());
    }
}
