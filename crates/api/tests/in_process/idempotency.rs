//! `Idempotency-Key` on sends (docs/API.md §5.2), as far as the API decides it alone: a
//! malformed key is refused before anything is read or sent, and a send that sent nothing
//! (here: no mail server is reachable) frees its key, so the same key runs again instead
//! of answering 409 or replaying the failure. Replays of real sends are tested against the
//! testbed through the SDKs.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde_json::json;

use crate::support::{App, Reply, assert_v3_error};

async fn send_with_key(app: &App, key: &str) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(app.grant_path("/messages/send"))
        .header(header::AUTHORIZATION, app.api_key_header())
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .body(Body::from(
            json!({"to": [{"email": "bob@example.test"}], "subject": "Hi", "body": "x"})
                .to_string(),
        ))
        .expect("a request");
    app.request(request).await
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_refused_before_anything_is_sent() {
    let app = App::new().await;
    for key in ["", "two words", &"k".repeat(256), "tab\there"] {
        let reply = send_with_key(&app, key).await;
        assert_v3_error(&reply, StatusCode::BAD_REQUEST, &format!("key {key:?}"));
        assert!(
            reply.body.to_string().contains("Idempotency-Key"),
            "{key:?}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn a_send_that_sent_nothing_frees_its_key_for_the_retry() {
    let app = App::new().await;
    let key = "retry-after-failure-1";
    for attempt in 0..3 {
        let reply = send_with_key(&app, key).await;
        // No mail server in this tier: the provider error, run again each time.
        assert_eq!(
            reply.status,
            StatusCode::GATEWAY_TIMEOUT,
            "try {attempt}: {}",
            reply.body
        );
        assert_eq!(reply.header("idempotent-replayed"), None, "try {attempt}");
    }
    // The longest key allowed is fine.
    let longest = send_with_key(&app, &"k".repeat(255)).await;
    assert_eq!(
        longest.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        longest.body
    );
}
