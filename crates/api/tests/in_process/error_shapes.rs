//! Errors outside the OAuth endpoints are v3's envelope with the status and type of
//! docs/API.md §1.6 (v2's `{"message", "type"}` on v2's routes, §8.1): unknown routes,
//! methods and ids are told apart; a body that is not JSON, not an object, of the wrong
//! shape or of the wrong type is a 400 or a 415, never axum's plain-text rejection.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{App, NOTHING, assert_v2_error, assert_v3_error, assert_v3_error_type};

#[tokio::test]
async fn unknown_routes_methods_and_ids_are_told_apart() {
    let app = App::new().await;
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
    let token = app.token(&[]).await;
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
async fn an_unknown_route_is_a_not_found_error_naming_the_path() {
    let app = App::new().await;
    for path in ["/v3/nothing-here", "/nothing-here", "/v3/grants/x/y/z/w"] {
        let reply = app.call(Method::GET, path, None).await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", path);
        assert_eq!(
            reply.body["error"]["message"],
            format!("no such route: {path}")
        );
    }
}

#[tokio::test]
async fn a_method_not_served_is_a_405_invalid_request_error() {
    let app = App::new().await;
    for (method, path) in [
        (Method::PATCH, app.grant_path("/messages")),
        (Method::POST, "/v3/grants".to_owned()),
        (Method::PUT, "/v3/applications".to_owned()),
        (Method::DELETE, "/healthz".to_owned()),
    ] {
        let reply = app.call(method.clone(), &path, None).await;
        assert_v3_error_type(
            &reply,
            StatusCode::METHOD_NOT_ALLOWED,
            "api.invalid_request_error",
            &format!("{method} {path}"),
        );
        assert_eq!(
            reply.body["error"]["message"],
            format!("{method} is not allowed on {path}")
        );
    }
}

#[tokio::test]
async fn an_unknown_id_is_not_found_and_named_clipped_in_the_message() {
    let app = App::new().await;
    let long = "x".repeat(1000);
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{long}")),
            None,
        )
        .await;
    assert_v3_error_type(
        &reply,
        StatusCode::NOT_FOUND,
        "api.not_found_error",
        "long id",
    );
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("no message with id"), "{message}");
    assert!(
        message.len() < 300,
        "the id is clipped: {} bytes",
        message.len()
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_invalid_request_payload() {
    let app = App::new().await;
    for path in [
        "/v3/applications/redirect-uris",
        "/v3/connectors",
        "/v3/webhooks",
        "/v3/connect/custom",
    ] {
        for body in ["{", "not json", "{\"url\": }"] {
            let reply = app
                .call_with_type(Method::POST, path, "application/json", body)
                .await;
            assert_v3_error_type(
                &reply,
                StatusCode::BAD_REQUEST,
                "api.invalid_request_payload",
                &format!("{path} {body}"),
            );
            assert!(
                reply.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not valid JSON")),
                "{path} {body}: {}",
                reply.body
            );
        }
    }
}

#[tokio::test]
async fn a_json_body_must_be_an_object() {
    let app = App::new().await;
    let message = app.grant_path(&format!("/messages/{}", app.message_ids[0]));
    for (method, path) in [
        (Method::POST, "/v3/applications/redirect-uris".to_owned()),
        (Method::POST, "/v3/webhooks".to_owned()),
        (Method::PUT, message),
        (Method::POST, app.grant_path("/folders")),
    ] {
        for body in ["[]", "[1, 2]", "\"text\"", "12", "null"] {
            let reply = app
                .call_with_type(method.clone(), &path, "application/json", body)
                .await;
            assert_v3_error_type(
                &reply,
                StatusCode::BAD_REQUEST,
                "api.invalid_request_payload",
                &format!("{method} {path} {body}"),
            );
        }
    }
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_a_400_not_a_422() {
    let app = App::new().await;
    let message = app.grant_path(&format!("/messages/{}", app.message_ids[0]));
    for (method, path, body) in [
        (
            Method::POST,
            "/v3/webhooks".to_owned(),
            json!({"trigger_types": "message.created", "webhook_url": "https://x.example.test"}),
        ),
        (
            Method::POST,
            "/v3/applications/redirect-uris".to_owned(),
            json!({"url": 42}),
        ),
        (Method::PUT, message, json!({"unread": "no"})),
        (
            Method::PATCH,
            format!("/v3/grants/{}", app.grant_id),
            json!({"scope": "email.read_only"}),
        ),
    ] {
        let reply = app.call(method.clone(), &path, Some(body.clone())).await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            &format!("{method} {path} {body}"),
        );
    }
}

#[tokio::test]
async fn a_json_route_names_the_content_type_it_needs() {
    let app = App::new().await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let reply = app
            .call_with_type(
                Method::POST,
                "/v3/applications/redirect-uris",
                content_type,
                r#"{"url": "https://app.example.test/cb"}"#,
            )
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            content_type,
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Content-Type: application/json")),
            "{}",
            reply.body
        );
    }
    let listed = app
        .call(Method::GET, "/v3/applications/redirect-uris", None)
        .await;
    assert_eq!(listed.data(), NOTHING, "nothing was registered");
}

#[tokio::test]
async fn a_message_in_an_unsupported_content_type_is_a_415() {
    let app = App::new().await;
    for path in [app.grant_path("/messages/send"), app.grant_path("/drafts")] {
        for content_type in ["text/plain", "application/xml", "image/png"] {
            let reply = app
                .call_with_type(Method::POST, &path, content_type, "to: bob@example.test")
                .await;
            assert_v3_error_type(
                &reply,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "api.invalid_request_payload",
                &format!("{path} {content_type}"),
            );
        }
    }
}

#[tokio::test]
async fn v2_errors_say_whose_fault_it_is_in_their_type() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    // The caller's mistakes.
    for (method, path) in [
        (Method::GET, "/messages?limit=x"),
        (Method::GET, "/messages?view=all"),
        (Method::GET, "/delta"),
        (Method::GET, "/delta/streaming"),
        (Method::GET, "/messages/nope"),
    ] {
        let reply = app.send(method.clone(), path, Some(&bearer), None).await;
        assert!(reply.status.is_client_error(), "{path}: {}", reply.status);
        assert_v2_error(&reply, reply.status, path);
        assert_eq!(reply.body["type"], "invalid_request_error", "{path}");
    }
    // The server's: a mail server that cannot be reached.
    let change = format!("/messages/{}", app.message_ids[0]);
    let reply = app
        .send(
            Method::PUT,
            &change,
            Some(&bearer),
            Some("{\"unread\": false}".into()),
        )
        .await;
    assert_v2_error(&reply, StatusCode::GATEWAY_TIMEOUT, "an unreachable server");
    assert_eq!(reply.body["type"], "api_error");
}
