//! Webhook delivery that one application cannot hold up for another, against real
//! receivers and the real testbed: application A's receiver accepts every notification
//! and never answers, with many of them queued, yet application B's notification
//! arrives; and a notification whose message body cannot be read from the mail server
//! (a server that stops answering at the body fetch) still goes out, as
//! `message.created.truncated` without the body.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crate::support::{
    Api, Mailroom, Testbed, connect_grant, eventually, imap_app,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
    webhook_receiver::Receiver,
};
use axum::{Router, extract::Query, http::StatusCode, routing::get};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const HUNG_USER: u32 = 505;
const PROMPT_USER: u32 = 506;
const STALLED_BODY_USER: u32 = 507;
/// More notifications than all delivery slots together can hold at once, several times.
const QUEUED: usize = 160;

fn server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

/// A receiver that answers the subscription handshake, then takes every notification
/// and never answers it. Returns its URL and how many notifications it has taken.
async fn hung_receiver() -> (String, Arc<AtomicUsize>) {
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = taken.clone();
    let app = Router::new().route(
        "/hook",
        get(
            |Query(query): Query<std::collections::HashMap<String, String>>| async move {
                query.get("challenge").cloned().unwrap_or_default()
            },
        )
        .post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<StatusCode>().await
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}/hook"), taken)
}

async fn subscribe(api: &Api, url: &str) {
    let reply = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["message.created"], "webhook_url": url}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);
}

/// Puts one historic message in the mailbox, so that the first sync is known to be done
/// (and later mail to be news) once the message is listed.
async fn historic_message(user: u32) {
    let mut peer = ImapPeer::login(user).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            &format!("historic{user}@fair"),
            "Historic",
            "ann@example.test",
            None,
            "h",
        ),
    )
    .await;
    peer.logout().await;
}

async fn first_sync(api: &Api, grant: &str) {
    eventually(
        api,
        &format!("/v3/grants/{grant}/messages"),
        "the first sync",
        |b| b["data"].as_array().is_some_and(|l| l.len() == 1),
    )
    .await;
}

/// Polls `check` every 50 ms until it holds; panics after `deadline`.
async fn until(what: &str, deadline: Duration, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_hanging_receiver_of_one_application_does_not_hold_up_another() {
    reset_user(HUNG_USER, false);
    reset_user(PROMPT_USER, false);
    historic_message(HUNG_USER).await;
    historic_message(PROMPT_USER).await;
    let server = server();

    // Application A: its receiver never answers.
    let (hung_url, taken) = hung_receiver().await;
    let (api_a, grant_a) = connect_grant(&server, HUNG_USER).await;
    first_sync(&api_a, &grant_a).await;
    subscribe(&api_a, &hung_url).await;

    // Application B: an ordinary receiver.
    let receiver_b = Receiver::start().await;
    let (api_b, grant_b) = connect_grant(&server, PROMPT_USER).await;
    first_sync(&api_b, &grant_b).await;
    subscribe(&api_b, &receiver_b.url).await;

    // A's notifications queue up ahead of B's and take whatever slots they may.
    let mut peer_a = ImapPeer::login(HUNG_USER).await;
    for n in 0..QUEUED {
        peer_a
            .append(
                "INBOX",
                "()",
                &message(
                    &format!("queued{n}@fair"),
                    &format!("Queued {n}"),
                    "ann@example.test",
                    None,
                    "x",
                ),
            )
            .await;
    }
    peer_a.logout().await;
    until(
        "A's receiver to hang on deliveries",
        Duration::from_secs(30),
        || taken.load(Ordering::SeqCst) >= 2,
    )
    .await;

    let mut peer_b = ImapPeer::login(PROMPT_USER).await;
    let sent = Instant::now();
    peer_b
        .append(
            "INBOX",
            "()",
            &message("prompt@fair", "For B", "bob@example.test", None, "y"),
        )
        .await;
    peer_b.logout().await;
    let post = receiver_b
        .wait_for("message.created", |o| o["subject"] == "For B")
        .await;
    println!(
        "B's notification arrived {:?} after its mail, while A's receiver held {} deliveries",
        sent.elapsed(),
        taken.load(Ordering::SeqCst)
    );
    assert_eq!(post.body["data"]["object"]["grant_id"], grant_b.as_str());
    // A's deliveries really were hanging meanwhile, not all done.
    assert!(taken.load(Ordering::SeqCst) < QUEUED);
}

/// What the proxy does with a connection.
#[derive(Default)]
struct ProxyState {
    /// From now on, a connection that asks for a whole body stops being answered.
    stall_bodies: AtomicBool,
    stalled: AtomicUsize,
}

/// A plaintext IMAP proxy to the testbed's Dovecot that, once told to, goes silent on
/// any connection that fetches a whole message (`BODY.PEEK[]`), keeping it open.
async fn stalling_proxy() -> (u16, Arc<ProxyState>) {
    let state = Arc::new(ProxyState::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let shared = state.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let state = shared.clone();
            tokio::spawn(async move {
                let upstream = format!("127.0.0.1:{}", Testbed::get().imap_port);
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                proxy_one(client, server, state).await;
            });
        }
    });
    (port, state)
}

async fn proxy_one(client: TcpStream, server: TcpStream, state: Arc<ProxyState>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let silent = Arc::new(AtomicBool::new(false));
    let down_silent = silent.clone();
    let down = tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let Ok(n) = server_read.read(&mut buffer).await else {
                return;
            };
            if n == 0 {
                return;
            }
            if down_silent.load(Ordering::SeqCst) {
                // Hold the connection open, answering nothing more.
                std::future::pending::<()>().await;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    });
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(n) = client_read.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buffer[..n]);
        if state.stall_bodies.load(Ordering::SeqCst) && text.contains("BODY.PEEK[]") {
            silent.store(true, Ordering::SeqCst);
            state.stalled.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        if server_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    down.abort();
}

#[tokio::test]
async fn a_notification_whose_body_cannot_be_read_goes_out_without_it() {
    reset_user(STALLED_BODY_USER, false);
    historic_message(STALLED_BODY_USER).await;
    let (port, proxy) = stalling_proxy().await;
    let server = server();
    let (_, api) = imap_app(&server, "stalled bodies").await;
    let mut settings = Testbed::get().settings(STALLED_BODY_USER);
    settings["imap_host"] = json!("127.0.0.1");
    settings["imap_port"] = json!(port);
    settings["imap_security"] = json!("none");
    let reply = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": settings}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let grant = reply.body["data"]["id"].as_str().unwrap().to_owned();
    first_sync(&api, &grant).await;
    let receiver = Receiver::start().await;
    subscribe(&api, &receiver.url).await;

    // From now on the mail server never sends a body.
    proxy.stall_bodies.store(true, Ordering::SeqCst);
    let mut peer = ImapPeer::login(STALLED_BODY_USER).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "stalled@fair",
            "Body out of reach",
            "ann@example.test",
            None,
            "z",
        ),
    )
    .await;
    peer.logout().await;
    let post = receiver
        .wait_for("message.created.truncated", |o| {
            o["subject"] == "Body out of reach"
        })
        .await;
    let object = &post.body["data"]["object"];
    assert_eq!(object["grant_id"], grant.as_str());
    assert!(object.get("body").is_none(), "{object}");
    assert!(proxy.stalled.load(Ordering::SeqCst) >= 1);
}
