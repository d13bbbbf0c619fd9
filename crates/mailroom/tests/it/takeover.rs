//! A grant cannot be taken over or made to give up its password: tried as an attacker
//! would, with the hosted sign-in form posted by a script, custom auth and grant updates,
//! against the real testbed and an accept-any-login server standing in for the
//! attacker's own (README, "Security model").

use crate::support::{
    self, Api, Mailroom, Testbed, accept_all::AcceptAll, csrf_cookie, eventually, hidden_input,
    hosted_auth_app, imap_peer::reset_user,
};
use serde_json::{Value, json};

const REDIRECT: &str = "http://localhost:9000/oauth/exchange";
const VICTIM: u32 = 49;
const NEWCOMER: u32 = 50;
const MOVED: u32 = 51;
const GUESSED: u32 = 52;

/// An application ready for hosted sign-in, and a browser that does not follow redirects.
struct Site {
    server: Mailroom,
    api: Api,
    client_id: String,
    client_secret: String,
    browser: reqwest::Client,
}

/// What a form post came back with.
struct Outcome {
    status: u16,
    location: Option<url::Url>,
    html: String,
}

impl Outcome {
    fn param(&self, name: &str) -> Option<String> {
        self.location.as_ref().and_then(|url| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    }
}

impl Site {
    async fn new(server: Mailroom) -> Self {
        let (app, api) = hosted_auth_app(&server, "Site", REDIRECT).await;
        Site {
            server,
            api,
            client_id: app.application_id,
            client_secret: app.client_secret,
            browser: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn allow_custom_servers(&self, allow: bool) {
        let output = self.server.cli(&[
            "app",
            "update",
            "--app",
            &self.client_id,
            "--allow-custom-servers",
            if allow { "true" } else { "false" },
        ]);
        assert!(output.status.success(), "{output:?}");
    }

    /// Opens a sign-in page with `extra` link parameters and posts `form` to it, as a
    /// script would.
    async fn sign_in(&self, extra: &[(&str, &str)], form: &[(&str, &str)]) -> Outcome {
        let url = format!("{}/v3/connect/auth", self.server.base_url);
        let mut query = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("provider", "imap"),
            ("state", "st"),
        ];
        query.extend_from_slice(extra);
        let page = self.browser.get(&url).query(&query).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let cookie = csrf_cookie(page.headers()).expect("the CSRF cookie");
        let html = page.text().await.unwrap();
        let flow = hidden_input(&html, "flow").unwrap();
        let csrf = hidden_input(&html, "csrf").unwrap();
        let mut fields = vec![("flow", flow.as_str()), ("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        let response = self
            .browser
            .post(&url)
            .header("cookie", cookie)
            .form(&fields)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| url::Url::parse(l.to_str().unwrap()).unwrap());
        Outcome {
            status,
            location,
            html: response.text().await.unwrap(),
        }
    }

    /// Redeems a code as a public client would: PKCE, no client secret.
    async fn redeem(&self, code: &str, verifier: &str) -> Value {
        let reply = self
            .server
            .anonymous()
            .post(
                "/v3/connect/token",
                json!({
                    "grant_type": "authorization_code",
                    "client_id": self.client_id,
                    "code": code,
                    "redirect_uri": REDIRECT,
                    "code_verifier": verifier,
                }),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    }
}

/// `POST /v3/connect/custom` for the application, with these settings (and scope).
async fn custom_auth(api: &Api, settings: Value, scope: Option<Value>) -> support::Reply {
    let mut request = json!({"provider": "imap", "settings": settings});
    if let Some(scope) = scope {
        request["scope"] = scope;
    }
    api.post("/v3/connect/custom", request).await
}

/// The form an attacker posts: an email and the attacker's own servers.
fn attacker_form<'a>(
    email: &'a str,
    imap_port: &'a str,
    smtp_port: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("email", email),
        ("password", "anything"),
        ("imap_host", "127.0.0.1"),
        ("imap_port", imap_port),
        ("imap_security", "none"),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", smtp_port),
        ("smtp_security", "none"),
    ]
}

/// The testbed's own servers, as the page suggests them for the testbed's domain.
fn testbed_form(email: &str, password: &str) -> Vec<(&'static str, String)> {
    let testbed = Testbed::get();
    vec![
        ("email", email.to_owned()),
        ("password", password.to_owned()),
        ("imap_host", "localhost".into()),
        ("imap_port", testbed.imap_port.to_string()),
        ("imap_security", "starttls".into()),
        ("smtp_host", "localhost".into()),
        ("smtp_port", testbed.submission_port.to_string()),
        ("smtp_security", "starttls".into()),
    ]
}

fn borrowed<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// S256 of a verifier, as the link carries it.
fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn id_token_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn hosted_sign_in_cannot_move_a_grant_to_other_servers() {
    reset_user(VICTIM, false);
    let site = Site::new(Mailroom::start()).await;
    let evil = AcceptAll::start().await;
    let (imap_port, smtp_port) = (evil.imap_port.to_string(), evil.smtp_port.to_string());
    let (victim, _) = Testbed::user(VICTIM);

    // The victim's grant, made through custom auth with the application's key.
    let created = custom_auth(
        &site.api,
        Testbed::get().settings(VICTIM),
        Some(json!(["email.read_only"])),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let grant_id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let before = site.api.get(&format!("/v3/grants/{grant_id}")).await.body;

    // With the victim's email and the attacker's servers, scope=email, PKCE: refused on
    // the page, whether or not the application allows other servers.
    let verifier = "attacker-verifier-0123456789-0123456789-0123456789";
    let code_challenge = challenge(verifier);
    let link = [
        ("scope", "email"),
        ("code_challenge", code_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for allow in [false, true] {
        site.allow_custom_servers(allow);
        let refused = site
            .sign_in(&link, &attacker_form(&victim, &imap_port, &smtp_port))
            .await;
        assert_eq!(refused.status, 200, "the page again: {}", refused.html);
        assert!(refused.location.is_none());
        assert!(
            refused.html.contains("already connected")
                && refused.html.contains("other mail servers"),
            "{}",
            refused.html
        );
    }
    assert_eq!(
        evil.connections(),
        0,
        "nothing reached the attacker's servers"
    );
    let after = site.api.get(&format!("/v3/grants/{grant_id}")).await.body;
    assert_eq!(after["data"]["settings"], before["data"]["settings"]);
    assert_eq!(after["data"]["scope"], json!(["email.read_only"]));

    // Custom auth can't move it either: that takes PATCH and the new password.
    let mut moved = Testbed::get().settings(VICTIM);
    moved["imap_host"] = json!("127.0.0.1");
    moved["imap_port"] = json!(evil.imap_port);
    moved["imap_security"] = json!("none");
    let reply = custom_auth(&site.api, moved, None).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.error_message().contains("PATCH /v3/grants/"),
        "{}",
        reply.text
    );
    assert_eq!(evil.connections(), 0);

    // Signing in again on the grant's own servers works, and the link's wider scope does
    // not widen the grant.
    site.allow_custom_servers(false);
    let (_, password) = Testbed::user(VICTIM);
    let again = site
        .sign_in(
            &[("scope", "email")],
            &borrowed(&testbed_form(&victim, &password)),
        )
        .await;
    assert_eq!(again.status, 303, "{}", again.html);
    assert!(again.param("code").is_some());
    let after = site.api.get(&format!("/v3/grants/{grant_id}")).await.body;
    assert_eq!(after["data"]["scope"], json!(["email.read_only"]));
    assert_eq!(after["data"]["id"], grant_id.as_str());
}

#[tokio::test]
async fn hosted_sign_in_uses_only_the_domains_servers_and_says_so_in_the_id_token() {
    reset_user(NEWCOMER, false);
    let site = Site::new(Mailroom::start()).await;
    let evil = AcceptAll::start().await;
    let (imap_port, smtp_port) = (evil.imap_port.to_string(), evil.smtp_port.to_string());
    let verifier = "public-client-verifier-0123456789-0123456789-012345";
    let code_challenge = challenge(verifier);
    let link = [
        ("code_challenge", code_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    // Someone else's address on servers that are not its domain's: refused, nothing sent.
    for email in ["ceo@bigcorp.example", "user99@example.test"] {
        let refused = site
            .sign_in(&link, &attacker_form(email, &imap_port, &smtp_port))
            .await;
        assert_eq!(refused.status, 200, "{}", refused.html);
        assert!(refused.html.contains("do not belong"), "{}", refused.html);
    }
    assert_eq!(evil.connections(), 0);

    // An application that allows other servers gets them, and the id_token says the
    // address was not verified.
    site.allow_custom_servers(true);
    let applications = site.api.get("/v3/applications").await;
    assert_eq!(applications.body["data"]["allow_custom_servers"], true);
    let accepted = site
        .sign_in(
            &link,
            &attacker_form("ceo@bigcorp.example", &imap_port, &smtp_port),
        )
        .await;
    assert_eq!(accepted.status, 303, "{}", accepted.html);
    let tokens = site
        .redeem(&accepted.param("code").unwrap(), verifier)
        .await;
    assert_eq!(
        id_token_claims(tokens["id_token"].as_str().unwrap())["email_verified"],
        false
    );
    let info = site
        .server
        .anonymous()
        .get(&format!(
            "/v3/connect/tokeninfo?access_token={}",
            tokens["access_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(info.body["data"]["email_verified"], false, "{}", info.text);

    // The domain's own servers (from its SRV records) prove the address.
    site.allow_custom_servers(false);
    let (email, password) = Testbed::user(NEWCOMER);
    let signed_in = site
        .sign_in(&link, &borrowed(&testbed_form(&email, &password)))
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    let tokens = site
        .redeem(&signed_in.param("code").unwrap(), verifier)
        .await;
    assert_eq!(
        id_token_claims(tokens["id_token"].as_str().unwrap())["email_verified"],
        true
    );
    assert!(!site.client_secret.is_empty());
}

#[tokio::test]
async fn a_stored_password_never_goes_to_a_new_server() {
    let site = Site::new(Mailroom::start()).await;
    let evil = AcceptAll::start().await;
    let created = custom_auth(&site.api, Testbed::get().settings(VICTIM), None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!(
        "/v3/grants/{}",
        created.body["data"]["id"].as_str().unwrap()
    );

    for (change, field) in [
        (
            json!({"imap_host": "127.0.0.1", "imap_port": evil.imap_port, "imap_security": "none"}),
            "imap_password",
        ),
        (
            json!({"smtp_host": "127.0.0.1", "smtp_port": evil.smtp_port, "smtp_security": "none"}),
            "smtp_password",
        ),
        (json!({"smtp_username": "someone-else"}), "smtp_password"),
    ] {
        let reply = site
            .api
            .send("PATCH", &path, Some(json!({"settings": change})))
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert!(
            reply
                .error_message()
                .contains(&format!("settings.{field} is required")),
            "{}",
            reply.text
        );
    }
    // Custom auth for the same email with a new server and no password: also refused.
    let (email, _) = Testbed::user(VICTIM);
    let settings = json!({"email": email, "imap_host": "127.0.0.1", "imap_port": evil.imap_port});
    let reply = custom_auth(&site.api, settings, None).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(evil.connections(), 0, "no password left for the other host");
    let (_, password) = Testbed::user(VICTIM);
    assert!(
        !evil.lines().iter().any(|line| line.contains(&password)),
        "the password never reached the other host"
    );
}

#[tokio::test]
async fn new_credentials_revoke_tokens_and_new_servers_empty_the_index() {
    reset_user(MOVED, false);
    let site = Site::new(Mailroom::start()).await;
    let (email, password) = Testbed::user(MOVED);
    let mut peer = support::imap_peer::ImapPeer::login(MOVED).await;
    let original = support::imap_peer::message(
        "before-the-move@example.test",
        "before the move",
        "ann@example.test",
        None,
        "hello",
    );
    peer.append("INBOX", "", &original).await;

    let verifier = "revocation-verifier-0123456789-0123456789-0123456789";
    let code_challenge = challenge(verifier);
    let link = [
        ("code_challenge", code_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let signed_in = site
        .sign_in(&link, &borrowed(&testbed_form(&email, &password)))
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    let tokens = site
        .redeem(&signed_in.param("code").unwrap(), verifier)
        .await;
    let grant_id = tokens["grant_id"].as_str().unwrap().to_owned();
    let holder = site.server.client(tokens["access_token"].as_str().unwrap());
    let listed = eventually(&holder, "/v3/grants/me/messages", "the message", |body| {
        body["data"].as_array().is_some_and(|m| m.len() == 1)
    })
    .await;
    let old_id = listed["data"][0]["id"].as_str().unwrap().to_owned();

    // The application moves the mailbox (same Dovecot, over implicit TLS) with its
    // password: the token holder is out, and the index starts afresh.
    let testbed = Testbed::get();
    let moved = site
        .api
        .send(
            "PATCH",
            &format!("/v3/grants/{grant_id}"),
            Some(json!({"settings": {
                "imap_port": testbed.imaps_port, "imap_security": "ssl",
                "smtp_port": testbed.smtps_port, "smtp_security": "ssl",
                "imap_password": password}})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let revoked = holder.get("/v3/grants/me/messages").await;
    assert_eq!(revoked.status, 401, "{}", revoked.text);
    let path = format!("/v3/grants/{grant_id}/messages");
    let relisted = eventually(&site.api, &path, "the message again", |body| {
        body["data"].as_array().is_some_and(|m| m.len() == 1)
    })
    .await;
    assert_ne!(
        relisted["data"][0]["id"].as_str().unwrap(),
        old_id,
        "the message was indexed afresh from the new servers"
    );
    let old = site
        .api
        .get(&format!("/v3/grants/{grant_id}/messages/{old_id}"))
        .await;
    assert_eq!(old.status, 404, "{}", old.text);
}

#[tokio::test]
async fn parallel_wrong_passwords_reach_the_server_three_times_at_most() {
    reset_user(GUESSED, false);
    let site = Site::new(Mailroom::start()).await;
    let (email, _) = Testbed::user(GUESSED);
    let log = Testbed::get().dir.join("log/dovecot.log");
    let failures = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|line| {
                line.contains("imap-login:")
                    && line.contains("auth failed")
                    && line.contains(&format!("user=<{email}>"))
            })
            .count()
    };
    let before = failures();

    let attempts = (0..20).map(|n| {
        let form = testbed_form(&email, &format!("wrong-{n}"));
        let site = &site;
        async move { site.sign_in(&[], &borrowed(&form)).await }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let limited = outcomes
        .iter()
        .filter(|o| {
            o.param("error_type").as_deref() == Some("auth_limit_reached") || o.status == 429
        })
        .count();
    assert!(
        limited >= 17,
        "{limited} of 20 were stopped before the server"
    );
    let tried = failures() - before;
    eprintln!("{tried} of 20 parallel wrong passwords reached the IMAP server; {limited} stopped");
    assert!(
        (1..=3).contains(&tried),
        "{tried} wrong passwords reached the IMAP server"
    );
}

#[tokio::test]
async fn an_application_has_a_grant_cap() {
    let mut env = support::testbed_env();
    env.push(("MAILROOM_MAX_GRANTS_PER_APPLICATION".into(), "1".into()));
    let server = Mailroom::start_with(env);
    let site = Site::new(server).await;
    let first = custom_auth(&site.api, Testbed::get().settings(53), None).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second = custom_auth(&site.api, Testbed::get().settings(54), None).await;
    assert_eq!(second.status, 403, "{}", second.text);
    assert!(
        second
            .error_message()
            .contains("max_grants_per_application")
    );
    // Re-authenticating the grant it has is not a new grant.
    let again = custom_auth(&site.api, Testbed::get().settings(53), None).await;
    assert_eq!(again.status, 200, "{}", again.text);
}
