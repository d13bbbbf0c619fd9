//! Contacts and events derived from a real mailbox (testbed user21): contacts from the
//! participants of its mail with their best names, events from the invitations in it
//! (an inline `text/calendar` part, `.ics` attachments, an update, a cancellation) on one
//! read-only calendar, and the scopes that show them.

use crate::support::{
    Api, Mailroom, connect_grant, connect_grant_with_scope, data_len, eventually,
    imap_peer::{ImapPeer, reset_user},
    testbed_env,
};
use base64::Engine;
use serde_json::{Value, json};

const USER: u32 = 21;
const OWN: &str = "user21@example.test";

/// A server that polls every second, so tests see new mail quickly.
fn fast_server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

fn plain(message_id: &str, date: &str, headers: &str, subject: &str) -> String {
    format!(
        "Message-ID: <{message_id}>\nDate: {date}\n{headers}Subject: {subject}\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\nHello.\n"
    )
}

/// The VCALENDAR of the planning meeting, as Google Calendar writes it.
fn planning(sequence: u32, dtstamp: &str, day: &str, title: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\nVERSION:2.0\n\
         CALSCALE:GREGORIAN\nMETHOD:REQUEST\nBEGIN:VTIMEZONE\nTZID:America/Los_Angeles\n\
         X-LIC-LOCATION:America/Los_Angeles\nBEGIN:DAYLIGHT\nTZOFFSETFROM:-0800\nTZOFFSETTO:-0700\n\
         TZNAME:PDT\nDTSTART:19700308T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\nEND:DAYLIGHT\n\
         BEGIN:STANDARD\nTZOFFSETFROM:-0700\nTZOFFSETTO:-0800\nTZNAME:PST\nDTSTART:19701101T020000\n\
         RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\nEND:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\n\
         DTSTART;TZID=America/Los_Angeles:{day}T100000\nDTEND;TZID=America/Los_Angeles:{day}T110000\n\
         DTSTAMP:{dtstamp}\nORGANIZER;CN=Ada Lovelace:mailto:ada@example.org\n\
         UID:planning-1@google.com\n\
         ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE\n \
         ;CN=Ada Lovelace;X-NUM-GUESTS=0:mailto:ada@example.org\n\
         ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=\n \
         TRUE;CN={OWN};X-NUM-GUESTS=0:mailto:{OWN}\n\
         ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE;CN=Grace Hopper:\n \
         mailto:grace@example.org\n\
         ATTENDEE;PARTSTAT=DECLINED;CN=Alan Turing:mailto:alan@example.org\n\
         CREATED:20240301T115900Z\nDESCRIPTION:Agenda: budget\\, roadmap\nLAST-MODIFIED:{dtstamp}\n\
         LOCATION:Room 4\nSEQUENCE:{sequence}\nSTATUS:CONFIRMED\nSUMMARY:{title}\nTRANSP:OPAQUE\n\
         END:VEVENT\nEND:VCALENDAR\n"
    )
}

fn base64_lines(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.replace('\n', "\r\n"));
    encoded
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Google's shape: the invitation inline in multipart/alternative and again as
/// invite.ics.
fn google_invitation(message_id: &str, date: &str, calendar: &str, subject: &str) -> String {
    format!(
        "Message-ID: <{message_id}>\nDate: {date}\nFrom: Ada Lovelace <ada@example.org>\n\
         To: {OWN}\nSubject: {subject}\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"mixed\"\n\n--mixed\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\n\n--alt\n\
         Content-Type: text/plain; charset=\"UTF-8\"\n\nYou have been invited.\n--alt\n\
         Content-Type: text/html; charset=\"UTF-8\"\n\n<p>You have been invited.</p>\n--alt\n\
         Content-Type: text/calendar; charset=\"UTF-8\"; method=REQUEST\n\
         Content-Transfer-Encoding: 7bit\n\n{calendar}\n--alt--\n--mixed\n\
         Content-Type: application/ics; name=\"invite.ics\"\n\
         Content-Disposition: attachment; filename=\"invite.ics\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n--mixed--\n",
        base64_lines(calendar)
    )
}

/// Outlook's shape for a recurring meeting: the calendar only as an attachment.
fn outlook_invitation() -> String {
    let calendar = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nPRODID:Microsoft Exchange Server 2010\nVERSION:2.0\n\
        BEGIN:VTIMEZONE\nTZID:W. Europe Standard Time\nBEGIN:STANDARD\nDTSTART:16010101T030000\n\
        TZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\n\
        END:STANDARD\nBEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n\
        RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\nEND:VTIMEZONE\nBEGIN:VEVENT\n\
        ORGANIZER;CN=\"Smith, John\":mailto:john.smith@contoso.example\n\
        ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=User 21:mailto:user21@example.test\n\
        UID:040000008200E00074C5B7101A82E00800000000WEEKLY\nSUMMARY;LANGUAGE=en-US:Weekly sync\n\
        DTSTART;TZID=W. Europe Standard Time:20240110T090000\n\
        DTEND;TZID=W. Europe Standard Time:20240110T103000\n\
        RRULE:FREQ=WEEKLY;UNTIL=20241231T080000Z;INTERVAL=1;BYDAY=WE;WKST=MO\n\
        EXDATE;TZID=W. Europe Standard Time:20240117T090000\nCLASS:PUBLIC\nPRIORITY:5\n\
        DTSTAMP:20240105T101500Z\nTRANSP:OPAQUE\nSTATUS:CONFIRMED\nSEQUENCE:0\n\
        LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting\nEND:VEVENT\nEND:VCALENDAR\n";
    format!(
        "Message-ID: <weekly@contoso.example>\nDate: Fri, 05 Jan 2024 10:15:00 +0000\n\
         From: \"Smith, John\" <john.smith@contoso.example>\nTo: User 21 <{OWN}>\n\
         Subject: Weekly sync\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"m\"\n\n\
         --m\nContent-Type: text/plain; charset=utf-8\n\nSee the attached meeting.\n--m\n\
         Content-Type: text/calendar; charset=\"utf-8\"; method=REQUEST; name=\"meeting.ics\"\n\
         Content-Disposition: attachment; filename=\"meeting.ics\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n--m--\n",
        base64_lines(calendar)
    )
}

/// A lunch talk, requested (with an all-day holiday beside it) or cancelled.
fn lunch(cancelled: bool) -> String {
    let (method, sequence, status, holiday) = if cancelled {
        ("CANCEL", 1, "CANCELLED", "")
    } else {
        (
            "REQUEST",
            0,
            "CONFIRMED",
            "BEGIN:VEVENT\nUID:holiday-2024-05-01@example.org\nDTSTAMP:20240401T090000Z\n\
             DTSTART;VALUE=DATE:20240501\nDTEND;VALUE=DATE:20240502\nSUMMARY:Company holiday\n\
             TRANSP:TRANSPARENT\nEND:VEVENT\n",
        )
    };
    format!(
        "BEGIN:VCALENDAR\nMETHOD:{method}\nBEGIN:VEVENT\nUID:lunch-1@example.org\nSEQUENCE:{sequence}\n\
         DTSTAMP:2024040{}T090000Z\nDTSTART:20240410T120000Z\nDTEND:20240410T130000Z\n\
         SUMMARY:Lunch & learn\nSTATUS:{status}\nORGANIZER:mailto:hr@example.org\nEND:VEVENT\n\
         {holiday}END:VCALENDAR\n",
        sequence + 1
    )
}

fn inline_calendar(
    message_id: &str,
    date: &str,
    subject: &str,
    method: &str,
    calendar: &str,
) -> String {
    format!(
        "Message-ID: <{message_id}>\nDate: {date}\nFrom: HR Team <hr@example.org>\nTo: {OWN}\n\
         Subject: {subject}\nMIME-Version: 1.0\n\
         Content-Type: text/calendar; charset=utf-8; method={method}\n\n{calendar}"
    )
}

/// Every key the v3 object documents, present even when empty.
fn assert_keys(object: &Value, keys: &[&str]) {
    for key in keys {
        assert!(object.get(key).is_some(), "'{key}' missing from {object}");
    }
}

const CONTACT_KEYS: &[&str] = &[
    "id",
    "grant_id",
    "object",
    "source",
    "display_name",
    "given_name",
    "middle_name",
    "surname",
    "suffix",
    "nickname",
    "birthday",
    "company_name",
    "job_title",
    "manager_name",
    "office_location",
    "notes",
    "picture_url",
    "picture",
    "emails",
    "im_addresses",
    "phone_numbers",
    "physical_addresses",
    "web_pages",
    "groups",
    "metadata",
];

const EVENT_KEYS: &[&str] = &[
    "id",
    "grant_id",
    "calendar_id",
    "object",
    "title",
    "description",
    "location",
    "when",
    "busy",
    "participants",
    "status",
    "visibility",
    "conferencing",
    "reminders",
    "recurrence",
    "ical_uid",
    "html_link",
    "read_only",
    "hide_participants",
    "creator",
    "organizer",
    "capacity",
    "master_event_id",
    "original_start_time",
    "metadata",
    "resources",
    "created_at",
    "updated_at",
];

fn by<'a>(body: &'a Value, key: &str, value: &str) -> &'a Value {
    body["data"]
        .as_array()
        .and_then(|list| list.iter().find(|item| item[key] == value))
        .unwrap_or_else(|| panic!("nothing with {key} = {value} in {body}"))
}

fn field_list(body: &Value, key: &str) -> Vec<String> {
    let mut values: Vec<String> = body["data"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|item| item[key].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    values.sort();
    values
}

async fn emails_of(api: &Api, path: &str) -> Vec<String> {
    let reply = api.get(path).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut emails: Vec<String> = reply.body["data"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| c["emails"][0]["email"].as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    emails.sort();
    emails
}

#[tokio::test]
async fn contacts_and_events_come_from_the_mailbox() {
    reset_user(USER, false);
    let mut peer = ImapPeer::login(USER).await;
    peer.append(
        "INBOX",
        "(\\Seen)",
        &plain(
            "hello-1@example.org",
            "Mon, 04 Mar 2024 09:00:00 +0000",
            &format!(
                "From: Bob Stone <bob@example.org>\nTo: Me <{OWN}>\nCc: Carol Client <carol@example.org>\n"
            ),
            "Hello",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &plain(
            "hello-2@example.org",
            "Tue, 05 Mar 2024 09:00:00 +0000",
            &format!("From: Dana Doe <dana@example.org>\nTo: {OWN}\nCc: bobby <BOB@example.org>\n"),
            "Hello again",
        ),
    )
    .await;
    peer.append(
        "Sent",
        "(\\Seen)",
        &plain(
            "sent-1@example.test",
            "Wed, 06 Mar 2024 09:00:00 +0000",
            &format!(
                "From: User 21 <{OWN}>\nTo: Eve Example <eve@example.org>\nBcc: frank@example.org\n"
            ),
            "Note",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &google_invitation(
            "invite-1@google.com",
            "Fri, 01 Mar 2024 12:00:00 +0000",
            &planning(0, "20240301T120000Z", "20240315", "Quarterly planning"),
            "Invitation: Quarterly planning",
        ),
    )
    .await;
    peer.append("INBOX", "()", &outlook_invitation()).await;
    peer.append(
        "INBOX",
        "()",
        &inline_calendar(
            "lunch-1@example.org",
            "Mon, 01 Apr 2024 09:00:00 +0000",
            "Lunch & learn",
            "REQUEST",
            &lunch(false),
        ),
    )
    .await;

    let server = fast_server();
    let (api, grant) = connect_grant(&server, USER).await;

    // Contacts: everyone but the grant itself, one per address, each with its best name.
    let contacts = format!("/v3/grants/{grant}/contacts");
    let all = eventually(&api, &contacts, "contacts from every message", |b| {
        data_len(b) == 8
    })
    .await;
    assert_eq!(
        field_list(&all, "display_name"),
        [
            "Ada Lovelace",
            "Bob Stone",
            "Carol Client",
            "Dana Doe",
            "Eve Example",
            "HR Team",
            "Smith, John"
        ]
    );
    let bob = all["data"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["display_name"] == "Bob Stone"))
        .unwrap()
        .clone();
    assert_keys(&bob, CONTACT_KEYS);
    assert_eq!(bob["object"], "contact");
    assert_eq!(bob["source"], "inbox");
    assert_eq!(bob["given_name"], "Bob");
    assert_eq!(bob["surname"], "Stone");
    assert_eq!(
        bob["emails"],
        json!([{"email": "bob@example.org", "type": null}])
    );
    assert_eq!(bob["phone_numbers"], json!([]));
    assert_eq!(bob["metadata"], json!({}));
    let john = by(&all, "display_name", "Smith, John");
    assert_eq!(
        (john["given_name"].as_str(), john["surname"].as_str()),
        (Some("John"), Some("Smith"))
    );
    let frank = all["data"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|c| c["emails"][0]["email"] == "frank@example.org")
        })
        .unwrap();
    assert_eq!(frank["display_name"], Value::Null);
    assert_eq!(frank["given_name"], Value::Null);
    let emails = emails_of(&api, &contacts).await;
    assert!(!emails.contains(&OWN.to_owned()), "{emails:?}");
    assert!(all.get("next_cursor").is_none_or(Value::is_null));

    // Filters, paging, select, one contact, groups.
    assert_eq!(
        emails_of(&api, &format!("{contacts}?email=BOB%40Example.ORG")).await,
        ["bob@example.org"]
    );
    assert_eq!(
        data_len(
            &api.get(&format!("{contacts}?source=address_book"))
                .await
                .body
        ),
        0
    );
    assert_eq!(
        data_len(&api.get(&format!("{contacts}?source=domain")).await.body),
        0
    );
    assert_eq!(
        data_len(&api.get(&format!("{contacts}?source=inbox")).await.body),
        8
    );
    assert_eq!(
        api.get(&format!("{contacts}?source=phone")).await.status,
        400
    );
    let mut paged = Vec::new();
    let mut path = format!("{contacts}?limit=3");
    loop {
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(data_len(&page.body) <= 3);
        paged.extend(field_list(&page.body, "id"));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                assert!(data_len(&page.body) == 3);
                assert!(
                    cursor
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                );
                path = format!("{contacts}?limit=3&page_token={cursor}");
            }
            None => break,
        }
    }
    paged.sort();
    assert_eq!(paged, field_list(&all, "id"));
    let id = bob["id"].as_str().unwrap();
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let one = api.get(&format!("{contacts}/{id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["data"], bob);
    let selected = api
        .get(&format!("{contacts}/{id}?select=display_name"))
        .await;
    let keys: Vec<&String> = selected.body["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(api.get(&format!("{contacts}/nope")).await.status, 404);
    let groups = api.get(&format!("{contacts}/groups")).await;
    assert_eq!(
        (groups.status, groups.body["data"].clone()),
        (200, json!([]))
    );

    // Calendars: one, read-only, named after the mailbox.
    let calendars = api.get(&format!("/v3/grants/{grant}/calendars")).await;
    assert_eq!(calendars.status, 200, "{}", calendars.text);
    assert_eq!(data_len(&calendars.body), 1);
    let calendar = calendars.body["data"][0].clone();
    assert_keys(
        &calendar,
        &[
            "id",
            "grant_id",
            "name",
            "read_only",
            "is_owned_by_user",
            "is_primary",
            "object",
            "timezone",
            "description",
            "hex_color",
            "metadata",
        ],
    );
    assert_eq!(calendar["read_only"], true);
    assert_eq!(calendar["is_primary"], true);
    assert_eq!(calendar["is_owned_by_user"], true);
    assert_eq!(calendar["name"], OWN);
    let calendar_id = calendar["id"].as_str().unwrap().to_owned();
    for id in ["primary", calendar_id.as_str()] {
        let one = api.get(&format!("/v3/grants/{grant}/calendars/{id}")).await;
        assert_eq!((one.status, &one.body["data"]), (200, &calendar));
    }
    assert_eq!(
        api.get(&format!("/v3/grants/{grant}/calendars/other"))
            .await
            .status,
        404
    );

    // Events, once the bodies have been read.
    let events_path = format!("/v3/grants/{grant}/events");
    let no_calendar = api.get(&events_path).await;
    assert_eq!(
        (no_calendar.status, no_calendar.error_type()),
        (400, "api.invalid_request_error")
    );
    assert_eq!(
        api.get(&format!("{events_path}?calendar_id=other"))
            .await
            .status,
        404
    );
    let events = format!("{events_path}?calendar_id={calendar_id}");
    let listed = eventually(&api, &events, "four events", |b| data_len(b) == 4).await;
    assert_eq!(
        field_list(&listed, "title"),
        [
            "Company holiday",
            "Lunch & learn",
            "Quarterly planning",
            "Weekly sync"
        ]
    );
    let plan = by(&listed, "title", "Quarterly planning").clone();
    assert_keys(&plan, EVENT_KEYS);
    assert_eq!(plan["object"], "event");
    assert_eq!(plan["calendar_id"], calendar_id.as_str());
    assert_eq!(plan["ical_uid"], "planning-1@google.com");
    assert_eq!(plan["status"], "confirmed");
    assert_eq!(
        (plan["busy"].clone(), plan["read_only"].clone()),
        (json!(true), json!(true))
    );
    // 10:00-11:00 in Los Angeles on 15 March 2024 (daylight time, UTC-7).
    assert_eq!(
        plan["when"],
        json!({"object": "timespan", "start_time": 1_710_522_000, "end_time": 1_710_525_600,
               "start_timezone": "America/Los_Angeles", "end_timezone": "America/Los_Angeles"})
    );
    assert_eq!(plan["description"], "Agenda: budget, roadmap");
    assert_eq!(plan["location"], "Room 4");
    assert_eq!(
        plan["organizer"],
        json!({"name": "Ada Lovelace", "email": "ada@example.org"})
    );
    let answers: Vec<(String, String)> = plan["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["email"].as_str().unwrap().to_owned(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            ("ada@example.org".to_owned(), "yes".to_owned()),
            (OWN.to_owned(), "noreply".to_owned()),
            ("grace@example.org".to_owned(), "maybe".to_owned()),
            ("alan@example.org".to_owned(), "no".to_owned()),
        ]
    );
    assert_eq!(plan["participants"][2]["name"], "Grace Hopper");
    let weekly = by(&listed, "title", "Weekly sync");
    assert_eq!(weekly["when"]["start_time"], 1_704_873_600);
    assert_eq!(weekly["when"]["start_timezone"], "Europe/Berlin");
    assert_eq!(weekly["visibility"], "public");
    let recurrence: Vec<&str> = weekly["recurrence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(recurrence.len(), 2, "{recurrence:?}");
    assert!(
        recurrence[0].starts_with("RRULE:FREQ=WEEKLY"),
        "{recurrence:?}"
    );
    assert!(recurrence[1].starts_with("EXDATE;TZID="), "{recurrence:?}");
    let holiday = by(&listed, "title", "Company holiday");
    assert_eq!(
        holiday["when"],
        json!({"object": "date", "date": "2024-05-01"})
    );
    assert_eq!(holiday["busy"], false);

    // Filters: a time window (overlap), a title substring in any case, the UID.
    let window = format!("{events}&start=1710500000&end=1710600000");
    assert_eq!(
        field_list(&api.get(&window).await.body, "title"),
        ["Quarterly planning"]
    );
    let april = format!("{events}&start=1712700000&end=1714600000");
    assert_eq!(
        field_list(&api.get(&april).await.body, "title"),
        ["Company holiday", "Lunch & learn"]
    );
    assert_eq!(
        field_list(
            &api.get(&format!("{events}&title=WEEKLY")).await.body,
            "title"
        ),
        ["Weekly sync"]
    );
    assert_eq!(
        field_list(
            &api.get(&format!("{events}&ical_uid=lunch-1%40example.org"))
                .await
                .body,
            "title"
        ),
        ["Lunch & learn"]
    );
    let page = api.get(&format!("{events}&limit=3")).await;
    assert_eq!(data_len(&page.body), 3);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = api
        .get(&format!("{events}&limit=3&page_token={cursor}"))
        .await;
    assert_eq!(data_len(&rest.body), 1);
    assert!(rest.body.get("next_cursor").is_none_or(Value::is_null));

    // One event, by id; `primary` names the calendar too.
    let plan_id = plan["id"].as_str().unwrap();
    let one = api
        .get(&format!("{events_path}/{plan_id}?calendar_id=primary"))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["data"], plan);
    assert_eq!(
        api.get(&format!("{events_path}/{plan_id}")).await.status,
        400
    );
    assert_eq!(
        api.get(&format!("{events_path}/nope?calendar_id=primary"))
            .await
            .status,
        404
    );

    // The meeting moves (a higher SEQUENCE) and the lunch is cancelled.
    let mut peer = ImapPeer::login(USER).await;
    peer.append(
        "INBOX",
        "()",
        &google_invitation(
            "invite-2@google.com",
            "Sat, 02 Mar 2024 12:00:00 +0000",
            &planning(
                1,
                "20240302T120000Z",
                "20240316",
                "Quarterly planning (moved)",
            ),
            "Updated invitation: Quarterly planning",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &inline_calendar(
            "lunch-2@example.org",
            "Tue, 02 Apr 2024 09:00:00 +0000",
            "Cancelled: Lunch & learn",
            "CANCEL",
            &lunch(true),
        ),
    )
    .await;
    // A re-sent copy of the first version changes nothing.
    peer.append(
        "Archive",
        "()",
        &google_invitation(
            "invite-1-copy@google.com",
            "Sun, 03 Mar 2024 12:00:00 +0000",
            &planning(0, "20240301T120000Z", "20240315", "Quarterly planning"),
            "Invitation: Quarterly planning",
        ),
    )
    .await;
    peer.logout().await;
    let moved = eventually(&api, &events, "the update and the cancellation", |b| {
        data_len(b) == 3
            && field_list(b, "title")
                == [
                    "Company holiday",
                    "Quarterly planning (moved)",
                    "Weekly sync",
                ]
    })
    .await;
    let plan = by(&moved, "title", "Quarterly planning (moved)");
    assert_eq!(plan["id"], plan_id);
    assert_eq!(plan["when"]["start_time"], 1_710_608_400);
    let with_cancelled = api.get(&format!("{events}&show_cancelled=true")).await;
    assert_eq!(data_len(&with_cancelled.body), 4);
    let lunch = by(&with_cancelled.body, "title", "Lunch & learn");
    assert_eq!(lunch["status"], "cancelled");
    // Wait for the re-sent copy to be read, then check it changed nothing.
    // ("Updated invitation: …" matches the subject filter too.)
    eventually(
        &api,
        &format!("/v3/grants/{grant}/messages?subject=Invitation%3A%20Quarterly"),
        "the copy",
        |b| {
            b["data"]
                .as_array()
                .is_some_and(|l| l.len() == 3 && l.iter().all(|m| m["snippet"] != ""))
        },
    )
    .await;
    let still = api
        .get(&format!("{events_path}/{plan_id}?calendar_id=primary"))
        .await;
    assert_eq!(still.body["data"]["title"], "Quarterly planning (moved)");

    // New mail with a better name for someone: From beats To/Cc, the newest among equals.
    let mut peer = ImapPeer::login(USER).await;
    peer.append(
        "INBOX",
        "()",
        &plain(
            "hello-3@example.org",
            "Thu, 07 Mar 2024 09:00:00 +0000",
            &format!("From: Carol C. King <carol@example.org>\nTo: {OWN}\n"),
            "From Carol",
        ),
    )
    .await;
    peer.logout().await;
    let renamed = eventually(
        &api,
        &format!("{contacts}?email=carol%40example.org"),
        "Carol's own name",
        |b| b["data"][0]["display_name"] == "Carol C. King",
    )
    .await;
    let carol = &renamed["data"][0];
    assert_eq!(
        (
            carol["given_name"].as_str(),
            carol["middle_name"].as_str(),
            carol["surname"].as_str()
        ),
        (Some("Carol"), Some("C."), Some("King"))
    );

    // Scopes: contacts and events exist only with a scope that reads the mail as well.
    let (contacts_only, g2) =
        connect_grant_with_scope(&server, USER, Some(json!(["contacts.read_only"]))).await;
    let reply = contacts_only
        .get(&format!("/v3/grants/{g2}/contacts"))
        .await;
    assert_eq!(
        (reply.status, data_len(&reply.body)),
        (200, 0),
        "{}",
        reply.text
    );
    assert_eq!(
        contacts_only
            .get(&format!("/v3/grants/{g2}/contacts/{id}"))
            .await
            .status,
        404
    );
    let reply = contacts_only
        .get(&format!("/v3/grants/{g2}/calendars"))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(
        contacts_only
            .get(&format!("/v3/grants/{g2}/messages"))
            .await
            .status,
        403
    );

    let (metadata, g3) = connect_grant_with_scope(
        &server,
        USER,
        Some(json!(["email.metadata", "contacts", "calendar.read_only"])),
    )
    .await;
    eventually(
        &metadata,
        &format!("/v3/grants/{g3}/contacts"),
        "contacts from metadata",
        |b| data_len(b) == 8,
    )
    .await;
    // Events come from bodies, which metadata does not reach: no calendar.
    let reply = metadata.get(&format!("/v3/grants/{g3}/calendars")).await;
    assert_eq!((reply.status, data_len(&reply.body)), (200, 0));
    let reply = metadata
        .get(&format!("/v3/grants/{g3}/events?calendar_id=primary"))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);

    let (reader, g4) =
        connect_grant_with_scope(&server, USER, Some(json!(["email.read_only", "calendar"]))).await;
    eventually(
        &reader,
        &format!("/v3/grants/{g4}/events?calendar_id=primary"),
        "events",
        |b| data_len(b) == 3,
    )
    .await;
    let reply = reader.get(&format!("/v3/grants/{g4}/contacts")).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.error_type(), "api.forbidden_error");
}

#[tokio::test]
async fn a_grant_with_every_scope_sees_its_own_calendar_only() {
    // Another application's grant on the same mailbox: its calendar id names nothing here.
    let server = fast_server();
    let (api, grant) = connect_grant(&server, USER).await;
    let calendars = api.get(&format!("/v3/grants/{grant}/calendars")).await;
    assert_eq!(data_len(&calendars.body), 1);
    let (other_api, other) = connect_grant(&server, USER).await;
    let theirs = other_api
        .get(&format!("/v3/grants/{other}/calendars"))
        .await;
    let their_id = theirs.body["data"][0]["id"].as_str().unwrap();
    assert_ne!(calendars.body["data"][0]["id"].as_str(), Some(their_id));
    let reply = api
        .get(&format!("/v3/grants/{grant}/events?calendar_id={their_id}"))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
}
