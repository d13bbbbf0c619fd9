//! Granular scopes (docs/API.md §11, §7): every route of the grant route table admits the
//! scopes its entry names and those that include them, and refuses every other with
//! v3's 403 `api.forbidden_error` (v2's 403 `api_error`) and the exact message of §11.
//! The v3 routes are read from the table itself, through the OpenAPI operations built
//! from it; each family of routes is its own test so that a failure names its family.
//! `email.metadata` sees no bodies or snippets; narrower scopes are included in broader
//! ones; a token narrows its grant's scopes.

use axum::http::{Method, StatusCode};
use mailroom_api::openapi::{self, Auth};
use mailroom_model::{ALL_SCOPES, Scope};
use serde_json::json;

use crate::support::{
    App, NOTHING, Reply, assert_v2_error, assert_v3_out_of_scope, v2_scope_message,
};

/// A mailbox route and the scopes its table entry names.
struct Route {
    method: Method,
    path: &'static str,
    any_of: &'static [Scope],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Messages,
    Threads,
    Folders,
    Drafts,
    Send,
    Schedules,
    Attachments,
    Contacts,
    CalendarsAndEvents,
    Templates,
}

/// The family of a v3 mailbox route.
fn family(method: &Method, path: &str) -> Family {
    let rest = path
        .strip_prefix("/v3/grants/{grant_id}/")
        .unwrap_or_else(|| panic!("not a mailbox route: {path}"));
    if rest == "messages/send" || (method == Method::POST && rest == "drafts/{draft_id}") {
        Family::Send
    } else if rest.starts_with("messages/schedules") {
        Family::Schedules
    } else if rest.starts_with("messages") {
        Family::Messages
    } else if rest.starts_with("threads") {
        Family::Threads
    } else if rest.starts_with("folders") {
        Family::Folders
    } else if rest.starts_with("drafts") {
        Family::Drafts
    } else if rest.starts_with("attachments") {
        Family::Attachments
    } else if rest.starts_with("contacts") {
        Family::Contacts
    } else if rest.starts_with("calendars") || rest.starts_with("events") {
        Family::CalendarsAndEvents
    } else if rest.starts_with("templates") {
        Family::Templates
    } else {
        panic!("a mailbox route of no family: {method} {path}")
    }
}

/// The v3 routes of the grant route table, with their scopes.
fn v3_grant_routes() -> Vec<Route> {
    openapi::operations()
        .into_iter()
        .filter_map(|operation| match operation.auth {
            Auth::Scoped(any_of) => Some(Route {
                method: operation.method,
                path: operation.path,
                any_of,
            }),
            _ => None,
        })
        .collect()
}

/// Calls a route of the grant with the API key: ids other than the grant's are made up,
/// and a body is `{}`.
async fn call(app: &App, method: &Method, path: &str, authorization: Option<&str>) -> Reply {
    let path: String = path
        .split('/')
        .map(|segment| match segment {
            "{grant_id}" => app.grant_id.as_str(),
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/");
    let body = matches!(*method, Method::POST | Method::PUT | Method::PATCH).then(|| "{}".into());
    let key = app.api_key_header();
    app.send(
        method.clone(),
        &path,
        Some(authorization.unwrap_or(&key)),
        body,
    )
    .await
}

/// For each scope alone, every route of the family answers 403 with §11's message
/// exactly when its entry does not admit the scope; with no scopes, none does.
async fn every_scope_is_checked_on(wanted: Family) {
    let app = App::new().await;
    let routes: Vec<Route> = v3_grant_routes()
        .into_iter()
        .filter(|r| family(&r.method, r.path) == wanted)
        .collect();
    assert!(!routes.is_empty(), "{wanted:?} has routes");
    let mut admitted = vec![0; routes.len()];
    for scope in ALL_SCOPES {
        app.set_scopes(&[scope]).await;
        for (at, route) in routes.iter().enumerate() {
            let reply = call(&app, &route.method, route.path, None).await;
            let what = format!("{} {} holding {scope}", route.method, route.path);
            if Scope::allows(&[scope], route.any_of) {
                admitted[at] += 1;
                assert_ne!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{what}: {}",
                    reply.body
                );
                assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
            } else {
                assert_v3_out_of_scope(
                    &reply,
                    &[scope.as_str()],
                    &openapi::admitting(route.any_of),
                    &what,
                );
            }
        }
    }
    for (route, admitted) in routes.iter().zip(admitted) {
        assert!(
            admitted > 0 && admitted < ALL_SCOPES.len(),
            "{} {}: some scopes admit it, others not ({admitted})",
            route.method,
            route.path
        );
    }
    // A grant with no scopes holds them all (docs/API.md §7).
    app.set_scopes(&[]).await;
    for route in &routes {
        let reply = call(&app, &route.method, route.path, None).await;
        assert_ne!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{} {} with every scope: {}",
            route.method,
            route.path,
            reply.body
        );
    }
}

#[tokio::test]
async fn every_v3_mailbox_route_of_the_table_belongs_to_a_family_tested_here() {
    let routes = v3_grant_routes();
    assert!(routes.len() >= 30, "{}", routes.len());
    for wanted in [
        Family::Messages,
        Family::Threads,
        Family::Folders,
        Family::Drafts,
        Family::Send,
        Family::Schedules,
        Family::Attachments,
        Family::Contacts,
        Family::CalendarsAndEvents,
        Family::Templates,
    ] {
        assert!(
            routes.iter().any(|r| family(&r.method, r.path) == wanted),
            "{wanted:?}"
        );
    }
}

#[tokio::test]
async fn message_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Messages).await;
}

#[tokio::test]
async fn thread_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Threads).await;
}

#[tokio::test]
async fn folder_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Folders).await;
}

#[tokio::test]
async fn draft_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Drafts).await;
}

#[tokio::test]
async fn send_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Send).await;
}

#[tokio::test]
async fn schedule_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Schedules).await;
}

#[tokio::test]
async fn attachment_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Attachments).await;
}

#[tokio::test]
async fn contact_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Contacts).await;
}

#[tokio::test]
async fn calendar_and_event_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::CalendarsAndEvents).await;
}

#[tokio::test]
async fn template_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on(Family::Templates).await;
}

/// v2's mailbox routes as the grant route table has them. The table is private to the
/// crate; its v2 half is written out here with what §11 says each refusal names (v2
/// leaves out `email`, which v2 SDKs do not know as a scope).
struct V2Route {
    method: Method,
    path: &'static str,
    any_of: &'static [Scope],
    refusal_names: &'static [&'static str],
}

const READ: &[Scope] = &[Scope::EmailMetadata];
const READ_NAMES: &[&str] = &["email.modify", "email.read_only", "email.metadata"];
const FOLDERS: &[Scope] = &[Scope::EmailMetadata, Scope::EmailFoldersAndLabels];
const FOLDERS_NAMES: &[&str] = &[
    "email.modify",
    "email.read_only",
    "email.folders_and_labels",
    "email.metadata",
];
const CHANGE_FOLDERS: &[Scope] = &[Scope::EmailFoldersAndLabels];
const CHANGE_FOLDERS_NAMES: &[&str] = &["email.modify", "email.folders_and_labels"];
const READ_DRAFTS: &[Scope] = &[Scope::EmailDrafts, Scope::EmailReadOnly];
const READ_DRAFTS_NAMES: &[&str] = &["email.modify", "email.read_only", "email.drafts"];
const WRITE_DRAFTS: &[Scope] = &[Scope::EmailDrafts];
const UPLOAD: &[Scope] = &[Scope::EmailDrafts, Scope::EmailSend];
const UPLOAD_NAMES: &[&str] = &["email.send", "email.drafts"];
const CONTACTS: &[Scope] = &[Scope::ContactsReadOnly];
const CONTACTS_NAMES: &[&str] = &["contacts", "contacts.read_only"];
const CALENDAR: &[Scope] = &[Scope::CalendarReadOnly];
const CALENDAR_NAMES: &[&str] = &["calendar", "calendar.read_only"];
const DELTA: &[Scope] = &[
    Scope::EmailMetadata,
    Scope::EmailFoldersAndLabels,
    Scope::ContactsReadOnly,
    Scope::CalendarReadOnly,
];
const DELTA_NAMES: &[&str] = &[
    "email.modify",
    "email.read_only",
    "email.folders_and_labels",
    "email.metadata",
    "calendar",
    "calendar.read_only",
    "contacts",
    "contacts.read_only",
];

const fn v2(
    method: Method,
    path: &'static str,
    any_of: &'static [Scope],
    refusal_names: &'static [&'static str],
) -> V2Route {
    V2Route {
        method,
        path,
        any_of,
        refusal_names,
    }
}

fn v2_mail_routes() -> Vec<V2Route> {
    vec![
        v2(Method::GET, "/messages", READ, READ_NAMES),
        v2(Method::GET, "/messages/{id}", READ, READ_NAMES),
        v2(
            Method::PUT,
            "/messages/{id}",
            &[Scope::EmailModify],
            &["email.modify"],
        ),
        v2(Method::GET, "/threads", READ, READ_NAMES),
        v2(Method::GET, "/threads/{id}", READ, READ_NAMES),
        v2(Method::GET, "/folders", FOLDERS, FOLDERS_NAMES),
        v2(Method::GET, "/folders/{id}", FOLDERS, FOLDERS_NAMES),
        v2(
            Method::POST,
            "/folders",
            CHANGE_FOLDERS,
            CHANGE_FOLDERS_NAMES,
        ),
        v2(
            Method::PUT,
            "/folders/{id}",
            CHANGE_FOLDERS,
            CHANGE_FOLDERS_NAMES,
        ),
        v2(
            Method::DELETE,
            "/folders/{id}",
            CHANGE_FOLDERS,
            CHANGE_FOLDERS_NAMES,
        ),
    ]
}

fn v2_draft_send_and_file_routes() -> Vec<V2Route> {
    vec![
        v2(Method::POST, "/send", &[Scope::EmailSend], &["email.send"]),
        v2(Method::GET, "/drafts", READ_DRAFTS, READ_DRAFTS_NAMES),
        v2(Method::GET, "/drafts/{id}", READ_DRAFTS, READ_DRAFTS_NAMES),
        v2(Method::POST, "/drafts", WRITE_DRAFTS, &["email.drafts"]),
        v2(Method::PUT, "/drafts/{id}", WRITE_DRAFTS, &["email.drafts"]),
        v2(
            Method::DELETE,
            "/drafts/{id}",
            WRITE_DRAFTS,
            &["email.drafts"],
        ),
        v2(Method::GET, "/files", READ, READ_NAMES),
        v2(Method::POST, "/files", UPLOAD, UPLOAD_NAMES),
        v2(Method::DELETE, "/files/{id}", UPLOAD, UPLOAD_NAMES),
        v2(
            Method::GET,
            "/files/{id}",
            &[Scope::EmailMetadata, Scope::EmailDrafts, Scope::EmailSend],
            &[
                "email.modify",
                "email.read_only",
                "email.send",
                "email.metadata",
                "email.drafts",
            ],
        ),
        v2(
            Method::GET,
            "/files/{id}/download",
            &[Scope::EmailReadOnly, Scope::EmailDrafts, Scope::EmailSend],
            &[
                "email.modify",
                "email.read_only",
                "email.send",
                "email.drafts",
            ],
        ),
    ]
}

fn v2_contact_calendar_and_delta_routes() -> Vec<V2Route> {
    vec![
        v2(Method::GET, "/contacts", CONTACTS, CONTACTS_NAMES),
        v2(Method::GET, "/contacts/{id}", CONTACTS, CONTACTS_NAMES),
        v2(Method::GET, "/calendars", CALENDAR, CALENDAR_NAMES),
        v2(Method::GET, "/calendars/{id}", CALENDAR, CALENDAR_NAMES),
        v2(Method::GET, "/events", CALENDAR, CALENDAR_NAMES),
        v2(Method::GET, "/events/{id}", CALENDAR, CALENDAR_NAMES),
        v2(Method::POST, "/delta/latest_cursor", DELTA, DELTA_NAMES),
        v2(Method::GET, "/delta", DELTA, DELTA_NAMES),
        v2(Method::GET, "/delta/longpoll", DELTA, DELTA_NAMES),
        v2(Method::GET, "/delta/{kind}", DELTA, DELTA_NAMES),
    ]
}

/// For each scope alone, a token holding it is refused by v2 with §11's message in v2's
/// words exactly where the route's scopes do not admit it. A file read by id is an
/// upload: an attachment's id would ask for reading mail as well (the handler's own
/// check, docs/API.md §8.3).
async fn every_scope_is_checked_on_v2(routes: Vec<V2Route>) {
    let app = App::new().await;
    let upload = app
        .store
        .store_upload(
            &app.grant_id,
            "notes.txt",
            "text/plain",
            b"notes",
            &mailroom_store::UploadQuota::default(),
        )
        .await
        .expect("the store answers")
        .expect("within the quota");
    let mut admitted = vec![0; routes.len()];
    for scope in ALL_SCOPES {
        let bearer = format!("Bearer {}", app.token(&[scope]).await);
        for (at, route) in routes.iter().enumerate() {
            let path = if route.method == Method::GET && route.path.starts_with("/files/{id}") {
                route.path.replace("{id}", &upload.id)
            } else {
                route.path.to_owned()
            };
            let reply = call(&app, &route.method, &path, Some(&bearer)).await;
            let what = format!("v2 {} {} holding {scope}", route.method, route.path);
            if Scope::allows(&[scope], route.any_of) {
                admitted[at] += 1;
                assert_ne!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{what}: {}",
                    reply.body
                );
                assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
            } else {
                assert_v2_error(&reply, StatusCode::FORBIDDEN, &what);
                assert_eq!(reply.body["type"], "api_error", "{what}");
                assert_eq!(
                    reply.body["message"],
                    v2_scope_message(&[scope.as_str()], route.refusal_names),
                    "{what}"
                );
            }
        }
    }
    for (route, admitted) in routes.iter().zip(admitted) {
        assert!(
            admitted > 0 && admitted < ALL_SCOPES.len(),
            "{} {}: {admitted}",
            route.method,
            route.path
        );
    }
}

#[tokio::test]
async fn v2_message_thread_and_folder_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on_v2(v2_mail_routes()).await;
}

#[tokio::test]
async fn v2_draft_send_and_file_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on_v2(v2_draft_send_and_file_routes()).await;
}

#[tokio::test]
async fn v2_contact_calendar_and_delta_routes_admit_exactly_their_scopes() {
    every_scope_is_checked_on_v2(v2_contact_calendar_and_delta_routes()).await;
}

#[tokio::test]
async fn scopes_govern_v3_and_v2_from_the_one_table() {
    let app = App::new().await;
    app.set_scopes(&[Scope::EmailReadOnly]).await;
    let message = app.grant_path(&format!("/messages/{}", app.message_ids[0]));
    let cases = [
        (Method::GET, app.grant_path("/messages"), StatusCode::OK),
        (Method::GET, app.grant_path("/folders"), StatusCode::OK),
        (Method::PUT, message.clone(), StatusCode::FORBIDDEN),
        (Method::DELETE, message, StatusCode::FORBIDDEN),
        (
            Method::POST,
            app.grant_path("/messages/send"),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            app.grant_path("/drafts"),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            app.grant_path("/events"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (method, path, status) in cases {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let reply = app.call(method.clone(), &path, body).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    }
    // v2: a token issued for email.read_only reads, and §11's words refuse the rest.
    let token = app.token(&[Scope::EmailReadOnly]).await;
    let bearer = format!("Bearer {token}");
    let reply = app
        .send(Method::GET, "/messages?view=count", Some(&bearer), None)
        .await;
    assert_eq!(reply.body, json!({"count": 3}));
    let change = format!("/messages/{}", app.message_ids[0]);
    let reply = app
        .send(
            Method::PUT,
            &change,
            Some(&bearer),
            Some("{\"unread\":false}".into()),
        )
        .await;
    assert_v2_error(&reply, StatusCode::FORBIDDEN, "PUT /messages/{id}");
    assert_eq!(
        reply.body["message"],
        "You do not have access to the required scopes. You provided a token which has the \
         following scopes: ['email.read_only']. You would need a token with at least one of \
         the following scopes: ['email.modify']"
    );
    for (method, path) in [
        (Method::POST, "/send"),
        (Method::POST, "/drafts"),
        (Method::GET, "/contacts"),
        (Method::GET, "/events"),
    ] {
        let reply = app
            .send(method.clone(), path, Some(&bearer), Some("{}".into()))
            .await;
        assert_v2_error(&reply, StatusCode::FORBIDDEN, path);
        assert_eq!(reply.body["type"], "api_error");
    }
}

#[tokio::test]
async fn a_v3_refusal_reads_exactly_as_docs_api_md_section_11_writes_it() {
    let app = App::new().await;
    app.set_scopes(&[Scope::EmailReadOnly, Scope::Calendar])
        .await;
    let reply = app
        .call(
            Method::PUT,
            &app.grant_path(&format!("/messages/{}", app.message_ids[0])),
            Some(json!({"unread": false})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.body["error"]["message"],
        "You do not have access to the required scopes. You provided a token which has the \
         following scopes: [email.read_only, calendar]. You would need a token with at least \
         one of the following scopes: [email, email.modify]"
    );
    assert_eq!(reply.body["error"]["type"], "api.forbidden_error");
}

/// Whether a listed or single message shows its content.
fn content_of(message: &serde_json::Value) -> (String, String) {
    (
        message["body"].as_str().unwrap_or_default().to_owned(),
        message["snippet"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn email_metadata_sees_messages_without_body_or_snippet() {
    let app = App::with_mailbox().await;
    let report = app.grant_path(&format!("/messages/{}", app.mailbox.id("report")));
    // With every scope the body and snippet are there: the withholding below is real.
    let full = app.call(Method::GET, &report, None).await;
    let (body, snippet) = content_of(&full.body["data"]);
    assert!(body.contains("numbers are attached"), "{body}");
    assert!(!snippet.is_empty());

    app.set_scopes(&[Scope::EmailMetadata]).await;
    let one = app.call(Method::GET, &report, None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(
        content_of(&one.body["data"]),
        (String::new(), String::new())
    );
    assert_eq!(
        one.body["data"]["subject"], "Quarterly report",
        "headers stay"
    );
    assert_eq!(
        one.body["data"]["attachments"].as_array().map(Vec::len),
        Some(1)
    );
    let listed = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    assert_eq!(listed.data().len(), crate::support::MAIL.len());
    for message in listed.data() {
        assert_eq!(
            content_of(&message),
            (String::new(), String::new()),
            "{message}"
        );
    }
    // A body not read yet is not fetched for metadata alone: nothing to withhold.
    let unread = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id("status"))),
            None,
        )
        .await;
    assert_eq!(unread.status, StatusCode::OK, "{}", unread.body);
}

#[tokio::test]
async fn email_metadata_sees_threads_without_snippets_or_the_latest_body() {
    let app = App::with_mailbox().await;
    app.set_scopes(&[Scope::EmailMetadata]).await;
    let listed = app
        .call(Method::GET, &app.grant_path("/threads"), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(!listed.data().is_empty());
    for thread in listed.data() {
        assert_eq!(thread["snippet"], "", "{thread}");
        assert_eq!(
            content_of(&thread["latest_draft_or_message"]),
            (String::new(), String::new())
        );
    }
    let id = listed.ids()[0].clone();
    let one = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/threads/{id}")),
            None,
        )
        .await;
    assert_eq!(one.body["data"]["snippet"], "");
}

#[tokio::test]
async fn email_metadata_may_not_search_the_text_or_read_raw_mime() {
    let app = App::with_mailbox().await;
    app.set_scopes(&[Scope::EmailMetadata]).await;
    let report = app.mailbox.id("report");
    for path in [
        "/messages?search_query_native=TEXT%20numbers".to_owned(),
        "/threads?search_query_native=TEXT%20numbers".to_owned(),
        "/messages?fields=raw_mime".to_owned(),
        format!("/messages/{report}?fields=raw_mime"),
        format!("/attachments/{report}-0/download?message_id={report}"),
    ] {
        let reply = app.call(Method::GET, &app.grant_path(&path), None).await;
        assert_v3_out_of_scope(
            &reply,
            &["email.metadata"],
            &["email", "email.modify", "email.read_only"],
            &path,
        );
    }
}

#[tokio::test]
async fn broader_scopes_include_the_narrower_ones() {
    let app = App::with_mailbox().await;
    let draft = app.grant_path(&format!("/drafts/{}", app.mailbox.id("notes")));
    let cases: &[(&[Scope], &str, &str)] = &[
        (&[Scope::EmailModify], "read messages", "/messages"),
        (&[Scope::EmailModify], "read folders", "/folders"),
        (&[Scope::EmailModify], "read drafts", "/drafts"),
        (&[Scope::EmailReadOnly], "read folders", "/folders"),
        (&[Scope::Email], "read messages", "/messages"),
        (&[Scope::Email], "list schedules", "/messages/schedules"),
        (&[Scope::Calendar], "list calendars", "/calendars"),
        (&[Scope::Contacts], "list contacts", "/contacts"),
    ];
    for (scopes, what, path) in cases {
        app.set_scopes(scopes).await;
        let reply = app.call(Method::GET, &app.grant_path(path), None).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{scopes:?} may {what}: {}",
            reply.body
        );
    }
    app.set_scopes(&[Scope::EmailModify]).await;
    let reply = app.call(Method::GET, &draft, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let content = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id("lunch"))),
            None,
        )
        .await;
    assert!(
        content_of(&content.body["data"]).0.contains("Noodles"),
        "email.modify reads content: {}",
        content.body
    );
}

#[tokio::test]
async fn a_token_narrows_its_grant_s_scopes() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[Scope::EmailMetadata]).await);
    let one = app
        .send(
            Method::GET,
            &format!("/v3/grants/me/messages/{}", app.mailbox.id("report")),
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["data"]["body"], "", "metadata through the token");
    let change = app
        .send(
            Method::PUT,
            &format!("/v3/grants/me/messages/{}", app.mailbox.id("report")),
            Some(&bearer),
            Some("{}".into()),
        )
        .await;
    assert_v3_out_of_scope(
        &change,
        &["email.metadata"],
        &["email", "email.modify"],
        "PUT",
    );
    // The API key is not narrowed by the token.
    let key = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id("report"))),
            None,
        )
        .await;
    assert_ne!(key.body["data"]["body"], "");
}

#[tokio::test]
async fn a_token_for_scopes_the_grant_no_longer_holds_reaches_nothing() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[Scope::EmailReadOnly]).await);
    app.set_scopes(&[Scope::Calendar]).await;
    let reply = app
        .send(Method::GET, "/v3/grants/me/messages", Some(&bearer), None)
        .await;
    assert_v3_out_of_scope(
        &reply,
        &["calendar"],
        &["email", "email.modify", "email.read_only", "email.metadata"],
        "the grant's scopes are what would have to change",
    );
    let v2 = app
        .send(Method::GET, "/messages", Some(&bearer), None)
        .await;
    assert_v2_error(&v2, StatusCode::FORBIDDEN, "v2");
}

#[tokio::test]
async fn contacts_are_shown_only_where_the_grant_reads_its_mail() {
    let app = App::with_mailbox().await;
    app.set_scopes(&[Scope::Contacts]).await;
    let alone = app
        .call(Method::GET, &app.grant_path("/contacts"), None)
        .await;
    assert_eq!(alone.status, StatusCode::OK, "{}", alone.body);
    assert_eq!(alone.data(), NOTHING, "contacts alone see no one");
    app.set_scopes(&[Scope::Contacts, Scope::EmailMetadata])
        .await;
    let with_mail = app
        .call(Method::GET, &app.grant_path("/contacts"), None)
        .await;
    assert!(!with_mail.data().is_empty(), "{}", with_mail.body);
}

#[tokio::test]
async fn the_invitations_calendar_exists_only_where_the_grant_reads_mail_content() {
    let app = App::with_mailbox().await;
    for (scopes, calendars) in [
        (&[Scope::Calendar][..], 0),
        (&[Scope::Calendar, Scope::EmailMetadata][..], 0),
        (&[Scope::Calendar, Scope::EmailReadOnly][..], 1),
        (&[Scope::CalendarReadOnly, Scope::EmailModify][..], 1),
    ] {
        app.set_scopes(scopes).await;
        let reply = app
            .call(Method::GET, &app.grant_path("/calendars"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{scopes:?}: {}", reply.body);
        assert_eq!(reply.data().len(), calendars, "{scopes:?}");
    }
}

#[tokio::test]
async fn room_resources_admits_no_mailbox_route() {
    let app = App::new().await;
    app.set_scopes(&[Scope::RoomResourcesReadOnly]).await;
    for route in v3_grant_routes() {
        let reply = call(&app, &route.method, route.path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{} {}",
            route.method,
            route.path
        );
    }
}
