//! `/v3/webhooks`: destinations created only after a real receiver on 127.0.0.1 answered
//! the `?challenge=` handshake, the secret shown on create and rotation only, updates
//! that re-run the challenge when the URL changes or the destination is switched back on,
//! receivers that fail the handshake, private URLs refused by default, API keys only; and
//! a webhook marked failed emails its `notification_email_addresses` through the
//! operator's notification mailer (the testbed's Postfix) into a testbed mailbox.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::support::{self, Api, Mailroom, Testbed, csrf_cookie, hidden_input, hosted_auth_app};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// How a test receiver behaves.
#[derive(Clone, Copy)]
enum Receiver {
    /// Answers 200 with the challenge value, as a webhook endpoint must.
    Echo,
    /// Answers 200 with something else.
    WrongAnswer,
    /// Redirects to an echoing path (which must not be followed).
    Redirect,
    /// Reads the request and closes the connection without a word.
    Hangs,
    /// Reads the request and never answers.
    Silent,
}

/// What a silent receiver notes once mailroom has closed the connection.
const HUNG_UP: &str = "(hung up)";

/// A receiver on 127.0.0.1 and the request targets it has seen.
struct TestReceiver {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TestReceiver {
    async fn start(mode: Receiver) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/in", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                    log.lock().unwrap().push(target.clone());
                    let challenge = url::Url::parse(&format!("http://x{target}"))
                        .unwrap()
                        .query_pairs()
                        .find(|(k, _)| k == "challenge")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    let answer = |status: &str, extra: &str, body: &str| {
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let reply = match mode {
                        Receiver::Echo => answer("200 OK", "", &challenge),
                        Receiver::WrongAnswer => answer("200 OK", "", "not-the-challenge"),
                        Receiver::Redirect => answer(
                            "302 Found",
                            &format!("location: /hooks/in?challenge={challenge}\r\n"),
                            "",
                        ),
                        Receiver::Hangs => return,
                        Receiver::Silent => {
                            // Never answers; notes when mailroom gives up and hangs up.
                            while let Ok(n) = stream.read(&mut buf).await {
                                if n == 0 {
                                    break;
                                }
                            }
                            log.lock().unwrap().push(HUNG_UP.to_owned());
                            return;
                        }
                    };
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { url, seen }
    }

    fn challenges(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.contains("challenge="))
            .count()
    }
}

/// A server that may reach loopback receivers over plain http, with a 3 s outbound
/// timeout so a silent receiver fails fast, and a notification mailer.
fn local_server() -> Mailroom {
    let mut env = vec![
        ("MAILROOM_ALLOW_PRIVATE_HOSTS".into(), "true".into()),
        ("MAILROOM_ALLOW_INSECURE_TRANSPORT".into(), "true".into()),
        ("MAILROOM_PROVIDER_TIMEOUT_SECS".into(), "3".into()),
    ];
    env.extend(notification_mailer());
    Mailroom::start_with(env)
}

/// The address failure notices come from.
const NOTICES_FROM: &str = "mailroom-notices@example.test";

/// The notification mailer: the testbed's SMTP port, which takes mail from loopback
/// without a login and delivers `@example.test` to its mailboxes (any other domain, such
/// as `ops@example.com`, to its sink: testbed/README.md, "Users and mail flow").
fn notification_mailer() -> Vec<(String, String)> {
    vec![
        (
            "MAILROOM_NOTIFICATION_SMTP_URL".into(),
            format!("smtp://127.0.0.1:{}", Testbed::get().smtp_port),
        ),
        ("MAILROOM_NOTIFICATION_FROM".into(), NOTICES_FROM.into()),
    ]
}

const WEBHOOK_FIELDS: [&str; 9] = [
    "id",
    "description",
    "trigger_types",
    "webhook_url",
    "status",
    "notification_email_addresses",
    "status_updated_at",
    "created_at",
    "updated_at",
];

#[track_caller]
fn assert_webhook_shape(data: &Value, with_secret: bool) {
    for field in WEBHOOK_FIELDS {
        assert!(data.get(field).is_some(), "{field} missing: {data}");
    }
    for field in ["status_updated_at", "created_at", "updated_at"] {
        assert!(data[field].is_i64(), "{field}: {data}");
    }
    assert_eq!(
        data.get("webhook_secret").is_some(),
        with_secret,
        "webhook_secret shown only on create and rotate: {data}"
    );
}

async fn create(api: &Api, url: &str, triggers: Value) -> support::Reply {
    api.post(
        "/v3/webhooks",
        json!({
            "trigger_types": triggers,
            "webhook_url": url,
            "description": "orders",
            "notification_email_addresses": ["ops@example.com"],
        }),
    )
    .await
}

#[tokio::test]
async fn webhook_lifecycle_with_the_challenge() {
    let server = local_server();
    let app = server.create_app("webhooks");
    let api = server.client(&app.api_key);
    let receiver = TestReceiver::start(Receiver::Echo).await;

    let created = create(
        &api,
        &receiver.url,
        json!(["message.created", "grant.expired"]),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let data = &created.body["data"];
    assert_webhook_shape(data, true);
    assert_eq!(data["status"], "active");
    assert_eq!(data["webhook_url"], receiver.url.as_str());
    assert_eq!(
        data["trigger_types"],
        json!(["message.created", "grant.expired"])
    );
    assert_eq!(
        data["notification_email_addresses"],
        json!(["ops@example.com"])
    );
    assert_eq!(data["description"], "orders");
    let secret = data["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    assert_eq!(receiver.challenges(), 1, "one handshake before creation");
    let id = data["id"].as_str().unwrap().to_owned();
    let path = format!("/v3/webhooks/{id}");

    let found = api.get(&path).await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_webhook_shape(&found.body["data"], false);
    assert!(!found.text.contains(&secret));
    let list = api.get("/v3/webhooks").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert_webhook_shape(&list.body["data"][0], false);
    assert!(!list.text.contains(&secret));

    // Fields other than the URL and status change without a new handshake.
    let updated = api
        .send(
            "PUT",
            &path,
            Some(json!({"description": "all mail", "trigger_types": ["message.updated"]})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_webhook_shape(&updated.body["data"], false);
    assert_eq!(updated.body["data"]["description"], "all mail");
    assert_eq!(
        updated.body["data"]["trigger_types"],
        json!(["message.updated"])
    );
    assert_eq!(receiver.challenges(), 1);

    // A new URL must pass the challenge; one that fails leaves the webhook as it was.
    let wrong = TestReceiver::start(Receiver::WrongAnswer).await;
    let refused = api
        .send("PUT", &path, Some(json!({"webhook_url": wrong.url})))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(
        api.get(&path).await.body["data"]["webhook_url"],
        receiver.url.as_str()
    );
    let moved_url = format!("{}?tenant=7", receiver.url);
    let moved = api
        .send("PUT", &path, Some(json!({"webhook_url": moved_url})))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["data"]["webhook_url"], moved_url.as_str());
    assert_eq!(receiver.challenges(), 2);
    assert!(
        receiver
            .seen
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .starts_with("/hooks/in?tenant=7&challenge=")
    );

    // Pausing needs no handshake; switching back on does.
    let paused = api
        .send("PUT", &path, Some(json!({"status": "pause"})))
        .await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    assert_eq!(paused.body["data"]["status"], "pause");
    assert_eq!(receiver.challenges(), 2);
    let resumed = api
        .send("PUT", &path, Some(json!({"status": "active"})))
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.body["data"]["status"], "active");
    assert_eq!(receiver.challenges(), 3);
    let failed = api
        .send("PUT", &path, Some(json!({"status": "failed"})))
        .await;
    assert_eq!(failed.status, 400, "{}", failed.text);

    // Both rotation routes: a new secret each time, shown once.
    let rotated = api
        .send("PUT", &format!("{path}/rotate-secret"), Some(json!({})))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_webhook_shape(&rotated.body["data"], true);
    let second = rotated.body["data"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, secret);
    let rotated = api
        .post(&format!("/v3/webhooks/rotate-secret/{id}"), json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let third = rotated.body["data"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(third != second && third != secret);
    assert_webhook_shape(&api.get(&path).await.body["data"], false);

    let deleted = api.delete(&path).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["data"], json!({"status": "success"}));
    assert!(deleted.body["request_id"].is_string());
    let gone = api.get(&path).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.error_type(), "api.not_found_error");
    assert_eq!(api.delete(&path).await.status, 404);
    assert_eq!(
        api.post(&format!("/v3/webhooks/rotate-secret/{id}"), json!({}))
            .await
            .status,
        404
    );
    assert_eq!(api.get("/v3/webhooks").await.body["data"], json!([]));
}

#[tokio::test]
async fn unknown_trigger_types_and_bad_input_are_refused() {
    let server = local_server();
    let app = server.create_app("webhooks");
    let api = server.client(&app.api_key);
    let receiver = TestReceiver::start(Receiver::Echo).await;

    for trigger in [
        "grant.imap_sync_completed",
        "message.created.truncated",
        "nope",
    ] {
        let reply = create(&api, &receiver.url, json!(["message.created", trigger])).await;
        assert_eq!(reply.status, 400, "{trigger}: {}", reply.text);
        assert_eq!(reply.error_type(), "api.invalid_request_payload");
        assert!(reply.error_message().contains(trigger), "{}", reply.text);
    }
    for body in [
        json!({"webhook_url": receiver.url}),
        json!({"trigger_types": [], "webhook_url": receiver.url}),
        json!({"trigger_types": ["message.created"]}),
        json!({"trigger_types": ["message.created"], "webhook_url": "ftp://example.com/x"}),
        json!({"trigger_types": ["message.created"], "webhook_url": receiver.url,
               "notification_email_addresses": ["not an address"]}),
    ] {
        let reply = api.post("/v3/webhooks", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    assert_eq!(receiver.challenges(), 0, "nothing invalid is challenged");

    let ips = api.get("/v3/webhooks/ip-addresses").await;
    assert_eq!(ips.status, 200, "{}", ips.text);
    assert_eq!(ips.body["data"]["ip_addresses"], json!([]));
    assert!(ips.body["data"]["updated_at"].is_i64());

    let mock = api
        .post(
            "/v3/webhooks/mock-payload",
            json!({"trigger_type": "message.created"}),
        )
        .await;
    assert_eq!(mock.status, 200, "{}", mock.text);
    let payload = &mock.body["data"];
    assert_eq!(payload["specversion"], "1.0");
    assert_eq!(payload["type"], "message.created");
    assert_eq!(payload["webhook_delivery_attempt"], 1);
    assert!(payload["id"].is_string() && payload["time"].is_i64());
    assert!(payload["source"].as_str().unwrap().starts_with('/'));
    assert_eq!(
        payload["data"]["application_id"],
        app.application_id.as_str()
    );
    assert_eq!(payload["data"]["object"]["object"], "message");
    assert!(payload["data"]["object"]["grant_id"].is_string());
    let bad = api
        .post("/v3/webhooks/mock-payload", json!({"trigger_type": "x.y"}))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.error_message().contains("x.y"));
}

#[tokio::test]
async fn receivers_that_fail_the_challenge_store_nothing() {
    let server = local_server();
    let app = server.create_app("webhooks");
    let api = server.client(&app.api_key);
    let echo = TestReceiver::start(Receiver::Echo).await;

    for mode in [Receiver::WrongAnswer, Receiver::Redirect, Receiver::Hangs] {
        let receiver = TestReceiver::start(mode).await;
        let reply = create(&api, &receiver.url, json!(["message.created"])).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert!(
            reply.error_message().contains("challenge"),
            "{}",
            reply.text
        );
        assert!(!reply.text.contains("webhook_secret"));
        assert_eq!(receiver.challenges(), 1);
    }
    // The redirect pointed at the same receiver: it was not followed.
    assert_eq!(echo.challenges(), 0);

    // A receiver that never answers: mailroom gives up on its own (it hangs up) and
    // says so.
    let silent = TestReceiver::start(Receiver::Silent).await;
    let reply = create(&api, &silent.url, json!(["message.created"])).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.error_message().contains("within"), "{}", reply.text);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !silent.seen.lock().unwrap().iter().any(|t| t == HUNG_UP) {
        assert!(Instant::now() < deadline, "mailroom never hung up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(api.get("/v3/webhooks").await.body["data"], json!([]));
}

#[tokio::test]
async fn private_and_plain_http_urls_are_refused_by_default() {
    let server = Mailroom::start_with(notification_mailer());
    let app = server.create_app("webhooks");
    let api = server.client(&app.api_key);
    let receiver = TestReceiver::start(Receiver::Echo).await;

    let plain = create(&api, &receiver.url, json!(["message.created"])).await;
    assert_eq!(plain.status, 400, "{}", plain.text);
    assert!(plain.error_message().contains("https"), "{}", plain.text);

    let https = receiver.url.replace("http://", "https://");
    let private = create(&api, &https, json!(["message.created"])).await;
    assert_eq!(private.status, 400, "{}", private.text);
    assert!(
        private.error_message().contains("allow_private_hosts"),
        "{}",
        private.text
    );
    assert_eq!(receiver.challenges(), 0, "nothing was sent");
    assert_eq!(api.get("/v3/webhooks").await.body["data"], json!([]));
}

const TOKEN_USER: u32 = 38;
const REDIRECT: &str = "http://localhost:9038/oauth/exchange";

/// A grant access token for testbed user 38, through the hosted sign-in page.
async fn access_token(server: &Mailroom) -> String {
    let (app, _) = hosted_auth_app(server, "token", REDIRECT).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}/v3/connect/auth", server.base_url);
    let page = browser
        .get(&url)
        .query(&[
            ("client_id", app.application_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("provider", "imap"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let cookie = csrf_cookie(page.headers()).expect("the CSRF cookie");
    let html = page.text().await.unwrap();
    let testbed = Testbed::get();
    let (email, password) = Testbed::user(TOKEN_USER);
    let form = [
        ("flow", hidden_input(&html, "flow").unwrap()),
        ("csrf", hidden_input(&html, "csrf").unwrap()),
        ("email", email),
        ("password", password),
        ("imap_host", "localhost".into()),
        ("imap_port", testbed.imap_port.to_string()),
        ("imap_security", "starttls".into()),
        ("smtp_host", "localhost".into()),
        ("smtp_port", testbed.submission_port.to_string()),
        ("smtp_security", "starttls".into()),
    ];
    let done = browser
        .post(&url)
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let location = url::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let tokens = server
        .anonymous()
        .post(
            "/v3/connect/token",
            json!({
                "grant_type": "authorization_code",
                "client_id": app.application_id,
                "client_secret": app.client_secret,
                "code": code,
                "redirect_uri": REDIRECT,
            }),
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    tokens.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn only_the_applications_api_key_reaches_its_webhooks() {
    let mut env = support::testbed_env();
    env.extend(notification_mailer());
    let server = Mailroom::start_with(env);
    let app = server.create_app("webhooks");
    let api = server.client(&app.api_key);
    let receiver = TestReceiver::start(Receiver::Echo).await;
    let created = create(&api, &receiver.url, json!(["message.created"])).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v3/webhooks/{id}");

    let token = access_token(&server).await;
    let user = server.client(&token);
    let anonymous = server.anonymous();
    for caller in [&user, &anonymous] {
        for (method, route) in [
            ("GET", "/v3/webhooks".to_owned()),
            ("POST", "/v3/webhooks".to_owned()),
            ("GET", path.clone()),
            ("PUT", path.clone()),
            ("DELETE", path.clone()),
            ("PUT", format!("{path}/rotate-secret")),
            ("POST", format!("/v3/webhooks/rotate-secret/{id}")),
            ("GET", "/v3/webhooks/ip-addresses".to_owned()),
            ("POST", "/v3/webhooks/mock-payload".to_owned()),
        ] {
            let reply = caller.send(method, &route, Some(json!({}))).await;
            assert_eq!(reply.status, 401, "{method} {route}: {}", reply.text);
            assert_eq!(reply.error_type(), "api.authentication_error");
        }
    }

    // Another application's key sees none of it.
    let other = server.client(&server.create_app("other").api_key);
    assert_eq!(other.get(&path).await.status, 404);
    assert_eq!(other.delete(&path).await.status, 404);
    assert_eq!(
        other
            .send("PUT", &format!("{path}/rotate-secret"), None)
            .await
            .status,
        404
    );
    assert_eq!(other.get("/v3/webhooks").await.body["data"], json!([]));
    assert_eq!(api.get(&path).await.status, 200);
}

/// The testbed user the failure notice goes to (testbed/README.md, the users' table).
const NOTICE_USER: u32 = 519;

/// A receiver that refuses every notification: the webhook is given up (after a second,
/// `MAILROOM_WEBHOOK_GIVE_UP_SECS`) and marked failed, and its notification address gets
/// one plain-text email through the testbed's Postfix, read back from the mailbox over
/// IMAP: the webhook's id, URL, status, the last error and how to switch it back on,
/// never its secret. A server without a mailer refuses the addresses instead.
#[tokio::test]
async fn a_failed_webhook_emails_its_notification_addresses() {
    support::imap_peer::reset_user(NOTICE_USER, false);
    let (address, _) = Testbed::user(NOTICE_USER);
    let mut env = support::testbed_env();
    env.extend(notification_mailer());
    env.push(("MAILROOM_WEBHOOK_RETRY_SECS".into(), "1".into()));
    env.push(("MAILROOM_WEBHOOK_GIVE_UP_SECS".into(), "1".into()));
    let server = Mailroom::start_with(env);
    let (_, api) = support::imap_app(&server, "failing receiver").await;
    let receiver = support::webhook_receiver::Receiver::start().await;
    receiver.set_down(true);
    let created = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["grant.created"], "webhook_url": receiver.url,
                   "notification_email_addresses": [address]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let secret = created.body["data"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": Testbed::get().settings(NOTICE_USER)}),
        )
        .await;
    assert_eq!(grant.status, 201, "{}", grant.text);

    let path = format!("/v3/webhooks/{id}");
    support::eventually(&api, &path, "the webhook marked failed", |body| {
        body["data"]["status"] == "failed"
    })
    .await;
    assert!(receiver.refused() >= 1);

    let subject = format!("Webhook {id} failed");
    let mut peer = support::imap_peer::ImapPeer::login(NOTICE_USER).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let raw = loop {
        if let Some(raw) = peer.raw_by_subject("INBOX", &subject).await {
            break raw;
        }
        assert!(Instant::now() < deadline, "no failure notice arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    peer.logout().await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    for expected in [
        format!("From: <{NOTICES_FROM}>"),
        format!("To: <{address}>"),
        format!("Callback URL: {}", receiver.url),
        "Status:       failed".to_owned(),
        "Last error:   the receiver answered 503".to_owned(),
        format!("PUT /v3/webhooks/{id}"),
        "{\"status\": \"active\"}".to_owned(),
    ] {
        assert!(
            text.contains(&expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(
        !text.contains(&secret),
        "the webhook secret is never mailed"
    );
    // Marked sent once the mail server took it, and one notice for the one transition.
    support::wait_for("the notice marked sent", Duration::from_secs(30), || {
        let sent = server
            .database_scalar("SELECT COUNT(*) FROM webhook_failure_notices WHERE state = 'sent'");
        (sent == 1).then_some(())
    });
    assert_eq!(
        server.database_scalar("SELECT COUNT(*) FROM webhook_failure_notices"),
        1
    );

    // Without a mailer, the addresses are refused with a 400 that says why.
    let plain = Mailroom::start_with(support::testbed_env());
    let (_, api) = support::imap_app(&plain, "no mailer").await;
    let refused = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["grant.created"], "webhook_url": receiver.url,
                   "notification_email_addresses": [address]}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.error_type(), "api.invalid_request_error");
    assert!(
        refused
            .error_message()
            .contains("needs the operator's notification mailer (notification_smtp_url)"),
        "{}",
        refused.text
    );
}
