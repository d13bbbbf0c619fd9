//! Every trigger mailroom fires, against a real HTTP receiver and the real testbed:
//! changes made by another IMAP client, through the API, by the scheduler and by the
//! grant's own lifecycle each arrive as their notification, signed with the webhook's
//! secret and carrying the object they describe.

use std::time::Duration;

use crate::support::{
    self, Api, Mailroom, PasswordChange, Testbed, eventually, imap_app,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
    webhook_receiver::{Post, Receiver},
};
use serde_json::{Value, json};

const MESSAGES_USER: u32 = 42;
const GRANT_USER: u32 = 43;
const FOLDERS_USER: u32 = 44;

const ALL_TRIGGERS: &[&str] = &[
    "grant.created",
    "grant.updated",
    "grant.deleted",
    "grant.expired",
    "message.created",
    "message.updated",
    "message.deleted",
    "message.send_success",
    "message.send_failed",
    "folder.created",
    "folder.updated",
    "folder.deleted",
    "event.created",
    "event.updated",
    "contact.updated",
    "thread.replied",
];

fn server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.push(("MAILROOM_WEBHOOK_RETRY_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

/// An application with an IMAP connector and a webhook on every trigger, made before
/// any grant. Returns its API client and the webhook's secret.
async fn subscribed_app(server: &Mailroom, receiver: &Receiver) -> (Api, String) {
    let (_, api) = imap_app(server, "hooks").await;
    let reply = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ALL_TRIGGERS, "webhook_url": receiver.url}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);
    let secret = reply.body["data"]["webhook_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!secret.is_empty());
    (api, secret)
}

async fn connect(api: &Api, user: u32) -> String {
    let reply = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": Testbed::get().settings(user)}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);
    reply.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the grant's first pass is over: only then is new mail news.
async fn wait_for_first_pass(api: &Api, grant: &str) {
    eventually(api, &format!("/v3/grants/{grant}"), "the first pass", |b| {
        b["data"]["sync_state"] == "running"
    })
    .await;
}

/// The notification is whole and signed with this secret (and only with it).
fn check_signed(post: &Post, secret: &str, application_id: &str) {
    assert_eq!(
        post.signature,
        mailroom_net::webhook_signature(secret, &post.raw),
        "{}",
        post.body
    );
    assert_ne!(
        post.signature,
        mailroom_net::webhook_signature("another secret", &post.raw)
    );
    assert_eq!(post.body["specversion"], "1.0");
    assert!(post.body["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(post.body["time"].as_i64().is_some());
    assert_eq!(post.body["data"]["application_id"], application_id);
}

fn application_id(post: &Post) -> String {
    post.body["data"]["application_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn message_id_by_subject(api: &Api, grant: &str, subject: &str) -> String {
    let exact = |m: &Value| m["subject"] == subject;
    let body = eventually(
        api,
        &format!("/v3/grants/{grant}/messages?limit=200"),
        subject,
        |b| b["data"].as_array().is_some_and(|l| l.iter().any(exact)),
    )
    .await;
    body["data"]
        .as_array()
        .and_then(|l| l.iter().find(|m| exact(m)))
        .and_then(|m| m["id"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn message_triggers_from_another_client_and_from_the_api() {
    reset_user(MESSAGES_USER, false);
    let (own, _) = Testbed::user(MESSAGES_USER);
    let mut peer = ImapPeer::login(MESSAGES_USER).await;
    // History: the grant wrote to Ann before it was connected.
    let sent = format!(
        "Message-ID: <root@hooks>\nDate: Mon, 20 Nov 2023 09:00:00 +0000\nFrom: Me <{own}>\n\
         To: Ann <ann@example.test>\nSubject: Plans\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\nShall we?\n"
    );
    peer.append("Sent", "(\\Seen)", &sent).await;
    peer.append(
        "INBOX",
        "()",
        &message("old@hooks", "Historic", "ann@example.test", None, "old"),
    )
    .await;
    let receiver = Receiver::start().await;
    let server = server();
    let (api, secret) = subscribed_app(&server, &receiver).await;
    let grant = connect(&api, MESSAGES_USER).await;
    wait_for_first_pass(&api, &grant).await;
    let created = receiver
        .wait_for("grant.created", |o| o["grant_id"] == grant.as_str())
        .await;
    let app_id = application_id(&created);
    check_signed(&created, &secret, &app_id);

    // New mail, a reply in the grant's thread from someone new: created, replied, and a
    // contact for its sender.
    peer.append(
        "INBOX",
        "()",
        &message(
            "reply@hooks",
            "Re: Plans",
            "zoe@example.test",
            Some("root@hooks"),
            "Yes!",
        ),
    )
    .await;
    let new = receiver
        .wait_for("message.created", |o| o["subject"] == "Re: Plans")
        .await;
    check_signed(&new, &secret, &app_id);
    let reply_id = new.body["data"]["object"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(new.body["data"]["object"]["grant_id"], grant.as_str());
    let replied = receiver
        .wait_for("thread.replied", |o| o["message_id"] == reply_id.as_str())
        .await;
    check_signed(&replied, &secret, &app_id);
    let root_id = message_id_by_subject(&api, &grant, "Plans").await;
    assert_eq!(replied.body["data"]["object"]["root_message_id"], root_id);
    assert_eq!(
        replied.body["data"]["object"]["thread_id"],
        new.body["data"]["object"]["thread_id"]
    );
    let contact = receiver
        .wait_for("contact.updated", |o| {
            o["emails"][0]["email"] == "zoe@example.test"
        })
        .await;
    check_signed(&contact, &secret, &app_id);

    // A message whose object is over 1 MB: announced without its body, as `.truncated`.
    let line = "All work and no play makes a very long message indeed, line after line.\n";
    peer.append(
        "INBOX",
        "()",
        &message(
            "big@hooks",
            "Big one",
            "ann@example.test",
            None,
            &line.repeat(16_000),
        ),
    )
    .await;
    let big = receiver
        .wait_for("message.created.truncated", |o| o["subject"] == "Big one")
        .await;
    check_signed(&big, &secret, &app_id);
    assert!(big.body["data"]["object"].get("body").is_none());
    assert!(big.raw.len() < 1024 * 1024);

    // Another client flags it: updated. Moves it: updated (never deleted).
    peer.store_flags("INBOX", "reply@hooks", "+FLAGS (\\Flagged)")
        .await;
    receiver
        .wait_for("message.updated", |o| {
            o["id"] == reply_id.as_str() && o["starred"] == true
        })
        .await;
    peer.create("Projects").await;
    let folders = eventually(
        &api,
        &format!("/v3/grants/{grant}/folders"),
        "the Projects folder",
        |b| {
            b["data"]
                .as_array()
                .is_some_and(|l| l.iter().any(|f| f["name"] == "Projects"))
        },
    )
    .await;
    let projects = folders["data"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == "Projects"))
        .map(|f| f["id"].clone())
        .unwrap_or_default();
    peer.move_message("INBOX", "reply@hooks", "Projects").await;
    let moved = receiver
        .wait_for("message.updated", |o| {
            o["id"] == reply_id.as_str() && o["folders"] == json!([projects])
        })
        .await;
    check_signed(&moved, &secret, &app_id);

    // Another client deletes the old message for good: deleted, with its id.
    let old_id = message_id_by_subject(&api, &grant, "Historic").await;
    peer.expunge_message("INBOX", "old@hooks").await;
    let deleted = receiver
        .wait_for("message.deleted", |o| o["id"] == old_id.as_str())
        .await;
    check_signed(&deleted, &secret, &app_id);
    assert_eq!(deleted.body["data"]["object"]["grant_id"], grant.as_str());

    // Through the API: marked read (updated), deleted to Trash (updated), deleted from
    // Trash (deleted at once).
    let path = format!("/v3/grants/{grant}/messages/{reply_id}");
    let put = api.send("PUT", &path, Some(json!({"unread": false}))).await;
    assert_eq!(put.status, 200, "{}", put.text);
    receiver
        .wait_for("message.updated", |o| {
            o["id"] == reply_id.as_str() && o["unread"] == false
        })
        .await;
    assert_eq!(api.delete(&path).await.status, 200);
    assert_eq!(api.delete(&path).await.status, 200);
    receiver
        .wait_for("message.deleted", |o| o["id"] == reply_id.as_str())
        .await;

    // Nothing historic was announced, and the moved message was never called deleted
    // before it was.
    assert!(
        receiver
            .of_type("message.created")
            .iter()
            .all(|p| p.body["data"]["object"]["subject"] != "Historic"
                && p.body["data"]["object"]["subject"] != "Plans")
    );
    let deletions: Vec<Value> = receiver
        .of_type("message.deleted")
        .iter()
        .map(|p| p.body["data"]["object"]["id"].clone())
        .collect();
    assert_eq!(deletions, [json!(old_id), json!(reply_id)]);
    peer.logout().await;
}

#[tokio::test]
async fn grant_lifecycle_triggers() {
    reset_user(GRANT_USER, false);
    let receiver = Receiver::start().await;
    let server = server();
    let (api, secret) = subscribed_app(&server, &receiver).await;
    let grant = connect(&api, GRANT_USER).await;
    let created = receiver
        .wait_for("grant.created", |o| o["grant_id"] == grant.as_str())
        .await;
    let app_id = application_id(&created);
    check_signed(&created, &secret, &app_id);
    let object = &created.body["data"]["object"];
    assert_eq!(object["code"], 25012);
    assert_eq!(object["provider"], "imap");
    assert_eq!(created.body["source"], "/nylas/system");

    // Signing in again is an update with the re-authentication flag.
    assert_eq!(connect(&api, GRANT_USER).await, grant);
    let updated = receiver
        .wait_for("grant.updated", |o| o["reauthentication_flag"] == true)
        .await;
    check_signed(&updated, &secret, &app_id);
    assert_eq!(updated.body["data"]["object"]["code"], 25014);
    wait_for_first_pass(&api, &grant).await;

    // The password changes at the server: the grant expires, once.
    {
        let _changed = PasswordChange::new(GRANT_USER, "rotated-elsewhere");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let (_, old) = Testbed::user(GRANT_USER);
        while ImapPeer::login_works(GRANT_USER, &old).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the old password still works"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        support::imap_peer::kick_user(GRANT_USER);
        let expired = receiver
            .wait_for("grant.expired", |o| o["grant_id"] == grant.as_str())
            .await;
        check_signed(&expired, &secret, &app_id);
        assert_eq!(expired.body["data"]["object"]["code"], 25009);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (_, password) = Testbed::user(GRANT_USER);
    while !ImapPeer::login_works(GRANT_USER, &password).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the password was not restored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Re-authenticated with the password back: valid again, another update.
    let before = receiver.of_type("grant.updated").len();
    assert_eq!(connect(&api, GRANT_USER).await, grant);
    receiver
        .wait_until("a second grant.updated", |r| {
            r.of_type("grant.updated").len() > before
        })
        .await;

    let deleted = api.delete(&format!("/v3/grants/{grant}")).await;
    assert!(deleted.status < 300, "{}", deleted.text);
    let gone = receiver
        .wait_for("grant.deleted", |o| o["grant_id"] == grant.as_str())
        .await;
    check_signed(&gone, &secret, &app_id);
    assert_eq!(gone.body["data"]["object"]["code"], 25013);
    assert_eq!(receiver.of_type("grant.created").len(), 1);
    assert_eq!(receiver.of_type("grant.expired").len(), 1);
}

/// An invitation for `uid`, as a calendar program sends it.
fn invitation(message_id: &str, uid: &str, sequence: u32, title: &str) -> String {
    format!(
        "Message-ID: <{message_id}>\nDate: Tue, 21 Nov 2023 10:00:00 +0000\n\
         From: Organizer <org@example.test>\nTo: Bob <bob@example.test>\nSubject: Invitation: {title}\n\
         MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n\
         --alt\nContent-Type: text/plain; charset=utf-8\n\nYou are invited.\n\
         --alt\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\n\n\
         BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//mailroom tests//EN\nMETHOD:REQUEST\n\
         BEGIN:VEVENT\nUID:{uid}\nSEQUENCE:{sequence}\nDTSTAMP:20231121T100000Z\n\
         DTSTART:20300105T150000Z\nDTEND:20300105T160000Z\nSUMMARY:{title}\n\
         ORGANIZER;CN=Organizer:mailto:org@example.test\n\
         ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION:mailto:bob@example.test\n\
         END:VEVENT\nEND:VCALENDAR\n--alt--\n"
    )
}

#[tokio::test]
async fn folder_event_and_scheduled_send_triggers() {
    reset_user(FOLDERS_USER, false);
    let mut peer = ImapPeer::login(FOLDERS_USER).await;
    let receiver = Receiver::start().await;
    let server = server();
    let (api, secret) = subscribed_app(&server, &receiver).await;
    let grant = connect(&api, FOLDERS_USER).await;
    wait_for_first_pass(&api, &grant).await;
    let app_id = application_id(
        &receiver
            .wait_for("grant.created", |o| o["grant_id"] == grant.as_str())
            .await,
    );
    // The mailbox's own folders are not news.
    assert!(receiver.of_type("folder.created").is_empty());

    // Another client creates a folder.
    peer.create("Receipts").await;
    let created = receiver
        .wait_for("folder.created", |o| o["name"] == "Receipts")
        .await;
    check_signed(&created, &secret, &app_id);
    let folder_id = created.body["data"]["object"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Renamed through the API: the folder keeps its id. (A rename by another client
    // is, to IMAP, one folder gone and another new.)
    let renaming = api
        .send(
            "PUT",
            &format!("/v3/grants/{grant}/folders/{folder_id}"),
            Some(json!({"name": "Invoices"})),
        )
        .await;
    assert!(renaming.status < 300, "{}", renaming.text);
    let renamed = receiver
        .wait_for("folder.updated", |o| o["name"] == "Invoices")
        .await;
    assert_eq!(renamed.body["data"]["object"]["id"], folder_id.as_str());
    let deleted_folder = api
        .delete(&format!("/v3/grants/{grant}/folders/{folder_id}"))
        .await;
    assert!(deleted_folder.status < 300, "{}", deleted_folder.text);
    let gone = receiver
        .wait_for("folder.deleted", |o| o["id"] == folder_id.as_str())
        .await;
    check_signed(&gone, &secret, &app_id);

    // Through the API: created.
    let made = api
        .post(
            &format!("/v3/grants/{grant}/folders"),
            json!({"name": "Travel"}),
        )
        .await;
    assert!(made.status < 300, "{}", made.text);
    receiver
        .wait_for("folder.created", |o| o["name"] == "Travel")
        .await;

    // An invitation arrives, then its update: event.created, event.updated.
    peer.append(
        "INBOX",
        "()",
        &invitation("inv1@hooks", "launch-1@example.test", 0, "Launch"),
    )
    .await;
    let event = receiver
        .wait_for("event.created", |o| o["title"] == "Launch")
        .await;
    check_signed(&event, &secret, &app_id);
    assert_eq!(
        event.body["data"]["object"]["when"]["start_time"],
        1_893_855_600
    );
    peer.append(
        "INBOX",
        "()",
        &invitation("inv2@hooks", "launch-1@example.test", 1, "Launch (moved)"),
    )
    .await;
    let moved = receiver
        .wait_for("event.updated", |o| o["title"] == "Launch (moved)")
        .await;
    assert_eq!(
        moved.body["data"]["object"]["id"],
        event.body["data"]["object"]["id"]
    );

    // A scheduled send: message.send_success carrying the sent message.
    let (own, _) = Testbed::user(FOLDERS_USER);
    // Far enough ahead to be scheduled rather than sent at once.
    let send_at = mailroom_model::time::unix_now() + 7;
    let scheduled = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({
                "to": [{"email": own}],
                "subject": "Later, please",
                "body": "scheduled",
                "send_at": send_at,
            }),
        )
        .await;
    assert_eq!(scheduled.status, 202, "{}", scheduled.text);
    let schedule_id = scheduled.body["data"]["schedule_id"].clone();
    let sent = receiver
        .wait_for("message.send_success", |o| {
            o["object"]["subject"] == "Later, please"
        })
        .await;
    check_signed(&sent, &secret, &app_id);
    let object = &sent.body["data"]["object"];
    assert_eq!(object["grant_id"], grant.as_str());
    assert_eq!(object["object"]["schedule_id"], schedule_id);
    assert_eq!(object["object"]["object"], "message");
    assert_eq!(sent.body["source"], "/nylas/send");

    // One the server refuses (no such local user): message.send_failed, with why.
    let refused = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({
                "to": [{"email": "nobody@example.test"}],
                "subject": "Nowhere to go",
                "body": "scheduled",
                "send_at": mailroom_model::time::unix_now() + 7,
            }),
        )
        .await;
    assert_eq!(refused.status, 202, "{}", refused.text);
    let failed = receiver
        .wait_for("message.send_failed", |o| {
            o["object"]["subject"] == "Nowhere to go"
        })
        .await;
    check_signed(&failed, &secret, &app_id);
    let object = &failed.body["data"]["object"];
    let reason = object["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("nobody@example.test"), "{reason}");
    assert_eq!(object["error"]["type"], "api.provider_error");
    assert_eq!(object["error"]["message"], reason);
    assert_eq!(
        object["object"]["schedule_id"],
        refused.body["data"]["schedule_id"]
    );
    peer.logout().await;
}

#[tokio::test]
async fn test_events_are_delivered_signed_when_a_webhook_has_the_url() {
    let receiver = Receiver::start().await;
    let stranger = Receiver::start().await;
    let server = server();
    let (api, secret) = subscribed_app(&server, &receiver).await;
    let send = |trigger: &str, url: &str| {
        api.post(
            "/v3/webhooks/send-test-event",
            json!({"trigger_type": trigger, "webhook_url": url}),
        )
    };

    let reply = send("folder.created", &receiver.url).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"], "success");
    let post = receiver
        .wait_for("folder.created", |o| o["object"] == "folder")
        .await;
    let app_id = application_id(&post);
    check_signed(&post, &secret, &app_id);

    // A URL none of the application's webhooks has: delivered, but there is no secret
    // to sign with.
    let reply = send("message.created", &stranger.url).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let post = stranger
        .wait_for("message.created", |o| o["object"] == "message")
        .await;
    assert!(post.signature.is_empty());

    // A receiver that refuses, and a trigger mailroom does not know: clear errors.
    stranger.set_down(true);
    let refused = send("message.created", &stranger.url).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.error_message().contains("503"), "{}", refused.text);
    let unknown = send("message.teleported", &receiver.url).await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert_eq!(receiver.of_type("message.teleported").len(), 0);
}

/// The IMAP sessions the testbed's Dovecot holds for a user (`doveadm who -1`).
fn imap_connections(user: u32) -> usize {
    let conf = Testbed::get().dir.join("dovecot/dovecot.conf");
    let output = std::process::Command::new("doveadm")
        .arg("-c")
        .arg(&conf)
        .args(["who", "-1"])
        .output()
        .expect("doveadm who");
    let email = format!("user{user}@example.test");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(email.as_str()))
        .count()
}

/// Another client's flag change, move and expunge in folders other than Inbox and Sent
/// arrive as notifications although mailroom polls only once an hour: the idling
/// connection hears of them (NOTIFY, or STATUS polling when NOTIFY is ignored). And an
/// idle grant holds one IMAP connection.
async fn changes_in_any_folder_arrive_without_a_poll(user: u32, ignore_capabilities: &str) {
    reset_user(user, false);
    let mut peer = ImapPeer::login(user).await;
    peer.create("Projects").await;
    for (id, subject, folder) in [
        ("flagged@elsewhere", "To be flagged", "Archive"),
        ("moved@elsewhere", "To be moved", "Archive"),
        ("gone@elsewhere", "To be expunged", "Projects"),
    ] {
        peer.append(
            folder,
            "()",
            &message(id, subject, "ann@example.test", None, "hi"),
        )
        .await;
    }
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "3600".into()));
    env.push(("MAILROOM_WEBHOOK_RETRY_SECS".into(), "1".into()));
    env.push((
        "MAILROOM_SYNC_IGNORE_CAPABILITIES".into(),
        ignore_capabilities.into(),
    ));
    let server = Mailroom::start_with(env);
    let receiver = Receiver::start().await;
    let (api, _) = subscribed_app(&server, &receiver).await;
    let grant = connect(&api, user).await;
    wait_for_first_pass(&api, &grant).await;
    let flagged = message_id_by_subject(&api, &grant, "To be flagged").await;
    let moved = message_id_by_subject(&api, &grant, "To be moved").await;
    let gone = message_id_by_subject(&api, &grant, "To be expunged").await;
    let folders = api.get(&format!("/v3/grants/{grant}/folders")).await;
    let projects = folders.body["data"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == "Projects"))
        .map(|f| f["id"].clone())
        .expect("the Projects folder");

    peer.store_flags("Archive", "flagged@elsewhere", "+FLAGS (\\Flagged)")
        .await;
    receiver
        .wait_for("message.updated", |o| {
            o["id"] == flagged.as_str() && o["starred"] == true
        })
        .await;
    peer.move_message("Archive", "moved@elsewhere", "Projects")
        .await;
    receiver
        .wait_for("message.updated", |o| {
            o["id"] == moved.as_str() && o["folders"] == json!([projects])
        })
        .await;
    peer.expunge_message("Projects", "gone@elsewhere").await;
    receiver
        .wait_for("message.deleted", |o| o["id"] == gone.as_str())
        .await;
    assert!(
        receiver
            .of_type("message.deleted")
            .iter()
            .all(|p| p.body["data"]["object"]["id"] == gone.as_str()),
        "only the expunged message is deleted; the moved one is not"
    );
    peer.logout().await;
    // Idle: the actor's own connection, nothing beside it.
    receiver
        .wait_until("one IMAP connection for the idle grant", |_| {
            imap_connections(user) == 1
        })
        .await;
}

#[tokio::test]
async fn changes_in_any_folder_arrive_by_notify_on_one_connection() {
    changes_in_any_folder_arrive_without_a_poll(510, "").await;
}

#[tokio::test]
async fn changes_in_any_folder_arrive_by_status_polling_without_notify() {
    changes_in_any_folder_arrive_without_a_poll(511, "NOTIFY").await;
}
