//! Scheduled sends that one application cannot hold up for another: application A's
//! grant submits through an SMTP tarpit (it greets, takes AUTH, then never answers the
//! mail transaction) and has many sends due first; application B's scheduled send still
//! arrives in the testbed mailbox. A grant's pending sends are limited (a clear 400).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crate::support::{
    Api, Mailroom, Testbed, connect_grant, imap_app,
    imap_peer::{ImapPeer, reset_user},
    testbed_env,
};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

const TARPIT_USER: u32 = 501;
const SENDER_USER: u32 = 502;
const RECIPIENT_USER: u32 = 503;
const QUOTA_USER: u32 = 504;
const TARPIT_SENDS: usize = 20;

fn address(user: u32) -> String {
    format!("user{user}@example.test")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// An SMTP server that greets, offers and accepts AUTH, answers QUIT, NOOP and RSET, and
/// then never answers a mail transaction, holding the connection open. Returns its port
/// and how many transactions it is holding.
async fn smtp_tarpit() -> (u16, Arc<AtomicUsize>) {
    let held = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let counter = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let held = counter.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                if write.write_all(b"220 tarpit ESMTP\r\n").await.is_err() {
                    return;
                }
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-tarpit\r\n250 AUTH PLAIN LOGIN\r\n",
                        "HELO" => b"250 tarpit\r\n",
                        "AUTH" => b"235 2.7.0 accepted\r\n",
                        "NOOP" | "RSET" => b"250 ok\r\n",
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => {
                            held.fetch_add(1, Ordering::SeqCst);
                            std::future::pending::<()>().await;
                            return;
                        }
                    };
                    if write.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, held)
}

async fn schedule(api: &Api, grant: &str, to: u32, subject: &str, send_at: i64) -> u16 {
    let reply = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({"to": [{"email": address(to)}], "subject": subject, "body": "later", "send_at": send_at}),
        )
        .await;
    assert!(reply.status == 202 || reply.status == 400, "{}", reply.text);
    reply.status
}

#[tokio::test]
async fn a_tarpit_smtp_server_of_one_application_does_not_hold_up_another() {
    reset_user(RECIPIENT_USER, false);
    let (port, held) = smtp_tarpit().await;
    let server = Mailroom::start_with(testbed_env());

    // Application A's grant submits through the tarpit.
    let (_, api_a) = imap_app(&server, "tarpit").await;
    let mut settings = Testbed::get().settings(TARPIT_USER);
    settings["smtp_host"] = json!("127.0.0.1");
    settings["smtp_port"] = json!(port);
    settings["smtp_security"] = json!("none");
    let reply = api_a
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": settings}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let grant_a = reply.body["data"]["id"].as_str().unwrap().to_owned();
    let (api_b, grant_b) = connect_grant(&server, SENDER_USER).await;

    // A's sends are due first, B's a second later.
    // Far enough ahead to be scheduled rather than sent at once.
    let due = now() + 8;
    for n in 0..TARPIT_SENDS {
        let status = schedule(
            &api_a,
            &grant_a,
            RECIPIENT_USER,
            &format!("Tarpit {n}"),
            due,
        )
        .await;
        assert_eq!(status, 202);
    }
    assert_eq!(
        schedule(&api_b, &grant_b, RECIPIENT_USER, "From B on time", due + 1).await,
        202
    );

    let scheduled_at = Instant::now();
    let deadline = scheduled_at + Duration::from_secs(60);
    loop {
        let mut peer = ImapPeer::login(RECIPIENT_USER).await;
        let arrived = peer.raw_by_subject("INBOX", "From B on time").await;
        peer.logout().await;
        if arrived.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B's scheduled send did not arrive while A's sends were held by the tarpit"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "B's send (due 9 s after scheduling) arrived {:?} after it was scheduled; the tarpit held {} of A's transactions",
        scheduled_at.elapsed(),
        held.load(Ordering::SeqCst)
    );
    // A's sends really were stuck in the tarpit meanwhile.
    assert!(held.load(Ordering::SeqCst) >= 1);
    let mut peer = ImapPeer::login(RECIPIENT_USER).await;
    assert!(peer.raw_by_subject("INBOX", "Tarpit 0").await.is_none());
    peer.logout().await;
}

#[tokio::test]
async fn pending_sends_of_a_grant_are_limited() {
    let mut env = testbed_env();
    env.push(("MAILROOM_SCHEDULED_SENDS_PER_GRANT".into(), "2".into()));
    let server = Mailroom::start_with(env);
    let (api, grant) = connect_grant(&server, QUOTA_USER).await;
    let later = now() + 3600;
    assert_eq!(schedule(&api, &grant, QUOTA_USER, "One", later).await, 202);
    assert_eq!(schedule(&api, &grant, QUOTA_USER, "Two", later).await, 202);
    let reply = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({"to": [{"email": address(QUOTA_USER)}], "subject": "Three", "body": "x", "send_at": later}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        reply.error_type(),
        "api.invalid_request_error",
        "{}",
        reply.text
    );
    assert!(
        reply.error_message().contains("2 scheduled sends"),
        "{}",
        reply.text
    );
}
