//! Grants (docs/API.md §4): listed by offset with filters, read with every documented field
//! and no secret, their name and scopes changed and read back, and deleted with what the
//! index held of them.

use axum::http::{Method, StatusCode};
use mailroom_model::SyncState;
use serde_json::json;

use crate::support::{App, NOTHING, app::add_grant, assert_v3_error, assert_v3_error_type};

/// The documented fields of a grant.
const GRANT_KEYS: &[&str] = &[
    "created_at",
    "email",
    "grant_status",
    "id",
    "provider",
    "scope",
    "settings",
    "state",
    "updated_at",
];

#[tokio::test]
async fn grants_list_by_offset_with_filters() {
    let app = App::new().await;
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

#[tokio::test]
async fn grants_are_filtered_by_id_status_and_time_and_refuse_bad_values() {
    let app = App::new().await;
    let bob = add_grant(&app.store, &app.application(), "bob@example.test", "Bob").await;
    let both = app.call(Method::GET, "/v3/grants", None).await;
    assert_eq!(both.data().len(), 2);
    let one = app
        .call(Method::GET, &format!("/v3/grants?account_ids={bob}"), None)
        .await;
    assert_eq!(one.ids(), [bob.as_str()]);
    let valid = app
        .call(Method::GET, "/v3/grants?grant_status=valid", None)
        .await;
    assert_eq!(valid.data().len(), 2);
    let future = app
        .call(Method::GET, "/v3/grants?since=4000000000", None)
        .await;
    assert_eq!(future.data(), NOTHING);
    let past = app
        .call(Method::GET, "/v3/grants?before=1000000000", None)
        .await;
    assert_eq!(past.data(), NOTHING);
    for order in ["asc", "desc", "ASC"] {
        let reply = app
            .call(
                Method::GET,
                &format!("/v3/grants?order_by={order}&sort_by=updated_at"),
                None,
            )
            .await;
        assert_eq!(reply.data().len(), 2, "{order}");
    }
    for bad in [
        "grant_status=sleepy",
        "order_by=sideways",
        "limit=201",
        "limit=x",
        "since=yesterday",
        "account_ids=has%20space",
    ] {
        let reply = app
            .call(Method::GET, &format!("/v3/grants?{bad}"), None)
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
async fn a_grant_reads_back_with_every_field_and_no_password() {
    let app = App::new().await;
    let reply = app
        .call(Method::GET, &format!("/v3/grants/{}", app.grant_id), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let grant = &reply.body["data"];
    for key in GRANT_KEYS {
        assert!(grant.get(*key).is_some(), "{key}: {grant}");
    }
    assert_eq!(grant["id"], app.grant_id.as_str());
    assert_eq!(grant["provider"], "imap");
    assert_eq!(grant["grant_status"], "valid");
    assert_eq!(grant["email"], "ann@example.test");
    assert!(
        grant["scope"].is_array(),
        "an array (docs/API.md §9 rule 5)"
    );
    assert_eq!(grant["settings"]["imap_host"], "imap.example.test");
    assert!(
        !reply.text.contains("secret"),
        "no password: {}",
        reply.text
    );
    let listed = app.call(Method::GET, "/v3/grants", None).await;
    assert_eq!(&listed.data()[0], grant, "the list shows the same grant");
}

#[tokio::test]
async fn a_grant_shows_how_far_its_sync_has_come() {
    let app = App::new().await;
    app.store
        .set_sync_status(&app.grant_id, SyncState::InitialSync, 4, 1, 120, None)
        .await
        .expect("kept");
    let reply = app
        .call(Method::GET, &format!("/v3/grants/{}", app.grant_id), None)
        .await;
    let grant = &reply.body["data"];
    assert_eq!(grant["sync_state"], SyncState::InitialSync.as_str());
    assert_eq!(grant["sync_progress"]["folders_total"], 4);
    assert_eq!(grant["sync_progress"]["folders_done"], 1);
    assert_eq!(grant["sync_progress"]["messages_total"], 120);
}

#[tokio::test]
async fn a_grant_s_name_and_scopes_are_changed_and_read_back() {
    let app = App::new().await;
    let path = format!("/v3/grants/{}", app.grant_id);
    let changed = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Ann B.",
                        "scope": ["email.read_only", "calendar", "email.read_only"]})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        changed.body["data"]["scope"],
        json!(["email.read_only", "calendar"])
    );
    let read = app.call(Method::GET, &path, None).await;
    assert_eq!(read.body["data"]["name"], "Ann B.");
    assert_eq!(
        read.body["data"]["scope"],
        json!(["email.read_only", "calendar"])
    );
    // Back to every scope.
    let all = app
        .call(Method::PATCH, &path, Some(json!({"scope": []})))
        .await;
    assert_eq!(all.body["data"]["scope"], json!([]));
    let send = app
        .call(Method::GET, &app.grant_path("/messages/schedules"), None)
        .await;
    assert_eq!(send.status, StatusCode::OK, "no scopes hold them all");
}

#[tokio::test]
async fn deleting_a_grant_removes_it_and_its_mail() {
    let app = App::new().await;
    let token = format!("Bearer {}", app.token(&[]).await);
    let path = format!("/v3/grants/{}", app.grant_id);
    let deleted = app.call(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(crate::support::keys(&deleted.body), ["request_id"]);
    for path in [path.clone(), app.grant_path("/messages")] {
        let reply = app.call(Method::GET, &path, None).await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", &path);
    }
    assert_eq!(
        app.call(Method::GET, "/v3/grants", None).await.data(),
        NOTHING
    );
    let message = app
        .store
        .message(&app.grant_id, &app.message_ids[0])
        .await
        .expect("the store answers");
    assert!(message.is_none(), "the index no longer holds its mail");
    let with_token = app
        .send(Method::GET, "/v3/grants/me/messages", Some(&token), None)
        .await;
    // Its tokens went with it: unknown now (docs/API.md §1.6).
    assert_v3_error_type(
        &with_token,
        StatusCode::UNAUTHORIZED,
        "api.authentication_error",
        "the deleted grant's token",
    );
    let again = app.call(Method::DELETE, &path, None).await;
    assert_v3_error_type(
        &again,
        StatusCode::NOT_FOUND,
        "api.not_found_error",
        "again",
    );
}

#[tokio::test]
async fn grant_ids_that_are_not_ids_are_not_found() {
    let app = App::new().await;
    for id in ["not-a-grant", "has%20space", "x"] {
        let reply = app
            .call(Method::GET, &format!("/v3/grants/{id}"), None)
            .await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", id);
    }
}
