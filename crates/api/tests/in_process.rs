//! The in-process tier: the whole router on a temporary SQLite database, driven without
//! a socket, a mail server, root or PostgreSQL. Mail comes from the index alone (the
//! mailboxes answer that no server is reachable), so this tier covers what the API
//! decides by itself: envelopes and error shapes of v3 and v2, authentication, scopes,
//! paging, validation and limits. `cargo test -p mailroom-api` runs it in seconds; the
//! testbed suites of crates/mailroom/tests remain the boundary with real servers.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use mailroom_api::{AppState, HttpLimits, NoMailboxes, SignInLimits, SignInSettings};
use mailroom_model::{
    EmailAddress, GrantId, MailCredentials, MailServerSettings, Provider, ProviderTable, Scope,
    TransportSecurity,
};
use mailroom_store::{FolderListing, GrantScope, GrantWrite, NewMessage, SecretBox, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

struct App {
    router: Router,
    store: Store,
    api_key: String,
    application_id: String,
    grant_id: GrantId,
    message_ids: Vec<String>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    body: Value,
    request_id: Option<String>,
}

/// An application with one IMAP grant whose Inbox holds three indexed messages.
async fn app() -> App {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("mailroom.db").display());
    let store = Store::open(&url, SecretBox::new(&[9; 32]))
        .await
        .expect("the store opens");
    let created = store
        .create_application("in-process", &[])
        .await
        .expect("an application");
    let email = EmailAddress::parse("ann@example.test").expect("an address");
    let settings = MailServerSettings {
        imap_username: "ann@example.test".into(),
        imap_host: "imap.example.test".into(),
        imap_port: 993,
        imap_security: TransportSecurity::Ssl,
        smtp_username: "ann@example.test".into(),
        smtp_host: "smtp.example.test".into(),
        smtp_port: 465,
        smtp_security: TransportSecurity::Ssl,
    };
    let credentials = MailCredentials {
        imap_password: "secret".into(),
        smtp_password: "secret".into(),
    };
    let (grant, _) = store
        .upsert_grant(GrantWrite {
            application_id: &created.application.id,
            provider: Provider::Imap,
            email: &email,
            name: Some("Ann"),
            scope: GrantScope::Unchanged,
            settings: &settings,
            credentials: &credentials.into(),
            email_verified: true,
            max_grants: 10,
            state: None,
            ip: None,
            user_agent: None,
        })
        .await
        .expect("the grant is written")
        .expect("the grant is admitted");
    let folders = store
        .reconcile_folders(
            &grant.id,
            &[FolderListing {
                imap_name: "INBOX".into(),
                name: "INBOX".into(),
                parent_imap_name: None,
                delimiter: Some("/".into()),
                attributes: vec![],
            }],
        )
        .await
        .expect("the folders are written");
    let messages: Vec<NewMessage> = (1..=3).map(message).collect();
    store
        .add_folder_messages(&grant.id, &folders[0].id, &messages)
        .await
        .expect("the messages are indexed");
    let state = AppState {
        store: store.clone(),
        policy: mailroom_net::OutboundPolicy::new(Default::default()).expect("a policy"),
        mailboxes: std::sync::Arc::new(NoMailboxes),
        discovery: mailroom_net::MailDiscovery::new(None).expect("discovery"),
        sign_in: std::sync::Arc::new(SignInLimits::new(SignInSettings::default())),
        providers: ProviderTable::real(),
        public_url: None,
    };
    let router = mailroom_api::router(state, HttpLimits::default());
    let mut app = App {
        router,
        store,
        api_key: created.api_key,
        application_id: created.application.id.as_str().to_owned(),
        grant_id: grant.id,
        message_ids: Vec::new(),
        _dir: dir,
    };
    let listed = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    app.message_ids = listed.body["data"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(app.message_ids.len(), 3, "{}", listed.body);
    app
}

fn message(uid: i64) -> NewMessage {
    NewMessage {
        uid,
        identity_key: format!("mid:m{uid}@example.test"),
        message_id_header: Some(format!("m{uid}@example.test")),
        thread_keys: vec![format!("id:m{uid}@example.test")],
        subject: Some(format!("Subject {uid}")),
        from: vec![],
        to: vec![],
        cc: vec![],
        bcc: vec![],
        reply_to: vec![],
        date: 1_700_000_000 + uid,
        sent_date: None,
        size: 100,
        flags: if uid == 1 {
            vec!["\\Seen".into()]
        } else {
            vec![]
        },
        has_attachments: false,
        in_reply_to: None,
        adopts_identity: None,
    }
}

impl App {
    fn grant_path(&self, rest: &str) -> String {
        format!("/v3/grants/{}{rest}", self.grant_id)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let key = format!("Bearer {}", self.api_key);
        self.send(method, path, Some(&key), body.map(|b| b.to_string()))
            .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body)),
            None => request.body(Body::empty()),
        }
        .expect("a request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("the body is read")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            request_id,
        }
    }

    /// A v2 access token for the grant, issued for `scopes` (empty: all of the grant's).
    async fn v2_token(&self, scopes: &[Scope]) -> String {
        let application = mailroom_model::ApplicationId::parse(&self.application_id)
            .expect("the application's id");
        let code = self
            .store
            .issue_native_code(&application, &self.grant_id, scopes)
            .await
            .expect("a code");
        self.store
            .redeem_v2_code(&application, &code)
            .await
            .expect("a token")
            .access_token
    }
}

/// v3's error envelope: `request_id` and `error` with `type` and `message`.
fn assert_v3_error(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert!(
        reply.body["request_id"].is_string(),
        "{what}: {}",
        reply.body
    );
    assert!(
        reply.body["error"]["type"].is_string(),
        "{what}: {}",
        reply.body
    );
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {}",
        reply.body
    );
}

/// v2's error body: exactly `message` and `type`.
fn assert_v2_error(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    let keys: Vec<&String> = reply
        .body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["message", "type"], "{what}: {}", reply.body);
}

#[tokio::test]
async fn calls_without_credentials_are_refused_in_each_api_s_shape() {
    let app = app().await;
    let v3 = [
        (Method::GET, "/v3/grants".to_owned()),
        (Method::GET, app.grant_path("/messages")),
        (Method::GET, app.grant_path("/threads")),
        (Method::GET, app.grant_path("/folders")),
        (Method::POST, app.grant_path("/messages/send")),
        (Method::GET, "/v3/webhooks".to_owned()),
        (Method::GET, "/v3/connectors".to_owned()),
    ];
    for (method, path) in v3 {
        for authorization in [None, Some("Bearer mrk_not_a_key"), Some("Basic !!")] {
            let reply = app.send(method.clone(), &path, authorization, None).await;
            assert_v3_error(
                &reply,
                StatusCode::UNAUTHORIZED,
                &format!("{method} {path}"),
            );
        }
    }
    for path in ["/messages", "/threads", "/folders", "/account", "/delta"] {
        for authorization in [None, Some("Bearer not-a-token")] {
            let reply = app.send(Method::GET, path, authorization, None).await;
            assert_v2_error(&reply, StatusCode::UNAUTHORIZED, path);
        }
    }
}

#[tokio::test]
async fn unknown_routes_methods_and_ids_are_told_apart() {
    let app = app().await;
    let cases = [
        (
            Method::GET,
            "/v3/nothing-here".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/v3/grants/not-a-grant".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            app.grant_path("/messages/nope"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            app.grant_path("/threads/nope"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            app.grant_path("/folders/nope"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/v3/webhooks/nope".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            app.grant_path("/messages"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::DELETE,
            "/v3/grants".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (method, path, status) in cases {
        let reply = app.call(method.clone(), &path, None).await;
        assert_v3_error(&reply, status, &format!("{method} {path}"));
    }
    let token = app.v2_token(&[]).await;
    let bearer = format!("Bearer {token}");
    for path in [
        "/messages/nope",
        "/threads/nope",
        "/folders/nope",
        "/drafts/nope",
    ] {
        let reply = app.send(Method::GET, path, Some(&bearer), None).await;
        assert_v2_error(&reply, StatusCode::NOT_FOUND, path);
        assert_eq!(reply.body["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn answers_carry_the_envelope_and_the_request_id() {
    let app = app().await;
    let reply = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["request_id"].as_str(),
        reply.request_id.as_deref(),
        "the body's request id is the header's"
    );
    let subjects: Vec<&str> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        subjects,
        ["Subject 3", "Subject 2", "Subject 1"],
        "newest first"
    );
    let health = app.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
}

#[tokio::test]
async fn lists_page_by_cursor_and_filter_by_query() {
    let app = app().await;
    let first = app
        .call(Method::GET, &app.grant_path("/messages?limit=2"), None)
        .await;
    assert_eq!(first.body["data"].as_array().map(Vec::len), Some(2));
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let rest = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?limit=2&page_token={cursor}")),
            None,
        )
        .await;
    assert_eq!(
        rest.body["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        rest.body
    );
    assert!(rest.body.get("next_cursor").is_none_or(Value::is_null));
    let cases = [
        ("/messages?unread=true", 2),
        ("/messages?unread=false", 1),
        ("/messages?subject=Subject%202", 1),
        ("/messages?received_after=1700000002", 1),
        ("/threads", 3),
        ("/folders", 1),
    ];
    for (query, count) in cases {
        let reply = app.call(Method::GET, &app.grant_path(query), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
        assert_eq!(
            reply.body["data"].as_array().map(Vec::len),
            Some(count),
            "{query}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn bad_query_values_and_bodies_are_400_and_change_nothing() {
    let app = app().await;
    for query in [
        "/messages?limit=abc",
        "/messages?limit=-1",
        "/messages?unread=maybe",
        "/messages?received_after=yesterday",
        "/messages?page_token=not-a-cursor",
        "/threads?limit=1.5",
    ] {
        let reply = app.call(Method::GET, &app.grant_path(query), None).await;
        assert_v3_error(&reply, StatusCode::BAD_REQUEST, query);
    }
    let message = app.grant_path(&format!("/messages/{}", app.message_ids[0]));
    for body in ["{", "[]", "{\"unread\": \"yes\"}", "{\"no_such_field\": 1}"] {
        let key = format!("Bearer {}", app.api_key);
        let reply = app
            .send(Method::PUT, &message, Some(&key), Some(body.to_owned()))
            .await;
        assert_v3_error(&reply, StatusCode::BAD_REQUEST, body);
    }
    let unread = app
        .call(Method::GET, &app.grant_path("/messages?unread=true"), None)
        .await;
    assert_eq!(unread.body["data"].as_array().map(Vec::len), Some(2));
    // Over the 16 MiB bound of bodies other than mail (README.md).
    let too_big = "x".repeat(17 * 1024 * 1024);
    let key = format!("Bearer {}", app.api_key);
    let reply = app
        .send(
            Method::POST,
            "/v3/webhooks",
            Some(&key),
            Some(json!({"description": too_big}).to_string()),
        )
        .await;
    assert_v3_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "an oversized body");
}

#[tokio::test]
async fn scopes_govern_v3_and_v2_from_the_one_table() {
    let app = app().await;
    let narrowed = app
        .call(
            Method::PATCH,
            &format!("/v3/grants/{}", app.grant_id),
            Some(json!({"scope": ["email.read_only"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    let message = app.grant_path(&format!("/messages/{}", app.message_ids[0]));
    let cases = [
        (Method::GET, app.grant_path("/messages"), StatusCode::OK),
        (Method::GET, app.grant_path("/folders"), StatusCode::OK),
        (Method::PUT, message.clone(), StatusCode::FORBIDDEN),
        (Method::DELETE, message, StatusCode::FORBIDDEN),
        (
            Method::POST,
            app.grant_path("/messages/send"),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            app.grant_path("/drafts"),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            app.grant_path("/events"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (method, path, status) in cases {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let reply = app.call(method.clone(), &path, body).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    }
    // v2: a token issued for email.read_only reads, and seed 004's body refuses the rest.
    let token = app.v2_token(&[Scope::EmailReadOnly]).await;
    let bearer = format!("Bearer {token}");
    let reply = app
        .send(Method::GET, "/messages?view=count", Some(&bearer), None)
        .await;
    assert_eq!(reply.body, json!({"count": 3}));
    let change = format!("/messages/{}", app.message_ids[0]);
    let reply = app
        .send(
            Method::PUT,
            &change,
            Some(&bearer),
            Some("{\"unread\":false}".into()),
        )
        .await;
    assert_v2_error(&reply, StatusCode::FORBIDDEN, "PUT /messages/{id}");
    assert_eq!(
        reply.body["message"],
        "You do not have access to the required scopes. You provided a token which has the \
         following scopes: ['email.read_only']. You would need a token with at least one of \
         the following scopes: ['email.modify']"
    );
    for (method, path) in [
        (Method::POST, "/send"),
        (Method::POST, "/drafts"),
        (Method::GET, "/contacts"),
        (Method::GET, "/events"),
    ] {
        let reply = app
            .send(method.clone(), path, Some(&bearer), Some("{}".into()))
            .await;
        assert_v2_error(&reply, StatusCode::FORBIDDEN, path);
        assert_eq!(reply.body["type"], "api_error");
    }
}

#[tokio::test]
async fn v2_lists_page_by_offset_and_views() {
    let app = app().await;
    let token = app.v2_token(&[]).await;
    let bearer = format!("Bearer {token}");
    let get = |path: &'static str| app.send(Method::GET, path, Some(&bearer), None);
    assert_eq!(get("/messages?view=count").await.body, json!({"count": 3}));
    assert_eq!(
        get("/messages?view=ids")
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let second = get("/messages?limit=1&offset=1").await.body;
    assert_eq!(second[0]["subject"], "Subject 2", "{second}");
    assert_eq!(second[0]["object"], "message");
    assert_eq!(second[0]["folder"]["name"], "inbox");
    assert_eq!(
        get("/messages?unread=true&view=count").await.body,
        json!({"count": 2})
    );
    assert_eq!(get("/threads?view=count").await.body, json!({"count": 3}));
    assert_eq!(get("/folders?view=count").await.body, json!({"count": 1}));
    for bad in [
        "/messages?view=everything",
        "/messages?offset=-1",
        "/messages?in=nowhere",
    ] {
        let reply = get(bad).await;
        assert_v2_error(&reply, StatusCode::BAD_REQUEST, bad);
    }
    let account = get("/account").await.body;
    assert_eq!(account["email_address"], "ann@example.test");
    assert_eq!(account["id"], app.grant_id.as_str());
    // The delta feed starts empty at the latest cursor.
    let latest = app
        .send(Method::POST, "/delta/latest_cursor", Some(&bearer), None)
        .await;
    let cursor = latest.body["cursor"].as_str().expect("a cursor").to_owned();
    let feed = app
        .send(
            Method::GET,
            &format!("/delta?cursor={cursor}"),
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(feed.body["deltas"], json!([]));
    assert_eq!(feed.body["cursor_end"], cursor.as_str());
}

#[tokio::test]
async fn browsers_may_call_the_token_routes_from_the_application_s_js_origins_only() {
    let app = app().await;
    let registered = app
        .call(
            Method::POST,
            "/v3/applications/redirect-uris",
            Some(json!({"url": "http://spa.example.test:5173/callback", "platform": "js"})),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    let web = app
        .call(
            Method::POST,
            "/v3/applications/redirect-uris",
            Some(json!({"url": "https://web.example.test/callback", "platform": "web"})),
        )
        .await;
    assert_eq!(web.status, StatusCode::OK, "{}", web.body);

    let preflight = |origin: &'static str, path: &'static str| {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .expect("a request");
        app.router.clone().oneshot(request)
    };
    let allowed = preflight("http://spa.example.test:5173", "/v3/connect/token")
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://spa.example.test:5173"
    );
    assert!(
        allowed.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    for (origin, path) in [
        ("https://web.example.test", "/v3/connect/token"),
        ("http://evil.example.test", "/v3/connect/token"),
        ("http://spa.example.test:5174", "/v3/grants/me/messages"),
    ] {
        let refused = preflight(origin, path).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{origin} {path}");
        assert!(
            !refused
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
    }
    // Routes a browser has no business calling are not opened, even from a js origin.
    let closed = preflight("http://spa.example.test:5173", "/v3/grants")
        .await
        .unwrap();
    assert!(
        !closed
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );

    // The call itself: allowed for the application that registered the origin.
    let call = |path: String, authorization: Option<String>, body: Option<Value>| {
        let mut request = Request::builder()
            .method(if body.is_some() {
                Method::POST
            } else {
                Method::GET
            })
            .uri(path)
            .header(header::ORIGIN, "http://spa.example.test:5173");
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("a request");
        app.router.clone().oneshot(request)
    };
    let exchange = call(
        "/v3/connect/token".into(),
        None,
        Some(json!({"client_id": app.application_id, "grant_type": "authorization_code",
                    "code": "not-a-code", "code_verifier": "v", "redirect_uri": "http://spa.example.test:5173/callback"})),
    )
    .await
    .unwrap();
    assert_eq!(
        exchange.status(),
        StatusCode::BAD_REQUEST,
        "an unknown code"
    );
    assert_eq!(
        exchange.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://spa.example.test:5173",
        "the browser may read the refusal"
    );
    let token = app.v2_token(&[]).await;
    let me = call(
        "/v3/grants/me".into(),
        Some(format!("Bearer {token}")),
        None,
    )
    .await
    .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://spa.example.test:5173"
    );
    // Another application's client_id does not borrow this one's origin.
    let other = app
        .store
        .create_application("other", &[])
        .await
        .expect("an application");
    let borrowed = call(
        "/v3/connect/token".into(),
        None,
        Some(json!({"client_id": other.application.id.as_str(), "grant_type": "authorization_code", "code": "x"})),
    )
    .await
    .unwrap();
    assert!(
        !borrowed
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
}

/// A form POST with an optional cookie; the status, the headers and the body's text.
async fn post_form(
    app: &App,
    path: &str,
    cookie: Option<&str>,
    form: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request
        .body(Body::from(form.to_owned()))
        .expect("a request");
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("an answer");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("the body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn get_page(app: &App, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::builder().method(Method::GET).uri(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("an answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_dashboard_needs_an_admin_session_and_its_forms_their_csrf_token() {
    let app = app().await;
    let (status, page) = get_page(&app, "/admin", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Admin token"), "the sign-in form");
    assert!(
        !page.contains("in-process"),
        "no application shown before signing in"
    );

    // A sign-in form is small: a huge one is refused before it is read whole.
    let huge = format!("token={}", "a".repeat(64 * 1024));
    let (status, _, _) = post_form(&app, "/admin/login", None, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = post_form(&app, "/connect/authorize", None, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, _, page) = post_form(&app, "/admin/login", None, "token=mra_guess").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("unknown or revoked"));

    let (record, token) = app.store.create_admin_token().await.expect("a token");
    let (status, headers, _) =
        post_form(&app, "/admin/login", None, &format!("token={token}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(
        !set_cookie.contains(&token),
        "the cookie is a session, not the token"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let (status, page) = get_page(&app, "/admin", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("in-process") && page.contains("ann@example.test"),
        "{page}"
    );

    // A retry without the page's CSRF token does nothing.
    let path = "/admin/webhooks/any/retry";
    let form = format!("csrf=forged&application={}", app.application_id);
    let (status, headers, _) = post_form(&app, path, Some(&cookie), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/admin?outcome=stale");
    // Nor does one without a session.
    let (status, headers, _) = post_form(&app, path, None, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/admin");

    // A revoked token closes its sessions.
    assert!(
        app.store
            .revoke_admin_token(&record.id)
            .await
            .expect("revoked")
    );
    let (_, page) = get_page(&app, "/admin", Some(&cookie)).await;
    assert!(page.contains("Admin token") && !page.contains("ann@example.test"));
}

/// The OpenAPI document served at `/openapi.json` (docs/openapi.json) and the router
/// agree: every operation it describes is served, and on every path it describes no
/// method is served that it leaves out. (The v3 routes are built from the same tables as
/// the document, so a v3 path it does not name cannot be routed.)
#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = app().await;
    let reply = app.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["openapi"], "3.1.0");
    let paths = reply.body["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() > 40, "{}", paths.len());
    let mut operations = 0;
    for (template, item) in &paths {
        // No credential: each route's own extractor or handler answers, nothing changes.
        let path = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "x"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let described = item.get(method.as_str().to_ascii_lowercase()).is_some();
            let body = (method != Method::GET && method != Method::DELETE).then(|| "{}".to_owned());
            let reply = app.send(method.clone(), &path, None, body).await;
            let unrouted = reply.status == StatusCode::METHOD_NOT_ALLOWED
                || (reply.status == StatusCode::NOT_FOUND
                    && reply.body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("no such route")));
            assert_eq!(
                described, !unrouted,
                "{method} {template}: described {described}, answered {} {}",
                reply.status, reply.body
            );
            operations += usize::from(described);
        }
    }
    assert!(operations > 60, "{operations}");
}

#[tokio::test]
async fn what_the_application_sends_is_validated_with_a_clear_400() {
    let app = app().await;
    let grant = format!("/v3/grants/{}", app.grant_id);
    let cases: Vec<(Method, &str, Value)> = vec![
        (Method::POST, "/v3/webhooks", json!({})),
        (
            Method::POST,
            "/v3/webhooks",
            json!({"trigger_types": ["message.exploded"], "webhook_url": "https://hooks.example.test/x"}),
        ),
        (
            Method::POST,
            "/v3/webhooks",
            json!({"trigger_types": [], "webhook_url": "https://hooks.example.test/x"}),
        ),
        (
            Method::POST,
            "/v3/webhooks",
            json!({"trigger_types": ["message.created"], "webhook_url": "not a url"}),
        ),
        (
            Method::POST,
            "/v3/webhooks",
            json!({"trigger_types": ["message.created"], "webhook_url": "ftp://hooks.example.test/x"}),
        ),
        (Method::POST, "/v3/applications/redirect-uris", json!({})),
        (
            Method::POST,
            "/v3/applications/redirect-uris",
            json!({"url": "javascript:alert(1)"}),
        ),
        (
            Method::POST,
            "/v3/applications/redirect-uris",
            json!({"url": "https://app.example.test/cb#fragment"}),
        ),
        (
            Method::POST,
            "/v3/applications/redirect-uris",
            json!({"url": "https://app.example.test/cb", "platform": "toaster"}),
        ),
        (
            Method::POST,
            "/v3/connectors",
            json!({"provider": "carrier-pigeon"}),
        ),
        (
            Method::POST,
            "/v3/connect/custom",
            json!({"provider": "imap"}),
        ),
        (
            Method::POST,
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": {"imap_username": "x"}}),
        ),
        (
            Method::PATCH,
            &grant,
            json!({"scope": ["email.everything"]}),
        ),
    ];
    for (method, path, body) in cases {
        let reply = app.call(method.clone(), path, Some(body.clone())).await;
        assert_v3_error(
            &reply,
            StatusCode::BAD_REQUEST,
            &format!("{method} {path} {body}"),
        );
    }
    // Nothing was made by the refused calls.
    let hooks = app.call(Method::GET, "/v3/webhooks", None).await;
    assert_eq!(hooks.body["data"], json!([]), "{}", hooks.body);
    let uris = app
        .call(Method::GET, "/v3/applications/redirect-uris", None)
        .await;
    assert_eq!(uris.body["data"], json!([]), "{}", uris.body);
}

#[tokio::test]
async fn grants_list_by_offset_with_filters() {
    let app = app().await;
    let cases = [
        ("/v3/grants", StatusCode::OK, Some(1)),
        ("/v3/grants?email=ann@example.test", StatusCode::OK, Some(1)),
        ("/v3/grants?email=bob@example.test", StatusCode::OK, Some(0)),
        ("/v3/grants?provider=imap", StatusCode::OK, Some(1)),
        ("/v3/grants?grant_status=invalid", StatusCode::OK, Some(0)),
        ("/v3/grants?limit=1&offset=1", StatusCode::OK, Some(0)),
        ("/v3/grants?limit=0", StatusCode::OK, Some(0)),
        ("/v3/grants?offset=-5", StatusCode::BAD_REQUEST, None),
        ("/v3/grants?provider=telegraph", StatusCode::OK, Some(0)),
        ("/v3/grants?sort_by=mood", StatusCode::BAD_REQUEST, None),
    ];
    for (path, status, count) in cases {
        let reply = app.call(Method::GET, path, None).await;
        match count {
            Some(count) => {
                assert_eq!(reply.status, status, "{path}: {}", reply.body);
                assert_eq!(
                    reply.body["data"].as_array().map(Vec::len),
                    Some(count),
                    "{path}: {}",
                    reply.body
                );
            }
            None => assert_v3_error(&reply, status, path),
        }
    }
}
