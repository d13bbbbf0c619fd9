//! `PUT …/messages/clean` (docs/API.md §5.1): each message named comes back with its
//! cleaned body in `conversation`; the request is refused with a clear 400 (or 404 for
//! an id that is not the grant's) before anything is read.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{App, MAIL, assert_v3_error_type};

#[tokio::test]
async fn indexed_messages_come_back_with_their_conversation() {
    let app = App::with_mailbox().await;
    let with_bodies: Vec<_> = MAIL.iter().filter(|m| m.body.is_some()).take(3).collect();
    let ids: Vec<String> = with_bodies
        .iter()
        .map(|m| app.mailbox.id(m.name).to_owned())
        .collect();
    let reply = app
        .call(
            Method::PUT,
            &app.grant_path("/messages/clean"),
            Some(json!({"message_id": ids})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let data = reply.body["data"].as_array().expect("a list");
    assert_eq!(data.len(), with_bodies.len());
    for (message, mail) in data.iter().zip(&with_bodies) {
        assert_eq!(
            message["id"],
            app.mailbox.id(mail.name),
            "in the order asked"
        );
        assert_eq!(message["object"], "message");
        let text = mail.body.unwrap_or_default();
        assert!(
            message["conversation"]
                .as_str()
                .is_some_and(|c| c.contains(text.trim())),
            "{}: {}",
            mail.name,
            message["conversation"]
        );
    }
}

#[tokio::test]
async fn a_clean_request_is_refused_before_anything_is_read() {
    let app = App::with_mailbox().await;
    let one = app.mailbox.id(MAIL[0].name).to_owned();
    for (body, what) in [
        (json!({"message_id": []}), "no ids"),
        (json!({}), "no message_id"),
        (json!({"message_id": vec![one.clone(); 21]}), "21 ids"),
        (
            json!({"message_id": [one.clone()], "html_as_markdown": true, "images_as_markdown": false}),
            "markdown without images as markdown",
        ),
        (json!({"message_id": "not a list"}), "a string for the list"),
    ] {
        let reply = app
            .call(Method::PUT, &app.grant_path("/messages/clean"), Some(body))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{what}: {}",
            reply.body
        );
    }
    let unknown = app
        .call(
            Method::PUT,
            &app.grant_path("/messages/clean"),
            Some(json!({"message_id": [one, "no-such-message"]})),
        )
        .await;
    assert_v3_error_type(
        &unknown,
        StatusCode::NOT_FOUND,
        "api.not_found_error",
        "an id that is not the grant's",
    );
}
