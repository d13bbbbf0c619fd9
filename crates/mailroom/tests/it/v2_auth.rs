//! Nylas v2 authentication for IMAP accounts: `/oauth/authorize` serving the same
//! sign-in page as v3 from v2's parameters, `/oauth/token` in v2's body, `/account` with
//! the token as Bearer or as Basic user, native authentication (`/connect/authorize`,
//! `/connect/token`) with v2's settings names and scopes, v2's error bodies, and
//! `/oauth/revoke`. A v2 account is a v3 grant.

use crate::support::{
    self, Api, Mailroom, Testbed, csrf_cookie, eventually, hidden_input, hosted_auth_app,
    imap_peer::{ImapPeer, reset_user},
    testbed_env,
};
use base64::Engine;
use serde_json::{Value, json};

/// Testbed users no other test signs in as (ARCHITECTURE.md, "Testbed users").
const HOSTED_USER: u32 = 79;
const NATIVE_USER: u32 = 80;
const SEED_USER: u32 = 85;
const REDIRECT: &str = "http://localhost:9000/v2/callback";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn json_reply(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn basic(token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{token}:"))
    )
}

#[tokio::test]
async fn hosted_v2_sign_in_yields_a_long_lived_token_for_the_account() {
    reset_user(HOSTED_USER, true);
    let mut peer = ImapPeer::login(HOSTED_USER).await;
    for (subject, flags) in [("v2 first", "(\\Seen)"), ("v2 second", "()")] {
        let message = format!(
            "From: Ann <ann@example.test>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{}@example.test>\r\nDate: Tue, 21 Nov 2023 10:00:00 +0000\r\n\r\nhello from v2\r\n",
            Testbed::user(HOSTED_USER).0,
            subject.replace(' ', "-")
        );
        peer.append("INBOX", flags, &message).await;
    }
    let server = Mailroom::start_with(testbed_env());
    let (app, api) = hosted_auth_app(&server, "v2 app", REDIRECT).await;
    let browser = http();
    let (email, password) = Testbed::user(HOSTED_USER);

    let page = browser
        .get(format!("{}/oauth/authorize", server.base_url))
        .query(&[
            ("client_id", app.application_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scopes", "email.modify,email.send"),
            ("login_hint", email.as_str()),
            ("state", "v2-state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let cookie = csrf_cookie(page.headers()).expect("the page's cookie");
    let html = page.text().await.unwrap();
    let testbed = Testbed::get();
    let submitted = browser
        .post(format!("{}/v3/connect/auth", server.base_url))
        .header("cookie", cookie)
        .form(&[
            ("flow", hidden_input(&html, "flow").unwrap().as_str()),
            ("csrf", hidden_input(&html, "csrf").unwrap().as_str()),
            ("email", email.as_str()),
            ("password", password.as_str()),
            ("imap_host", "localhost"),
            ("imap_port", &testbed.imap_port.to_string()),
            ("imap_security", "starttls"),
            ("smtp_host", "localhost"),
            ("smtp_port", &testbed.submission_port.to_string()),
            ("smtp_security", "starttls"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 303);
    let location = url::Url::parse(
        submitted
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap(),
    )
    .unwrap();
    let param = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("v2-state"));
    let code = param("code").unwrap_or_else(|| panic!("no code: {location}"));

    // A wrong client secret is refused in v2's words.
    let (status, body) = json_reply(
        browser
            .post(format!("{}/oauth/token", server.base_url))
            .form(&[
                ("client_id", app.application_id.as_str()),
                ("client_secret", "wrong"),
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"message": "Could not verify access credential.", "type": "invalid_request_error"})
    );
    let (status, body) = json_reply(
        browser
            .post(format!("{}/oauth/token", server.base_url))
            .json(
                &json!({"client_id": app.application_id, "client_secret": app.client_secret,
                          "grant_type": "authorization_code", "code": code}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "imap");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["email_address"], email.as_str());
    let token = body["access_token"].as_str().unwrap().to_owned();
    let account_id = body["account_id"].as_str().unwrap().to_owned();
    // A v2 account is the v3 grant, with the scopes the link asked for.
    let grant = api.get(&format!("/v3/grants/{account_id}")).await;
    assert_eq!(grant.status, 200, "{}", grant.text);
    assert_eq!(
        grant.body["data"]["scope"],
        json!(["email.modify", "email.send"])
    );
    for authorization in [format!("Bearer {token}"), basic(&token)] {
        let (status, account) = json_reply(
            browser
                .get(format!("{}/account", server.base_url))
                .header("authorization", authorization.as_str())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{authorization}: {account}");
        assert_eq!(account["object"], "account");
        assert_eq!(account["id"], account_id.as_str());
        assert_eq!(account["email_address"], email.as_str());
        assert_eq!(account["organization_unit"], "folder");
    }

    // The mail, in v2's shapes and paging.
    let v2 = Api {
        base_url: server.base_url.clone(),
        api_key: Some(token.clone()),
        http: reqwest::Client::new(),
    };
    eventually(&v2, "/messages?view=count", "both messages synced", |b| {
        b["count"] == 2
    })
    .await;
    let listed = v2.get("/messages?in=inbox&limit=1&offset=1").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let messages = listed.body.as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["object"], "message");
    assert_eq!(message["account_id"], account_id.as_str());
    assert_eq!(message["folder"]["name"], "inbox");
    assert_eq!(message["folder"]["display_name"], "INBOX");
    assert!(message["files"].is_array());
    let unread = v2.get("/messages?unread=true&view=ids").await;
    assert_eq!(
        unread.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        unread.text
    );
    let id = unread.body[0].as_str().unwrap();
    let one = v2.get(&format!("/messages/{id}")).await;
    assert_eq!(one.body["subject"], "v2 second", "{}", one.text);
    assert!(
        one.body["body"]
            .as_str()
            .unwrap_or_default()
            .contains("hello from v2")
    );
    let threads = v2.get("/threads").await;
    assert_eq!(threads.status, 200, "{}", threads.text);
    assert_eq!(threads.body.as_array().map(Vec::len), Some(2));
    assert_eq!(threads.body[0]["object"], "thread");
    let thread_id = threads.body[0]["id"].as_str().unwrap();
    let thread = v2.get(&format!("/threads/{thread_id}")).await;
    assert_eq!(thread.body["id"], thread_id);
    let folders = v2.get("/folders").await;
    assert!(
        folders
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "sent" && f["object"] == "folder"),
        "{}",
        folders.text
    );
    // Changed and sent through v2.
    let inbox_id = message["folder"]["id"].as_str().unwrap().to_owned();
    let archive = folders
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "archive")
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .expect("an Archive folder");
    let changed = v2
        .send(
            "PUT",
            &format!("/messages/{id}"),
            Some(json!({"unread": false, "starred": true, "folder_id": archive})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["unread"], false);
    assert_eq!(changed.body["starred"], true);
    assert_eq!(changed.body["folder"]["id"], archive.as_str());
    assert_ne!(archive, inbox_id);
    let unknown_field = v2
        .send(
            "PUT",
            &format!("/messages/{id}"),
            Some(json!({"labels": []})),
        )
        .await;
    assert_eq!(unknown_field.status, 400, "{}", unknown_field.text);
    let sent = v2
        .post(
            "/send",
            json!({"to": [{"email": email, "name": "Me"}], "subject": "v2 sent", "body": "<p>from v2</p>"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(sent.body["subject"], "v2 sent");
    assert_eq!(sent.body["folder"]["name"], "sent");
    let raw = format!(
        "From: {email}\r\nTo: {email}\r\nSubject: v2 raw\r\nMessage-ID: <v2-raw-{}@example.test>\r\n\r\nraw body\r\n",
        rand::random::<u64>()
    );
    let raw_sent = v2.raw("POST", "/send", "message/rfc822", &raw).await;
    assert_eq!(raw_sent.status, 200, "{}", raw_sent.text);
    assert_eq!(raw_sent.body["subject"], "v2 raw");
    let with_files = v2
        .post(
            "/send",
            json!({"to": [{"email": email}], "file_ids": ["f1"]}),
        )
        .await;
    assert_eq!(with_files.status, 400, "{}", with_files.text);

    let missing = v2.get("/messages/nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["type"], "invalid_request_error");

    // Revoked with the token as Basic user: it no longer works.
    let (status, body) = json_reply(
        browser
            .post(format!("{}/oauth/revoke", server.base_url))
            .header("authorization", basic(&token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (200, json!({"success": true})));
    let (status, body) = json_reply(
        browser
            .get(format!("{}/account", server.base_url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["type"], "invalid_request_error");
    // The code works once.
    let (status, body) = json_reply(
        browser
            .post(format!("{}/oauth/token", server.base_url))
            .json(
                &json!({"client_id": app.application_id, "client_secret": app.client_secret,
                          "grant_type": "authorization_code", "code": code}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "api_error");
}

#[tokio::test]
async fn native_v2_authentication_proves_the_password_and_trades_a_code() {
    reset_user(NATIVE_USER, true);
    let server = Mailroom::start_with(testbed_env());
    let (app, _api) = support::imap_app(&server, "v2 native").await;
    let http = http();
    let testbed = Testbed::get();
    let (email, password) = Testbed::user(NATIVE_USER);
    let settings = |password: &str| {
        json!({
            "imap_host": "localhost", "imap_port": testbed.imap_port,
            "imap_username": email, "imap_password": password,
            "smtp_host": "localhost", "smtp_port": testbed.submission_port,
            "smtp_username": email, "smtp_password": password,
            "ssl_required": false,
        })
    };
    let authorize = |body: Value| {
        http.post(format!("{}/connect/authorize", server.base_url))
            .json(&body)
            .send()
    };

    let (status, body) = json_reply(
        authorize(
            json!({"client_id": app.application_id, "name": "Nat", "email_address": email,
                         "provider": "imap", "settings": settings("wrong password"),
                         "scopes": "calendar"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "api_error");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("refused")
    );

    // Servers outside the email's domain are refused unless the application allows them.
    let mut unreachable = settings(&password);
    unreachable["imap_host"] = json!("127.0.0.1");
    let (status, body) = json_reply(
        authorize(json!({"client_id": app.application_id, "email_address": email,
                         "provider": "imap", "settings": unreachable.clone(), "scopes": "calendar"}))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "invalid_request_error");
    let allowed = server.cli(&[
        "app",
        "update",
        "--app",
        &app.application_id,
        "--allow-custom-servers",
        "true",
    ]);
    assert!(allowed.status.success(), "{allowed:?}");
    // A server nobody answers at: v2's error, naming the server, not the password.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    unreachable["imap_port"] = json!(closed_port);
    let (status, body) = json_reply(
        authorize(
            json!({"client_id": app.application_id, "email_address": email,
                         "provider": "imap", "settings": unreachable, "scopes": "calendar"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert!(
        status == 400 || status == 502 || status == 504,
        "{status} {body}"
    );
    assert_eq!(body["type"], "api_error", "{body}");
    assert!(
        !body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&password)
    );

    let (status, body) = json_reply(
        authorize(
            json!({"client_id": app.application_id, "email_address": email,
                         "provider": "imap", "settings": settings(&password),
                         "scopes": "email.nonsense"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "invalid_request_error");
    let (status, _) = json_reply(
        authorize(
            json!({"client_id": app.application_id, "email_address": email,
                         "provider": "gmail", "settings": {"google_refresh_token": "x"}}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);

    let (status, body) = json_reply(
        authorize(
            json!({"client_id": app.application_id, "name": "Nat", "email_address": email,
                         "provider": "imap", "settings": settings(&password),
                         "scopes": "calendar"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    let (status, account) = json_reply(
        http.post(format!("{}/connect/token", server.base_url))
            .json(
                &json!({"client_id": app.application_id, "client_secret": app.client_secret,
                          "code": code}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["email_address"], email.as_str());
    assert_eq!(account["name"], "Nat");
    assert_eq!(account["provider"], "imap");
    let token = account["access_token"].as_str().unwrap();
    let (status, me) = json_reply(
        http.get(format!("{}/account", server.base_url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], account["id"]);
    assert!(me.get("access_token").is_none());

    // A calendar-only account reads no mail: v2's 403 (docs/API.md §11), word for word.
    for path in ["/messages", "/threads"] {
        let (status, body) = json_reply(
            http.get(format!("{}{path}", server.base_url))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["type"], "api_error");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "You do not have access to the required scopes. You provided a token which has the following scopes: ['calendar']. You would need a token with at least one of the following scopes: ['"
            ),
            "{message}"
        );
        assert!(message.contains("'email.read_only'"), "{message}");
    }

    // The application's view of its accounts, with its client secret as Basic user.
    let admin = |path: &str, secret: &str| {
        let url = format!(
            "{}/a/{}/accounts{path}",
            server.base_url, app.application_id
        );
        (url, basic(secret))
    };
    let (url, auth) = admin("", "wrong");
    let (status, _) = json_reply(
        http.get(url)
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (url, auth) = admin("", &app.client_secret);
    let (status, accounts) = json_reply(
        http.get(url)
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{accounts}");
    let listed = accounts.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["email"], email.as_str());
    let account_id = listed[0]["id"].as_str().unwrap().to_owned();
    // Revoking every token keeps the account.
    let (url, auth) = admin(&format!("/{account_id}/revoke-all"), &app.client_secret);
    let (status, body) = json_reply(
        http.post(url)
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (200, json!({"success": true})));
    let (status, _) = json_reply(
        http.get(format!("{}/account", server.base_url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (url, auth) = admin(&format!("/{account_id}"), &app.client_secret);
    let (status, one) = json_reply(
        http.get(url)
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["sync_state"], "running");
    let (url, auth) = admin(&format!("/{account_id}"), &app.client_secret);
    let (status, _) = json_reply(
        http.delete(url)
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (url, auth) = admin(&format!("/{account_id}"), &app.client_secret);
    let (status, gone) = json_reply(
        http.get(url)
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{gone}");
}

/// Runs curl with these arguments; its status line's code and the body.
fn curl(args: &[&str]) -> (u16, String) {
    let output = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--include", "--max-time", "60"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Fills the sign-in page `html` in as a browser would; the 303's Location.
async fn submit_sign_in(server: &Mailroom, cookie: &str, html: &str, user: u32) -> url::Url {
    let testbed = Testbed::get();
    let (email, password) = Testbed::user(user);
    let submitted = http()
        .post(format!("{}/v3/connect/auth", server.base_url))
        .header("cookie", cookie)
        .form(&[
            ("flow", hidden_input(html, "flow").unwrap().as_str()),
            ("csrf", hidden_input(html, "csrf").unwrap().as_str()),
            ("email", email.as_str()),
            ("password", password.as_str()),
            ("imap_host", "localhost"),
            ("imap_port", &testbed.imap_port.to_string()),
            ("imap_security", "starttls"),
            ("smtp_host", "localhost"),
            ("smtp_port", &testbed.submission_port.to_string()),
            ("smtp_security", "starttls"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 303);
    url::Url::parse(
        submitted
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn seed_004_curl_requests_and_the_implicit_flow_work_as_written() {
    reset_user(SEED_USER, true);
    let server = Mailroom::start_with(testbed_env());
    let (app, _api) = hosted_auth_app(&server, "seed 004", REDIRECT).await;
    let (email, password) = Testbed::user(SEED_USER);
    let testbed = Testbed::get();

    // Seed 004's hosted request, as written: a GET whose parameters are a form body.
    let authorize_url = format!("{}/oauth/authorize", server.base_url);
    let fields = [
        format!("client_id={}", app.application_id),
        "response_type=code".to_owned(),
        "scopes=email.send,email.read_only".to_owned(),
        format!("login_hint={email}"),
        format!("redirect_uri={REDIRECT}"),
    ];
    let mut args = vec!["--request", "GET", "--url", authorize_url.as_str()];
    for field in &fields {
        args.extend(["-d", field.as_str()]);
    }
    let (status, page) = curl(&args);
    assert_eq!(status, 200, "{page}");
    assert!(
        hidden_input(&page, "flow").is_some(),
        "not the sign-in page: {page}"
    );

    // Seed 004's native request, as written (the IMAP provider in place of gmail): JSON
    // that curl labels as a form.
    let native = json!({
        "client_id": app.application_id,
        "name": "Mike Pfister",
        "email_address": email,
        "provider": "imap",
        "settings": {
            "imap_host": "localhost", "imap_port": testbed.imap_port,
            "imap_username": email, "imap_password": password,
            "smtp_host": "localhost", "smtp_port": testbed.submission_port,
            "smtp_username": email, "smtp_password": password,
            "ssl_required": false,
        },
        "scopes": "email.send,email.read_only"
    })
    .to_string();
    let connect_url = format!("{}/connect/authorize", server.base_url);
    let (status, body) = curl(&[
        "--request",
        "POST",
        "--url",
        connect_url.as_str(),
        "-d",
        native.as_str(),
    ]);
    assert_eq!(status, 200, "{body}");
    let code: Value = serde_json::from_str(&body).unwrap();
    assert!(
        code["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );

    // response_type=token: the token comes back in the fragment, never in a query.
    let browser = http();
    let page = browser
        .get(&authorize_url)
        .query(&[
            ("client_id", app.application_id.as_str()),
            ("response_type", "token"),
            ("redirect_uri", REDIRECT),
            ("scopes", "email.read_only"),
            ("login_hint", email.as_str()),
            ("state", "implicit-state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let cookie = csrf_cookie(page.headers()).expect("the page's cookie");
    let html = page.text().await.unwrap();
    let back = submit_sign_in(&server, &cookie, &html, SEED_USER).await;
    assert_eq!(back.query(), None, "{back}");
    let fragment: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(back.fragment().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(
        fragment.get("state").map(String::as_str),
        Some("implicit-state")
    );
    assert_eq!(
        fragment.get("token_type").map(String::as_str),
        Some("bearer")
    );
    assert_eq!(fragment.get("email_address"), Some(&email));
    let token = fragment.get("access_token").expect("an access token");
    let (status, account) = json_reply(
        browser
            .get(format!("{}/account", server.base_url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(
        Some(&account["id"]),
        fragment.get("account_id").map(|id| json!(id)).as_ref()
    );
    // The token carries the link's scopes: reading, not sending.
    let (status, refused) = json_reply(
        browser
            .post(format!("{}/send", server.base_url))
            .bearer_auth(token)
            .json(&json!({"to": [{"email": email}], "subject": "x", "body": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["type"], "api_error");
    // A change needs email.modify: v2's 403 body (docs/API.md §11), word for word.
    let (status, refused) = json_reply(
        browser
            .put(format!("{}/messages/any", server.base_url))
            .bearer_auth(token)
            .json(&json!({"unread": false}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(
        refused,
        json!({
            "message": "You do not have access to the required scopes. You provided a token which has the following scopes: ['email.read_only']. You would need a token with at least one of the following scopes: ['email.modify']",
            "type": "api_error",
        })
    );

    // v3's link still takes only codes.
    let v3_link = browser
        .get(format!("{}/v3/connect/auth", server.base_url))
        .query(&[
            ("client_id", app.application_id.as_str()),
            ("response_type", "token"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let location = v3_link
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(location.contains("unsupported_response_type"), "{location}");
}
