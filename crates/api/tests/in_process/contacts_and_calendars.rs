//! Contacts and calendars derived from mail (docs/API.md §5.7, §5.8, §10): the people the
//! grant's mail is with are its contacts (`source: "inbox"`, read-only); the invitations
//! it received are the events of its one calendar, `primary`.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{
    App, NOTHING, assert_v3_error_type,
    mailbox::{INVITATION_START, INVITATION_UID},
};

async fn list(app: &App, path: &str) -> Vec<Value> {
    let reply = app.call(Method::GET, &app.grant_path(path), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.data()
}

fn contact_emails(contacts: &[Value]) -> Vec<String> {
    contacts
        .iter()
        .filter_map(|c| c["emails"][0]["email"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_people_in_the_mail_are_the_contacts_and_the_grant_is_not() {
    let app = App::with_mailbox().await;
    let contacts = list(&app, "/contacts?limit=200").await;
    let emails = contact_emails(&contacts);
    for person in [
        "alice@example.test",
        "bob@example.test",
        "heidi@example.test",
    ] {
        assert!(emails.contains(&person.to_owned()), "{person}: {emails:?}");
    }
    assert!(
        !emails.contains(&"ann@example.test".to_owned()),
        "{emails:?}"
    );
    for contact in &contacts {
        assert_eq!(contact["object"], "contact");
        assert_eq!(contact["source"], "inbox");
        assert_eq!(contact["grant_id"], app.grant_id.as_str());
    }
    let alice = contacts
        .iter()
        .find(|c| c["emails"][0]["email"] == "alice@example.test")
        .expect("alice");
    assert_eq!(alice["given_name"], "Alice");
    assert_eq!(alice["surname"], "Archer");
}

#[tokio::test]
async fn a_contact_is_read_by_id_and_filtered_by_email() {
    let app = App::with_mailbox().await;
    let found = list(&app, "/contacts?email=bob@example.test").await;
    assert_eq!(contact_emails(&found), ["bob@example.test"]);
    let id = found[0]["id"].as_str().expect("an id");
    let one = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/contacts/{id}")),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["data"], found[0]);
    let unknown = app
        .call(Method::GET, &app.grant_path("/contacts/nope"), None)
        .await;
    assert_v3_error_type(
        &unknown,
        StatusCode::NOT_FOUND,
        "api.not_found_error",
        "nope",
    );
}

#[tokio::test]
async fn contacts_of_other_sources_are_none_and_an_unknown_source_is_refused() {
    let app = App::with_mailbox().await;
    assert!(!list(&app, "/contacts?source=inbox").await.is_empty());
    for source in ["address_book", "domain"] {
        assert_eq!(
            list(&app, &format!("/contacts?source={source}")).await,
            NOTHING
        );
    }
    let groups = list(&app, "/contacts/groups").await;
    assert_eq!(groups, NOTHING);
    let bad = app
        .call(Method::GET, &app.grant_path("/contacts?source=phone"), None)
        .await;
    assert_v3_error_type(
        &bad,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "phone",
    );
}

#[tokio::test]
async fn the_grant_has_one_read_only_calendar_of_its_invitations() {
    let app = App::with_mailbox().await;
    let calendars = list(&app, "/calendars").await;
    assert_eq!(calendars.len(), 1);
    let calendar = &calendars[0];
    assert_eq!(calendar["object"], "calendar");
    assert_eq!(calendar["is_primary"], true);
    assert_eq!(calendar["read_only"], true);
    let id = calendar["id"].as_str().expect("an id");
    for name in [id, "primary"] {
        let one = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/calendars/{name}")),
                None,
            )
            .await;
        assert_eq!(one.status, StatusCode::OK, "{name}");
        assert_eq!(&one.body["data"], calendar);
    }
    let other = app
        .call(Method::GET, &app.grant_path("/calendars/work"), None)
        .await;
    assert_v3_error_type(&other, StatusCode::NOT_FOUND, "api.not_found_error", "work");
}

#[tokio::test]
async fn an_invitation_is_an_event_of_the_calendar() {
    let app = App::with_mailbox().await;
    let events = list(&app, "/events?calendar_id=primary").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["object"], "event");
    assert_eq!(event["title"], "Kickoff meeting");
    assert_eq!(event["ical_uid"], INVITATION_UID);
    assert_eq!(event["when"]["start_time"], INVITATION_START);
    assert_eq!(event["when"]["end_time"], INVITATION_START + 3600);
    assert_eq!(event["read_only"], true);
    let calendar = list(&app, "/calendars").await[0]["id"].clone();
    assert_eq!(event["calendar_id"], calendar);
    let id = event["id"].as_str().expect("an id");
    let one = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/events/{id}?calendar_id=primary")),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["data"]["id"], id);
}

#[tokio::test]
async fn events_are_filtered_by_time_and_title() {
    let app = App::with_mailbox().await;
    let start = INVITATION_START;
    for (query, count) in [
        (format!("start={}", start - 60), 1),
        (format!("start={}", start + 7200), 0),
        (format!("end={}", start + 60), 1),
        (format!("end={}", start - 60), 0),
        ("title=kickoff".to_owned(), 1),
        ("title=retro".to_owned(), 0),
        (format!("ical_uid={INVITATION_UID}"), 1),
    ] {
        let events = list(&app, &format!("/events?calendar_id=primary&{query}")).await;
        assert_eq!(events.len(), count, "{query}");
    }
}

#[tokio::test]
async fn events_need_a_calendar_that_exists() {
    let app = App::with_mailbox().await;
    let missing = app
        .call(Method::GET, &app.grant_path("/events"), None)
        .await;
    assert_v3_error_type(
        &missing,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "no calendar_id",
    );
    let unknown = app
        .call(
            Method::GET,
            &app.grant_path("/events?calendar_id=work"),
            None,
        )
        .await;
    assert_v3_error_type(
        &unknown,
        StatusCode::NOT_FOUND,
        "api.not_found_error",
        "work",
    );
    let event = app
        .call(
            Method::GET,
            &app.grant_path("/events/nope?calendar_id=primary"),
            None,
        )
        .await;
    assert_v3_error_type(&event, StatusCode::NOT_FOUND, "api.not_found_error", "nope");
}
