//! Limits (README.md, "Configuration"): bodies of at most 16 MiB, 32 MiB on the routes
//! that carry mail (sends, drafts, v2's uploads), 8 KiB on the routes anyone may call
//! without credentials; a body over its route's limit is a 413 in that route's error
//! shape (docs/API.md §1.6, §8.1), whether its length is declared or not. A grant over
//! its request rate is a 429 that says when to retry.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use mailroom_api::{GrantRateLimit, HttpLimits};
use serde_json::json;

use crate::support::{App, Reply, assert_oauth_error, assert_v2_error, assert_v3_error_type};

/// The bodies of most routes.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The bodies of sends and drafts, attachments included.
const MAX_MAIL_BODY_BYTES: usize = 32 * 1024 * 1024;
/// The bodies of the routes without credentials.
const UNAUTHENTICATED_LIMIT: usize = 8 * 1024;

/// A request whose `Content-Length` says `declared` bytes; the body itself is `{}`.
async fn declaring(
    app: &App,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    declared: usize,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, declared.to_string());
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    app.request(request.body(Body::from("{}")).expect("a request"))
        .await
}

/// A request with a body of `size` bytes and no declared length.
async fn streaming(
    app: &App,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    content_type: &str,
    size: usize,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let body = format!("{{\"padding\": \"{}\"}}", "x".repeat(size));
    app.request(request.body(Body::from(body)).expect("a request"))
        .await
}

#[tokio::test]
async fn an_oversized_body_is_a_413_in_the_v3_envelope() {
    let app = App::new().await;
    // Over the 16 MiB bound of bodies other than mail.
    let too_big = "x".repeat(17 * 1024 * 1024);
    let key = app.api_key_header();
    let reply = app
        .send(
            Method::POST,
            "/v3/webhooks",
            Some(&key),
            Some(json!({"description": too_big}).to_string()),
        )
        .await;
    assert_v3_error_type(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "api.invalid_request_payload",
        "an oversized body",
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let app = App::new().await;
    let key = app.api_key_header();
    let message = app.grant_path(&format!("/messages/{}", app.message_ids[0]));
    for (method, path, limit) in [
        (Method::POST, "/v3/webhooks".to_owned(), MAX_BODY_BYTES),
        (Method::PUT, message, MAX_BODY_BYTES),
        (Method::POST, app.grant_path("/folders"), MAX_BODY_BYTES),
        (
            Method::POST,
            app.grant_path("/messages/send"),
            MAX_MAIL_BODY_BYTES,
        ),
        (Method::POST, app.grant_path("/drafts"), MAX_MAIL_BODY_BYTES),
    ] {
        let reply = declaring(&app, method.clone(), &path, Some(&key), limit + 1).await;
        assert_v3_error_type(
            &reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            "api.invalid_request_payload",
            &format!("{method} {path}"),
        );
        assert_eq!(
            reply.body["error"]["message"],
            format!("the request body is larger than the limit of {limit} bytes")
        );
    }
}

#[tokio::test]
async fn mail_routes_take_bodies_between_16_and_32_mib() {
    let app = App::new().await;
    let key = app.api_key_header();
    let size = 17 * 1024 * 1024;
    // Past the general limit: a send's body is read whole (and then lacks recipients).
    let send = streaming(
        &app,
        Method::POST,
        &app.grant_path("/messages/send"),
        Some(&key),
        "application/json",
        size,
    )
    .await;
    assert_v3_error_type(
        &send,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_payload",
        "a 17 MiB send",
    );
    // The same size on a route that carries no mail is refused.
    let folder = streaming(
        &app,
        Method::POST,
        &app.grant_path("/folders"),
        Some(&key),
        "application/json",
        size,
    )
    .await;
    assert_eq!(
        folder.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        folder.body
    );
    // Past the mail limit, a send is refused too.
    let huge = streaming(
        &app,
        Method::POST,
        &app.grant_path("/messages/send"),
        Some(&key),
        "application/json",
        MAX_MAIL_BODY_BYTES + 1024,
    )
    .await;
    assert_v3_error_type(
        &huge,
        StatusCode::PAYLOAD_TOO_LARGE,
        "api.invalid_request_payload",
        "a send over 32 MiB",
    );
}

#[tokio::test]
async fn v2_refuses_oversized_bodies_in_its_own_shape() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let message = format!("/messages/{}", app.message_ids[0]);
    for (method, path, limit) in [
        (Method::PUT, message.as_str(), MAX_BODY_BYTES),
        (Method::POST, "/folders", MAX_BODY_BYTES),
        (Method::POST, "/send", MAX_MAIL_BODY_BYTES),
        (Method::POST, "/drafts", MAX_MAIL_BODY_BYTES),
        (Method::POST, "/files", MAX_MAIL_BODY_BYTES),
    ] {
        let reply = declaring(&app, method.clone(), path, Some(&bearer), limit + 1).await;
        assert_v2_error(
            &reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("{method} {path}"),
        );
        assert_eq!(reply.body["type"], "invalid_request_error");
    }
    // Under the mail limit, a v2 send's body is read (and refused for what it says).
    let send = streaming(
        &app,
        Method::POST,
        "/send",
        Some(&bearer),
        "application/json",
        17 * 1024 * 1024,
    )
    .await;
    assert_v2_error(&send, StatusCode::BAD_REQUEST, "a 17 MiB v2 send");
}

/// The routes that read a body before any credential: v3's token endpoints and sign-in
/// form, v2's sign-in and token routes, the dashboard's forms; each with the shape its
/// refusal takes.
const UNAUTHENTICATED: &[(&str, &str)] = &[
    ("/v3/connect/token", "oauth"),
    ("/v3/connect/revoke", "oauth"),
    ("/v3/connect/tokeninfo", "oauth"),
    ("/v3/connect/auth", "v3"),
    ("/oauth/token", "v2"),
    ("/oauth/revoke", "v2"),
    ("/connect/authorize", "v2"),
    ("/connect/token", "v2"),
    ("/admin/login", "v3"),
    ("/admin/logout", "v3"),
];

fn assert_too_large(reply: &Reply, shape: &str, what: &str) {
    match shape {
        "oauth" => assert_oauth_error(
            reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            what,
        ),
        "v3" => assert_v3_error_type(
            reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            "api.invalid_request_payload",
            what,
        ),
        _ => assert_v2_error(reply, StatusCode::PAYLOAD_TOO_LARGE, what),
    }
}

#[tokio::test]
async fn routes_without_credentials_take_at_most_8_kib_declared_or_not() {
    let app = App::new().await;
    for (path, shape) in UNAUTHENTICATED {
        let method = if *path == "/v3/connect/tokeninfo" {
            Method::GET
        } else {
            Method::POST
        };
        let declared = declaring(&app, method.clone(), path, None, UNAUTHENTICATED_LIMIT + 1).await;
        assert_too_large(&declared, shape, &format!("{path}, declared"));
        let streamed = streaming(
            &app,
            method.clone(),
            path,
            None,
            "application/x-www-form-urlencoded",
            UNAUTHENTICATED_LIMIT,
        )
        .await;
        assert_too_large(&streamed, shape, &format!("{path}, streamed"));
    }
}

#[tokio::test]
async fn a_small_body_passes_the_8_kib_bound() {
    let app = App::new().await;
    // Just under the bound: the endpoint itself answers (an unknown code).
    let padding = "p".repeat(UNAUTHENTICATED_LIMIT - 300);
    let body = json!({"grant_type": "authorization_code", "client_id": app.application_id,
                      "code": "unknown", "code_verifier": "v",
                      "redirect_uri": "https://app.example.test/cb", "padding": padding})
    .to_string();
    assert!(body.len() < UNAUTHENTICATED_LIMIT);
    let reply = app
        .send(Method::POST, "/v3/connect/token", None, Some(body))
        .await;
    assert_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "under the bound",
    );
}

#[tokio::test]
async fn a_grant_over_its_rate_is_told_when_to_retry() {
    let limits = HttpLimits {
        grant_rate: GrantRateLimit::new(1, 3),
        ..HttpLimits::default()
    };
    let app = App::with_limits(limits).await;
    let folders = app.grant_path("/folders");
    let v3 = first_refusal(|| app.call(Method::GET, &folders, None)).await;
    assert_v3_error_type(
        &v3,
        StatusCode::TOO_MANY_REQUESTS,
        "api.rate_limit_error",
        "over the rate",
    );
    let retry_after: u64 = v3
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(retry_after >= 1);
    // v2 reaches the same grant, so it is limited too, in its own shape.
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let v2 = first_refusal(|| app.send(Method::GET, "/folders", Some(&bearer), None)).await;
    assert_v2_error(&v2, StatusCode::TOO_MANY_REQUESTS, "v2 over the rate");
    // The application's own routes are not the grant's.
    for _ in 0..5 {
        let grants = app.call(Method::GET, "/v3/grants", None).await;
        assert_eq!(grants.status, StatusCode::OK);
    }
}

/// Calls until one is refused for its rate; a burst of 3 a second cannot take 20 calls
/// in a row.
async fn first_refusal<F, Fut>(call: F) -> Reply
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    for _ in 0..20 {
        let reply = call().await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return reply;
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    panic!("20 calls in a row were all admitted");
}
