//! Templates in process (docs/API.md §5.10): the whole router on a temporary SQLite
//! database, as in `in_process.rs`, for the application's and a grant's templates,
//! their validation, their owners' bounds, rendering, and a send that uses one (a
//! scheduled send, which is composed and stored without a mail server).

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use mailroom_api::{AppState, HttpLimits, NoMailboxes, SignInLimits, SignInSettings};
use mailroom_model::{
    ApplicationId, EmailAddress, GrantId, MailCredentials, MailServerSettings, Provider,
    ProviderTable, Scope, TransportSecurity,
};
use mailroom_store::{GrantScope, GrantWrite, SecretBox, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

struct App {
    router: Router,
    store: Store,
    api_key: String,
    application_id: ApplicationId,
    grant_id: GrantId,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    body: Value,
}

/// An application with one IMAP grant.
async fn app() -> App {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("mailroom.db").display());
    let store = Store::open(&url, SecretBox::new(&[9; 32]))
        .await
        .expect("the store opens");
    let created = store
        .create_application("templates", &[])
        .await
        .expect("an application");
    let grant_id = grant(&store, &created.application.id, "ann@example.test").await;
    let state = AppState {
        store: store.clone(),
        policy: mailroom_net::OutboundPolicy::new(Default::default()).expect("a policy"),
        mailboxes: std::sync::Arc::new(NoMailboxes),
        discovery: mailroom_net::MailDiscovery::new(None).expect("discovery"),
        sign_in: std::sync::Arc::new(SignInLimits::new(SignInSettings::default())),
        providers: ProviderTable::real(),
        public_url: None,
        notification_mailer: false,
        trusted_proxies: Default::default(),
    };
    App {
        router: mailroom_api::router(state, HttpLimits::default()),
        store,
        api_key: created.api_key,
        application_id: created.application.id,
        grant_id,
        _dir: dir,
    }
}

async fn grant(store: &Store, application_id: &ApplicationId, address: &str) -> GrantId {
    let email = EmailAddress::parse(address).expect("an address");
    let settings = MailServerSettings {
        imap_username: address.into(),
        imap_host: "imap.example.test".into(),
        imap_port: 993,
        imap_security: TransportSecurity::Ssl,
        smtp_username: address.into(),
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
            application_id,
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
    grant.id
}

impl App {
    fn grant_path(&self, rest: &str) -> String {
        format!("/v3/grants/{}{rest}", self.grant_id)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.api_key, method, path, body).await
    }

    async fn call_as(
        &self,
        credential: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {credential}"));
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
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
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("the body is read")
            .to_bytes();
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// An access token for the grant, issued for `scopes` (empty: all of the grant's).
    async fn token(&self, scopes: &[Scope]) -> String {
        let code = self
            .store
            .issue_native_code(&self.application_id, &self.grant_id, scopes)
            .await
            .expect("a code");
        self.store
            .redeem_v2_code(&self.application_id, &code)
            .await
            .expect("a token")
            .access_token
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let reply = self.call(Method::POST, path, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["data"].clone()
    }
}

fn welcome(engine: &str) -> Value {
    json!({
        "name": "Welcome",
        "subject": "Welcome, {{user.name}} & co",
        "body": "<p>Hello {{user.name}}</p>",
        "engine": engine,
    })
}

/// An error in the v3 envelope, with `status`, whose message holds `words`.
fn assert_refused(reply: &Reply, status: StatusCode, words: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{message:?} lacks {words:?}");
    assert!(reply.body["request_id"].is_string());
}

#[tokio::test]
async fn the_applications_templates_are_created_read_paged_changed_and_deleted() {
    let app = app().await;
    let created = app
        .create(
            "/v3/templates",
            json!({"name": "Plain", "subject": "Hi", "body": "<p>{{x}}</p>"}),
        )
        .await;
    assert_eq!(created["engine"], "mustache", "the default engine");
    assert_eq!(created["object"], "template");
    assert_eq!(created["app_id"], app.application_id.as_str());
    assert_eq!(created["grant_id"], Value::Null);
    for key in ["id", "name", "subject", "body", "created_at", "updated_at"] {
        assert!(!created[key].is_null(), "{key}");
    }
    let id = created["id"].as_str().expect("an id").to_owned();
    let read = app
        .call(Method::GET, &format!("/v3/templates/{id}"), None)
        .await;
    assert_eq!(read.body["data"], created);

    for n in 0..3 {
        app.create(
            "/v3/templates",
            welcome(["handlebars", "nunjucks", "twig"][n]),
        )
        .await;
    }
    let first = app.call(Method::GET, "/v3/templates?limit=3", None).await;
    let names: Vec<&str> = first.body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["Plain", "Welcome", "Welcome"]);
    let cursor = first.body["next_cursor"].as_str().expect("another page");
    let second = app
        .call(
            Method::GET,
            &format!("/v3/templates?limit=3&page_token={cursor}"),
            None,
        )
        .await;
    assert_eq!(second.body["data"].as_array().map(Vec::len), Some(1));
    assert!(second.body.get("next_cursor").is_none(), "the last page");
    assert_eq!(second.body["data"][0]["engine"], "twig");

    let renamed = app
        .call(
            Method::PUT,
            &format!("/v3/templates/{id}"),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["data"]["name"], "Renamed");
    assert_eq!(renamed.body["data"]["body"], "<p>{{x}}</p>", "kept");
    let broken = app
        .call(
            Method::PUT,
            &format!("/v3/templates/{id}"),
            Some(json!({"body": "{{#each}}"})),
        )
        .await;
    assert_refused(
        &broken,
        StatusCode::BAD_REQUEST,
        "'body' is not a valid mustache template",
    );
    // Switching the engine checks the stored text again.
    let switched = app
        .call(
            Method::PUT,
            &format!("/v3/templates/{id}"),
            Some(json!({"engine": "twig", "body": "{{ x }}"})),
        )
        .await;
    assert_eq!(switched.body["data"]["engine"], "twig", "{}", switched.body);

    let deleted = app
        .call(Method::DELETE, &format!("/v3/templates/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.body["request_id"].is_string());
    let gone = app
        .call(Method::GET, &format!("/v3/templates/{id}"), None)
        .await;
    assert_refused(&gone, StatusCode::NOT_FOUND, "no template");
}

#[tokio::test]
async fn what_a_template_holds_is_checked_before_it_is_kept() {
    let app = app().await;
    for (body, words) in [
        (json!({"subject": "s", "body": "b"}), "'name' is required"),
        (
            json!({"name": " ", "subject": "s", "body": "b"}),
            "'name' is required",
        ),
        (json!({"name": "n", "body": "b"}), "'subject' is required"),
        (json!({"name": "n", "subject": "s"}), "'body' is required"),
        (
            json!({"name": "n", "subject": "s", "body": "b", "engine": "jinja"}),
            "mustache, handlebars, nunjucks, twig",
        ),
        (
            json!({"name": "n", "subject": "s", "body": "x".repeat(1024 * 1024 + 1)}),
            "at most 1048576 bytes",
        ),
        (
            json!({"name": "n", "subject": "{% if %}", "body": "b", "engine": "nunjucks"}),
            "'subject' is not a valid template",
        ),
        (
            json!({"name": "n", "subject": "s", "body": "a\n{{#if x}}", "engine": "handlebars"}),
            "line 2",
        ),
        (
            json!({"name": "n", "subject": "s", "body": "{{> footer}}", "engine": "handlebars"}),
            "partials",
        ),
    ] {
        let reply = app.call(Method::POST, "/v3/templates", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{message:?} lacks {words:?}");
    }
    let listed = app.call(Method::GET, "/v3/templates", None).await;
    assert_eq!(listed.body["data"], json!([]), "nothing was kept");
}

#[tokio::test]
async fn each_owner_sees_only_its_own_templates() {
    let app = app().await;
    let app_template = app.create("/v3/templates", welcome("mustache")).await;
    let grant_template = app
        .create(&app.grant_path("/templates"), welcome("handlebars"))
        .await;
    assert_eq!(grant_template["grant_id"], app.grant_id.as_str());
    assert_eq!(grant_template["app_id"], Value::Null);
    let (app_id, grant_id) = (
        app_template["id"].as_str().unwrap_or_default(),
        grant_template["id"].as_str().unwrap_or_default(),
    );

    let app_list = app.call(Method::GET, "/v3/templates", None).await;
    assert_eq!(app_list.body["data"].as_array().map(Vec::len), Some(1));
    let grant_list = app
        .call(Method::GET, &app.grant_path("/templates"), None)
        .await;
    assert_eq!(grant_list.body["data"][0]["id"], grant_id);
    for path in [
        format!("/v3/templates/{grant_id}"),
        app.grant_path(&format!("/templates/{app_id}")),
    ] {
        let reply = app.call(Method::GET, &path, None).await;
        assert_refused(&reply, StatusCode::NOT_FOUND, "no template");
    }

    // Another application, with a grant of its own, reaches neither.
    let other = app
        .store
        .create_application("other", &[])
        .await
        .expect("an application");
    let other_grant = grant(&app.store, &other.application.id, "bo@example.test").await;
    for path in [
        format!("/v3/templates/{app_id}"),
        format!("/v3/grants/{other_grant}/templates/{grant_id}"),
    ] {
        for method in [Method::GET, Method::DELETE] {
            let reply = app.call_as(&other.api_key, method, &path, None).await;
            assert_refused(&reply, StatusCode::NOT_FOUND, "no template");
        }
        let render = app
            .call_as(
                &other.api_key,
                Method::POST,
                &format!("{path}/render"),
                Some(json!({"variables": {}})),
            )
            .await;
        assert_eq!(render.status, StatusCode::NOT_FOUND);
    }
    // Its API key cannot name this application's grant either.
    let foreign_grant = app
        .call_as(
            &other.api_key,
            Method::GET,
            &app.grant_path("/templates"),
            None,
        )
        .await;
    assert_eq!(foreign_grant.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_grant_reaches_its_templates_with_its_token_and_the_send_scope() {
    let app = app().await;
    let token = app.token(&[]).await;
    let created = app
        .call_as(
            &token,
            Method::POST,
            "/v3/grants/me/templates",
            Some(welcome("twig")),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["data"]["grant_id"], app.grant_id.as_str());
    let listed = app
        .call_as(&token, Method::GET, "/v3/grants/me/templates", None)
        .await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));
    let application_level = app
        .call_as(&token, Method::GET, "/v3/templates", None)
        .await;
    assert_eq!(application_level.status, StatusCode::UNAUTHORIZED);

    let sender = app.token(&[Scope::EmailSend]).await;
    let allowed = app
        .call_as(&sender, Method::GET, "/v3/grants/me/templates", None)
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    let reader = app.token(&[Scope::EmailReadOnly]).await;
    let refused = app
        .call_as(&reader, Method::GET, "/v3/grants/me/templates", None)
        .await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "email.send");
}

#[tokio::test]
async fn rendering_escapes_bodies_and_strict_names_what_is_missing() {
    let app = app().await;
    let variables = json!({"user": {"name": "<Ann>"}});
    for engine in ["mustache", "handlebars"] {
        let template = app.create("/v3/templates", welcome(engine)).await;
        let path = format!(
            "/v3/templates/{}/render",
            template["id"].as_str().unwrap_or_default()
        );
        let rendered = app
            .call(Method::POST, &path, Some(json!({"variables": variables})))
            .await;
        assert_eq!(rendered.status, StatusCode::OK, "{}", rendered.body);
        assert_eq!(
            rendered.body["data"],
            json!({"subject": "Welcome, <Ann> & co", "body": "<p>Hello &lt;Ann&gt;</p>"}),
            "{engine}"
        );
        let missing = app
            .call(Method::POST, &path, Some(json!({"variables": {}})))
            .await;
        assert_refused(&missing, StatusCode::BAD_REQUEST, "'user.name'");
        let lenient = app
            .call(
                Method::POST,
                &path,
                Some(json!({"variables": {}, "strict": false})),
            )
            .await;
        assert_eq!(lenient.body["data"]["body"], "<p>Hello </p>", "{engine}");
        let no_variables = app.call(Method::POST, &path, Some(json!({}))).await;
        assert_refused(
            &no_variables,
            StatusCode::BAD_REQUEST,
            "'variables' is required",
        );
    }

    for (engine, body, expected) in [
        (
            "nunjucks",
            "{{ user.name }}{{ user.name|safe }}",
            "&lt;Ann&gt;<Ann>",
        ),
        (
            "twig",
            "{{ user.name|upper }}{{ user.name|raw }}",
            "&lt;ANN&gt;<Ann>",
        ),
    ] {
        let rendered = app
            .call(
                Method::POST,
                &app.grant_path("/templates/render"),
                Some(json!({"body": body, "engine": engine, "variables": variables})),
            )
            .await;
        assert_eq!(rendered.body["data"], json!({"body": expected}), "{engine}");
    }
    let unknown = app
        .call(
            Method::POST,
            "/v3/templates/render",
            Some(json!({"body": "x", "engine": "erb", "variables": {}})),
        )
        .await;
    assert_refused(&unknown, StatusCode::BAD_REQUEST, "not a template engine");
}

#[tokio::test]
async fn a_hostile_template_is_cut_with_a_clear_error() {
    let app = app().await;
    let long: Vec<u32> = (0..1000).collect();
    for (engine, body, words) in [
        (
            "handlebars",
            "{{#each xs}}{{#each ../xs}}{{#each ../../xs}}x{{/each}}{{/each}}{{/each}}",
            "loop through more than",
        ),
        (
            "nunjucks",
            "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}",
            "more work than allowed",
        ),
        (
            "twig",
            "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
            "recursion limit",
        ),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/v3/templates/render",
                Some(json!({"body": body, "engine": engine, "variables": {"xs": long}})),
            )
            .await;
        assert_refused(&reply, StatusCode::BAD_REQUEST, words);
    }
}

#[tokio::test]
async fn a_send_takes_its_subject_and_body_from_a_template_unless_it_gives_them() {
    let app = app().await;
    let grant_template = app
        .create(&app.grant_path("/templates"), welcome("handlebars"))
        .await;
    let app_template = app.create("/v3/templates", welcome("nunjucks")).await;
    let send_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or_default();
    let send = |template: &Value, extra: Value| {
        let mut body = json!({
            "to": [{"email": "bo@example.test"}],
            "send_at": send_at,
            "template": {"id": template["id"], "variables": {"user": {"name": "Ann"}}},
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    // Scheduled: composed and kept without a mail server.
    let scheduled = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(send(&grant_template, json!({}))),
        )
        .await;
    assert_eq!(scheduled.status, StatusCode::ACCEPTED, "{}", scheduled.body);
    assert_eq!(scheduled.body["data"]["subject"], "Welcome, Ann & co");
    assert_eq!(scheduled.body["data"]["body"], "<p>Hello Ann</p>");

    let kept = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(send(&app_template, json!({"subject": "My own"}))),
        )
        .await;
    assert_eq!(kept.status, StatusCode::ACCEPTED, "{}", kept.body);
    assert_eq!(
        kept.body["data"]["subject"], "My own",
        "the send's own subject"
    );
    assert_eq!(kept.body["data"]["body"], "<p>Hello Ann</p>");

    let strict = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(json!({
                "to": [{"email": "bo@example.test"}],
                "template": {"id": grant_template["id"], "variables": {}},
            })),
        )
        .await;
    assert_refused(&strict, StatusCode::BAD_REQUEST, "'user.name'");
    let unknown = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(json!({"to": [{"email": "bo@example.test"}], "template": {"id": "nope"}})),
        )
        .await;
    assert_refused(&unknown, StatusCode::NOT_FOUND, "template");
    let draft = app
        .call(
            Method::POST,
            &app.grant_path("/drafts"),
            Some(json!({"template": {"id": grant_template["id"]}})),
        )
        .await;
    assert_refused(&draft, StatusCode::BAD_REQUEST, "'template'");
}
