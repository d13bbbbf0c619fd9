//! Webhook delivery against a real HTTP receiver and the real testbed: new mail is
//! announced once (`message.created`, signed, the full Message), historic mail found by
//! the first sync is not; a receiver that is down gets every notification once it is up
//! again (the webhook shows `failing` meanwhile); a restart announces nothing twice.

mod support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use serde_json::{Value, json};
use support::{
    Api, Mailroom, connect_grant, eventually,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
};

const USER: u32 = 37;

#[derive(Default)]
struct Received {
    /// Each POST: its body and its signature header.
    posts: Vec<(Value, String, Vec<u8>)>,
    /// Answer POSTs with 503 while set.
    down: bool,
    refused: usize,
}

type Shared = Arc<Mutex<Received>>;

async fn challenge(Query(query): Query<HashMap<String, String>>) -> String {
    query.get("challenge").cloned().unwrap_or_default()
}

async fn notification(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Ok(mut received) = shared.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    if received.down {
        received.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let signature = headers
        .get("x-nylas-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    received.posts.push((value, signature, body.to_vec()));
    StatusCode::OK
}

async fn receiver() -> (String, Shared) {
    let shared = Shared::default();
    let app = Router::new()
        .route("/hook", get(challenge).post(notification))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}/hook"), shared)
}

/// The `message.created` notifications received so far: (notification id, subject).
fn created(shared: &Shared) -> Vec<(String, String)> {
    shared
        .lock()
        .map(|r| {
            r.posts
                .iter()
                .filter(|(v, _, _)| v["type"] == "message.created")
                .map(|(v, _, _)| {
                    (
                        v["id"].as_str().unwrap_or_default().to_owned(),
                        v["data"]["object"]["subject"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let (url, shared) = receiver().await;
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
    wait_until("the first notification", || !created(&shared).is_empty()).await;
    let (body, signature, raw) = shared.lock().map(|r| r.posts[0].clone()).expect("lock");
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
    shared.lock().expect("lock").down = true;
    peer.append(
        "INBOX",
        "()",
        &message("new2@hooks", "While down", "bob@example.test", None, "x"),
    )
    .await;
    wait_until("a refused delivery", || {
        shared.lock().map(|r| r.refused >= 2).unwrap_or(false)
    })
    .await;
    eventually(&api, &format!("/v3/webhooks/{webhook}"), "failing", |b| {
        b["data"]["status"] == "failing"
    })
    .await;
    shared.lock().expect("lock").down = false;
    wait_until("the delayed notification", || {
        created(&shared).iter().any(|(_, s)| s == "While down")
    })
    .await;
    let retried = shared
        .lock()
        .map(|r| {
            r.posts
                .iter()
                .find(|(v, _, _)| v["data"]["object"]["subject"] == "While down")
                .map(|(v, _, _)| v["webhook_delivery_attempt"].as_i64().unwrap_or(0))
        })
        .expect("lock");
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
    wait_until("the notification after the restart", || {
        created(&shared).iter().any(|(_, s)| s == "After restart")
    })
    .await;
    let all = created(&shared);
    let subjects: Vec<&str> = all.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        subjects,
        ["Fresh one", "While down", "After restart"],
        "{all:?}"
    );
    let mut ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert_eq!(
        api.get(&format!("/v3/webhooks/{webhook}")).await.status,
        200
    );
    peer.logout().await;
}
