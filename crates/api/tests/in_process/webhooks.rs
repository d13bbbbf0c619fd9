//! Webhooks (docs/API.md §6.1): listed, read, changed and removed with the application's
//! key; the secret is shown only when made or rotated, and a rotation replaces it. A
//! webhook URL is challenged over the network when it is created, so the webhooks here
//! are made through the store. `notification_email_addresses` are taken only where the
//! operator configured a notification mailer (§6.3).

use axum::http::{Method, StatusCode};
use mailroom_model::v3::TriggerType;
use mailroom_store::NewWebhook;
use serde_json::{Value, json};

use crate::support::{App, NOTHING, assert_v3_error_type, keys};

/// Every field of a webhook (docs/API.md §6.1, §9 rule 3).
const WEBHOOK_KEYS: &[&str] = &[
    "created_at",
    "description",
    "id",
    "notification_email_addresses",
    "status",
    "status_updated_at",
    "trigger_types",
    "updated_at",
    "webhook_url",
];

async fn webhook(app: &App, application: &mailroom_model::ApplicationId) -> (String, String) {
    let created = app
        .store
        .create_webhook(
            application,
            &NewWebhook {
                description: Some("orders"),
                webhook_url: "https://hooks.example.test/orders",
                trigger_types: &[TriggerType::MessageCreated, TriggerType::GrantDeleted],
                notification_email_addresses: &[],
            },
        )
        .await
        .expect("a webhook");
    (created.webhook.id.to_string(), created.secret)
}

fn assert_webhook_shape(webhook: &Value) {
    for key in WEBHOOK_KEYS {
        assert!(webhook.get(*key).is_some(), "{key}: {webhook}");
    }
    assert!(
        webhook.get("webhook_secret").is_none_or(Value::is_null),
        "the secret is shown only when made or rotated: {webhook}"
    );
}

#[tokio::test]
async fn a_webhook_is_listed_and_read_with_every_field_and_no_secret() {
    let app = App::new().await;
    let (id, secret) = webhook(&app, &app.application()).await;
    let listed = app.call(Method::GET, "/v3/webhooks", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.ids(), std::slice::from_ref(&id));
    let one = app
        .call(Method::GET, &format!("/v3/webhooks/{id}"), None)
        .await;
    let data = &one.body["data"];
    assert_webhook_shape(data);
    assert_eq!(data["status"], "active");
    assert_eq!(
        data["trigger_types"],
        json!(["message.created", "grant.deleted"])
    );
    assert_eq!(data["notification_email_addresses"], json!([]));
    assert!(!one.text.contains(&secret));
    assert!(!listed.text.contains(&secret));
}

#[tokio::test]
async fn a_webhook_is_changed_and_read_back() {
    let app = App::with_notification_mailer().await;
    let (id, _) = webhook(&app, &app.application()).await;
    let path = format!("/v3/webhooks/{id}");
    let changed = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"description": "all mail",
                        "trigger_types": ["message.updated", "message.updated", "folder.created"],
                        "notification_email_addresses": ["ops@example.test"],
                        "status": "pause"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let read = app.call(Method::GET, &path, None).await;
    let data = &read.body["data"];
    assert_webhook_shape(data);
    assert_eq!(data["description"], "all mail");
    assert_eq!(
        data["trigger_types"],
        json!(["message.updated", "folder.created"]),
        "each trigger once"
    );
    assert_eq!(
        data["notification_email_addresses"],
        json!(["ops@example.test"])
    );
    assert_eq!(data["status"], "pause");
    assert_eq!(
        data["webhook_url"], "https://hooks.example.test/orders",
        "left as it was"
    );
}

#[tokio::test]
async fn deleting_a_webhook_answers_success_and_it_is_gone() {
    let app = App::new().await;
    let (id, _) = webhook(&app, &app.application()).await;
    let path = format!("/v3/webhooks/{id}");
    let deleted = app.call(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(keys(&deleted.body), ["data", "request_id"]);
    assert_eq!(deleted.body["data"], json!({"status": "success"}));
    for method in [Method::GET, Method::DELETE] {
        let gone = app.call(method.clone(), &path, None).await;
        assert_v3_error_type(&gone, StatusCode::NOT_FOUND, "api.not_found_error", "gone");
    }
    assert_eq!(
        app.call(Method::GET, "/v3/webhooks", None).await.data(),
        NOTHING
    );
}

#[tokio::test]
async fn rotating_a_secret_shows_the_new_one_once_in_both_sdks_forms() {
    let app = App::new().await;
    let (id, first) = webhook(&app, &app.application()).await;
    let webhook_id = mailroom_model::WebhookId::parse(&id).expect("an id");
    let mut secrets = vec![first];
    for (method, path) in [
        (Method::PUT, format!("/v3/webhooks/{id}/rotate-secret")),
        (Method::POST, format!("/v3/webhooks/rotate-secret/{id}")),
    ] {
        let rotated = app.call(method.clone(), &path, None).await;
        assert_eq!(
            rotated.status,
            StatusCode::OK,
            "{method} {path}: {}",
            rotated.body
        );
        let secret = rotated.body["data"]["webhook_secret"]
            .as_str()
            .expect("the new secret")
            .to_owned();
        assert!(!secrets.contains(&secret), "{method}: a new secret");
        assert_eq!(
            app.store.webhook_secret(&webhook_id).await.expect("read"),
            Some(secret.clone()),
            "the new secret signs from now on"
        );
        secrets.push(secret);
    }
    let read = app
        .call(Method::GET, &format!("/v3/webhooks/{id}"), None)
        .await;
    assert_webhook_shape(&read.body["data"]);
}

#[tokio::test]
async fn another_application_s_webhook_is_not_found_and_left_alone() {
    let app = App::new().await;
    let other = app.other_application().await;
    let (id, secret) = webhook(&app, &other.application_id).await;
    for (method, path, body) in [
        (Method::GET, format!("/v3/webhooks/{id}"), None),
        (
            Method::PUT,
            format!("/v3/webhooks/{id}"),
            Some(json!({"description": "mine"})),
        ),
        (Method::DELETE, format!("/v3/webhooks/{id}"), None),
        (
            Method::PUT,
            format!("/v3/webhooks/{id}/rotate-secret"),
            None,
        ),
        (
            Method::POST,
            format!("/v3/webhooks/rotate-secret/{id}"),
            None,
        ),
    ] {
        let reply = app.call(method.clone(), &path, body).await;
        assert_v3_error_type(
            &reply,
            StatusCode::NOT_FOUND,
            "api.not_found_error",
            &format!("{method} {path}"),
        );
    }
    let theirs = app
        .send(
            Method::GET,
            &format!("/v3/webhooks/{id}"),
            Some(&format!("Bearer {}", other.api_key)),
            None,
        )
        .await;
    assert_eq!(theirs.body["data"]["description"], "orders");
    let webhook_id = mailroom_model::WebhookId::parse(&id).expect("an id");
    assert_eq!(
        app.store.webhook_secret(&webhook_id).await.expect("read"),
        Some(secret)
    );
    for bad in ["nope", "!!"] {
        let reply = app
            .call(Method::GET, &format!("/v3/webhooks/{bad}"), None)
            .await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", bad);
    }
}

#[tokio::test]
async fn a_mock_payload_is_a_notification_of_the_trigger() {
    let app = App::new().await;
    for (trigger, object) in [
        ("message.created", "message"),
        ("message.deleted", "message"),
        ("folder.updated", "folder"),
        ("event.created", "event"),
        ("contact.updated", "contact"),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/v3/webhooks/mock-payload",
                Some(json!({"trigger_type": trigger})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{trigger}: {}", reply.body);
        let notification = &reply.body["data"];
        assert_eq!(notification["type"], trigger);
        assert_eq!(notification["specversion"], "1.0");
        assert!(notification["id"].is_string() && notification["time"].is_i64());
        assert_eq!(
            notification["data"]["application_id"],
            app.application_id.as_str()
        );
        assert_eq!(
            notification["data"]["object"]["object"], object,
            "{trigger}"
        );
    }
}

#[tokio::test]
async fn the_ip_addresses_are_a_list_with_its_time() {
    let app = App::new().await;
    let reply = app
        .call(Method::GET, "/v3/webhooks/ip-addresses", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body["data"]["ip_addresses"].is_array());
    assert!(reply.body["data"]["updated_at"].is_i64());
}

const NEEDS_MAILER: &str = "notification_email_addresses needs the operator's notification mailer (notification_smtp_url); leave it empty";

#[tokio::test]
async fn notification_addresses_need_the_operators_mailer() {
    let app = App::new().await;
    let (id, _) = webhook(&app, &app.application()).await;
    let path = format!("/v3/webhooks/{id}");
    let created = app
        .call(
            Method::POST,
            "/v3/webhooks",
            Some(json!({"trigger_types": ["message.created"],
                        "webhook_url": "https://hooks.example.test/orders",
                        "notification_email_addresses": ["ops@example.test"]})),
        )
        .await;
    let changed = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"notification_email_addresses": ["ops@example.test"]})),
        )
        .await;
    for refused in [&created, &changed] {
        assert_v3_error_type(
            refused,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            "no mailer",
        );
        assert_eq!(refused.body["error"]["message"], NEEDS_MAILER);
    }
    assert_eq!(
        app.call(Method::GET, &path, None).await.body["data"]["notification_email_addresses"],
        json!([]),
        "nothing changed"
    );
    let empty = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"notification_email_addresses": [], "description": "kept empty"})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.body["data"]["description"], "kept empty");
}

#[tokio::test]
async fn with_a_mailer_up_to_ten_email_addresses_are_taken() {
    let app = App::with_notification_mailer().await;
    let (id, _) = webhook(&app, &app.application()).await;
    let path = format!("/v3/webhooks/{id}");
    let ten: Vec<String> = (0..10).map(|n| format!("ops{n}@example.test")).collect();
    let taken = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"notification_email_addresses": ten})),
        )
        .await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);
    assert_eq!(
        taken.body["data"]["notification_email_addresses"],
        json!(ten)
    );

    let eleven: Vec<String> = (0..11).map(|n| format!("ops{n}@example.test")).collect();
    for (addresses, what) in [
        (json!(eleven), "eleven addresses"),
        (
            json!(["ops@example.test", "not an address"]),
            "not an address",
        ),
        (json!(["ops@"]), "no domain"),
    ] {
        let refused = app
            .call(
                Method::PUT,
                &path,
                Some(json!({"notification_email_addresses": addresses})),
            )
            .await;
        assert_v3_error_type(
            &refused,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            what,
        );
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("notification_email_addresses")),
            "{what}: {}",
            refused.body
        );
    }
    // A create with addresses gets past them to the URL's challenge, which fails here.
    let created = app
        .call(
            Method::POST,
            "/v3/webhooks",
            Some(json!({"trigger_types": ["message.created"],
                        "webhook_url": "https://hooks.example.test/orders",
                        "notification_email_addresses": ["ops@example.test"]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::BAD_REQUEST, "{}", created.body);
    let message = created.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("webhook_url"), "{message}");
    assert_eq!(
        app.call(Method::GET, &path, None).await.body["data"]["notification_email_addresses"],
        json!(ten),
        "the refused changes changed nothing"
    );
}
