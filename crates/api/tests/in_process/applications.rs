//! The application's own resources (docs/API.md §2.1, §3): the application itself, its
//! redirect URIs and its connectors are created, read back, changed and removed over the
//! API; API keys are made on the command line (here: through the store) and work at once.

use axum::http::{Method, StatusCode};
use mailroom_model::{RedirectPlatform, RedirectUrl};
use serde_json::json;

use crate::support::{App, NOTHING, assert_v3_error_type, keys};

#[tokio::test]
async fn the_application_is_the_caller_s_with_its_redirect_uris() {
    let app = App::new().await;
    app.call(
        Method::POST,
        "/v3/applications/redirect-uris",
        Some(json!({"url": "https://app.example.test/callback"})),
    )
    .await;
    let reply = app.call(Method::GET, "/v3/applications", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let data = &reply.body["data"];
    assert_eq!(data["application_id"], app.application_id.as_str());
    assert_eq!(data["branding"]["name"], "in-process");
    assert_eq!(
        data["callback_uris"][0]["url"],
        "https://app.example.test/callback"
    );
    // Another application's key sees that application.
    let other = app.other_application().await;
    let theirs = app
        .send(
            Method::GET,
            "/v3/applications",
            Some(&format!("Bearer {}", other.api_key)),
            None,
        )
        .await;
    assert_eq!(
        theirs.body["data"]["application_id"],
        other.application_id.as_str()
    );
    assert_eq!(theirs.body["data"]["callback_uris"], json!([]));
}

#[tokio::test]
async fn a_redirect_uri_is_created_read_changed_and_removed() {
    let app = App::new().await;
    let created = app
        .call(
            Method::POST,
            "/v3/applications/redirect-uris",
            Some(json!({"url": "https://app.example.test/callback"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let uri = created.body["data"].clone();
    assert_eq!(uri["url"], "https://app.example.test/callback");
    assert_eq!(uri["platform"], "web", "the default platform");
    let id = uri["id"].as_str().expect("an id").to_owned();
    let path = format!("/v3/applications/redirect-uris/{id}");

    let listed = app
        .call(Method::GET, "/v3/applications/redirect-uris", None)
        .await;
    assert_eq!(listed.data(), std::slice::from_ref(&uri));
    assert_eq!(
        keys(&listed.body),
        ["data", "request_id"],
        "a whole list, no cursor"
    );
    assert_eq!(app.call(Method::GET, &path, None).await.body["data"], uri);

    let changed = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"url": "http://localhost:5173/callback", "platform": "js"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["data"]["id"], id.as_str());
    assert_eq!(changed.body["data"]["platform"], "js");
    let read = app.call(Method::GET, &path, None).await;
    assert_eq!(read.body["data"]["url"], "http://localhost:5173/callback");

    let deleted = app.call(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    for method in [Method::GET, Method::DELETE] {
        let gone = app.call(method.clone(), &path, None).await;
        assert_v3_error_type(&gone, StatusCode::NOT_FOUND, "api.not_found_error", "gone");
    }
    let listed = app
        .call(Method::GET, "/v3/applications/redirect-uris", None)
        .await;
    assert_eq!(listed.data(), NOTHING);
}

#[tokio::test]
async fn another_application_s_redirect_uri_is_not_found() {
    let app = App::new().await;
    let url =
        RedirectUrl::parse("https://other.example.test/cb", RedirectPlatform::Web).expect("a URL");
    let other = app
        .store
        .create_application("other", &[url])
        .await
        .expect("an application");
    let theirs = app
        .store
        .list_callback_uris(&other.application.id)
        .await
        .expect("listed");
    let path = format!("/v3/applications/redirect-uris/{}", theirs[0].id);
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"platform": "js"}))),
        (Method::DELETE, None),
    ] {
        let reply = app.call(method.clone(), &path, body).await;
        assert_v3_error_type(
            &reply,
            StatusCode::NOT_FOUND,
            "api.not_found_error",
            method.as_ref(),
        );
    }
    for bad in ["nope", "!!", "00000000-0000-0000-0000-000000000000"] {
        let reply = app
            .call(
                Method::GET,
                &format!("/v3/applications/redirect-uris/{bad}"),
                None,
            )
            .await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", bad);
    }
    let still = app
        .store
        .list_callback_uris(&other.application.id)
        .await
        .expect("listed");
    assert_eq!(still.len(), 1, "the refused DELETE removed nothing");
}

#[tokio::test]
async fn an_imap_connector_is_created_read_changed_and_removed() {
    let app = App::new().await;
    let created = app
        .call(
            Method::POST,
            "/v3/connectors",
            Some(json!({"provider": "imap", "name": "my imap"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["data"]["provider"], "imap");
    assert_eq!(created.body["data"]["name"], "my imap");
    let one = app.call(Method::GET, "/v3/connectors/imap", None).await;
    assert_eq!(one.body["data"], created.body["data"]);
    // The Python SDK changes it with PATCH, the Node SDK with PUT (docs/API.md §9 rule 10).
    for (method, name) in [(Method::PATCH, "patched"), (Method::PUT, "put")] {
        let changed = app
            .call(
                method.clone(),
                "/v3/connectors/imap",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{method}: {}", changed.body);
        let read = app.call(Method::GET, "/v3/connectors/imap", None).await;
        assert_eq!(read.body["data"]["name"], name, "{method}");
    }
    let deleted = app.call(Method::DELETE, "/v3/connectors/imap", None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(keys(&deleted.body), ["request_id"]);
    for method in [Method::GET, Method::DELETE] {
        let gone = app.call(method.clone(), "/v3/connectors/imap", None).await;
        assert_v3_error_type(&gone, StatusCode::NOT_FOUND, "api.not_found_error", "gone");
    }
}

#[tokio::test]
async fn an_oauth_connector_never_shows_its_client_secret() {
    let app = App::new().await;
    let created = app
        .call(
            Method::POST,
            "/v3/connectors",
            Some(json!({"provider": "microsoft",
                        "settings": {"client_id": "client-1", "client_secret": "very-secret"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let settings = &created.body["data"]["settings"];
    assert_eq!(settings["client_id"], "client-1");
    assert_eq!(settings["tenant"], "common", "Microsoft's default tenant");
    assert!(
        created.body["data"]["scope"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "default scopes: {}",
        created.body
    );
    // A change keeps what it leaves out; the secret is never in an answer.
    let changed = app
        .call(
            Method::PATCH,
            "/v3/connectors/microsoft",
            Some(json!({"settings": {"tenant": "contoso.example"}})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["data"]["settings"]["client_id"], "client-1");
    assert_eq!(
        changed.body["data"]["settings"]["tenant"],
        "contoso.example"
    );
    for reply in [
        &created,
        &changed,
        &app.call(Method::GET, "/v3/connectors/microsoft", None)
            .await,
        &app.call(Method::GET, "/v3/connectors", None).await,
    ] {
        assert!(!reply.text.contains("very-secret"), "{}", reply.text);
    }
}

#[tokio::test]
async fn connectors_are_listed_by_offset() {
    let app = App::new().await;
    app.call(
        Method::POST,
        "/v3/connectors",
        Some(json!({"provider": "imap"})),
    )
    .await;
    for provider in ["google", "yahoo", "microsoft"] {
        let reply = app
            .call(
                Method::POST,
                "/v3/connectors",
                Some(json!({"provider": provider,
                            "settings": {"client_id": "id", "client_secret": "s"}})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{provider}: {}",
            reply.body
        );
    }
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let page = app
            .call(
                Method::GET,
                &format!("/v3/connectors?limit=2&offset={offset}"),
                None,
            )
            .await;
        assert_eq!(page.body["limit"], 2);
        assert_eq!(page.body["offset"], offset);
        seen.extend(
            page.data()
                .iter()
                .filter_map(|c| c["provider"].as_str().map(str::to_owned)),
        );
    }
    seen.sort();
    assert_eq!(seen, ["google", "imap", "microsoft", "yahoo"]);
    let none = app.call(Method::GET, "/v3/connectors?limit=0", None).await;
    assert_eq!(none.data(), NOTHING);
    for bad in ["limit=201", "limit=-1", "offset=-1", "offset=x"] {
        let reply = app
            .call(Method::GET, &format!("/v3/connectors?{bad}"), None)
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            bad,
        );
    }
}

#[tokio::test]
async fn an_unknown_provider_has_no_connector() {
    let app = App::new().await;
    for provider in ["carrier-pigeon", "google"] {
        let reply = app
            .call(Method::GET, &format!("/v3/connectors/{provider}"), None)
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::NOT_FOUND,
            "api.not_found_error",
            provider,
        );
    }
}
