//! What a mailbox call sends is checked before anything is asked of the mail server
//! (docs/API.md §1.6, §5.1–§5.5): a malformed query, a body of the wrong shape, a message
//! without recipients or with addresses that are not addresses, a folder without a name
//! are each a 400 that says why, and nothing changes. (A well-formed call goes on to the
//! server, which is not reachable here: that answer is `unreachable_server`'s.)

use axum::http::{Method, StatusCode};
use mailroom_model::time::unix_now;
use serde_json::{Value, json};

use crate::support::{App, assert_v2_error, assert_v3_error, assert_v3_error_type, multipart};

/// Asserts a 400 of either v3 type whose message mentions `words`.
fn assert_refused(reply: &crate::support::Reply, words: &str, what: &str) {
    assert_v3_error(reply, StatusCode::BAD_REQUEST, what);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains(&words.to_lowercase())),
        "{what}: expected '{words}' in {}",
        reply.body
    );
}

/// The grant's messages, drafts and scheduled sends, to show that nothing was made.
async fn mailbox_state(app: &App) -> (Vec<String>, Vec<String>, Value) {
    let messages = app
        .call(Method::GET, &app.grant_path("/messages?limit=200"), None)
        .await
        .ids();
    let drafts = app
        .call(Method::GET, &app.grant_path("/drafts"), None)
        .await
        .ids();
    let schedules = app
        .call(Method::GET, &app.grant_path("/messages/schedules"), None)
        .await
        .body["data"]
        .clone();
    (messages, drafts, schedules)
}

#[tokio::test]
async fn bad_query_values_and_bodies_are_400_and_change_nothing() {
    let app = App::new().await;
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
        let key = app.api_key_header();
        let reply = app
            .send(Method::PUT, &message, Some(&key), Some(body.to_owned()))
            .await;
        assert_v3_error(&reply, StatusCode::BAD_REQUEST, body);
    }
    let unread = app
        .call(Method::GET, &app.grant_path("/messages?unread=true"), None)
        .await;
    assert_eq!(unread.body["data"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_message_update_of_the_wrong_shape_changes_nothing() {
    let app = App::with_mailbox().await;
    let path = app.grant_path(&format!("/messages/{}", app.mailbox.id("lunch")));
    let before = app.call(Method::GET, &path, None).await.body["data"].clone();
    for body in [
        json!({"unread": "no"}),
        json!({"starred": 1}),
        json!({"folders": "INBOX"}),
        json!({"folders": [1, 2]}),
        json!({"folder_id": "x"}),
        json!({"subject": "changed"}),
    ] {
        let reply = app.call(Method::PUT, &path, Some(body.clone())).await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            &body.to_string(),
        );
    }
    let after = app.call(Method::GET, &path, None).await.body["data"].clone();
    assert_eq!(after, before);
}

#[tokio::test]
async fn message_metadata_is_an_object_of_at_most_50_short_string_values() {
    let app = App::with_mailbox().await;
    let path = app.grant_path(&format!("/messages/{}", app.mailbox.id("lunch")));
    let many: serde_json::Map<String, Value> = (0..51)
        .map(|i| (format!("k{i}"), Value::from("v")))
        .collect();
    for (metadata, words) in [
        (json!("text"), "must be an object"),
        (json!(["a"]), "must be an object"),
        (json!({"count": 1}), "must be a string"),
        (json!({"nested": {"a": "b"}}), "must be a string"),
        (json!({"long": "x".repeat(501)}), "at most 500"),
        (json!({"k".repeat(41): "v"}), "longer than 40"),
        (Value::Object(many), "at most 50 keys"),
    ] {
        let reply = app
            .call(Method::PUT, &path, Some(json!({"metadata": metadata})))
            .await;
        assert_refused(&reply, words, &metadata.to_string());
    }
    let after = app.call(Method::GET, &path, None).await;
    assert_eq!(after.body["data"]["metadata"], json!({}));
}

#[tokio::test]
async fn a_thread_update_takes_no_metadata() {
    let app = App::with_mailbox().await;
    let message = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id("lunch"))),
            None,
        )
        .await;
    let thread = message.body["data"]["thread_id"]
        .as_str()
        .expect("a thread")
        .to_owned();
    let reply = app
        .call(
            Method::PUT,
            &app.grant_path(&format!("/threads/{thread}")),
            Some(json!({"metadata": {"a": "b"}})),
        )
        .await;
    assert_refused(
        &reply,
        "metadata belongs on messages",
        "metadata on a thread",
    );
    let unknown = app
        .call(
            Method::PUT,
            &app.grant_path(&format!("/threads/{thread}")),
            Some(json!({"subject": "x"})),
        )
        .await;
    assert_v3_error(&unknown, StatusCode::BAD_REQUEST, "an unknown field");
}

#[tokio::test]
async fn a_folder_needs_a_name_of_text() {
    let app = App::with_mailbox().await;
    let before = app
        .call(Method::GET, &app.grant_path("/folders"), None)
        .await
        .ids();
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": null}),
        json!({"name": 5}),
        json!({"name": ["a"]}),
        json!({"name": "Ok", "parent_id": 5}),
    ] {
        let reply = app
            .call(
                Method::POST,
                &app.grant_path("/folders"),
                Some(body.clone()),
            )
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            &body.to_string(),
        );
    }
    let after = app
        .call(Method::GET, &app.grant_path("/folders"), None)
        .await
        .ids();
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_folder_update_refuses_a_null_name_and_an_unknown_folder() {
    let app = App::with_mailbox().await;
    let projects = app.grant_path(&format!("/folders/{}", app.mailbox.folder("Projects")));
    for body in [
        json!({"name": null}),
        json!({"name": 7}),
        json!({"parent_id": true}),
    ] {
        let reply = app.call(Method::PUT, &projects, Some(body.clone())).await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            &body.to_string(),
        );
    }
    for method in [Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"name": "Renamed"}));
        let reply = app
            .call(method.clone(), &app.grant_path("/folders/nope"), body)
            .await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", "nope");
    }
    let folder = app.call(Method::GET, &projects, None).await;
    assert_eq!(folder.body["data"]["name"], "Projects");
}

#[tokio::test]
async fn a_send_needs_a_recipient() {
    let app = App::with_mailbox().await;
    let before = mailbox_state(&app).await;
    for body in [
        json!({}),
        json!({"subject": "Hello", "body": "no one to send to"}),
        json!({"to": [], "cc": [], "bcc": []}),
        json!({"to": null, "subject": "x"}),
    ] {
        let reply = app
            .call(
                Method::POST,
                &app.grant_path("/messages/send"),
                Some(body.clone()),
            )
            .await;
        assert_refused(&reply, "at least one recipient", &body.to_string());
    }
    // An empty body is an empty request (docs/API.md §5.3), which has no recipient either.
    let empty = app
        .call_with_type(
            Method::POST,
            &app.grant_path("/messages/send"),
            "application/json",
            "",
        )
        .await;
    assert_refused(&empty, "at least one recipient", "an empty body");
    assert_eq!(mailbox_state(&app).await, before);
}

#[tokio::test]
async fn a_message_refuses_addresses_that_are_not_addresses() {
    let app = App::with_mailbox().await;
    let before = mailbox_state(&app).await;
    for path in [app.grant_path("/messages/send"), app.grant_path("/drafts")] {
        for body in [
            json!({"to": [{"email": "not an address"}]}),
            json!({"to": [{"email": "bob@example.test"}], "cc": [{"email": "@example.test"}]}),
            json!({"to": [{"email": "bob@example.test"}], "bcc": [{"email": "bob@"}]}),
            json!({"to": [{"email": "bob@example.test"}], "from": [{"email": "nobody"}]}),
            json!({"to": [{"email": "bob@example.test"}], "reply_to": [{"email": "a b@c"}]}),
        ] {
            let reply = app.call(Method::POST, &path, Some(body.clone())).await;
            assert_refused(&reply, "is not an email address", &format!("{path} {body}"));
        }
        for body in [
            json!({"to": "bob@example.test"}),
            json!({"to": [{"name": "Bob"}]}),
            json!({"to": [{"email": 42}]}),
        ] {
            let reply = app.call(Method::POST, &path, Some(body.clone())).await;
            assert_v3_error_type(
                &reply,
                StatusCode::BAD_REQUEST,
                "api.invalid_request_payload",
                &format!("{path} {body}"),
            );
        }
    }
    assert_eq!(mailbox_state(&app).await, before);
}

#[tokio::test]
async fn custom_headers_may_not_replace_mailroom_s_own_or_break_lines() {
    let app = App::with_mailbox().await;
    let to = json!([{"email": "bob@example.test"}]);
    for (header, words) in [
        (
            json!({"name": "From", "value": "x@example.test"}),
            "not allowed",
        ),
        (
            json!({"name": "message-id", "value": "<x@y>"}),
            "not allowed",
        ),
        (
            json!({"name": "X Bad", "value": "v"}),
            "not a valid header name",
        ),
        (
            json!({"name": "X-Ok", "value": "a\r\nBcc: eve@example.test"}),
            "line break",
        ),
    ] {
        let reply = app
            .call(
                Method::POST,
                &app.grant_path("/messages/send"),
                Some(json!({"to": to, "custom_headers": [header]})),
            )
            .await;
        assert_refused(&reply, words, &header.to_string());
    }
}

#[tokio::test]
async fn attachments_need_content_that_is_base64() {
    let app = App::with_mailbox().await;
    let to = json!([{"email": "bob@example.test"}]);
    for (attachment, words) in [
        (json!({"filename": "a.txt"}), "has no 'content'"),
        (
            json!({"filename": "a.txt", "content": "!!not base64!!"}),
            "not valid base64",
        ),
        (
            json!({"filename": "a.txt", "content": "aGk=", "content_id": "<bad id>"}),
            "not a valid content-id",
        ),
    ] {
        for path in [app.grant_path("/messages/send"), app.grant_path("/drafts")] {
            let reply = app
                .call(
                    Method::POST,
                    &path,
                    Some(json!({"to": to, "attachments": [attachment]})),
                )
                .await;
            assert_refused(&reply, words, &format!("{path} {attachment}"));
        }
    }
}

#[tokio::test]
async fn a_send_at_more_than_two_years_ahead_is_refused() {
    let app = App::with_mailbox().await;
    let reply = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(json!({"to": [{"email": "bob@example.test"}],
                        "send_at": unix_now() + 3 * 365 * 86_400})),
        )
        .await;
    assert_refused(&reply, "two years", "far ahead");
    let schedules = app
        .call(Method::GET, &app.grant_path("/messages/schedules"), None)
        .await;
    assert_eq!(schedules.body["data"], json!([]));
}

#[tokio::test]
async fn a_reply_must_answer_a_message_of_the_grant() {
    let app = App::with_mailbox().await;
    for answered in ["no-such-message", "<nobody@example.test>"] {
        for path in [app.grant_path("/messages/send"), app.grant_path("/drafts")] {
            let reply = app
                .call(
                    Method::POST,
                    &path,
                    Some(json!({"to": [{"email": "bob@example.test"}],
                                "reply_to_message_id": answered})),
                )
                .await;
            assert_refused(&reply, "is not a message of this grant", answered);
        }
    }
}

#[tokio::test]
async fn raw_mime_comes_only_in_a_mime_part_of_a_send() {
    let app = App::with_mailbox().await;
    let send_mime = app.grant_path("/messages/send?type=mime");
    let json_instead = app
        .call(
            Method::POST,
            &send_mime,
            Some(json!({"to": [{"email": "bob@example.test"}]})),
        )
        .await;
    assert_refused(&json_instead, "part named 'mime'", "JSON with type=mime");
    let (content_type, body) = multipart(&[("message", None, None, b"{}")]);
    let no_part = app
        .call_with_type(Method::POST, &send_mime, &content_type, body)
        .await;
    assert_refused(&no_part, "part named 'mime'", "no mime part");
    let (content_type, body) = multipart(&[("mime", None, None, b"  \r\n ")]);
    let empty = app
        .call_with_type(Method::POST, &send_mime, &content_type, body)
        .await;
    assert_refused(&empty, "empty", "an empty mime part");
    let drafts = app
        .call(
            Method::POST,
            &app.grant_path("/drafts?type=mime"),
            Some(json!({})),
        )
        .await;
    assert_refused(
        &drafts,
        "type=mime is accepted only",
        "drafts with type=mime",
    );
    let (content_type, body) = multipart(&[("mime", None, None, b"From: a@example.test\r\n\r\nx")]);
    let draft_part = app
        .call_with_type(
            Method::POST,
            &app.grant_path("/drafts"),
            &content_type,
            body,
        )
        .await;
    assert_refused(&draft_part, "accepted only", "a mime part in a draft");
}

#[tokio::test]
async fn a_multipart_message_needs_exactly_one_message_part() {
    let app = App::with_mailbox().await;
    let send = app.grant_path("/messages/send");
    let (content_type, body) = multipart(&[("file0", Some("a.txt"), Some("text/plain"), b"hello")]);
    let no_message = app
        .call_with_type(Method::POST, &send, &content_type, body)
        .await;
    assert_refused(&no_message, "no 'message' part", "only a file");
    let json = br#"{"to": [{"email": "bob@example.test"}]}"#;
    let (content_type, body) =
        multipart(&[("message", None, None, json), ("draft", None, None, json)]);
    let both = app
        .call_with_type(Method::POST, &send, &content_type, body)
        .await;
    assert_refused(
        &both,
        "send the message json once",
        "message and draft parts",
    );
    let (content_type, body) = multipart(&[("message", None, None, b"{not json")]);
    let garbled = app
        .call_with_type(Method::POST, &send, &content_type, body)
        .await;
    assert_v3_error_type(
        &garbled,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_payload",
        "a message part that is not JSON",
    );
    let truncated = app
        .call_with_type(
            Method::POST,
            &send,
            "multipart/form-data; boundary=in-process-boundary",
            "--in-process-boundary\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{}",
        )
        .await;
    assert_v3_error(
        &truncated,
        StatusCode::BAD_REQUEST,
        "a truncated multipart body",
    );
}

#[tokio::test]
async fn a_send_with_invalid_metadata_is_refused_before_it_is_scheduled() {
    let app = App::with_mailbox().await;
    let reply = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(json!({"to": [{"email": "bob@example.test"}],
                        "send_at": unix_now() + 3600,
                        "metadata": {"count": 3}})),
        )
        .await;
    assert_refused(&reply, "must be a string", "metadata on a scheduled send");
    let schedules = app
        .call(Method::GET, &app.grant_path("/messages/schedules"), None)
        .await;
    assert_eq!(schedules.body["data"], json!([]), "nothing was scheduled");
}

#[tokio::test]
async fn a_send_with_invalid_metadata_is_refused_before_the_server_is_asked() {
    let app = App::with_mailbox().await;
    let reply = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(json!({"to": [{"email": "bob@example.test"}], "metadata": ["not", "an object"]})),
        )
        .await;
    assert_refused(&reply, "must be an object", "metadata on a send");
}

#[tokio::test]
async fn a_draft_with_invalid_metadata_is_refused_before_the_server_is_asked() {
    let app = App::with_mailbox().await;
    let reply = app
        .call(
            Method::POST,
            &app.grant_path("/drafts"),
            Some(json!({"subject": "x", "metadata": {"count": 3}})),
        )
        .await;
    assert_refused(&reply, "must be a string", "metadata on a draft");
}

#[tokio::test]
async fn v2_refuses_unknown_fields_metadata_and_tracking_before_the_server() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let message = format!("/messages/{}", app.mailbox.id("lunch"));
    for (method, path, body) in [
        (Method::PUT, message.clone(), json!({"colour": "red"})),
        (
            Method::PUT,
            message.clone(),
            json!({"metadata": {"a": "b"}}),
        ),
        (Method::PUT, message.clone(), json!({"unread": "yes"})),
        (Method::PUT, message.clone(), json!({"folder_id": 3})),
        (
            Method::POST,
            "/send".to_owned(),
            json!({"to": [{"email": "b@example.test"}], "tracking": {"opens": true}}),
        ),
        (
            Method::POST,
            "/send".to_owned(),
            json!({"to": [{"email": "b@example.test"}], "send_later": true}),
        ),
        (Method::POST, "/drafts".to_owned(), json!({"nonsense": 1})),
        (
            Method::POST,
            "/folders".to_owned(),
            json!({"name": "no display_name"}),
        ),
    ] {
        let reply = app
            .send(method.clone(), &path, Some(&bearer), Some(body.to_string()))
            .await;
        assert_v2_error(
            &reply,
            StatusCode::BAD_REQUEST,
            &format!("{method} {path} {body}"),
        );
        assert_eq!(reply.body["type"], "invalid_request_error");
    }
    let unknown_folder = app
        .send(
            Method::PUT,
            &message,
            Some(&bearer),
            Some(json!({"folder_id": "nope"}).to_string()),
        )
        .await;
    assert_v2_error(&unknown_folder, StatusCode::NOT_FOUND, "an unknown folder");
}
