//! `/v3/connectors`: one IMAP connector per application, no scopes, no settings.

use crate::support::Mailroom;
use serde_json::json;

#[tokio::test]
async fn imap_connector_lifecycle() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("connectors");
    let api = server.client(&app.api_key);

    let created = api
        .post(
            "/v3/connectors",
            json!({"name": "Staging App 1", "provider": "imap"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["data"]["provider"], "imap");
    assert_eq!(created.body["data"]["name"], "Staging App 1");
    assert_eq!(created.body["data"]["scope"], json!([]));

    let found = api.get("/v3/connectors/imap").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["data"]["name"], "Staging App 1");

    let patched = api
        .send(
            "PATCH",
            "/v3/connectors/imap",
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["data"]["name"], "renamed");

    let put = api
        .send(
            "PUT",
            "/v3/connectors/imap",
            Some(json!({"name": "put-name"})),
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(
        api.get("/v3/connectors/imap").await.body["data"]["name"],
        "put-name"
    );

    let list = api.get("/v3/connectors?limit=5&offset=0").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["limit"], 5);
    assert_eq!(list.body["offset"], 0);
    let past_end = api.get("/v3/connectors?offset=1").await;
    assert_eq!(past_end.body["data"], json!([]));

    let deleted = api.delete("/v3/connectors/imap").await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body["request_id"].is_string());
    assert_eq!(api.get("/v3/connectors/imap").await.status, 404);
    assert_eq!(api.delete("/v3/connectors/imap").await.status, 404);
}

#[tokio::test]
async fn imap_connectors_refuse_scopes_settings_and_duplicates() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("refusals");
    let api = server.client(&app.api_key);

    let scoped = api
        .post(
            "/v3/connectors",
            json!({"provider": "imap", "scope": ["email.read_only"]}),
        )
        .await;
    assert_eq!(scoped.status, 400);
    assert!(
        scoped.error_message().contains("no scopes"),
        "{}",
        scoped.text
    );

    let with_settings = api
        .post(
            "/v3/connectors",
            json!({"provider": "imap", "settings": {"client_id": "x"}}),
        )
        .await;
    assert_eq!(with_settings.status, 400);

    assert_eq!(
        api.post("/v3/connectors", json!({"provider": "imap"}))
            .await
            .status,
        201
    );
    let second = api
        .post("/v3/connectors", json!({"provider": "imap"}))
        .await;
    assert_eq!(second.status, 409);
    assert!(
        second.error_message().contains("already has"),
        "{}",
        second.text
    );

    let patch_scope = api
        .send(
            "PATCH",
            "/v3/connectors/imap",
            Some(json!({"scope": ["email"]})),
        )
        .await;
    assert_eq!(patch_scope.status, 400);

    let exchange = api.post("/v3/connectors", json!({"provider": "ews"})).await;
    assert_eq!(exchange.status, 400);
    assert!(exchange.error_message().contains("not supported"));
    // An OAuth provider's connector needs the application's client at the provider.
    let google = api
        .post("/v3/connectors", json!({"provider": "google"}))
        .await;
    assert_eq!(google.status, 400);
    assert!(google.error_message().contains("client_id"));

    let missing_provider = api.post("/v3/connectors", json!({"name": "x"})).await;
    assert_eq!(missing_provider.status, 400);
    assert!(missing_provider.error_message().contains("provider"));
}

#[tokio::test]
async fn connectors_belong_to_their_application() {
    let server = Mailroom::start_with(vec![]);
    let mine = server.create_app("mine");
    let theirs = server.create_app("theirs");
    let created = server
        .client(&mine.api_key)
        .post(
            "/v3/connectors",
            json!({"provider": "imap", "name": "mine"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let other = server.client(&theirs.api_key);
    assert_eq!(other.get("/v3/connectors/imap").await.status, 404);
    assert_eq!(other.get("/v3/connectors").await.body["data"], json!([]));
}

#[tokio::test]
async fn a_grant_needs_an_imap_connector_first() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("no-connector");
    let reply = server
        .client(&app.api_key)
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": {
                "imap_username": "someone@example.test", "imap_password": "pw",
                "imap_host": "localhost", "smtp_host": "localhost"}}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error_message().contains("connector"),
        "{}",
        reply.text
    );
}
