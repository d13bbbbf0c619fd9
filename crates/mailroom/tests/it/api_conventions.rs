//! The v3 conventions every route follows: bearer API keys, envelopes with request ids,
//! errors in the v3 shape, JSON bodies on every response.

use crate::support::Mailroom;
use serde_json::json;

#[tokio::test]
async fn health_answers_without_authentication() {
    let server = Mailroom::start_with(vec![]);
    let reply = server.anonymous().get("/healthz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "ok");
}

#[tokio::test]
async fn missing_or_unknown_keys_are_refused_with_401() {
    let server = Mailroom::start_with(vec![]);
    server.create_app("conventions");

    let missing = server.anonymous().get("/v3/grants").await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.error_type(), "api.authentication_error");
    assert!(missing.error_message().contains("Authorization"));

    let unknown = server
        .client("mrk_not-a-real-key")
        .get("/v3/connectors")
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.error_type(), "api.authentication_error");

    let mut basic = server.anonymous();
    basic.api_key = None;
    let reply = basic
        .http
        .get(format!("{}/v3/grants", server.base_url))
        .basic_auth("someone", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
}

#[tokio::test]
async fn every_response_carries_its_request_id_in_body_and_header() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("ids");
    let api = server.client(&app.api_key);

    let ok = api.get("/v3/applications").await;
    assert_eq!(ok.status, 200);
    let body_id = ok.body["request_id"].as_str().unwrap();
    assert!(!body_id.is_empty());
    assert_eq!(ok.request_id_header.as_deref(), Some(body_id));

    let error = api.get("/v3/grants/no-such-grant").await;
    assert_eq!(error.status, 404);
    assert_eq!(
        error.request_id_header.as_deref(),
        error.body["request_id"].as_str()
    );
    assert_ne!(error.body["request_id"], ok.body["request_id"]);
}

#[tokio::test]
async fn the_application_is_returned_to_its_own_key() {
    let server = Mailroom::start_with(vec![]);
    let first = server.create_app("first");
    let second = server.create_app("second");
    let reply = server.client(&second.api_key).get("/v3/applications").await;
    assert_eq!(reply.status, 200);
    let data = &reply.body["data"];
    assert_eq!(data["application_id"], second.application_id.as_str());
    assert_ne!(data["application_id"], first.application_id.as_str());
    assert_eq!(data["branding"]["name"], "second");
    for field in ["organization_id", "region", "environment"] {
        assert!(data[field].is_string(), "{field} missing: {data}");
    }
    assert!(data["callback_uris"].is_array());
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("routes");
    let api = server.client(&app.api_key);

    let unknown = api.get("/v3/does-not-exist").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error_type(), "api.not_found_error");
    assert!(unknown.error_message().contains("/v3/does-not-exist"));

    let wrong_method = api.send("POST", "/v3/applications", Some(json!({}))).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.error_type(), "api.invalid_request_error");
    assert!(wrong_method.body["request_id"].is_string());
}

#[tokio::test]
async fn malformed_json_gets_a_400_that_says_what_is_wrong() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("json");
    let api = server.client(&app.api_key);

    let syntax = api
        .raw(
            "POST",
            "/v3/connectors",
            "application/json",
            r#"{"provider": "imap",}"#,
        )
        .await;
    assert_eq!(syntax.status, 400);
    assert_eq!(syntax.error_type(), "api.invalid_request_payload");
    assert!(
        syntax.error_message().contains("not valid JSON"),
        "{}",
        syntax.text
    );
    assert!(syntax.error_message().contains("line 1"), "{}", syntax.text);

    let wrong_type = api.post("/v3/connectors", json!({"provider": 7})).await;
    assert_eq!(wrong_type.status, 400);
    assert!(
        wrong_type.error_message().contains("invalid type"),
        "{}",
        wrong_type.text
    );

    let unknown_field = api
        .post(
            "/v3/connectors",
            json!({"provider": "imap", "nmae": "typo"}),
        )
        .await;
    assert_eq!(unknown_field.status, 400);
    assert!(
        unknown_field.error_message().contains("nmae"),
        "{}",
        unknown_field.text
    );

    let not_json = api
        .raw("POST", "/v3/connectors", "text/plain", "provider=imap")
        .await;
    assert_eq!(not_json.status, 400);
    assert!(
        not_json
            .error_message()
            .contains("Content-Type: application/json")
    );

    let bad_query = api.get("/v3/grants?limit=many").await;
    assert_eq!(bad_query.status, 400);
    assert!(bad_query.error_message().contains("limit"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_cleanly() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("big");
    // Announce a 17 MiB body and send none of it: the server must refuse from the
    // header alone, with a JSON error, instead of reading (or buffering) the body.
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /v3/connectors HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.api_key,
        17 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read one complete response; the server may keep the socket open afterwards.
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    let complete = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        head.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .is_some_and(|length| body.len() >= length)
    };
    while !complete(&response) {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
                .await
                .expect("the server answered an oversized body")
                .unwrap();
        assert!(
            read > 0,
            "connection closed early: {}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&chunk[..read]);
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("api.invalid_request_payload"),
        "{response}"
    );
    assert!(response.contains("request_id"), "{response}");

    // Nothing was created by the refused request.
    let list = server.client(&app.api_key).get("/v3/connectors").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
}
