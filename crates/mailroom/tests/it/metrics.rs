//! What an operator sees (README.md, "Monitoring"): `/metrics` in the Prometheus text
//! format, scraped before and after a real sync of a seeded testbed mailbox, a sign-in
//! refused and a webhook delivery, every series expected present and moved, and route
//! labels that are templates, never a path with an id in it; `--metrics-listen`, which
//! takes `/metrics` off the API's listener; `/readyz`, 200 while the database answers and
//! 503 once it has lost mailroom's schema; and `--log-format json`, whose lines parse and
//! carry the request's id and the application's.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::{
    Database, Mailroom, Process, Testbed, connect_grant, csrf_cookie, eventually, hidden_input,
    hosted_auth_app,
    imap_peer::{ImapPeer, message, reset_user},
    mailroom_command, testbed_env,
    webhook_receiver::Receiver,
};
use serde_json::{Value, json};

/// The mailbox synced and announced.
const SYNCED_USER: u32 = 86;
/// The mailbox whose sign-in is refused (its password is never changed), and which
/// the JSON log test connects with its right password.
const OTHER_USER: u32 = 87;

/// One scrape: each sample's value by its name and labels, as the text format has them
/// (labels in the order written).
#[derive(Debug, Default)]
struct Scrape {
    samples: BTreeMap<(String, Labels), f64>,
    text: String,
}

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, labels, rest) = parse_sample(line)
                .unwrap_or_else(|| panic!("not a sample line of the text format: {line}"));
            let value: f64 = rest
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a sample value: {line}"));
            samples.insert((name, labels), value);
        }
        Self {
            samples,
            text: text.to_owned(),
        }
    }

    /// The sum of the samples of `name` whose labels include all of `labels`; 0 when
    /// there are none (a series not yet touched).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| v)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.samples.keys().any(|(n, _)| n == name)
    }

    /// Every value of label `label` on any sample.
    fn label_values(&self, label: &str) -> Vec<String> {
        self.samples
            .keys()
            .flat_map(|(_, labels)| labels.iter())
            .filter(|(k, _)| k == label)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether `# TYPE name kind` is declared.
    fn declares(&self, name: &str, kind: &str) -> bool {
        self.text
            .lines()
            .any(|l| l.trim() == format!("# TYPE {name} {kind}"))
    }
}

/// A sample's labels, in the order written.
type Labels = Vec<(String, String)>;

/// `name{k="v",…} value` → name, labels, value text. Label values may hold `{`, `}`, `,`
/// and escaped quotes (route templates do).
fn parse_sample(line: &str) -> Option<(String, Labels, &str)> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    let (_, quote) = chars.next()?;
                    if quote != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '\\' => {
                                let (_, escaped) = chars.next()?;
                                value.push(if escaped == 'n' { '\n' } else { escaped });
                            }
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
    }
    Some((name, labels, rest))
}

async fn scrape(url: &str) -> Scrape {
    let reply = reqwest::get(url).await.expect("scrape /metrics");
    assert_eq!(reply.status(), 200, "{url}");
    let content_type = reply
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&reply.text().await.expect("metrics text"))
}

/// Scrapes until `check` accepts a scrape (deadline 30 s), and returns that one.
async fn scrape_until(url: &str, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let scraped = scrape(url).await;
        if check(&scraped) {
            return scraped;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last scrape:\n{}",
            scraped.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_exposition_parser_reads_templates_and_escapes() {
    let scraped = Scrape::parse(
        "# TYPE x_total counter\n\
         x_total{route=\"/v3/grants/{grant_id}/messages\",status=\"200\"} 3\n\
         x_total{route=\"a\\\"b,c\",status=\"404\"} 1\n\
         y 2.5\n",
    );
    assert_eq!(
        scraped.value("x_total", &[("route", "/v3/grants/{grant_id}/messages")]),
        3.0
    );
    assert_eq!(scraped.value("x_total", &[("route", "a\"b,c")]), 1.0);
    assert_eq!(scraped.value("x_total", &[]), 4.0);
    assert_eq!(scraped.value("y", &[]), 2.5);
    assert_eq!(scraped.value("z", &[]), 0.0);
    assert!(scraped.declares("x_total", "counter"));
}

#[tokio::test]
async fn a_sync_a_refused_sign_in_and_a_webhook_delivery_move_their_series() {
    reset_user(SYNCED_USER, false);
    let mut peer = ImapPeer::login(SYNCED_USER).await;
    for n in 1..=3 {
        peer.append(
            "INBOX",
            "()",
            &message(
                &format!("seed{n}@metrics"),
                &format!("Seeded {n}"),
                "ann@example.test",
                None,
                "a body to read",
            ),
        )
        .await;
    }
    let receiver = Receiver::start().await;
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.push(("MAILROOM_WEBHOOK_RETRY_SECS".into(), "1".into()));
    let server = Mailroom::start_with(env);
    let metrics_url = format!("{}/metrics", server.base_url);
    let before = scrape(&metrics_url).await;

    let (api, grant) = connect_grant(&server, SYNCED_USER).await;
    let listed = eventually(
        &api,
        &format!("/v3/grants/{grant}/messages"),
        "the first sync",
        |b| b["data"].as_array().is_some_and(|l| l.len() == 3),
    )
    .await;
    let message_id = listed["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let read = api
        .get(&format!("/v3/grants/{grant}/messages/{message_id}"))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);

    // A sign-in with the wrong password, for another mailbox.
    let mut wrong = Testbed::get().settings(OTHER_USER);
    wrong["imap_password"] = json!("not-the-password");
    wrong["smtp_password"] = json!("not-the-password");
    let refused = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": wrong}),
        )
        .await;
    assert!(refused.status >= 400, "{}", refused.text);

    // A webhook, and new mail for it to announce.
    let created = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["message.created"], "webhook_url": receiver.url}),
        )
        .await;
    assert!(created.status < 300, "{}", created.text);
    peer.append(
        "INBOX",
        "()",
        &message("fresh@metrics", "Fresh", "bob@example.test", None, "new"),
    )
    .await;
    receiver
        .wait_for("message.created", |m| m["subject"] == "Fresh")
        .await;
    // The receiver refuses one: a failure to be tried again, then delivered.
    receiver.set_down(true);
    peer.append(
        "INBOX",
        "()",
        &message("later@metrics", "Later", "bob@example.test", None, "new"),
    )
    .await;
    let retrying = [("outcome", "retrying")];
    scrape_until(&metrics_url, "a delivery to retry", |s| {
        s.value("mailroom_webhook_deliveries_total", &retrying)
            > before.value("mailroom_webhook_deliveries_total", &retrying)
            && s.value("mailroom_webhook_deliveries_pending", &[]) >= 1.0
    })
    .await;
    receiver.set_down(false);
    receiver
        .wait_for("message.created", |m| m["subject"] == "Later")
        .await;

    let delivered = [("outcome", "delivered")];
    let after = scrape_until(&metrics_url, "the figures after sync and delivery", |s| {
        s.value("mailroom_webhook_deliveries_total", &delivered)
            > before.value("mailroom_webhook_deliveries_total", &delivered)
            && s.value("mailroom_webhook_deliveries_pending", &[]) == 0.0
            && s.value("mailroom_sync_messages_indexed_total", &[]) >= 5.0
            && s.value("mailroom_sync_bodies_read_total", &[]) >= 5.0
            && s.value("mailroom_grants", &[("state", "running")]) == 1.0
    })
    .await;

    // HTTP: the routes asked for, as templates, with their status and latency.
    let messages_route = [
        ("method", "GET"),
        ("route", "/v3/grants/{grant_id}/messages"),
        ("status", "200"),
    ];
    assert!(
        after.value("mailroom_http_requests_total", &messages_route)
            > before.value("mailroom_http_requests_total", &messages_route)
    );
    let one_message = [
        ("route", "/v3/grants/{grant_id}/messages/{message_id}"),
        ("status", "200"),
    ];
    assert_eq!(
        after.value("mailroom_http_requests_total", &one_message),
        1.0
    );
    assert!(after.declares("mailroom_http_request_duration_seconds", "histogram"));
    let duration_count = "mailroom_http_request_duration_seconds_count";
    let messages_template = [("route", "/v3/grants/{grant_id}/messages")];
    assert!(
        after.value(duration_count, &messages_template)
            > before.value(duration_count, &messages_template)
    );
    assert!(
        after.value(
            "mailroom_http_request_duration_seconds_bucket",
            &[("le", "+Inf")]
        ) > 0.0
    );
    // No id became a label: neither the grant's, nor the message's.
    assert!(!after.text.contains(&grant), "{}", after.text);
    assert!(!after.text.contains(&message_id), "{}", after.text);
    for route in after.label_values("route") {
        assert!(
            route == "unmatched" || route.starts_with('/'),
            "route label {route}"
        );
    }

    // Sync: messages indexed, bodies read, passes and their durations, the connection.
    for counter in [
        "mailroom_sync_messages_indexed_total",
        "mailroom_sync_bodies_read_total",
        "mailroom_sync_passes_total",
        "mailroom_sync_pass_duration_seconds_count",
    ] {
        assert!(
            after.value(counter, &[]) > before.value(counter, &[]),
            "{counter} did not move:\n{}",
            after.text
        );
    }
    assert!(after.value("mailroom_sync_passes_total", &[("kind", "full")]) >= 1.0);
    assert!(after.declares("mailroom_sync_pass_duration_seconds", "histogram"));
    assert!(after.value("mailroom_imap_connections_open", &[]) >= 1.0);
    assert!(after.has("mailroom_smtp_connections_open"));
    assert!(after.declares("mailroom_grants", "gauge"));

    // Sign-ins: the grant's, and the refused one.
    let signed_in = [("origin", "custom_auth"), ("outcome", "success")];
    let wrong_password = [("origin", "custom_auth"), ("outcome", "wrong_password")];
    assert_eq!(
        after.value("mailroom_sign_ins_total", &signed_in)
            - before.value("mailroom_sign_ins_total", &signed_in),
        1.0
    );
    assert_eq!(
        after.value("mailroom_sign_ins_total", &wrong_password)
            - before.value("mailroom_sign_ins_total", &wrong_password),
        1.0
    );

    // The outbox and the schedule, read from the store at the scrape.
    for gauge in [
        "mailroom_webhook_deliveries_pending",
        "mailroom_webhook_oldest_pending_age_seconds",
        "mailroom_scheduled_sends_pending",
    ] {
        assert!(after.declares(gauge, "gauge"), "{gauge}:\n{}", after.text);
    }
    assert!(after.has("mailroom_webhook_deliveries_total"));
}

/// Where the hosted sign-in test's application sends the browser back.
const REDIRECT: &str = "http://localhost:9087/oauth/exchange";

#[tokio::test]
async fn a_hosted_sign_in_and_its_token_exchange_and_refresh_are_counted() {
    let server = Mailroom::start();
    let (app, _) = hosted_auth_app(&server, "tokens", REDIRECT).await;
    let metrics_url = format!("{}/metrics", server.base_url);
    let before = scrape(&metrics_url).await;

    // The hosted page, as a browser fills it in.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a browser");
    let (email, password) = Testbed::user(OTHER_USER);
    let url = format!("{}/v3/connect/auth", server.base_url);
    let page = browser
        .get(&url)
        .query(&[
            ("client_id", app.application_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("access_type", "offline"),
            ("provider", "imap"),
            ("login_hint", email.as_str()),
        ])
        .send()
        .await
        .expect("the sign-in page");
    assert_eq!(page.status(), 200);
    let cookie = csrf_cookie(page.headers()).expect("the CSRF cookie");
    let html = page.text().await.expect("the page");
    let hidden = |name: &str| hidden_input(&html, name).expect(name);
    let testbed = Testbed::get();
    let form = [
        ("flow", hidden("flow")),
        ("csrf", hidden("csrf")),
        ("email", email.clone()),
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
        .expect("the sign-in");
    assert_eq!(done.status(), 303);
    let back = done
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok())
        .expect("sent back");
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");

    // The code exchanged, then the refresh token used.
    let token = server.anonymous();
    let issued = token
        .post(
            "/v3/connect/token",
            json!({"grant_type": "authorization_code", "client_id": app.application_id,
                   "client_secret": app.client_secret, "code": code, "redirect_uri": REDIRECT}),
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    let refresh_token = issued.body["refresh_token"].as_str().unwrap_or_default();
    let refreshed = token
        .post(
            "/v3/connect/token",
            json!({"grant_type": "refresh_token", "client_id": app.application_id,
                   "client_secret": app.api_key, "refresh_token": refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);

    let after = scrape(&metrics_url).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(
        moved(
            "mailroom_sign_ins_total",
            &[("origin", "hosted_page"), ("outcome", "success")]
        ),
        1.0
    );
    for grant_type in ["authorization_code", "refresh_token"] {
        assert_eq!(
            moved(
                "mailroom_tokens_issued_total",
                &[("api", "v3"), ("grant_type", grant_type)]
            ),
            1.0,
            "{grant_type}:\n{}",
            after.text
        );
    }
    assert!(
        moved(
            "mailroom_http_requests_total",
            &[("route", "/v3/connect/token"), ("status", "200")]
        ) == 2.0
    );
}

/// A `mailroom serve` started by the test with `args`, its stdout announcements (the
/// lines before and including `listening on`) and its stderr lines as they come.
struct Spawned {
    _process: Process,
    announced: Vec<String>,
    base_url: String,
    log: Arc<Mutex<Vec<String>>>,
    data_dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    _database: Database,
}

fn spawn(args: &[&str], mut env: Vec<(String, String)>) -> Spawned {
    let database = Database::new();
    env.extend(database.env());
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut command = mailroom_command(data_dir.path(), &env);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn mailroom serve");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let process = Process(child);
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.lock().expect("log lock").push(line);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut announced = Vec::new();
    let base_url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("mailroom serve did not announce its address in time");
        announced.push(line.clone());
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_owned();
        }
    };
    Spawned {
        _process: process,
        announced,
        base_url,
        log,
        data_dir,
        env,
        _database: database,
    }
}

/// Settings for a server that needs no mail server.
fn plain_env() -> Vec<(String, String)> {
    vec![("MAILROOM_PROVIDER_TIMEOUT_SECS".into(), "3".into())]
}

#[tokio::test]
async fn metrics_listen_moves_metrics_off_the_api_listener() {
    let server = spawn(&["--metrics-listen", "127.0.0.1:0"], plain_env());
    let metrics_url = server
        .announced
        .iter()
        .find_map(|l| l.strip_prefix("metrics on "))
        .unwrap_or_else(|| panic!("no metrics address announced: {:?}", server.announced))
        .trim()
        .to_owned();
    let on_api = reqwest::get(format!("{}/metrics", server.base_url))
        .await
        .expect("ask the API listener");
    assert_eq!(on_api.status(), 404);
    let health = reqwest::get(format!("{}/healthz", server.base_url))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let scraped = scrape_until(&metrics_url, "the health check counted", |s| {
        s.value(
            "mailroom_http_requests_total",
            &[("route", "/healthz"), ("status", "200")],
        ) >= 1.0
    })
    .await;
    // The API's 404 for /metrics was counted as a route that matched nothing.
    assert!(
        scraped.value(
            "mailroom_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    // The metrics listener serves nothing else.
    let metrics_base = metrics_url.trim_end_matches("/metrics");
    let api_there = reqwest::get(format!("{metrics_base}/healthz"))
        .await
        .expect("ask the metrics listener");
    assert_eq!(api_there.status(), 404);
    // Without the setting, /metrics is on the API's listener.
    let together = spawn(&[], plain_env());
    scrape(&format!("{}/metrics", together.base_url)).await;
}

#[tokio::test]
async fn readyz_answers_200_and_503_once_the_database_has_lost_its_schema() {
    let server = Mailroom::start_with(plain_env());
    let ready = reqwest::get(format!("{}/readyz", server.base_url))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("readyz JSON");
    assert_eq!(body, json!({"database": "ok", "sync": "running"}));

    // The schema goes behind the server's back, as with a wrong database restored in
    // its place: the database still opens, but is no use to mailroom.
    server.database.execute(
        server.data_dir.path(),
        "ALTER TABLE _sqlx_migrations RENAME TO _sqlx_migrations_gone",
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        let reply = reqwest::get(format!("{}/readyz", server.base_url))
            .await
            .expect("readyz");
        if reply.status() == 503 {
            break reply.json::<Value>().await.expect("readyz JSON");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz still answers {}",
            reply.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let database = body["database"].as_str().unwrap_or_default();
    assert!(database.starts_with("error: "), "{body}");
    assert!(database.contains("_sqlx_migrations"), "{body}");
    assert_eq!(body["sync"], "running", "{body}");
    // The liveness check asks nothing of the database.
    let health = reqwest::get(format!("{}/healthz", server.base_url))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn json_log_lines_parse_and_carry_the_request_application_and_grant_ids() {
    let mut env = testbed_env();
    env.push(("MAILROOM_LOG".into(), "info,mailroom_api=debug".into()));
    let server = spawn(&["--log-format", "json"], env);
    let output = mailroom_command(server.data_dir.path(), &server.env)
        .args(["app", "create", "--name", "logs", "--json"])
        .output()
        .expect("app create");
    assert!(output.status.success(), "{output:?}");
    let app: Value = serde_json::from_slice(&output.stdout).expect("app create JSON");
    let (application_id, api_key) = (
        app["application_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        app["api_key"].as_str().unwrap_or_default().to_owned(),
    );
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{}{path}", server.base_url))
            .bearer_auth(&api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let connector = call(
        reqwest::Method::POST,
        "/v3/connectors",
        Some(json!({"provider": "imap"})),
    )
    .await
    .expect("create the connector");
    assert_eq!(connector.status(), 201);
    let connected = call(
        reqwest::Method::POST,
        "/v3/connect/custom",
        Some(json!({"provider": "imap", "settings": Testbed::get().settings(OTHER_USER)})),
    )
    .await
    .expect("connect a grant");
    assert_eq!(connected.status(), 201);
    let grant: Value = connected.json().await.expect("grant JSON");
    let grant_id = grant["data"]["id"].as_str().unwrap_or_default().to_owned();

    // An application route, then a grant route: each request's lines carry its id.
    let listed = call(reqwest::Method::GET, "/v3/grants", None)
        .await
        .expect("list grants");
    assert_eq!(listed.status(), 200);
    let line = request_line(&server, &request_id_of(&listed)).await;
    assert_eq!(
        line["span"]["application_id"],
        application_id.as_str(),
        "{line}"
    );
    assert_eq!(line["span"]["route"], "/v3/grants", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(
        line["timestamp"].is_string() && line["level"].is_string(),
        "{line}"
    );

    let folders = call(
        reqwest::Method::GET,
        &format!("/v3/grants/{grant_id}/folders"),
        None,
    )
    .await
    .expect("list folders");
    let line = request_line(&server, &request_id_of(&folders)).await;
    assert_eq!(line["span"]["grant_id"], grant_id.as_str(), "{line}");
    assert_eq!(
        line["span"]["application_id"],
        application_id.as_str(),
        "{line}"
    );
    assert_eq!(
        line["span"]["route"], "/v3/grants/{grant_id}/folders",
        "{line}"
    );
}

fn request_id_of(reply: &reqwest::Response) -> String {
    let id = reply
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty(), "no x-request-id");
    id
}

/// The first log line of request `request_id` (deadline 30 s); every line logged so far
/// must be a JSON object.
async fn request_line(server: &Spawned, request_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let lines = server.log.lock().expect("log lock").clone();
        let parsed: Vec<Value> = lines
            .iter()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect();
        if let Some(line) = parsed
            .into_iter()
            .find(|l| l["span"]["request_id"] == request_id)
        {
            return line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no line of request {request_id}: {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
