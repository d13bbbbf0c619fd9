//! `POST /v3/connect/custom` against the real testbed: both servers are proven before
//! anything is stored, failures name the server that refused, one grant per email.

use std::net::SocketAddr;

use crate::support::{self, Mailroom, Testbed, testbed_env};
use serde_json::{Value, json};

/// Testbed users no other test signs in as (ARCHITECTURE.md, "Testbed users").
const USER: u32 = 91;
const TLS_USER: u32 = 92;
const AGAIN_USER: u32 = 93;
const PLAINTEXT_USER: u32 = 94;

async fn app_with_connector(server: &Mailroom) -> support::Api {
    support::imap_app(server, "custom-auth").await.1
}

fn custom(settings: Value) -> Value {
    json!({"provider": "imap", "settings": settings})
}

async fn grant_count(api: &support::Api) -> usize {
    api.get("/v3/grants?limit=200").await.body["data"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(usize::MAX)
}

#[tokio::test]
async fn a_grant_is_created_over_starttls_and_never_shows_the_password() {
    let testbed = Testbed::get();
    let server = Mailroom::start();
    let api = app_with_connector(&server).await;

    let reply = api
        .post("/v3/connect/custom", custom(testbed.settings(USER)))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let (email, password) = Testbed::user(USER);
    let grant = &reply.body["data"];
    assert_eq!(grant["provider"], "imap");
    assert_eq!(grant["email"], email);
    assert_eq!(grant["grant_status"], "valid");
    assert_eq!(grant["scope"], json!([]));
    assert_eq!(grant["settings"]["imap_port"], testbed.imap_port);
    assert_eq!(grant["settings"]["smtp_security"], "starttls");
    assert!(grant["created_at"].is_i64());
    assert!(
        !reply.text.contains(&password),
        "password echoed: {}",
        reply.text
    );

    let id = grant["id"].as_str().unwrap();
    let fetched = api.get(&format!("/v3/grants/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert!(!fetched.text.contains("password"), "{}", fetched.text);

    // At rest the password is sealed, not stored as text (on SQLite: in the file's
    // bytes; on PostgreSQL: in any row of the schema).
    let database = server.database_text();
    assert!(database.contains(&email));
    assert!(!database.contains(&format!(r#""imap_password":"{password}""#)));
    assert!(!database.contains("imap_password"));
}

#[tokio::test]
async fn implicit_tls_on_both_servers_works() {
    let testbed = Testbed::get();
    let server = Mailroom::start();
    let api = app_with_connector(&server).await;
    let mut settings = testbed.settings(TLS_USER);
    settings["imap_port"] = json!(testbed.imaps_port);
    settings["imap_security"] = json!("ssl");
    settings["smtp_port"] = json!(testbed.smtps_port);
    settings["smtp_security"] = json!("ssl");
    let reply = api.post("/v3/connect/custom", custom(settings)).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["data"]["settings"]["imap_security"], "ssl");
}

#[tokio::test]
async fn wrong_passwords_name_the_server_that_refused_and_store_nothing() {
    let testbed = Testbed::get();
    let server = Mailroom::start();
    let api = app_with_connector(&server).await;

    let mut wrong_imap = testbed.settings(USER);
    wrong_imap["imap_password"] = json!("not-the-password");
    wrong_imap["smtp_password"] = json!(Testbed::user(USER).1);
    let reply = api.post("/v3/connect/custom", custom(wrong_imap)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error_type(), "api.authentication_error");
    assert!(
        reply.error_message().contains("IMAP server"),
        "{}",
        reply.text
    );
    assert!(
        reply.error_message().contains("AUTHENTICATIONFAILED"),
        "{}",
        reply.text
    );
    assert!(
        !reply.error_message().contains("info: Some"),
        "{}",
        reply.text
    );
    assert_eq!(reply.body["error"]["provider_error"]["server"], "imap");
    assert!(!reply.text.contains("not-the-password"));

    let mut wrong_smtp = testbed.settings(USER);
    wrong_smtp["smtp_password"] = json!("not-the-smtp-password");
    let reply = api.post("/v3/connect/custom", custom(wrong_smtp)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(
        reply.error_message().contains("SMTP server"),
        "{}",
        reply.text
    );
    assert_eq!(reply.body["error"]["provider_error"]["server"], "smtp");

    assert_eq!(grant_count(&api).await, 0);
}

/// A port nothing listens on: refused at once.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_unreachable_server_is_a_provider_error_and_stores_nothing() {
    let testbed = Testbed::get();
    let server = Mailroom::start();
    let api = app_with_connector(&server).await;
    let mut settings = testbed.settings(USER);
    settings["imap_port"] = json!(closed_port());
    let reply = api.post("/v3/connect/custom", custom(settings)).await;
    assert_eq!(reply.status, 504, "{}", reply.text);
    assert_eq!(reply.error_type(), "api.provider_error");
    assert!(
        reply.error_message().contains("IMAP server"),
        "{}",
        reply.text
    );
    assert_eq!(grant_count(&api).await, 0);
}

#[tokio::test]
async fn a_silent_server_times_out_and_connections_leave_from_the_bind_address() {
    let testbed = Testbed::get();
    let mut env = testbed_env();
    env.push(("MAILROOM_OUTBOUND_BIND_ADDRESS".into(), "127.0.0.7".into()));
    let server = Mailroom::start_with(env);
    let api = app_with_connector(&server).await;

    // Accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let (peers_tx, mut peers_rx) = tokio::sync::mpsc::unbounded_channel::<SocketAddr>();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, peer)) = silent.accept().await {
            let _ = peers_tx.send(peer);
            held.push(stream);
        }
    });

    let mut settings = testbed.settings(USER);
    settings["imap_port"] = json!(silent_port);
    let reply = api.post("/v3/connect/custom", custom(settings)).await;
    assert_eq!(reply.status, 504, "{}", reply.text);
    assert!(
        reply.error_message().contains("did not respond within 3 s"),
        "{}",
        reply.text
    );
    let peer = peers_rx.recv().await.expect("mailroom connected");
    assert_eq!(peer.ip().to_string(), "127.0.0.7");
    assert_eq!(grant_count(&api).await, 0);
}

#[tokio::test]
async fn authenticating_an_email_again_reauthenticates_the_same_grant() {
    let testbed = Testbed::get();
    let server = Mailroom::start();
    let api = app_with_connector(&server).await;

    let first = api
        .post("/v3/connect/custom", custom(testbed.settings(AGAIN_USER)))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let id = first.body["data"]["id"].clone();

    let mut again = testbed.settings(AGAIN_USER);
    again["imap_username"] = json!(format!("USER{AGAIN_USER}@Example.Test"));
    again["smtp_username"] = json!(Testbed::user(AGAIN_USER).0);
    let second = api.post("/v3/connect/custom", custom(again)).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["data"]["id"], id);
    assert_eq!(second.body["data"]["grant_status"], "valid");
    assert_eq!(grant_count(&api).await, 1);
}

#[tokio::test]
async fn hosts_come_from_the_known_provider_table() {
    let _ = Testbed::get();
    let server = Mailroom::start();
    let api = app_with_connector(&server).await;

    // There is no network here, so the lookup fails: but it fails for the right host.
    let reply = api
        .post(
            "/v3/connect/custom",
            custom(json!({"imap_username": "someone@aol.com", "imap_password": "pw"})),
        )
        .await;
    assert_eq!(
        reply.body["error"]["provider_error"]["host"], "imap.aol.com",
        "{}",
        reply.text
    );
    assert_eq!(reply.body["error"]["provider_error"]["port"], 993);

    let unknown = api
        .post(
            "/v3/connect/custom",
            custom(json!({"imap_username": "someone@example.test", "imap_password": "pw"})),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.error_message().contains("imap_host is required"),
        "{}",
        unknown.text
    );
    assert_eq!(grant_count(&api).await, 0);
}

#[tokio::test]
async fn bad_settings_and_scopes_are_refused_before_connecting() {
    let testbed = Testbed::get();
    let server = Mailroom::start();
    let api = app_with_connector(&server).await;

    let mut bad_port = testbed.settings(USER);
    bad_port["imap_port"] = json!("ninety");
    let reply = api.post("/v3/connect/custom", custom(bad_port)).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error_message().contains("imap_port"),
        "{}",
        reply.text
    );

    let mut bad_security = testbed.settings(USER);
    bad_security["smtp_security"] = json!("tls1.3-please");
    let reply = api.post("/v3/connect/custom", custom(bad_security)).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error_message().contains("smtp_security"));

    let reply = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": testbed.settings(USER), "scope": ["mail.everything"]}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.error_message().contains("mail.everything"));

    let reply = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "exchange", "settings": {}}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(grant_count(&api).await, 0);
}

#[tokio::test]
async fn private_hosts_plaintext_and_untrusted_certificates_are_refused_by_default() {
    let testbed = Testbed::get();

    // No allowances at all: the loopback testbed is a private host.
    let strict = Mailroom::start_with(vec![(
        "MAILROOM_EXTRA_CA_FILE".into(),
        testbed.ca_file.display().to_string(),
    )]);
    let api = app_with_connector(&strict).await;
    let reply = api
        .post("/v3/connect/custom", custom(testbed.settings(USER)))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.error_message().contains("private"), "{}", reply.text);
    assert!(
        reply
            .error_message()
            .contains("MAILROOM_ALLOW_PRIVATE_HOSTS")
    );

    // Private hosts allowed, plaintext not.
    let no_plaintext = Mailroom::start_with(vec![
        ("MAILROOM_ALLOW_PRIVATE_HOSTS".into(), "true".into()),
        (
            "MAILROOM_EXTRA_CA_FILE".into(),
            testbed.ca_file.display().to_string(),
        ),
    ]);
    let api = app_with_connector(&no_plaintext).await;
    let mut plaintext = testbed.settings(USER);
    plaintext["imap_security"] = json!("none");
    let reply = api.post("/v3/connect/custom", custom(plaintext)).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.error_message().contains("plaintext"),
        "{}",
        reply.text
    );

    // The testbed's CA not trusted: certificate verification fails.
    let untrusted = Mailroom::start_with(vec![
        ("MAILROOM_ALLOW_PRIVATE_HOSTS".into(), "true".into()),
        ("MAILROOM_PROVIDER_TIMEOUT_SECS".into(), "3".into()),
    ]);
    let api = app_with_connector(&untrusted).await;
    let reply = api
        .post("/v3/connect/custom", custom(testbed.settings(USER)))
        .await;
    assert_eq!(reply.status, 502, "{}", reply.text);
    assert!(reply.error_message().contains("TLS"), "{}", reply.text);
    assert!(
        reply.error_message().to_lowercase().contains("certificate")
            || reply.error_message().contains("UnknownIssuer"),
        "{}",
        reply.text
    );
    assert_eq!(grant_count(&api).await, 0);

    // Plaintext works where it is allowed (the testbed allows login before STARTTLS).
    let relaxed = Mailroom::start();
    let api = app_with_connector(&relaxed).await;
    let mut plaintext = testbed.settings(PLAINTEXT_USER);
    plaintext["imap_security"] = json!("none");
    plaintext["smtp_security"] = json!("none");
    let reply = api.post("/v3/connect/custom", custom(plaintext)).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}
