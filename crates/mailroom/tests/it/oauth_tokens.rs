//! After the hosted sign-in page: the code exchange at `POST /v3/connect/token` (client
//! secret, API key or PKCE), refresh-token rotation, tokeninfo, revoke, and the access
//! token as a Bearer credential on its own grant's routes — driven over HTTP as a browser
//! and an application would, against the real testbed (user20).

use crate::support::{Api, Mailroom, Reply, Testbed, csrf_cookie, hidden_input, hosted_auth_app};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const USER: u32 = 20;
const REDIRECT: &str = "http://localhost:9015/oauth/exchange";
/// RFC 7636 Appendix B.
const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A UUIDv4 secret and its challenge as the Nylas SDKs compute it.
const SDK_VERIFIER: &str = "8d2b5e0a-1c7f-4f8e-9a4b-3e6d2c1f0a9b";
const SDK_CHALLENGE: &str =
    "M2Q0OGUxMjdkZTU4YWQyMjVlMzk4YjJjZTU4ZDdmMzZjMzU0ZGMwMjliMzdmNjU1ODU1MmY2NDNjYzEyY2Y5NA";

/// A server with an application that has an IMAP connector and a registered redirect URI.
struct Setup {
    server: Mailroom,
    api: Api,
    client_id: String,
    client_secret: String,
    api_key: String,
    browser: reqwest::Client,
}

async fn setup() -> Setup {
    let server = Mailroom::start();
    let (app, api) = hosted_auth_app(&server, "OAuth", REDIRECT).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        server,
        api,
        client_id: app.application_id,
        client_secret: app.client_secret,
        api_key: app.api_key,
        browser,
    }
}

fn hidden(html: &str, name: &str) -> String {
    hidden_input(html, name)
        .unwrap_or_else(|| panic!("no hidden input {name} in the page:\n{html}"))
}

impl Setup {
    /// Signs user20 in on the hosted page, as a browser would; returns the code.
    async fn sign_in(&self, extra: &[(&str, &str)]) -> String {
        let (email, password) = Testbed::user(USER);
        let mut query = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("provider", "imap"),
            ("state", "S"),
            ("login_hint", email.as_str()),
        ];
        query.extend_from_slice(extra);
        let url = format!("{}/v3/connect/auth", self.server.base_url);
        let page = self.browser.get(&url).query(&query).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let cookie = csrf_cookie(page.headers()).expect("the CSRF cookie");
        let html = page.text().await.unwrap();
        assert!(html.contains("<form method=\"post\" action=\"/v3/connect/auth\""));
        let testbed = Testbed::get();
        let imap_port = testbed.imap_port.to_string();
        let smtp_port = testbed.submission_port.to_string();
        let form = [
            ("flow", hidden(&html, "flow")),
            ("csrf", hidden(&html, "csrf")),
            ("email", email),
            ("password", password),
            ("imap_host", "localhost".into()),
            ("imap_port", imap_port),
            ("imap_security", "starttls".into()),
            ("smtp_host", "localhost".into()),
            ("smtp_port", smtp_port),
            ("smtp_security", "starttls".into()),
        ];
        let done = self
            .browser
            .post(&url)
            .header("cookie", cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 303, "{}", done.text().await.unwrap());
        let location = url::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(location.as_str().split('?').next(), Some(REDIRECT));
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some("S"));
        param("code").expect("a code")
    }

    /// `POST /v3/connect/token` with a JSON body and no Authorization header.
    async fn token(&self, body: Value) -> Reply {
        self.server
            .anonymous()
            .post("/v3/connect/token", body)
            .await
    }

    async fn exchange(&self, code: &str, client_secret: Option<&str>) -> Reply {
        let mut body = json!({
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": code,
            "redirect_uri": REDIRECT,
        });
        if let Some(secret) = client_secret {
            body["client_secret"] = json!(secret);
        }
        self.token(body).await
    }

    async fn refresh(&self, refresh_token: &str) -> Reply {
        self.token(json!({
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.api_key,
            "refresh_token": refresh_token,
            "redirect_uri": REDIRECT,
        }))
        .await
    }

    fn bearer(&self, token: &str) -> Api {
        self.server.client(token)
    }

    /// The status of reading mail with this access token.
    async fn reads_mail(&self, token: &str) -> u16 {
        self.bearer(token)
            .get("/v3/grants/me/messages")
            .await
            .status
    }

    async fn token_info(&self, query: &str) -> Reply {
        self.server
            .anonymous()
            .get(&format!("/v3/connect/tokeninfo?{query}"))
            .await
    }
}

/// An OAuth error as docs/API.md §1.6 shapes it.
#[track_caller]
fn assert_oauth_error(reply: &Reply, error: &str) {
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.body["error"], error, "{}", reply.text);
    assert_eq!(reply.body["error_code"], 400);
    assert!(
        reply.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert!(reply.body["error_uri"].is_string());
    assert!(reply.body["request_id"].is_string());
}

fn str_of<'a>(reply: &'a Reply, key: &str) -> &'a str {
    reply.body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key}: {}", reply.text))
}

fn jwt_claims(id_token: &str) -> Value {
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "{id_token}");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[tokio::test]
async fn code_exchange_refresh_tokeninfo_revoke_and_bearer_access() {
    let setup = setup().await;

    // Exchange with the client secret: the bare response of docs/API.md §2.4.
    let code = setup.sign_in(&[("access_type", "offline")]).await;
    let first = setup.exchange(&code, Some(&setup.client_secret)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let access = str_of(&first, "access_token").to_owned();
    let refresh = str_of(&first, "refresh_token").to_owned();
    let grant_id = str_of(&first, "grant_id").to_owned();
    assert!(access.starts_with("mrat_") && refresh.starts_with("mrrt_"));
    assert_eq!(first.body["expires_in"], 3600);
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["email"], Testbed::user(USER).0);
    assert_eq!(first.body["provider"], "imap");
    assert!(first.body["scope"].is_string());
    assert!(first.body.get("data").is_none(), "not enveloped");
    let claims = jwt_claims(str_of(&first, "id_token"));
    assert_eq!(claims["sub"], grant_id.as_str());
    assert_eq!(claims["aud"], setup.client_id.as_str());
    assert_eq!(claims["email"], Testbed::user(USER).0);
    assert_eq!(claims["provider"], "imap");
    assert_eq!(claims["email_verified"], true);
    assert!(claims["picture"].is_null());
    assert_eq!(claims["iss"], "mailroom");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    // The access token reaches its own grant, as `me` or by id.
    let user = setup.bearer(&access);
    for path in [
        "/v3/grants/me/messages".to_owned(),
        "/v3/grants/me/folders".to_owned(),
        format!("/v3/grants/{grant_id}/threads"),
        "/v3/grants/me".to_owned(),
    ] {
        let reply = user.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
    assert_eq!(
        user.get("/v3/grants/me").await.body["data"]["id"],
        grant_id.as_str()
    );
    // … and nothing else: another grant is a 404, application routes a 401.
    let other_app = setup.server.create_app("Other");
    let other_api = setup.server.client(&other_app.api_key);
    other_api
        .post("/v3/connectors", json!({"provider": "imap"}))
        .await;
    let other_grant = other_api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": Testbed::get().settings(USER)}),
        )
        .await;
    assert_eq!(other_grant.status, 201, "{}", other_grant.text);
    let other_grant_id = other_grant.body["data"]["id"].as_str().unwrap();
    for path in [
        format!("/v3/grants/{other_grant_id}/messages"),
        format!("/v3/grants/{other_grant_id}"),
        "/v3/grants/00000000-0000-0000-0000-000000000000/messages".to_owned(),
    ] {
        let reply = user.get(&path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert_eq!(reply.error_type(), "api.not_found_error");
    }
    for (method, path) in [
        ("GET", "/v3/applications"),
        ("GET", "/v3/connectors"),
        ("GET", "/v3/grants"),
        ("GET", "/v3/applications/redirect-uris"),
        ("POST", "/v3/connect/custom"),
        ("PATCH", "/v3/grants/me"),
        ("DELETE", "/v3/grants/me"),
    ] {
        let reply = user.send(method, path, Some(json!({}))).await;
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.text);
        assert_eq!(reply.error_type(), "api.authentication_error");
    }
    // API keys are unchanged: every grant by id, `me` refused.
    assert_eq!(
        setup
            .api
            .get(&format!("/v3/grants/{grant_id}/messages"))
            .await
            .status,
        200
    );
    assert_eq!(setup.api.get("/v3/grants/me/messages").await.status, 400);

    // tokeninfo, for the access token and for the id_token.
    let info = setup.token_info(&format!("access_token={access}")).await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert!(info.body["request_id"].is_string());
    let data = &info.body["data"];
    assert_eq!(data["sub"], grant_id.as_str());
    assert_eq!(data["aud"], setup.client_id.as_str());
    assert_eq!(data["email"], Testbed::user(USER).0);
    assert_eq!(data["iss"], "mailroom");
    assert_eq!(
        data["exp"].as_i64().unwrap() - data["iat"].as_i64().unwrap(),
        3600
    );
    let info = setup
        .token_info(&format!("id_token={}", str_of(&first, "id_token")))
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(info.body["data"]["sub"], grant_id.as_str());
    assert_eq!(info.body["data"]["email"], Testbed::user(USER).0);
    assert_oauth_error(
        &setup.token_info("access_token=mrat_nope").await,
        "invalid_token",
    );
    assert_oauth_error(&setup.token_info("id_token=a.b.c").await, "invalid_token");
    assert_oauth_error(&setup.token_info("").await, "invalid_request");

    // Refresh (client_secret = an API key): new tokens, the old refresh token spent.
    let second = setup.refresh(&refresh).await;
    assert_eq!(second.status, 200, "{}", second.text);
    let second_access = str_of(&second, "access_token").to_owned();
    let second_refresh = str_of(&second, "refresh_token").to_owned();
    assert_ne!(second_access, access);
    assert_ne!(second_refresh, refresh);
    assert_eq!(second.body["grant_id"], grant_id.as_str());
    assert_eq!(setup.reads_mail(&second_access).await, 200);
    // Presenting the spent refresh token again revokes what it issued.
    assert_oauth_error(&setup.refresh(&refresh).await, "invalid_grant");
    assert_eq!(setup.reads_mail(&second_access).await, 401);
    assert_oauth_error(&setup.refresh(&second_refresh).await, "invalid_grant");
    assert_eq!(setup.reads_mail(&access).await, 200);

    // Revoke: the token goes, the grant stays; unknown tokens are answered alike.
    let revoked = setup
        .server
        .anonymous()
        .send("POST", &format!("/v3/connect/revoke?token={access}"), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(revoked.body["request_id"].is_string());
    let reply = user.get("/v3/grants/me/messages").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_oauth_error(
        &setup.token_info(&format!("access_token={access}")).await,
        "invalid_token",
    );
    assert_eq!(
        setup
            .api
            .get(&format!("/v3/grants/{grant_id}"))
            .await
            .status,
        200
    );
    let unknown = setup
        .server
        .anonymous()
        .send("POST", "/v3/connect/revoke?token=mrat_unknown", None)
        .await;
    assert_eq!(unknown.status, 200);
    assert_oauth_error(
        &setup
            .server
            .anonymous()
            .send("POST", "/v3/connect/revoke", None)
            .await,
        "invalid_request",
    );

    // A code redeems once; presented again it is refused and what it issued is revoked.
    let code = setup.sign_in(&[]).await;
    let online = setup.exchange(&code, Some(&setup.api_key)).await;
    assert_eq!(online.status, 200, "{}", online.text);
    assert!(
        online.body.get("refresh_token").is_none(),
        "online: no refresh token"
    );
    let online_access = str_of(&online, "access_token").to_owned();
    assert_eq!(setup.reads_mail(&online_access).await, 200);
    assert_oauth_error(
        &setup.exchange(&code, Some(&setup.api_key)).await,
        "invalid_grant",
    );
    assert_eq!(setup.reads_mail(&online_access).await, 401);
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_clients_and_requests() {
    let setup = setup().await;
    let code = setup.sign_in(&[]).await;

    let base = json!({
        "grant_type": "authorization_code",
        "client_id": setup.client_id,
        "client_secret": setup.client_secret,
        "code": code,
        "redirect_uri": REDIRECT,
    });
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let other_app = setup.server.create_app("Other");
    for (changes, error) in [
        (json!({"client_secret": "mrs_wrong"}), "invalid_client"),
        (
            json!({"client_secret": other_app.api_key}),
            "invalid_client",
        ),
        (
            json!({"client_id": other_app.application_id, "client_secret": other_app.client_secret}),
            "invalid_grant",
        ),
        (
            json!({"client_id": "00000000-0000-0000-0000-000000000000"}),
            "invalid_client",
        ),
        (json!({"client_id": null}), "invalid_request"),
        (json!({"client_secret": null}), "invalid_client"),
        (json!({"code": null}), "invalid_request"),
        (json!({"code": "code_unknown"}), "invalid_grant"),
        (
            json!({"redirect_uri": "http://localhost:9015/other"}),
            "invalid_grant",
        ),
        (json!({"redirect_uri": null}), "invalid_request"),
        (json!({"code_verifier": SDK_VERIFIER}), "invalid_grant"),
        (json!({"grant_type": "password"}), "unsupported_grant_type"),
        (json!({"grant_type": null}), "invalid_request"),
    ] {
        let reply = setup.token(with(changes.clone())).await;
        assert_oauth_error(&reply, error);
        assert!(reply.request_id_header.is_some(), "{changes}");
    }
    let not_json = setup
        .server
        .anonymous()
        .raw("POST", "/v3/connect/token", "application/json", "{")
        .await;
    assert_oauth_error(&not_json, "invalid_request");

    // None of that spent the code. A form body (generic OAuth clients) works as well.
    let form = format!(
        "grant_type=authorization_code&client_id={}&client_secret={}&code={code}&redirect_uri={}",
        setup.client_id,
        setup.client_secret,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let reply = setup
        .server
        .anonymous()
        .raw(
            "POST",
            "/v3/connect/token",
            "application/x-www-form-urlencoded",
            &form,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // A refresh needs the client to authenticate.
    let code = setup.sign_in(&[("access_type", "offline")]).await;
    let tokens = setup.exchange(&code, Some(&setup.client_secret)).await;
    let refresh = str_of(&tokens, "refresh_token");
    let anonymous_refresh = setup
        .token(json!({"grant_type": "refresh_token", "client_id": setup.client_id, "refresh_token": refresh}))
        .await;
    assert_oauth_error(&anonymous_refresh, "invalid_client");
    assert_oauth_error(&setup.refresh("mrrt_unknown").await, "invalid_grant");
    assert_eq!(setup.refresh(refresh).await.status, 200);
}

#[tokio::test]
async fn pkce_public_clients_and_token_scopes() {
    let setup = setup().await;

    // The Nylas SDK form (`s256`), redeemed with no client secret and no Authorization.
    let code = setup
        .sign_in(&[
            ("code_challenge", SDK_CHALLENGE),
            ("code_challenge_method", "s256"),
            ("scope", "email.read_only"),
        ])
        .await;
    let mut exchange = json!({
        "grant_type": "authorization_code",
        "client_id": setup.client_id,
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": RFC_VERIFIER,
    });
    assert_oauth_error(&setup.token(exchange.clone()).await, "invalid_grant");
    exchange["code_verifier"] = json!(SDK_VERIFIER);
    let tokens = setup.token(exchange).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.body["scope"], "email.read_only");
    let grant_id = str_of(&tokens, "grant_id").to_owned();
    let access = str_of(&tokens, "access_token").to_owned();
    assert_eq!(setup.reads_mail(&access).await, 200);

    // The RFC 7636 form (`S256`) as generic OAuth clients send it.
    let code = setup
        .sign_in(&[
            ("code_challenge", RFC_CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "email.read_only"),
        ])
        .await;
    let tokens = setup
        .token(json!({
            "grant_type": "authorization_code",
            "client_id": setup.client_id,
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": RFC_VERIFIER,
        }))
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);

    // A token's scopes are its grant's, as they are now, narrowed to the token's own.
    let patch = |scope: Value| {
        let api = &setup.api;
        let path = format!("/v3/grants/{grant_id}");
        async move {
            let reply = api
                .send("PATCH", &path, Some(json!({"scope": scope})))
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    };
    patch(json!(["email.send"])).await;
    let refused = setup.bearer(&access).get("/v3/grants/me/messages").await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.error_type(), "api.forbidden_error");
    assert!(
        refused
            .error_message()
            .contains("following scopes: [email.send]"),
        "the grant's scopes are what lacks: {}",
        refused.text
    );
    patch(json!(["email.modify"])).await;
    assert_eq!(setup.reads_mail(&access).await, 200);

    // A token issued for email.send alone stays at that, whatever the grant holds. (The
    // link may narrow the grant, never widen it: from every scope, it keeps email.send.)
    patch(json!([])).await;
    let code = setup.sign_in(&[("scope", "email.send")]).await;
    let tokens = setup.exchange(&code, Some(&setup.client_secret)).await;
    assert_eq!(tokens.body["scope"], "email.send", "{}", tokens.text);
    patch(json!([])).await;
    let sender = setup.bearer(str_of(&tokens, "access_token"));
    let refused = sender.get("/v3/grants/me/folders").await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused
            .error_message()
            .contains("following scopes: [email.send]"),
        "{}",
        refused.text
    );
    assert_eq!(
        setup
            .api
            .get(&format!("/v3/grants/{grant_id}/folders"))
            .await
            .status,
        200,
        "the API key holds the grant's scopes"
    );
}
