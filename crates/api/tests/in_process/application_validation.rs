//! What an application sends about itself is checked before anything is made (docs/API.md
//! §2.1, §2.5, §3, §4, §6.1): webhooks, redirect URIs, connectors, custom auth and grant
//! updates refuse malformed input with a 400 that says why, and a refused call makes or
//! changes nothing. None of these cases reaches the network: a webhook URL is refused
//! before its challenge, custom auth's settings before the servers are tried.

use axum::http::{Method, StatusCode};
use mailroom_model::v3::TriggerType;
use mailroom_store::NewWebhook;
use serde_json::{Value, json};

use crate::support::{App, NOTHING, Reply, assert_v3_error};

fn assert_refused(reply: &Reply, words: &str, what: &str) {
    assert_v3_error(reply, StatusCode::BAD_REQUEST, what);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains(&words.to_lowercase())),
        "{what}: expected '{words}' in {}",
        reply.body
    );
}

async fn refuse_all(app: &App, method: Method, path: &str, cases: &[(Value, &str)]) {
    for (body, words) in cases {
        let reply = app.call(method.clone(), path, Some(body.clone())).await;
        assert_refused(&reply, words, &format!("{method} {path} {body}"));
    }
}

#[tokio::test]
async fn a_webhook_is_refused_before_its_challenge_when_it_could_not_be_delivered() {
    let app = App::new().await;
    let url = "https://hooks.example.test/x";
    refuse_all(
        &app,
        Method::POST,
        "/v3/webhooks",
        &[
            (json!({}), "trigger_types"),
            (json!({"webhook_url": url}), "trigger_types"),
            (json!({"trigger_types": ["message.created"]}), "webhook_url"),
            (
                json!({"trigger_types": ["message.exploded"], "webhook_url": url}),
                "message.exploded",
            ),
            (
                json!({"trigger_types": [], "webhook_url": url}),
                "at least one trigger",
            ),
            (
                json!({"trigger_types": ["message.created"], "webhook_url": "not a url"}),
                "",
            ),
            (
                json!({"trigger_types": ["message.created"],
                       "webhook_url": "ftp://hooks.example.test/x"}),
                "",
            ),
            (
                json!({"trigger_types": ["message.created"], "webhook_url": url,
                       "notification_email_addresses": ["not-an-address"]}),
                "notification_email_addresses",
            ),
            (
                json!({"trigger_types": ["message.created"], "webhook_url": url,
                       "description": "d".repeat(1025)}),
                "longer than 1024",
            ),
        ],
    )
    .await;
    let hooks = app.call(Method::GET, "/v3/webhooks", None).await;
    assert_eq!(hooks.body["data"], json!([]), "{}", hooks.body);
}

#[tokio::test]
async fn a_webhook_update_refuses_bad_values_and_keeps_the_webhook() {
    let app = App::new().await;
    let created = app
        .store
        .create_webhook(
            &app.application(),
            &NewWebhook {
                description: Some("orders"),
                webhook_url: "https://hooks.example.test/orders",
                trigger_types: &[TriggerType::MessageCreated],
                notification_email_addresses: &[],
            },
        )
        .await
        .expect("a webhook");
    let path = format!("/v3/webhooks/{}", created.webhook.id);
    let before = app.call(Method::GET, &path, None).await.body["data"].clone();
    refuse_all(
        &app,
        Method::PUT,
        &path,
        &[
            (json!({"trigger_types": []}), "at least one trigger"),
            (
                json!({"trigger_types": ["grant.exploded"]}),
                "grant.exploded",
            ),
            (json!({"webhook_url": "javascript:alert(1)"}), ""),
            (json!({"status": "failed"}), "'active' or 'pause'"),
            (json!({"status": "sleeping"}), "'active' or 'pause'"),
            (
                json!({"notification_email_addresses": ["@"]}),
                "notification_email_addresses",
            ),
            (json!({"description": "d".repeat(1025)}), "longer than 1024"),
        ],
    )
    .await;
    let after = app.call(Method::GET, &path, None).await.body["data"].clone();
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_redirect_uri_must_be_a_url_a_browser_may_return_to() {
    let app = App::new().await;
    refuse_all(
        &app,
        Method::POST,
        "/v3/applications/redirect-uris",
        &[
            (json!({}), "'url' is required"),
            (json!({"platform": "web"}), "'url' is required"),
            (json!({"url": "javascript:alert(1)"}), ""),
            (json!({"url": "https://app.example.test/cb#fragment"}), ""),
            (json!({"url": "not a url"}), ""),
            (
                json!({"url": "https://app.example.test/cb", "platform": "toaster"}),
                "",
            ),
            (
                json!({"url": "https://app.example.test/cb", "id": "mine"}),
                "leave 'id' out",
            ),
            (
                json!({"url": "https://app.example.test/cb", "colour": "red"}),
                "unknown field",
            ),
        ],
    )
    .await;
    let uris = app
        .call(Method::GET, "/v3/applications/redirect-uris", None)
        .await;
    assert_eq!(uris.body["data"], json!([]), "{}", uris.body);
}

#[tokio::test]
async fn a_redirect_uri_is_registered_once() {
    let app = App::new().await;
    let body = json!({"url": "https://app.example.test/callback"});
    let first = app
        .call(
            Method::POST,
            "/v3/applications/redirect-uris",
            Some(body.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = app
        .call(Method::POST, "/v3/applications/redirect-uris", Some(body))
        .await;
    assert_refused(&again, "already has the redirect uri", "a duplicate");
    let uris = app
        .call(Method::GET, "/v3/applications/redirect-uris", None)
        .await;
    assert_eq!(uris.data().len(), 1);
}

#[tokio::test]
async fn a_redirect_uri_update_refuses_bad_values_and_keeps_the_uri() {
    let app = App::new().await;
    let created = app
        .call(
            Method::POST,
            "/v3/applications/redirect-uris",
            Some(json!({"url": "https://app.example.test/callback"})),
        )
        .await;
    let id = created.body["data"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let path = format!("/v3/applications/redirect-uris/{id}");
    refuse_all(
        &app,
        Method::PATCH,
        &path,
        &[
            (json!({"url": "javascript:alert(1)"}), ""),
            (json!({"platform": "toaster"}), ""),
            (json!({"id": "another-id"}), "cannot be changed"),
            (
                json!({"url": "https://app.example.test/x", "extra": 1}),
                "unknown field",
            ),
        ],
    )
    .await;
    let after = app.call(Method::GET, &path, None).await;
    assert_eq!(after.body["data"], created.body["data"]);
}

#[tokio::test]
async fn a_connector_refuses_unknown_providers_and_misplaced_settings() {
    let app = App::new().await;
    let google = |settings: Value| json!({"provider": "google", "settings": settings});
    refuse_all(
        &app,
        Method::POST,
        "/v3/connectors",
        &[
            (json!({}), "'provider' is required"),
            (json!({"provider": "carrier-pigeon"}), ""),
            (
                json!({"provider": "imap", "settings": {"imap_host": "x"}}),
                "take no settings",
            ),
            (
                json!({"provider": "imap", "scope": ["mail"]}),
                "take no scopes",
            ),
            (
                json!({"provider": "imap", "active_credential_id": "c"}),
                "no credentials",
            ),
            (
                json!({"provider": "imap", "colour": "red"}),
                "unknown field",
            ),
            (
                google(json!({})),
                "needs settings.client_id and settings.client_secret",
            ),
            (google(json!({"client_id": "id"})), "settings.client_secret"),
            (
                google(json!({"client_id": "id", "client_secret": ""})),
                "non-empty string",
            ),
            (
                google(json!({"client_id": "id", "client_secret": "s", "tenant": "t"})),
                "'tenant' is not one of them",
            ),
            (
                json!({"provider": "microsoft",
                       "settings": {"client_id": "id", "client_secret": "s", "tenant": "a/b"}}),
                "settings.tenant",
            ),
            (
                json!({"provider": "google", "scope": ["two words"],
                       "settings": {"client_id": "id", "client_secret": "s"}}),
                "without spaces",
            ),
        ],
    )
    .await;
    let listed = app.call(Method::GET, "/v3/connectors", None).await;
    assert_eq!(listed.data(), NOTHING, "{}", listed.body);
}

#[tokio::test]
async fn a_second_connector_for_a_provider_is_a_conflict() {
    let app = App::new().await;
    let first = app
        .call(
            Method::POST,
            "/v3/connectors",
            Some(json!({"provider": "imap"})),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = app
        .call(
            Method::POST,
            "/v3/connectors",
            Some(json!({"provider": "imap"})),
        )
        .await;
    assert_v3_error(&again, StatusCode::CONFLICT, "a second imap connector");
    assert_eq!(again.error_type(), "api.invalid_request_error");
}

#[tokio::test]
async fn a_connector_s_provider_cannot_be_changed() {
    let app = App::new().await;
    app.call(
        Method::POST,
        "/v3/connectors",
        Some(json!({"provider": "imap"})),
    )
    .await;
    for method in [Method::PATCH, Method::PUT] {
        let reply = app
            .call(
                method.clone(),
                "/v3/connectors/imap",
                Some(json!({"provider": "google"})),
            )
            .await;
        assert_refused(&reply, "cannot be changed", method.as_ref());
    }
    let still = app.call(Method::GET, "/v3/connectors/imap", None).await;
    assert_eq!(still.body["data"]["provider"], "imap");
}

#[tokio::test]
async fn custom_auth_needs_a_connector_for_its_provider() {
    let app = App::new().await;
    let reply = app
        .call(
            Method::POST,
            "/v3/connect/custom",
            Some(json!({"provider": "imap", "settings": {"imap_username": "x"}})),
        )
        .await;
    assert_refused(&reply, "has no 'imap' connector", "no connector");
    let missing_settings = app
        .call(
            Method::POST,
            "/v3/connect/custom",
            Some(json!({"provider": "imap"})),
        )
        .await;
    assert_v3_error(&missing_settings, StatusCode::BAD_REQUEST, "no settings");
}

#[tokio::test]
async fn custom_auth_refuses_settings_it_cannot_use_and_makes_no_grant() {
    let app = App::new().await;
    app.call(
        Method::POST,
        "/v3/connectors",
        Some(json!({"provider": "imap"})),
    )
    .await;
    let imap = |settings: Value| json!({"provider": "imap", "settings": settings});
    let full = json!({"imap_username": "new@example.test", "imap_password": "pw",
                      "imap_host": "imap.example.test", "smtp_host": "smtp.example.test"});
    let with = |key: &str, value: Value| {
        let mut settings = full.clone();
        settings[key] = value;
        imap(settings)
    };
    refuse_all(
        &app,
        Method::POST,
        "/v3/connect/custom",
        &[
            (
                json!({"provider": "telegraph", "settings": {}}),
                "telegraph",
            ),
            (imap(json!({})), "imap_username"),
            (imap(json!({"imap_username": "x"})), "not an email address"),
            (
                imap(
                    json!({"imap_username": "new@example.test", "imap_host": "imap.example.test",
                         "smtp_host": "smtp.example.test"}),
                ),
                "imap_password",
            ),
            (
                imap(json!({"imap_username": "new@unknown-domain.test", "imap_password": "pw"})),
                "imap_host",
            ),
            (with("colour", json!("red")), "unknown key"),
            (with("imap_port", json!(70000)), "port number"),
            (with("imap_port", json!("many")), "port number"),
            (with("imap_security", json!("maybe")), "imap_security"),
            (with("imap_host", json!(42)), "must be a string"),
            (
                {
                    let mut settings = full.clone();
                    settings["ssl_required"] = json!(true);
                    settings["imap_security"] = json!("none");
                    imap(settings)
                },
                "ssl_required",
            ),
            (
                json!({"provider": "imap", "settings": full, "scope": ["email.everything"]}),
                "email.everything",
            ),
            (
                json!({"provider": "imap", "settings": full, "state": "s".repeat(257)}),
                "'state' may be at most 256",
            ),
            (
                json!({"provider": "imap", "settings": full, "password": "pw"}),
                "unknown field",
            ),
        ],
    )
    .await;
    let grants = app.call(Method::GET, "/v3/grants", None).await;
    assert_eq!(grants.data().len(), 1, "{}", grants.body);
}

#[tokio::test]
async fn custom_auth_never_moves_an_existing_grant_to_other_servers() {
    let app = App::new().await;
    app.call(
        Method::POST,
        "/v3/connectors",
        Some(json!({"provider": "imap"})),
    )
    .await;
    let reply = app
        .call(
            Method::POST,
            "/v3/connect/custom",
            Some(json!({"provider": "imap", "settings": {
                "imap_username": "ann@example.test", "imap_password": "pw",
                "imap_host": "imap.elsewhere.test", "smtp_host": "smtp.elsewhere.test"}})),
        )
        .await;
    assert_refused(&reply, "never moves a mailbox", "other servers");
    let grant = app
        .call(Method::GET, &format!("/v3/grants/{}", app.grant_id), None)
        .await;
    assert_eq!(
        grant.body["data"]["settings"]["imap_host"],
        "imap.example.test"
    );
}

#[tokio::test]
async fn a_grant_update_refuses_unknown_scopes_fields_and_another_s_settings() {
    let app = App::new().await;
    let path = format!("/v3/grants/{}", app.grant_id);
    let before = app.call(Method::GET, &path, None).await.body["data"].clone();
    refuse_all(
        &app,
        Method::PATCH,
        &path,
        &[
            (json!({"scope": ["email.everything"]}), "email.everything"),
            (json!({"scope": ["email.read_only", 5]}), ""),
            (json!({"grant_status": "valid"}), "unknown field"),
            (json!({"settings": {"colour": "red"}}), "unknown key"),
            (json!({"settings": {"imap_port": 0}}), "port number"),
            (
                json!({"settings": {"imap_username": "zed@example.test", "imap_password": "pw"}}),
                "a grant's email cannot change",
            ),
            (
                json!({"settings": {"imap_host": "imap.elsewhere.test"}}),
                "imap_password",
            ),
        ],
    )
    .await;
    let after = app.call(Method::GET, &path, None).await.body["data"].clone();
    assert_eq!(after, before);
}

#[tokio::test]
async fn mock_payloads_and_test_events_need_a_known_trigger() {
    let app = App::new().await;
    refuse_all(
        &app,
        Method::POST,
        "/v3/webhooks/mock-payload",
        &[
            (json!({}), "'trigger_type' is required"),
            (
                json!({"trigger_type": "message.exploded"}),
                "message.exploded",
            ),
        ],
    )
    .await;
    refuse_all(
        &app,
        Method::POST,
        "/v3/webhooks/send-test-event",
        &[
            (
                json!({"webhook_url": "https://hooks.example.test/x"}),
                "'trigger_type' is required",
            ),
            (
                json!({"trigger_type": "message.created"}),
                "'webhook_url' is required",
            ),
            (
                json!({"trigger_type": "nope.nope", "webhook_url": "https://hooks.example.test/x"}),
                "nope.nope",
            ),
            (
                json!({"trigger_type": "message.created", "webhook_url": "gopher://x"}),
                "",
            ),
        ],
    )
    .await;
}
