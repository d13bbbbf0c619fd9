//! The OpenAPI document (docs/openapi.json, served at `/openapi.json`) against the routes
//! served: what it describes is routed and nothing on its paths is routed that it leaves
//! out; each operation answers in the error shape it declares (docs/API.md §1.6), and no
//! API route answers a redirect or a body that is not JSON (§1.7, §9 rule 2).

use axum::http::{Method, StatusCode};
use mailroom_api::openapi::{self, Answer, Auth, Errors};

use crate::support::{App, assert_oauth_error, assert_v3_error_type};

/// A path of the document with its parameters filled: the grant's id for `{grant_id}`
/// (or "x" when `fake_grant`), "x" for the others.
fn concrete(app: &App, template: &str, fake_grant: bool) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{grant_id}" if !fake_grant => app.grant_id.as_str(),
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The OpenAPI document served at `/openapi.json` (docs/openapi.json) and the router
/// agree: every operation it describes is served, and on every path it describes no
/// method is served that it leaves out. (The v3 routes are built from the same tables as
/// the document, so a v3 path it does not name cannot be routed.)
#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = App::new().await;
    let reply = app.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["openapi"], "3.1.0");
    let paths = reply.body["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() > 40, "{}", paths.len());
    let mut operations = 0;
    for (template, item) in &paths {
        // No credential: each route's own extractor or handler answers, nothing changes.
        let path = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "x"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let described = item.get(method.as_str().to_ascii_lowercase()).is_some();
            let body = (method != Method::GET && method != Method::DELETE).then(|| "{}".to_owned());
            let reply = app.send(method.clone(), &path, None, body).await;
            let unrouted = reply.status == StatusCode::METHOD_NOT_ALLOWED
                || (reply.status == StatusCode::NOT_FOUND
                    && reply.body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("no such route")));
            assert_eq!(
                described, !unrouted,
                "{method} {template}: described {described}, answered {} {}",
                reply.status, reply.body
            );
            operations += usize::from(described);
        }
    }
    assert!(operations > 60, "{operations}");
}

#[tokio::test]
async fn the_document_is_served_as_json_without_credentials() {
    let app = App::new().await;
    let reply = app.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    assert_eq!(
        reply.body["paths"].as_object().map(|p| p.len()),
        openapi::document_text()
            .parse::<serde_json::Value>()
            .ok()
            .and_then(|d| d["paths"].as_object().map(|p| p.len())),
        "the served document is the one built from the tables"
    );
}

#[tokio::test]
async fn every_operation_refuses_a_missing_credential_in_the_shape_it_declares() {
    let app = App::new().await;
    let mut checked = 0;
    for operation in openapi::operations() {
        let path = concrete(&app, operation.path, false);
        let what = format!("{} {}", operation.method, operation.path);
        let body = matches!(operation.method, Method::POST | Method::PUT | Method::PATCH)
            .then(|| "{}".to_owned());
        let reply = app.send(operation.method.clone(), &path, None, body).await;
        match (operation.auth, operation.errors) {
            (Auth::ApiKey | Auth::ApiKeyOrGrant | Auth::Scoped(_), _) => {
                assert_v3_error_type(
                    &reply,
                    StatusCode::UNAUTHORIZED,
                    "api.authentication_error",
                    &what,
                );
                checked += 1;
            }
            (Auth::None, Errors::OAuth) => {
                // No credential is needed; what is missing is the request's substance.
                assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_request", &what);
                checked += 1;
            }
            (Auth::None, _) => assert!(!reply.status.is_server_error(), "{what}"),
        }
    }
    assert!(checked > 60, "{checked}");
}

#[tokio::test]
async fn no_api_route_answers_a_redirect_or_a_body_that_is_not_json() {
    let app = App::new().await;
    let mut checked = 0;
    for operation in openapi::operations() {
        if operation.errors == Errors::Page {
            continue; // The hosted sign-in pages are HTML and may redirect the browser.
        }
        if matches!(operation.doc.answer, Answer::Image | Answer::Redirect) {
            continue; // Tracking's image and redirector (tracking.rs checks them).
        }
        // The grant itself is kept for the other routes: its deletion names no grant.
        let deletes_grant =
            operation.method == Method::DELETE && operation.path == "/v3/grants/{grant_id}";
        let path = concrete(&app, operation.path, deletes_grant);
        let body = matches!(operation.method, Method::POST | Method::PUT | Method::PATCH)
            .then(|| "{}".to_owned());
        let key = app.api_key_header();
        let reply = app
            .send(operation.method.clone(), &path, Some(&key), body)
            .await;
        let what = format!(
            "{} {path}: {} {}",
            operation.method, reply.status, reply.text
        );
        assert!(!reply.status.is_redirection(), "{what}");
        assert!(
            !reply.status.is_server_error() || reply.status == StatusCode::GATEWAY_TIMEOUT,
            "{what}"
        );
        assert!(reply.body.is_object(), "{what}");
        assert!(reply.request_id.is_some(), "{what}");
        checked += 1;
    }
    assert!(checked > 60, "{checked}");
}
