//! The token endpoints (docs/API.md §2.4, §2.6): no `Authorization` needed, answers bare
//! (the token) or enveloped (tokeninfo), and every failure in OAuth's shape with all
//! five fields (§1.6), status 400.

use axum::http::{Method, StatusCode};
use mailroom_model::{Provider, Scope};
use mailroom_store::NewAuthFlow;
use serde_json::{Value, json};

use crate::support::{App, assert_oauth_error, keys};

const REDIRECT: &str = "https://app.example.test/callback";
const VERIFIER: &str = "a-verifier-of-the-in-process-tier-0123456789";

/// An authorization code for the grant, as the hosted sign-in ends: offline access,
/// PKCE with the `plain` method, for `scope`.
async fn code(app: &App, scope: &[Scope]) -> String {
    let application = app.application();
    let (flow, _csrf) = app
        .store
        .create_auth_flow(NewAuthFlow {
            application_id: &application,
            redirect_uri: REDIRECT,
            state: Some("s1"),
            scope,
            access_type: "offline",
            login_hint: None,
            smtp_required: false,
            code_challenge: Some(VERIFIER),
            code_challenge_method: Some("plain"),
            provider: Provider::Imap,
            provider_state: None,
            provider_redirect_uri: None,
            response_type: "code",
        })
        .await
        .expect("a flow");
    app.store
        .issue_authorization_code(&flow, &app.grant_id)
        .await
        .expect("the store answers")
        .expect("a code")
}

async fn token(app: &App, body: Value) -> crate::support::Reply {
    app.send(
        Method::POST,
        "/v3/connect/token",
        None,
        Some(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn a_code_with_its_verifier_is_exchanged_for_tokens_without_authorization() {
    let app = App::new().await;
    let code = code(&app, &[Scope::EmailReadOnly]).await;
    let reply = token(
        &app,
        json!({"grant_type": "authorization_code", "client_id": app.application_id,
               "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert!(
        body.get("data").is_none(),
        "the token response is bare: {body}"
    );
    for key in [
        "access_token",
        "grant_id",
        "expires_in",
        "token_type",
        "scope",
        "email",
        "provider",
        "id_token",
        "refresh_token",
    ] {
        assert!(body.get(key).is_some(), "{key}: {body}");
    }
    assert_eq!(body["grant_id"], app.grant_id.as_str());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "email.read_only", "a space-separated string");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["email"], "ann@example.test");
    // The token reaches the grant, within its scope.
    let bearer = format!(
        "Bearer {}",
        body["access_token"].as_str().unwrap_or_default()
    );
    let read = app
        .send(Method::GET, "/v3/grants/me/messages", Some(&bearer), None)
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let change = app
        .send(
            Method::PUT,
            &format!("/v3/grants/me/messages/{}", app.message_ids[0]),
            Some(&bearer),
            Some("{}".into()),
        )
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN, "{}", change.body);
}

#[tokio::test]
async fn a_code_is_spent_by_its_first_exchange() {
    let app = App::new().await;
    let code = code(&app, &[]).await;
    let exchange = json!({"grant_type": "authorization_code", "client_id": app.application_id,
                          "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER});
    let first = token(&app, exchange.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = token(&app, exchange).await;
    assert_oauth_error(&again, StatusCode::BAD_REQUEST, "invalid_grant", "a replay");
}

#[tokio::test]
async fn a_refresh_token_needs_the_client_secret_and_yields_a_new_access_token() {
    let app = App::new().await;
    let code = code(&app, &[]).await;
    let first = token(
        &app,
        json!({"grant_type": "authorization_code", "client_id": app.application_id,
               "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}),
    )
    .await;
    let refresh = first.body["refresh_token"]
        .as_str()
        .expect("offline access")
        .to_owned();
    let without_secret = token(
        &app,
        json!({"grant_type": "refresh_token", "client_id": app.application_id,
               "refresh_token": refresh}),
    )
    .await;
    assert_oauth_error(
        &without_secret,
        StatusCode::BAD_REQUEST,
        "invalid_client",
        "no secret",
    );
    let refreshed = token(
        &app,
        json!({"grant_type": "refresh_token", "client_id": app.application_id,
               "refresh_token": refresh, "client_secret": app.client_secret}),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_ne!(refreshed.body["access_token"], first.body["access_token"]);
    assert_eq!(refreshed.body["grant_id"], app.grant_id.as_str());
}

#[tokio::test]
async fn token_endpoint_failures_are_oauth_errors() {
    let app = App::new().await;
    let client = app.application_id.clone();
    let cases = [
        (json!({}), "invalid_request"),
        (json!({"client_id": client}), "invalid_request"),
        (
            json!({"grant_type": "password", "client_id": client}),
            "unsupported_grant_type",
        ),
        (
            json!({"grant_type": "authorization_code", "client_id": "not-an-application",
                   "code": "c", "code_verifier": "v", "redirect_uri": REDIRECT}),
            "invalid_client",
        ),
        (
            json!({"grant_type": "authorization_code", "client_id": client,
                   "code": "c", "redirect_uri": REDIRECT}),
            "invalid_client",
        ),
        (
            json!({"grant_type": "authorization_code", "client_id": client,
                   "code": "unknown", "code_verifier": "v", "redirect_uri": REDIRECT}),
            "invalid_grant",
        ),
        (
            json!({"grant_type": "authorization_code", "client_id": client,
                   "client_secret": "mrs_wrong", "code": "c", "redirect_uri": REDIRECT}),
            "invalid_client",
        ),
        (
            json!({"grant_type": "refresh_token", "client_id": client,
                   "client_secret": app.client_secret, "refresh_token": "unknown"}),
            "invalid_grant",
        ),
    ];
    for (body, error) in cases {
        let reply = token(&app, body.clone()).await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, error, &body.to_string());
    }
    let garbled = app
        .send(
            Method::POST,
            "/v3/connect/token",
            None,
            Some("{not json".to_owned()),
        )
        .await;
    assert_oauth_error(
        &garbled,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "not JSON",
    );
}

#[tokio::test]
async fn the_token_endpoint_takes_a_form_as_well_as_json() {
    let app = App::new().await;
    let code = code(&app, &[]).await;
    let form = format!(
        "grant_type=authorization_code&client_id={}&code={code}&redirect_uri={}\
         &code_verifier={VERIFIER}",
        app.application_id,
        url_escape(REDIRECT)
    );
    let reply = app.post_form("/v3/connect/token", None, &form).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["grant_id"], app.grant_id.as_str());
}

fn url_escape(text: &str) -> String {
    text.replace(':', "%3A").replace('/', "%2F")
}

#[tokio::test]
async fn tokeninfo_describes_a_live_access_token_in_the_envelope() {
    let app = App::new().await;
    let access = app.token(&[]).await;
    let reply = app
        .send(
            Method::GET,
            &format!("/v3/connect/tokeninfo?access_token={access}"),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(keys(&reply.body), ["data", "request_id"]);
    let data = &reply.body["data"];
    assert_eq!(data["sub"], app.grant_id.as_str());
    assert_eq!(data["aud"], app.application_id.as_str());
    assert_eq!(data["email"], "ann@example.test");
    assert!(data["exp"].as_i64() > data["iat"].as_i64(), "{data}");
}

#[tokio::test]
async fn tokeninfo_reads_the_id_token_of_an_exchange() {
    let app = App::new().await;
    let code = code(&app, &[]).await;
    let exchanged = token(
        &app,
        json!({"grant_type": "authorization_code", "client_id": app.application_id,
               "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}),
    )
    .await;
    let id_token = exchanged.body["id_token"].as_str().expect("an id token");
    let reply = app
        .send(
            Method::GET,
            &format!("/v3/connect/tokeninfo?id_token={id_token}"),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["data"]["sub"], app.grant_id.as_str());
    // A signature that does not verify is refused.
    let forged = forge_signature(id_token);
    let reply = app
        .send(
            Method::GET,
            &format!("/v3/connect/tokeninfo?id_token={forged}"),
            None,
            None,
        )
        .await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_token", "forged");
}

/// The JWT with the first character of its signature changed.
fn forge_signature(jwt: &str) -> String {
    let (signed, signature) = jwt.rsplit_once('.').expect("a JWT");
    let mut chars = signature.chars();
    let first = chars.next().expect("a signature");
    let other = if first == 'A' { 'B' } else { 'A' };
    format!("{signed}.{other}{}", chars.as_str())
}

#[tokio::test]
async fn tokeninfo_failures_are_oauth_errors() {
    let app = App::new().await;
    for (query, error) in [
        ("", "invalid_request"),
        ("?access_token=mrat_unknown", "invalid_token"),
        ("?id_token=not.a.jwt", "invalid_token"),
        ("?access_token=a&id_token=b", "invalid_request"),
    ] {
        let reply = app
            .send(
                Method::GET,
                &format!("/v3/connect/tokeninfo{query}"),
                None,
                None,
            )
            .await;
        assert_oauth_error(&reply, StatusCode::BAD_REQUEST, error, query);
    }
}

#[tokio::test]
async fn revoke_needs_a_token_and_answers_json_even_for_an_unknown_one() {
    let app = App::new().await;
    let missing = app
        .send(Method::POST, "/v3/connect/revoke", None, None)
        .await;
    assert_oauth_error(
        &missing,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "no token",
    );
    let unknown = app
        .send(
            Method::POST,
            "/v3/connect/revoke?token=mrat_unknown",
            None,
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::OK, "{}", unknown.body);
    assert_eq!(keys(&unknown.body), ["request_id"]);
    // A form carries the token too.
    let token = app.token(&[]).await;
    let revoked = app
        .post_form("/v3/connect/revoke", None, &format!("token={token}"))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let after = app
        .send(
            Method::GET,
            "/v3/grants/me",
            Some(&format!("Bearer {token}")),
            None,
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.body);
}
