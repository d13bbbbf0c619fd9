//! Cross-origin calls (docs/API.md §2.2, PKCE from a browser): a preflight is answered for
//! an origin some application registered as a `js` redirect URI, on the few routes a
//! single-page application calls (`/v3/connect/token|tokeninfo|revoke`,
//! `/v3/grants/me/…`); the call itself carries CORS headers only when the application it
//! names registered that origin. Nothing else is opened to browsers.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde_json::{Value, json};

use crate::support::{App, Reply};

const SPA: &str = "http://spa.example.test:5173";

/// The application registers `SPA` (a `js` URI) and a `web` URI on another origin.
async fn registered() -> App {
    let app = App::new().await;
    for (url, platform) in [
        ("http://spa.example.test:5173/callback", "js"),
        ("https://web.example.test/callback", "web"),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/v3/applications/redirect-uris",
                Some(json!({"url": url, "platform": platform})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    app
}

async fn preflight(app: &App, origin: &str, path: &str) -> Reply {
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .expect("a request");
    app.request(request).await
}

/// A call from `origin` (POST with a JSON body, or GET).
async fn from_origin(
    app: &App,
    origin: &str,
    path: &str,
    authorization: Option<String>,
    body: Option<Value>,
) -> Reply {
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::ORIGIN, origin);
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("a request");
    app.request(request).await
}

#[tokio::test]
async fn a_preflight_from_a_registered_js_origin_is_allowed() {
    let app = registered().await;
    for path in [
        "/v3/connect/token",
        "/v3/connect/tokeninfo",
        "/v3/connect/revoke",
        "/v3/grants/me",
        "/v3/grants/me/messages",
    ] {
        let allowed = preflight(&app, SPA, path).await;
        assert_eq!(allowed.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            allowed.header("access-control-allow-origin"),
            Some(SPA),
            "{path}"
        );
        let headers = allowed
            .header("access-control-allow-headers")
            .unwrap_or_default();
        assert!(headers.contains("authorization") && headers.contains("content-type"));
        assert!(
            allowed
                .header("access-control-allow-methods")
                .is_some_and(|m| m.contains("POST")),
            "{path}"
        );
        assert!(allowed.header("access-control-max-age").is_some());
        assert!(allowed.header("vary").is_some_and(|v| v.contains("Origin")));
    }
}

#[tokio::test]
async fn a_preflight_from_any_other_origin_is_refused_without_cors_headers() {
    let app = registered().await;
    for (origin, path) in [
        ("https://web.example.test", "/v3/connect/token"),
        ("http://evil.example.test", "/v3/connect/token"),
        ("http://spa.example.test:5174", "/v3/grants/me/messages"),
        ("https://spa.example.test:5173", "/v3/connect/token"),
        ("null", "/v3/connect/token"),
    ] {
        let refused = preflight(&app, origin, path).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{origin} {path}");
        assert!(refused.header("access-control-allow-origin").is_none());
    }
}

#[tokio::test]
async fn routes_a_browser_has_no_business_calling_are_not_opened() {
    let app = registered().await;
    let mailbox = app.grant_path("/messages");
    for path in [
        "/v3/grants",
        "/v3/webhooks",
        "/v3/connect/auth",
        "/v3/connect/custom",
        mailbox.as_str(),
        "/messages",
        "/oauth/token",
    ] {
        let closed = preflight(&app, SPA, path).await;
        assert!(
            closed.header("access-control-allow-origin").is_none(),
            "{path}"
        );
        let call = from_origin(&app, SPA, path, Some(app.api_key_header()), None).await;
        assert!(
            call.header("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_token_exchange_s_refusal_is_readable_by_the_registering_origin() {
    let app = registered().await;
    let exchange = from_origin(
        &app,
        SPA,
        "/v3/connect/token",
        None,
        Some(
            json!({"client_id": app.application_id, "grant_type": "authorization_code",
                    "code": "not-a-code", "code_verifier": "v",
                    "redirect_uri": "http://spa.example.test:5173/callback"}),
        ),
    )
    .await;
    assert_eq!(exchange.status, StatusCode::BAD_REQUEST, "an unknown code");
    assert_eq!(
        exchange.header("access-control-allow-origin"),
        Some(SPA),
        "the browser may read the refusal"
    );
    assert_eq!(
        exchange.header("access-control-expose-headers"),
        Some("x-request-id")
    );
    assert!(
        exchange
            .header("vary")
            .is_some_and(|v| v.contains("Origin"))
    );
}

#[tokio::test]
async fn a_grant_token_s_call_from_the_origin_is_readable() {
    let app = registered().await;
    let token = app.token(&[]).await;
    for path in ["/v3/grants/me", "/v3/grants/me/messages"] {
        let me = from_origin(&app, SPA, path, Some(format!("Bearer {token}")), None).await;
        assert_eq!(me.status, StatusCode::OK, "{path}: {}", me.body);
        assert_eq!(
            me.header("access-control-allow-origin"),
            Some(SPA),
            "{path}"
        );
    }
    let info = from_origin(
        &app,
        SPA,
        &format!("/v3/connect/tokeninfo?access_token={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.header("access-control-allow-origin"), Some(SPA));
}

#[tokio::test]
async fn another_application_s_client_id_does_not_borrow_the_origin() {
    let app = registered().await;
    let other = app
        .store
        .create_application("other", &[])
        .await
        .expect("an application");
    let borrowed = from_origin(
        &app,
        SPA,
        "/v3/connect/token",
        None,
        Some(json!({"client_id": other.application.id.as_str(),
                    "grant_type": "authorization_code", "code": "x"})),
    )
    .await;
    assert!(borrowed.header("access-control-allow-origin").is_none());
    // Nor does a web origin of the application itself.
    let web = from_origin(
        &app,
        "https://web.example.test",
        "/v3/connect/token",
        None,
        Some(
            json!({"client_id": app.application_id, "grant_type": "authorization_code",
                    "code": "x"}),
        ),
    )
    .await;
    assert!(web.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_call_without_an_origin_gets_no_cors_headers() {
    let app = registered().await;
    let reply = app
        .send(
            Method::POST,
            "/v3/connect/token",
            None,
            Some(json!({"client_id": app.application_id}).to_string()),
        )
        .await;
    assert!(reply.header("access-control-allow-origin").is_none());
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
