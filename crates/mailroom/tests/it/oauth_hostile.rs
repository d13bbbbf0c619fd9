//! A hostile OAuth provider: mailroom's provider table pointed at a server of this test
//! that answers custom auth's token request (and the key set and userinfo after it)
//! with what no provider should send: a huge answer, silence, nonsense, a token that is
//! not a Bearer token, an unsigned or forged ID token, a huge key set, an error with an
//! enormous description. Each sign-in fails with a clear error within the provider
//! timeout, no grant is written, and the server goes on serving. And a provider that
//! is down while a grant's token needs refreshing: the grant stays valid, its sync
//! retries, and it carries on once the provider is back.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::{
    self, Mailroom, Testbed, eventually,
    imap_peer::{ImapPeer, end_sessions, reset_user},
    oauth_provider::{CLIENT_SECRET, control, refresh_token, register_client},
    testbed_env,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// What the hostile provider does with the next requests.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    HugeTokenAnswer,
    Silent,
    NotJson,
    NotBearer,
    UnsignedIdToken,
    ForgedIdTokenHugeKeys,
    EnormousRefusal,
}

/// Serves every connection with the current behaviour; returns its base URL.
async fn hostile_provider(behaviour: Arc<Mutex<Behaviour>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let behaviour = *behaviour.lock().unwrap();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = answer(behaviour, &path);
                if let Some(body) = body {
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                } else {
                    // Silence: hold the connection open and say nothing.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                }
            });
        }
    });
    base
}

fn jwt(header: serde_json::Value, claims: serde_json::Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn answer(behaviour: Behaviour, path: &str) -> (&'static str, Option<Vec<u8>>) {
    let claims = json!({"iss": "x", "sub": "1", "aud": "hostile-client", "exp": 9_999_999_999u64,
                        "email": Testbed::user(DOWN_USER).0});
    let token = |id_token: Option<String>| {
        let mut body =
            json!({"access_token": "at-hostile", "token_type": "Bearer", "expires_in": 3600});
        if let Some(id_token) = id_token {
            body["id_token"] = json!(id_token);
        }
        body.to_string().into_bytes()
    };
    if path.contains("certs") {
        // Far more than a key set: refused past its bound.
        let keys =
            json!({"keys": [{"kty": "RSA", "kid": "k", "n": "A".repeat(300_000), "e": "AQAB"}]});
        return ("200 OK", Some(keys.to_string().into_bytes()));
    }
    if path.contains("userinfo") {
        return ("500 Internal Server Error", Some(b"{}".to_vec()));
    }
    match behaviour {
        Behaviour::HugeTokenAnswer => {
            let body = format!(
                r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
                "a".repeat(1 << 20)
            );
            ("200 OK", Some(body.into_bytes()))
        }
        Behaviour::Silent => ("200 OK", None),
        Behaviour::NotJson => ("200 OK", Some(b"<html>welcome</html>".to_vec())),
        Behaviour::NotBearer => (
            "200 OK",
            Some(br#"{"access_token":"at","token_type":"mac"}"#.to_vec()),
        ),
        Behaviour::UnsignedIdToken => (
            "200 OK",
            Some(token(Some(jwt(json!({"alg": "none"}), claims, b"")))),
        ),
        Behaviour::ForgedIdTokenHugeKeys => (
            "200 OK",
            Some(token(Some(jwt(
                json!({"alg": "RS256", "kid": "k"}),
                claims,
                &[1; 256],
            )))),
        ),
        Behaviour::EnormousRefusal => {
            let body = json!({"error": "invalid_grant", "error_description": "x".repeat(30_000)});
            ("400 Bad Request", Some(body.to_string().into_bytes()))
        }
    }
}

#[tokio::test]
async fn a_hostile_token_endpoint_fails_each_sign_in_clearly_and_writes_nothing() {
    let behaviour = Arc::new(Mutex::new(Behaviour::NotJson));
    let base = hostile_provider(behaviour.clone()).await;
    let testbed = Testbed::get();
    let mut env = testbed_env();
    env.extend([
        ("MAILROOM_TEST_OAUTH_BASE_URL".to_owned(), base),
        (
            "MAILROOM_TEST_OAUTH_IMAP".to_owned(),
            format!("localhost:{}:starttls", testbed.imap_port),
        ),
        (
            "MAILROOM_TEST_OAUTH_SMTP".to_owned(),
            format!("localhost:{}:starttls", testbed.submission_port),
        ),
    ]);
    let server = Mailroom::start_with(env);
    let app = server.create_app("hostile provider");
    let api = server.client(&app.api_key);
    let created = api
        .post(
            "/v3/connectors",
            json!({"provider": "google",
                   "settings": {"client_id": "hostile-client", "client_secret": CLIENT_SECRET}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    for (case, status, words) in [
        (Behaviour::HugeTokenAnswer, 502, "longer than"),
        (Behaviour::Silent, 502, "did not answer"),
        (Behaviour::NotJson, 502, "not one mailroom can read"),
        (Behaviour::NotBearer, 502, "not Bearer"),
        (Behaviour::UnsignedIdToken, 400, "not RS256"),
        (Behaviour::ForgedIdTokenHugeKeys, 400, "keys"),
        (Behaviour::EnormousRefusal, 401, "invalid_grant"),
    ] {
        *behaviour.lock().unwrap() = case;
        let reply = api
            .post(
                "/v3/connect/custom",
                json!({"provider": "google", "settings": {"refresh_token": "rt"}}),
            )
            .await;
        assert_eq!(reply.status, status, "{case:?}: {}", reply.text);
        assert!(
            reply.error_message().contains(words),
            "{case:?}: {}",
            reply.text
        );
        // The provider's words are kept short.
        assert!(
            reply.text.len() < 2_000,
            "{case:?}: {} bytes",
            reply.text.len()
        );
        let grants = api.get("/v3/grants").await;
        assert_eq!(
            support::data_len(&grants.body),
            0,
            "{case:?}: {}",
            grants.text
        );
    }
    let health = server.anonymous().get("/healthz").await;
    assert_eq!(health.status, 200);
}

/// A testbed user no other test signs in as (ARCHITECTURE.md, "Testbed users").
const DOWN_USER: u32 = 76;

/// Forwards every connection to the testbed's authorization server, or while `down`
/// answers 503 at once; returns its base URL.
async fn switchable_provider(down: Arc<Mutex<bool>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let upstream = Testbed::get()
        .oauth_url
        .trim_start_matches("http://")
        .to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (down, upstream) = (*down.lock().unwrap(), upstream.clone());
            tokio::spawn(async move {
                if down {
                    let _ = stream
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                if let Ok(mut provider) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut provider).await;
                }
            });
        }
    });
    base
}

#[tokio::test]
async fn a_provider_down_at_refresh_time_leaves_the_grant_valid_until_it_is_back() {
    reset_user(DOWN_USER, true);
    let down = Arc::new(Mutex::new(false));
    let base = switchable_provider(down.clone()).await;
    let testbed = Testbed::get();
    let mut env = testbed_env();
    env.extend([
        ("MAILROOM_TEST_OAUTH_BASE_URL".to_owned(), base),
        (
            "MAILROOM_TEST_OAUTH_IMAP".to_owned(),
            format!("localhost:{}:starttls", testbed.imap_port),
        ),
        (
            "MAILROOM_TEST_OAUTH_SMTP".to_owned(),
            format!("localhost:{}:starttls", testbed.submission_port),
        ),
        ("MAILROOM_SYNC_POLL_SECS".to_owned(), "1".to_owned()),
    ]);
    let server = Mailroom::start_with(env);
    let app = server.create_app("provider down");
    let api = server.client(&app.api_key);
    let client = format!("down-{}", rand::random::<u64>());
    register_client("google", &client, &[]).await;
    let created = api
        .post(
            "/v3/connectors",
            json!({"provider": "google",
                   "settings": {"client_id": client, "client_secret": CLIENT_SECRET}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // Google's shape: no ID token on a refresh, so the email comes from userinfo.
    let refresh = refresh_token(
        "google",
        &client,
        DOWN_USER,
        "https://mail.google.com/ email",
    )
    .await;
    let connected = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "google", "settings": {"refresh_token": refresh}}),
        )
        .await;
    assert_eq!(connected.status, 201, "{}", connected.text);
    let grant = connected.body["data"]["id"].as_str().unwrap().to_owned();

    // The provider goes down; the access token expires; the sync must sign in again.
    *down.lock().unwrap() = true;
    let email = Testbed::user(DOWN_USER).0;
    control("expire", &[("email", email.as_str())]).await;
    end_sessions(DOWN_USER);
    eventually(
        &api,
        &format!("/v3/grants/{grant}"),
        "the sync retrying for want of a token",
        |body| body["data"]["sync_state"] == "retrying",
    )
    .await;
    let status = api.get(&format!("/v3/grants/{grant}")).await;
    assert_eq!(
        status.body["data"]["grant_status"], "valid",
        "{}",
        status.text
    );

    // Back: the sync refreshes and reads new mail.
    *down.lock().unwrap() = false;
    let mut peer = ImapPeer::login(DOWN_USER).await;
    peer.append(
        "INBOX",
        "",
        &format!("From: a@example.test\r\nTo: {email}\r\nSubject: after the outage\r\nMessage-ID: <outage-{}@example.test>\r\n\r\nhi\r\n", rand::random::<u64>()),
    )
    .await;
    eventually(
        &api,
        &format!("/v3/grants/{grant}/messages?subject=after%20the%20outage"),
        "mail read after the provider came back",
        |body| support::data_len(body) == 1,
    )
    .await;
    let status = api.get(&format!("/v3/grants/{grant}")).await;
    assert_eq!(
        status.body["data"]["grant_status"], "valid",
        "{}",
        status.text
    );
}
