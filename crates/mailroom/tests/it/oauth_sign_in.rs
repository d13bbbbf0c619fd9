//! Signing in to mail servers with OAuth 2.0 tokens, against the testbed's own
//! authorization server (`testbed/oauth-server`, Google's endpoint shapes) and Dovecot
//! and Postfix taking its tokens: an authorization code with PKCE traded for tokens, the
//! access token accepted by IMAP (OAUTHBEARER, which Dovecot offers) and by SMTP
//! submission (XOAUTH2), a refresh, and an expired access token and a revoked refresh
//! token told apart from a server that is down.

use std::time::Duration;

use crate::support::Testbed;
use base64::Engine;
use mailroom_imap::{ImapAuth, ImapServer, ImapSession, ImapTls};
use mailroom_net::{
    ClientAuth, OutboundPolicy, PolicySettings, TokenEndpoint, TokenGrant, WebhookUrl,
    request_token,
};
use mailroom_smtp::{SmtpAuth, SmtpServer, SmtpTls, verify_login_with};
use sha2::{Digest, Sha256};

/// Users no other test signs in as (ARCHITECTURE.md, "Testbed users").
const USER: u32 = 62;
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const TIMEOUT: Duration = Duration::from_secs(15);

fn policy(testbed: &Testbed) -> OutboundPolicy {
    OutboundPolicy::new(PolicySettings {
        allow_private_hosts: true,
        allow_insecure_transport: true,
        bind_address: None,
        timeout: TIMEOUT,
        extra_ca_pem: Some(std::fs::read(&testbed.ca_file).expect("testbed CA")),
        max_message_bytes: mailroom_net::DEFAULT_MAX_MESSAGE_BYTES,
    })
    .expect("policy")
}

/// A client registered at the testbed's authorization server for this test alone.
async fn register_client(testbed: &Testbed, http: &reqwest::Client, client_id: &str) {
    let reply = http
        .post(format!("{}/control/client", testbed.oauth_url))
        .form(&[
            ("client_id", client_id),
            ("client_secret", "test-secret"),
            ("redirect_uris", REDIRECT_URI),
            ("provider", "google"),
        ])
        .send()
        .await
        .expect("control channel");
    assert_eq!(
        reply.status(),
        200,
        "{}",
        reply.text().await.unwrap_or_default()
    );
}

/// The user consents on the authorization page (its form posted, as a browser would);
/// returns the code the provider redirects back with.
async fn consent(
    testbed: &Testbed,
    http: &reqwest::Client,
    client_id: &str,
    challenge: &str,
) -> String {
    let email = Testbed::user(USER).0;
    let reply = http
        .post(format!("{}/google/o/oauth2/v2/auth", testbed.oauth_url))
        .form(&[
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "https://mail.google.com/ openid email"),
            ("access_type", "offline"),
            ("state", "s1"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("email", email.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("authorization page");
    assert!(reply.status().is_redirection(), "{}", reply.status());
    let location = reply
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("a redirect")
        .to_owned();
    let url = url::Url::parse(&location).expect("redirect URL");
    assert_eq!(
        url.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned()),
        Some("s1".into())
    );
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

async fn imap_with(
    testbed: &Testbed,
    policy: &OutboundPolicy,
    token: &str,
) -> Result<ImapSession, mailroom_imap::ImapError> {
    let email = Testbed::user(USER).0;
    ImapSession::connect_with(
        policy,
        ImapServer {
            host: "localhost",
            port: testbed.imap_port,
            tls: ImapTls::StartTls,
            username: &email,
        },
        ImapAuth::Bearer(token),
    )
    .await
}

async fn smtp_with(
    testbed: &Testbed,
    policy: &OutboundPolicy,
    token: &str,
) -> Result<(), mailroom_smtp::SmtpError> {
    let email = Testbed::user(USER).0;
    verify_login_with(
        policy,
        SmtpServer {
            host: "localhost",
            port: testbed.submission_port,
            tls: SmtpTls::StartTls,
            username: &email,
        },
        SmtpAuth::Bearer(token),
    )
    .await
}

#[tokio::test]
async fn tokens_from_a_code_sign_in_to_imap_and_smtp_until_expired_or_revoked() {
    let testbed = Testbed::get();
    let policy = policy(testbed);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client_id = format!("mailroom-test-{}", std::process::id());
    register_client(testbed, &http, &client_id).await;

    // RFC 7636: 43 to 128 unreserved characters.
    let verifier = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let code = consent(testbed, &http, &client_id, &challenge).await;
    let endpoint = TokenEndpoint {
        url: WebhookUrl::parse(&format!("{}/google/token", testbed.oauth_url)).unwrap(),
        client_id: client_id.clone(),
        client_secret: "test-secret".into(),
        client_auth: ClientAuth::Post,
    };

    // A wrong verifier is refused as the grant it is.
    let wrong = request_token(
        &policy,
        &endpoint,
        TokenGrant::AuthorizationCode {
            code: &code,
            redirect_uri: REDIRECT_URI,
            code_verifier: &"w".repeat(43),
        },
        TIMEOUT,
    )
    .await;
    assert!(
        matches!(wrong, Err(ref e) if e.is_revoked()),
        "{:?}",
        wrong.err()
    );

    let code = consent(testbed, &http, &client_id, &challenge).await;
    let tokens = request_token(
        &policy,
        &endpoint,
        TokenGrant::AuthorizationCode {
            code: &code,
            redirect_uri: REDIRECT_URI,
            code_verifier: &verifier,
        },
        TIMEOUT,
    )
    .await
    .expect("code exchange");
    assert!(tokens.id_token.is_some(), "an OpenID Connect ID token");
    let refresh_token = tokens
        .refresh_token
        .clone()
        .expect("offline access gives a refresh token");

    let session = imap_with(testbed, &policy, &tokens.access_token)
        .await
        .expect("IMAP takes the access token");
    assert!(session.has_capability("IMAP4rev1"));
    session.logout().await;
    smtp_with(testbed, &policy, &tokens.access_token)
        .await
        .expect("SMTP submission takes the access token");

    // A refresh gives a new access token that works too.
    let refreshed = request_token(
        &policy,
        &endpoint,
        TokenGrant::RefreshToken(&refresh_token),
        TIMEOUT,
    )
    .await
    .expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    imap_with(testbed, &policy, &refreshed.access_token)
        .await
        .expect("IMAP takes the refreshed token")
        .logout()
        .await;

    // An expired access token is a refused login, not a server failure.
    let expired = http
        .post(format!("{}/control/expire", testbed.oauth_url))
        .form(&[("token", refreshed.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 200);
    let refused = imap_with(testbed, &policy, &refreshed.access_token).await;
    assert!(
        matches!(refused, Err(ref e) if e.is_authentication()),
        "{:?}",
        refused.err()
    );
    let refused = smtp_with(testbed, &policy, &refreshed.access_token).await;
    assert!(
        matches!(
            refused,
            Err(mailroom_smtp::SmtpError::AuthenticationFailed(_))
        ),
        "{refused:?}"
    );

    // A revoked refresh token is `invalid_grant`: the grant needs the user again.
    let revoked = http
        .post(format!("{}/control/revoke-refresh", testbed.oauth_url))
        .form(&[("token", refresh_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let again = request_token(
        &policy,
        &endpoint,
        TokenGrant::RefreshToken(&refresh_token),
        TIMEOUT,
    )
    .await;
    assert!(
        matches!(again, Err(ref e) if e.is_revoked()),
        "{:?}",
        again.err()
    );
}

/// A server that answers the CAPABILITY asked before a token sign-in with lines that
/// never end is refused with a clear error, promptly, and never sees the token.
#[tokio::test]
async fn a_flood_of_capabilities_before_sign_in_is_refused() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        write.write_all(b"* OK hostile ready\r\n").await.unwrap();
        let mut lines = BufReader::new(read).lines();
        let mut heard = Vec::new();
        if let Ok(Some(line)) = lines.next_line().await {
            heard.push(line);
        }
        // Until mailroom hangs up: its token would come next, if it went on.
        let flood = "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=OAUTHBEARER\r\n".repeat(100);
        while write.write_all(flood.as_bytes()).await.is_ok() {}
        while let Ok(Some(line)) = lines.next_line().await {
            heard.push(line);
        }
        heard
    });
    let policy = OutboundPolicy::new(PolicySettings {
        allow_private_hosts: true,
        allow_insecure_transport: true,
        bind_address: None,
        timeout: Duration::from_secs(10),
        extra_ca_pem: None,
        max_message_bytes: mailroom_net::DEFAULT_MAX_MESSAGE_BYTES,
    })
    .unwrap();
    let refused = ImapSession::connect_with(
        &policy,
        ImapServer {
            host: "127.0.0.1",
            port,
            tls: ImapTls::Plain,
            username: "someone@example.test",
        },
        ImapAuth::Bearer("secret-token-never-sent"),
    )
    .await;
    let error = refused.err().expect("refused");
    assert!(
        error.to_string().contains("CAPABILITY"),
        "a clear error, not a timeout: {error}"
    );
    let heard = server.await.unwrap();
    assert_eq!(heard.first().map(String::as_str), Some("mrcap CAPABILITY"));
    assert!(
        heard.iter().all(|line| !line.contains("AUTHENTICATE")),
        "{heard:?}"
    );
}
