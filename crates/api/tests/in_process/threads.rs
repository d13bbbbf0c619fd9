//! Reading threads (docs/API.md §5.4): messages linked by Message-ID, In-Reply-To and
//! References form one thread, whose object sums them up: its messages oldest first, the
//! union of their folders and participants, unread or starred if any message is, the
//! dates of its first and latest message, and the latest message whole.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{App, MAIL, assert_v3_error_type, mailbox::T0};

async fn thread_of(app: &App, name: &str) -> Value {
    let message = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id(name))),
            None,
        )
        .await;
    let id = message.body["data"]["thread_id"]
        .as_str()
        .expect("a thread id")
        .to_owned();
    let thread = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/threads/{id}")),
            None,
        )
        .await;
    assert_eq!(thread.status, StatusCode::OK, "{}", thread.body);
    thread.body["data"].clone()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_reply_joins_the_thread_of_the_message_it_answers() {
    let app = App::with_mailbox().await;
    let thread = thread_of(&app, "report").await;
    assert_eq!(thread, thread_of(&app, "report-reply").await);
    assert_eq!(
        app.mailbox.names(&strings(&thread["message_ids"])),
        ["report", "report-reply"],
        "oldest first"
    );
    assert_eq!(
        thread["subject"], "Quarterly report",
        "the first message's subject"
    );
    assert_eq!(thread["earliest_message_date"], T0 + 1000);
    assert_eq!(thread["latest_message_received_date"], T0 + 3000);
    assert_eq!(
        thread["latest_draft_or_message"]["id"],
        app.mailbox.id("report-reply").as_str()
    );
    assert_eq!(thread["has_attachments"], true, "the report has one");
    assert_eq!(thread["unread"], true, "the reply is unread");
    assert_eq!(thread["starred"], false);
}

#[tokio::test]
async fn each_unrelated_message_is_a_thread_of_its_own() {
    let app = App::with_mailbox().await;
    let listed = app
        .call(Method::GET, &app.grant_path("/threads?limit=200"), None)
        .await;
    let replies = MAIL.iter().filter(|m| m.replies_to.is_some()).count();
    assert_eq!(listed.data().len(), MAIL.len() - replies, "{}", listed.body);
    let lunch = thread_of(&app, "lunch").await;
    assert_eq!(strings(&lunch["message_ids"]), [app.mailbox.id("lunch")]);
    assert_eq!(lunch["starred"], true);
    assert_eq!(lunch["has_attachments"], false);
}

#[tokio::test]
async fn a_thread_s_participants_and_folders_are_its_messages() {
    let app = App::with_mailbox().await;
    let lunch = thread_of(&app, "lunch").await;
    let mut participants: Vec<String> = lunch["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["email"].as_str().map(str::to_owned))
        .collect();
    participants.sort();
    assert_eq!(
        participants,
        ["ann@example.test", "bob@example.test", "carol@example.test"]
    );
    assert_eq!(strings(&lunch["folders"]), [app.mailbox.folder("INBOX")]);
}

#[tokio::test]
async fn a_draft_s_thread_lists_it_among_its_drafts() {
    let app = App::with_mailbox().await;
    let notes = thread_of(&app, "notes").await;
    assert_eq!(strings(&notes["draft_ids"]), [app.mailbox.id("notes")]);
    assert_eq!(notes["has_drafts"], true);
    assert_eq!(notes["message_ids"], serde_json::json!([]));
    assert_eq!(notes["latest_draft_or_message"]["object"], "draft");
}

#[tokio::test]
async fn threads_are_listed_by_their_latest_message_newest_first() {
    let app = App::with_mailbox().await;
    let listed = app
        .call(Method::GET, &app.grant_path("/threads?limit=200"), None)
        .await;
    let latest: Vec<i64> = listed
        .data()
        .iter()
        .filter_map(|t| t["latest_message_received_date"].as_i64())
        .collect();
    let mut sorted = latest.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(latest, sorted);
}

#[tokio::test]
async fn an_unknown_thread_is_not_found() {
    let app = App::with_mailbox().await;
    for id in ["nope", "report@example.test"] {
        let reply = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/threads/{id}")),
                None,
            )
            .await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", id);
    }
}
