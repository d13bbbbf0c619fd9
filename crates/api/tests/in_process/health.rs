//! `/healthz` (README.md, "Monitoring"): whether the server answers, with no credential.
//! (`/readyz` and `/metrics` are served by the binary beside the router, not by it.)

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::App;

#[tokio::test]
async fn healthz_answers_ok_without_credentials() {
    let app = App::new().await;
    let health = app.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, json!({"status": "ok"}));
    assert!(health.request_id.is_some(), "named like every answer");
}

#[tokio::test]
async fn healthz_ignores_a_credential_it_does_not_need() {
    let app = App::new().await;
    for authorization in ["Bearer mrk_unknown", "garbage"] {
        let health = app
            .send(Method::GET, "/healthz", Some(authorization), None)
            .await;
        assert_eq!(health.status, StatusCode::OK, "{authorization}");
    }
}
