//! `message.bounce_detected`: a non-delivery report stored as a body for the first time
//! is matched, by the Message-ID it returns, to the grant's message that bounced and
//! announced once per failed recipient; a report naming no message of the grant, or
//! read again, announces nothing. Every scenario runs on the embedded SQLite and on
//! PostgreSQL, with the report Postfix 3.7 writes.

use crate::support::{Engine, clean_up, message, new_grant, on_both_engines, open_store};
use mailroom_model::v3::TriggerType;
use mailroom_store::{FolderListing, MessageBody, NewWebhook, Store};
use serde_json::Value;

/// The report, and the Message-ID of the message it returns.
const REPORT: &[u8] =
    include_bytes!("../../../mime/tests/fixtures/bounces/postfix_3_7_user_unknown.eml");
const RETURNED: &str = "0a1b2c3d-lunch@example.com";

/// A grant of an application with a webhook on bounces, its Inbox holding the message
/// that bounced (uid 1) and the report (uid 2); the report's message id.
async fn mailbox(store: &Store, returned: &str) -> (mailroom_model::GrantId, String) {
    let app = store.create_application("bounces", &[]).await.unwrap();
    store
        .create_webhook(
            &app.application.id,
            &NewWebhook {
                description: None,
                webhook_url: "https://hooks.example/n",
                trigger_types: &[TriggerType::MessageBounceDetected],
                notification_email_addresses: &[],
            },
        )
        .await
        .unwrap();
    let grant = new_grant(store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(
            &grant,
            &[FolderListing {
                imap_name: "INBOX".into(),
                name: "INBOX".into(),
                parent_imap_name: None,
                delimiter: Some("/".into()),
                attributes: vec![],
            }],
        )
        .await
        .unwrap();
    let mut sent = message(1, returned, &[], "Lunch on Thursday?");
    sent.to = vec![mailroom_model::v3::EmailName {
        name: None,
        email: "bob@example.net".into(),
    }];
    let report = message(
        2,
        "report-1@mail.example.com",
        &[],
        "Undelivered Mail Returned to Sender",
    );
    store
        .add_folder_messages(&grant, &folders[0].id, &[sent, report])
        .await
        .unwrap();
    let listed = store
        .message_id_by_identity(&grant, "mid:report-1@mail.example.com")
        .await
        .unwrap()
        .unwrap();
    (grant, listed)
}

fn report_body(id: &str) -> MessageBody {
    MessageBody {
        id: id.to_owned(),
        body_html: String::new(),
        snippet: String::new(),
        attachments: Value::Array(vec![]),
        headers: vec![],
        calendar: vec![],
        bounce: mailroom_mime::bounce_report(REPORT),
    }
}

/// The bounce notifications recorded so far, their objects, each taken once.
async fn bounces(store: &Store) -> Vec<Value> {
    let due = store
        .due_deliveries(mailroom_model::time::unix_now() + 60, 1000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for delivery in due {
        store.delivery_succeeded(&delivery).await.unwrap();
        if delivery.trigger_type == "message.bounce_detected" {
            seen.push(serde_json::from_str(delivery.object_json.as_deref().unwrap()).unwrap());
        }
    }
    seen
}

async fn a_report_is_announced_once_for_the_message_that_bounced(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, report_id) = mailbox(&store, RETURNED).await;
    let bounced = store
        .message_id_by_identity(&grant, &format!("mid:{RETURNED}"))
        .await
        .unwrap()
        .unwrap();
    store
        .store_message_bodies(&grant, &[report_body(&report_id)])
        .await
        .unwrap();
    let seen = bounces(&store).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let notice = &seen[0];
    assert_eq!(notice["grant_id"], grant.as_str());
    let details = &notice["object"];
    assert_eq!(details["bounced_addresses"], "bob@example.net");
    assert_eq!(details["type"], "mailbox_unavailable");
    assert_eq!(details["code"], "550");
    assert_eq!(details["message_id"], bounced.as_str());
    assert_eq!(details["report_message_id"], report_id.as_str());
    assert_eq!(details["origin"]["id"], bounced.as_str());
    assert_eq!(details["origin"]["mime_id"], RETURNED);
    assert_eq!(details["origin"]["subject"], "Lunch on Thursday?");
    assert_eq!(
        details["origin"]["to"],
        serde_json::json!(["bob@example.net"])
    );
    assert!(
        details["bounce_reason"]
            .as_str()
            .is_some_and(|r| r.contains("Recipient address rejected")),
        "{details}"
    );

    // Read again (on demand, say): nothing more is announced.
    store
        .store_message_bodies(&grant, &[report_body(&report_id)])
        .await
        .unwrap();
    assert!(bounces(&store).await.is_empty());
    store.close().await;
    clean_up(place).await;
}

async fn a_report_naming_no_message_of_the_grant_announces_nothing(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, report_id) = mailbox(&store, "someone-else@example.org").await;
    store
        .store_message_bodies(&grant, &[report_body(&report_id)])
        .await
        .unwrap();
    assert!(bounces(&store).await.is_empty());
    store.close().await;
    clean_up(place).await;
}

on_both_engines!(
    a_report_is_announced_once_for_the_message_that_bounced,
    a_report_naming_no_message_of_the_grant_announces_nothing,
);
