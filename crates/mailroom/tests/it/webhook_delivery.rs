//! Webhook delivery against a real HTTP receiver and the real testbed: new mail is
//! announced once (`message.created`, signed, the full Message), historic mail found by
//! the first sync is not; a receiver that is down gets every notification once it is up
//! again (the webhook shows `failing` meanwhile); neither a restart nor a UIDVALIDITY
//! reset announces anything twice; a SIGKILL before delivery loses nothing.

use std::time::Duration;

use crate::support::{
    Api, Mailroom, connect_grant, eventually,
    imap_peer::{ImapPeer, message, recreate_with_new_uidvalidity, reset_user},
    testbed_env,
    webhook_receiver::Receiver,
};
use serde_json::{Value, json};

const USER: u32 = 37;
const KILL_USER: u32 = 41;

/// The `message.created` notifications received so far: (notification id, subject).
fn created(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .of_type("message.created")
        .iter()
        .map(|p| {
            (
                p.body["id"].as_str().unwrap_or_default().to_owned(),
                p.body["data"]["object"]["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.push(("MAILROOM_WEBHOOK_RETRY_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

#[tokio::test]
async fn new_mail_is_announced_once_signed_and_survives_a_receiver_outage_and_a_restart() {
    reset_user(USER, false);
    let mut peer = ImapPeer::login(USER).await;
    peer.append(
        "INBOX",
        "()",
        &message("old@hooks", "Historic", "ann@example.test", None, "old"),
    )
    .await;
    let receiver = Receiver::start().await;
    let url = receiver.url.clone();
    let server = server();
    let (api, grant) = connect_grant(&server, USER).await;
    eventually(
        &api,
        &format!("/v3/grants/{grant}/messages"),
        "the first sync",
        |b| b["data"].as_array().is_some_and(|l| l.len() == 1),
    )
    .await;
    let reply = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["message.created"], "webhook_url": url, "description": "test"}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);
    let webhook = reply.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = reply.body["data"]["webhook_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!secret.is_empty());

    // New mail: one notification, signed, carrying the whole message.
    peer.append(
        "INBOX",
        "()",
        &message("new1@hooks", "Fresh one", "bob@example.test", None, "hello"),
    )
    .await;
    receiver
        .wait_until("the first notification", |r| !created(r).is_empty())
        .await;
    let first = receiver.posts()[0].clone();
    let (body, signature, raw) = (first.body, first.signature, first.raw);
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["type"], "message.created");
    assert_eq!(body["webhook_delivery_attempt"], 1);
    assert_eq!(body["data"]["object"]["grant_id"], grant.as_str());
    assert_eq!(body["data"]["object"]["subject"], "Fresh one");
    assert_eq!(body["data"]["object"]["object"], "message");
    assert!(body["data"]["application_id"].is_string());
    assert_eq!(signature, mailroom_net::webhook_signature(&secret, &raw));
    assert_ne!(
        signature,
        mailroom_net::webhook_signature("another secret", &raw)
    );

    // The receiver goes down: the webhook is failing, and the notification waits.
    receiver.set_down(true);
    peer.append(
        "INBOX",
        "()",
        &message("new2@hooks", "While down", "bob@example.test", None, "x"),
    )
    .await;
    receiver
        .wait_until("a refused delivery", |r| r.refused() >= 2)
        .await;
    eventually(&api, &format!("/v3/webhooks/{webhook}"), "failing", |b| {
        b["data"]["status"] == "failing"
    })
    .await;
    receiver.set_down(false);
    receiver
        .wait_until("the delayed notification", |r| {
            created(r).iter().any(|(_, s)| s == "While down")
        })
        .await;
    let retried = receiver
        .posts()
        .iter()
        .find(|p| p.body["data"]["object"]["subject"] == "While down")
        .map(|p| p.body["webhook_delivery_attempt"].as_i64().unwrap_or(0));
    assert!(retried.is_some_and(|n| n >= 2), "{retried:?}");
    eventually(
        &api,
        &format!("/v3/webhooks/{webhook}"),
        "active again",
        |b| b["data"]["status"] == "active",
    )
    .await;

    // A restart announces nothing again; mail after it is announced.
    let key = api.api_key.clone().unwrap_or_default();
    let server = server.restart();
    let api: Api = server.client(&key);
    peer.append(
        "INBOX",
        "()",
        &message("new3@hooks", "After restart", "bob@example.test", None, "y"),
    )
    .await;
    receiver
        .wait_until("the notification after the restart", |r| {
            created(r).iter().any(|(_, s)| s == "After restart")
        })
        .await;

    // The mailbox is recreated under a new UIDVALIDITY holding the same mail, plus one
    // new message: only that one is announced.
    peer.logout().await;
    let mut peer = recreate_with_new_uidvalidity(USER).await;
    for (id, subject) in [
        ("old@hooks", "Historic"),
        ("new1@hooks", "Fresh one"),
        ("new2@hooks", "While down"),
        ("new3@hooks", "After restart"),
        ("new4@hooks", "After the reset"),
    ] {
        peer.append(
            "INBOX",
            "()",
            &message(id, subject, "bob@example.test", None, "z"),
        )
        .await;
    }
    receiver
        .wait_until("the notification after the reset", |r| {
            created(r).iter().any(|(_, s)| s == "After the reset")
        })
        .await;
    let all = created(&receiver);
    let subjects: Vec<&str> = all.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Fresh one",
            "While down",
            "After restart",
            "After the reset"
        ],
        "{all:?}"
    );
    let mut ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        api.get(&format!("/v3/webhooks/{webhook}")).await.status,
        200
    );
    peer.logout().await;
}

/// A change recorded while the receiver is down, then mailroom killed (SIGKILL) before
/// it could deliver: after the restart the notification still arrives, once.
#[tokio::test]
async fn a_notification_survives_sigkill_between_the_change_and_its_delivery() {
    reset_user(KILL_USER, false);
    let mut peer = ImapPeer::login(KILL_USER).await;
    peer.append(
        "INBOX",
        "()",
        &message("kill1@hooks", "Flag me", "ann@example.test", None, "x"),
    )
    .await;
    let receiver = Receiver::start().await;
    let server = server();
    let (api, grant) = connect_grant(&server, KILL_USER).await;
    let listed = eventually(
        &api,
        &format!("/v3/grants/{grant}/messages"),
        "the first sync",
        |b| b["data"].as_array().is_some_and(|l| l.len() == 1),
    )
    .await;
    let message_id = listed["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let reply = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["message.updated"], "webhook_url": receiver.url}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);

    receiver.set_down(true);
    let changed = api
        .send(
            "PUT",
            &format!("/v3/grants/{grant}/messages/{message_id}"),
            Some(json!({"starred": true})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    // The change is answered: its notification is in the outbox. Kill before delivery.
    let key = api.api_key.clone().unwrap_or_default();
    let mut server = server;
    server.kill();
    assert!(receiver.of_type("message.updated").is_empty());
    receiver.set_down(false);
    let server = server.restart();
    let _api: Api = server.client(&key);
    // Killed while an attempt was in flight, the delivery stays claimed until its lease
    // runs out (the request timeout plus 30 s) and is then tried again: allow for that.
    let post = receiver
        .wait_for_within("message.updated", Duration::from_secs(90), |o| {
            o["id"] == message_id.as_str()
        })
        .await;
    assert_eq!(post.body["data"]["object"]["starred"], true);
    // Delivered once: no second copy turns up while a later change goes through.
    peer.store_flags("INBOX", "kill1@hooks", "+FLAGS (\\Seen)")
        .await;
    receiver
        .wait_for("message.updated", |o| o["unread"] == false)
        .await;
    let ids: Vec<Value> = receiver
        .of_type("message.updated")
        .iter()
        .map(|p| p.body["id"].clone())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(ids[0], ids[1]);
    peer.logout().await;
}
