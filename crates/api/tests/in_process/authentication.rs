//! Who may call (docs/API.md §1.2, §8.1): an API key reaches its application and all of
//! its grants; a grant access token its own grant only, by id or as `me`; v2 takes the
//! token as Bearer or as the user of Basic. Anything else is a 401 in the route's shape,
//! and another application's grant is not found.

use axum::{
    body::Body,
    http::{HeaderValue, Method, Request, StatusCode, header},
};
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::support::{App, app::add_grant, assert_v2_error, assert_v3_error, assert_v3_error_type};

#[tokio::test]
async fn calls_without_credentials_are_refused_in_each_api_s_shape() {
    let app = App::new().await;
    let v3 = [
        (Method::GET, "/v3/grants".to_owned()),
        (Method::GET, app.grant_path("/messages")),
        (Method::GET, app.grant_path("/threads")),
        (Method::GET, app.grant_path("/folders")),
        (Method::POST, app.grant_path("/messages/send")),
        (Method::GET, "/v3/webhooks".to_owned()),
        (Method::GET, "/v3/connectors".to_owned()),
    ];
    for (method, path) in v3 {
        for authorization in [None, Some("Bearer mrk_not_a_key"), Some("Basic !!")] {
            let reply = app.send(method.clone(), &path, authorization, None).await;
            assert_v3_error(
                &reply,
                StatusCode::UNAUTHORIZED,
                &format!("{method} {path}"),
            );
        }
    }
    for path in ["/messages", "/threads", "/folders", "/account", "/delta"] {
        for authorization in [None, Some("Bearer not-a-token")] {
            let reply = app.send(Method::GET, path, authorization, None).await;
            assert_v2_error(&reply, StatusCode::UNAUTHORIZED, path);
        }
    }
}

#[tokio::test]
async fn an_api_key_reaches_the_application_routes_and_its_grants_mailbox() {
    let app = App::new().await;
    for path in [
        "/v3/applications".to_owned(),
        "/v3/grants".to_owned(),
        "/v3/webhooks".to_owned(),
        format!("/v3/grants/{}", app.grant_id),
        app.grant_path("/messages"),
        app.grant_path("/folders"),
    ] {
        let reply = app.call(Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let app = App::new().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let authorization = format!("{scheme} {}", app.api_key);
        let reply = app
            .send(Method::GET, "/v3/grants", Some(&authorization), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme}: {}", reply.body);
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_401_authentication_errors() {
    let app = App::new().await;
    let basic = format!("Basic {}", STANDARD.encode(format!("{}:", app.api_key)));
    for authorization in [
        "Bearer",
        "Bearer    ",
        &format!("Token {}", app.api_key),
        &basic,
        &app.api_key,
    ] {
        let reply = app
            .send(Method::GET, "/v3/grants", Some(authorization), None)
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::UNAUTHORIZED,
            "api.authentication_error",
            authorization,
        );
    }
    // A header that is not text.
    let request = Request::builder()
        .uri("/v3/grants")
        .header(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("a header of bytes"),
        )
        .body(Body::empty())
        .expect("a request");
    let reply = app.request(request).await;
    assert_v3_error_type(
        &reply,
        StatusCode::UNAUTHORIZED,
        "api.authentication_error",
        "bytes",
    );
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid text")),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_second_api_key_works_and_a_revoked_one_fails_the_next_request() {
    let app = App::new().await;
    let (record, key) = app
        .store
        .create_api_key(&app.application())
        .await
        .expect("the store answers")
        .expect("a key for the application");
    let bearer = format!("Bearer {key}");
    let reply = app
        .send(Method::GET, "/v3/grants", Some(&bearer), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = app
        .send(
            Method::GET,
            &app.grant_path("/messages"),
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "the grant's fast path too");

    assert!(app.store.revoke_api_key(&record.id).await.expect("revoked"));
    for path in ["/v3/grants".to_owned(), app.grant_path("/messages")] {
        let reply = app.send(Method::GET, &path, Some(&bearer), None).await;
        assert_v3_error_type(
            &reply,
            StatusCode::UNAUTHORIZED,
            "api.authentication_error",
            &path,
        );
    }
    // The application's first key is untouched.
    let reply = app.call(Method::GET, "/v3/grants", None).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn another_application_s_grant_is_not_found_with_this_api_key() {
    let app = App::new().await;
    let other = app.other_application().await;
    let grant = format!("/v3/grants/{}", other.grant_id);
    for (method, path) in [
        (Method::GET, grant.clone()),
        (Method::PATCH, grant.clone()),
        (Method::DELETE, grant.clone()),
        (Method::GET, format!("{grant}/messages")),
        (Method::GET, format!("{grant}/folders")),
        (Method::POST, format!("{grant}/messages/send")),
    ] {
        let body =
            (method == Method::PATCH || method == Method::POST).then(|| serde_json::json!({}));
        let reply = app.call(method.clone(), &path, body).await;
        assert_v3_error_type(
            &reply,
            StatusCode::NOT_FOUND,
            "api.not_found_error",
            &format!("{method} {path}"),
        );
    }
    let listed = app.call(Method::GET, "/v3/grants", None).await;
    assert_eq!(listed.ids(), [app.grant_id.as_str()], "{}", listed.body);
    // Its own key still reaches it: nothing was changed or deleted.
    let own = app
        .send(
            Method::GET,
            &grant,
            Some(&format!("Bearer {}", other.api_key)),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
}

#[tokio::test]
async fn an_access_token_reaches_its_grant_by_id_and_as_me() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let by_id = app
        .send(
            Method::GET,
            &app.grant_path("/messages"),
            Some(&bearer),
            None,
        )
        .await;
    let as_me = app
        .send(Method::GET, "/v3/grants/me/messages", Some(&bearer), None)
        .await;
    assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.body);
    assert_eq!(as_me.status, StatusCode::OK, "{}", as_me.body);
    assert_eq!(as_me.ids(), app.message_ids);
    assert_eq!(by_id.ids(), app.message_ids);
    let grant = app
        .send(Method::GET, "/v3/grants/me", Some(&bearer), None)
        .await;
    assert_eq!(grant.status, StatusCode::OK, "{}", grant.body);
    assert_eq!(grant.body["data"]["id"], app.grant_id.as_str());
}

#[tokio::test]
async fn an_access_token_reaches_no_other_grant() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    // Another grant of the same application, and one of another application.
    let sibling = add_grant(&app.store, &app.application(), "bob@example.test", "Bob").await;
    let other = app.other_application().await;
    for grant in [sibling, other.grant_id] {
        for path in [
            format!("/v3/grants/{grant}"),
            format!("/v3/grants/{grant}/messages"),
        ] {
            let reply = app.send(Method::GET, &path, Some(&bearer), None).await;
            assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", &path);
        }
    }
}

#[tokio::test]
async fn an_access_token_is_refused_on_the_application_s_routes() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    for (method, path) in [
        (Method::GET, "/v3/grants".to_owned()),
        (Method::GET, "/v3/applications".to_owned()),
        (Method::GET, "/v3/webhooks".to_owned()),
        (Method::GET, "/v3/connectors".to_owned()),
        (Method::PATCH, format!("/v3/grants/{}", app.grant_id)),
        (Method::DELETE, format!("/v3/grants/{}", app.grant_id)),
    ] {
        let body = (method == Method::PATCH).then(|| "{}".to_owned());
        let reply = app.send(method.clone(), &path, Some(&bearer), body).await;
        assert_v3_error_type(
            &reply,
            StatusCode::UNAUTHORIZED,
            "api.authentication_error",
            &format!("{method} {path}"),
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("API key")),
            "{}",
            reply.body
        );
    }
    // The grant was not deleted by the refused DELETE.
    let reply = app.call(Method::GET, "/v3/grants", None).await;
    assert_eq!(reply.data().len(), 1);
}

#[tokio::test]
async fn me_with_an_api_key_is_a_400_that_asks_for_the_grant_id() {
    let app = App::new().await;
    for path in ["/v3/grants/me", "/v3/grants/me/messages"] {
        let reply = app.call(Method::GET, path, None).await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            path,
        );
    }
}

#[tokio::test]
async fn a_revoked_access_token_is_refused_by_v3_and_v2() {
    let app = App::new().await;
    let token = app.token(&[]).await;
    let bearer = format!("Bearer {token}");
    let before = app
        .send(Method::GET, "/v3/grants/me/messages", Some(&bearer), None)
        .await;
    assert_eq!(before.status, StatusCode::OK);
    let revoked = app
        .send(
            Method::POST,
            &format!("/v3/connect/revoke?token={token}"),
            None,
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let v3 = app
        .send(Method::GET, "/v3/grants/me/messages", Some(&bearer), None)
        .await;
    assert_v3_error_type(
        &v3,
        StatusCode::UNAUTHORIZED,
        "api.authentication_error",
        "v3",
    );
    let v2 = app
        .send(Method::GET, "/messages", Some(&bearer), None)
        .await;
    assert_v2_error(&v2, StatusCode::UNAUTHORIZED, "v2");
    // Revoking a token leaves the grant (docs/API.md §2.6).
    let grant = app
        .call(Method::GET, &format!("/v3/grants/{}", app.grant_id), None)
        .await;
    assert_eq!(grant.status, StatusCode::OK);
}

#[tokio::test]
async fn v2_takes_the_token_as_bearer_or_as_the_basic_user() {
    let app = App::new().await;
    let token = app.token(&[]).await;
    for authorization in [
        format!("Bearer {token}"),
        format!("Basic {}", STANDARD.encode(format!("{token}:"))),
        format!("basic {}", STANDARD.encode(format!("{token}:"))),
    ] {
        let reply = app
            .send(
                Method::GET,
                "/messages?view=count",
                Some(&authorization),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{authorization}: {}",
            reply.body
        );
        assert_eq!(reply.body["count"], 3);
    }
}

#[tokio::test]
async fn v2_refuses_api_keys_unknown_tokens_and_garbled_basic() {
    let app = App::new().await;
    for authorization in [
        app.api_key_header(),
        "Bearer mrat_unknown".to_owned(),
        "Basic !!!".to_owned(),
        format!("Basic {}", STANDARD.encode(":password-only")),
        "Digest whatever".to_owned(),
    ] {
        let reply = app
            .send(Method::GET, "/messages", Some(&authorization), None)
            .await;
        assert_v2_error(&reply, StatusCode::UNAUTHORIZED, &authorization);
        assert_eq!(reply.body["type"], "invalid_request_error");
        assert_eq!(reply.body["message"], "Could not verify access credential.");
    }
}

#[tokio::test]
async fn v2_s_application_routes_take_the_client_secret_as_the_basic_user() {
    let app = App::new().await;
    let path = format!("/a/{}/accounts", app.application_id);
    let basic = |secret: &str| format!("Basic {}", STANDARD.encode(format!("{secret}:")));
    let listed = app
        .send(Method::GET, &path, Some(&basic(&app.client_secret)), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(
        listed.body[0]["id"],
        app.grant_id.as_str(),
        "{}",
        listed.body
    );
    assert_eq!(listed.body[0]["email"], "ann@example.test");
    for secret in ["mrs_wrong", ""] {
        let reply = app
            .send(Method::GET, &path, Some(&basic(secret)), None)
            .await;
        assert_v2_error(&reply, StatusCode::UNAUTHORIZED, secret);
    }
    // Another application's secret does not open this application.
    let other = app
        .store
        .create_application("other", &[])
        .await
        .expect("an application");
    let reply = app
        .send(Method::GET, &path, Some(&basic(&other.client_secret)), None)
        .await;
    assert_v2_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "another application's secret",
    );
}
