//! The testbed's authorization server (`testbed/oauth-server`) as a test drives it: a
//! client of the test's own, a user's consent given on its page (the form posted as a
//! browser would), the code traded for tokens, and the control channel that expires
//! and revokes tokens on demand.

use serde_json::Value;

use super::Testbed;

/// Where the tests' clients send the browser back: no test follows it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// The settings that move mailroom's provider table to the testbed: its authorization
/// server, and Dovecot and Postfix taking its tokens.
pub fn provider_env() -> Vec<(String, String)> {
    let testbed = Testbed::get();
    vec![
        (
            "MAILROOM_TEST_OAUTH_BASE_URL".into(),
            testbed.oauth_url.clone(),
        ),
        (
            "MAILROOM_TEST_OAUTH_IMAP".into(),
            format!("localhost:{}:starttls", testbed.imap_port),
        ),
        (
            "MAILROOM_TEST_OAUTH_SMTP".into(),
            format!("localhost:{}:starttls", testbed.submission_port),
        ),
    ]
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// POSTs to the control channel; returns its JSON answer.
pub async fn control(path: &str, params: &[(&str, &str)]) -> Value {
    let reply = http()
        .post(format!("{}/control/{path}", Testbed::get().oauth_url))
        .form(params)
        .send()
        .await
        .expect("the OAuth server's control channel");
    let status = reply.status();
    let body: Value = reply.json().await.expect("a JSON answer");
    assert!(status.is_success(), "control/{path}: {status} {body}");
    body
}

/// Registers a client of `provider` (`google`, `microsoft`, `yahoo`) with any loopback
/// redirect URI; `extra`: `access_ttl`, `rotate`.
pub async fn register_client(provider: &str, client_id: &str, extra: &[(&str, &str)]) {
    let mut params = vec![
        ("client_id", client_id),
        ("client_secret", CLIENT_SECRET),
        ("provider", provider),
    ];
    params.extend_from_slice(extra);
    control("client", &params).await;
}

/// The paths of a provider's authorization and token endpoints at the testbed.
fn endpoints(provider: &str) -> (String, String) {
    let base = &Testbed::get().oauth_url;
    match provider {
        "google" => (
            format!("{base}/google/o/oauth2/v2/auth"),
            format!("{base}/google/token"),
        ),
        "microsoft" => (
            format!("{base}/microsoft/common/oauth2/v2.0/authorize"),
            format!("{base}/microsoft/common/oauth2/v2.0/token"),
        ),
        "yahoo" => (
            format!("{base}/yahoo/oauth2/request_auth"),
            format!("{base}/yahoo/oauth2/get_token"),
        ),
        other => panic!("no provider {other}"),
    }
}

/// A refresh token for testbed user `user`, as an application that ran its own OAuth
/// flow with `client_id` holds one: consent on the page, the code traded.
pub async fn refresh_token(provider: &str, client_id: &str, user: u32, scope: &str) -> String {
    let (authorize, token) = endpoints(provider);
    let email = Testbed::user(user).0;
    let verifier = "v".repeat(43);
    let http = http();
    let reply = http
        .post(&authorize)
        .form(&[
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", scope),
            ("access_type", "offline"),
            ("state", "s"),
            ("code_challenge", verifier.as_str()),
            ("code_challenge_method", "plain"),
            ("email", email.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("the authorization page");
    let location = reply
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_else(|| {
            panic!(
                "no redirect from the authorization page: {}",
                reply.status()
            )
        })
        .to_owned();
    let code = url::Url::parse(&location)
        .expect("redirect URL")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"));
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let mut request = http.post(&token);
    // Yahoo documents only HTTP Basic for the client; the others take the form.
    if provider == "yahoo" {
        request = request.basic_auth(client_id, Some(CLIENT_SECRET));
    } else {
        form.extend([("client_id", client_id), ("client_secret", CLIENT_SECRET)]);
    }
    let answer: Value = request
        .form(&form)
        .send()
        .await
        .expect("the token endpoint")
        .json()
        .await
        .expect("a JSON answer");
    answer["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {answer}"))
        .to_owned()
}
