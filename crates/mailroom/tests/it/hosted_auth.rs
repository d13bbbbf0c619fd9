//! The hosted sign-in flow over plain HTTP, as a browser would drive it: the page, its
//! CSRF protection and headers, and every outcome of docs/API.md §2.3 against the testbed.
//! (The same flow in headless Chromium lives in tests/browser.)

use crate::support::{
    self, Api, Mailroom, Testbed, csrf_cookie, hidden_input, hosted_auth_app,
    imap_peer::reset_user, testbed_env,
};
use serde_json::json;

const USER: u32 = 16;
const REDIRECT: &str = "http://localhost:9000/oauth/exchange";

/// A server, an application with an IMAP connector and a registered redirect URI.
struct Setup {
    server: Mailroom,
    api: Api,
    client_id: String,
    browser: reqwest::Client,
}

async fn setup(extra_env: &[(&str, &str)]) -> Setup {
    let mut env = testbed_env();
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let server = Mailroom::start_with(env);
    let (app, api) = hosted_auth_app(&server, "Hosted", REDIRECT).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        server,
        api,
        client_id: app.application_id,
        browser,
    }
}

/// A sign-in page as served: its form tokens and the CSRF cookie.
struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    html: String,
    flow: String,
    csrf: String,
    cookie: String,
}

impl Setup {
    async fn open(&self, query: &[(&str, &str)]) -> Page {
        let url = format!("{}/v3/connect/auth", self.server.base_url);
        let response = self.browser.get(url).query(query).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let cookie = csrf_cookie(&headers).unwrap_or_default();
        let html = response.text().await.unwrap();
        Page {
            status,
            flow: hidden_input(&html, "flow").unwrap_or_default(),
            csrf: hidden_input(&html, "csrf").unwrap_or_default(),
            headers,
            html,
            cookie,
        }
    }

    async fn open_default(&self, state: &str, extra: &[(&str, &str)]) -> Page {
        let mut query = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("provider", "imap"),
            ("state", state),
            ("login_hint", "user16@example.test"),
        ];
        query.extend_from_slice(extra);
        let page = self.open(&query).await;
        assert_eq!(page.status, 200, "{}", page.html);
        page
    }

    /// Lets the application's sign-in use servers outside the email's domain.
    fn allow_custom_servers(&self) {
        let output = self.server.cli(&[
            "app",
            "update",
            "--app",
            &self.client_id,
            "--allow-custom-servers",
            "true",
        ]);
        assert!(output.status.success(), "{output:?}");
    }

    /// Submits the form with the testbed's servers and `password`.
    async fn submit(&self, page: &Page, password: &str, imap_port: u16) -> reqwest::Response {
        self.submit_as(page, "user16@example.test", password, imap_port)
            .await
    }

    async fn submit_as(
        &self,
        page: &Page,
        email: &str,
        password: &str,
        imap_port: u16,
    ) -> reqwest::Response {
        let port = imap_port.to_string();
        let submission = Testbed::get().submission_port.to_string();
        let form = [
            ("flow", page.flow.as_str()),
            ("csrf", page.csrf.as_str()),
            ("email", email),
            ("password", password),
            ("imap_host", "localhost"),
            ("imap_port", &port),
            ("imap_security", "starttls"),
            ("smtp_host", "localhost"),
            ("smtp_port", &submission),
            ("smtp_security", "starttls"),
        ];
        self.browser
            .post(format!("{}/v3/connect/auth", self.server.base_url))
            .header("cookie", &page.cookie)
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

fn location(response: &reqwest::Response) -> url::Url {
    assert_eq!(response.status().as_u16(), 303, "expected a redirect");
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap()
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn imap_port() -> u16 {
    Testbed::get().imap_port
}

#[tokio::test]
async fn hosted_sign_in_outcomes() {
    reset_user(USER, false);
    let setup = setup(&[]).await;

    // The page: tokens, no caching, a strict policy, labelled fields, no script.
    let page = setup.open_default("s-1", &[]).await;
    assert!(page.flow.starts_with("flow_") && page.csrf.starts_with("csrf_"));
    assert_eq!(
        page.cookie,
        format!("mailroom_csrf_{}={}", page.flow, page.csrf)
    );
    assert_eq!(page.headers["cache-control"], "no-store");
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        policy.contains("form-action 'self' http://localhost:9000"),
        "{policy}"
    );
    assert!(!page.html.contains("<script"));
    assert!(page.html.contains("<label for=\"password\">"));
    assert!(page.html.contains("value=\"user16@example.test\""));

    // Without the cookie, or with another token, the form is refused.
    let mut forged = Page {
        cookie: String::new(),
        ..setup.open_default("s-x", &[]).await
    };
    assert_eq!(
        setup.submit(&forged, "pass16", imap_port()).await.status(),
        403
    );
    forged.cookie = format!("mailroom_csrf_{}=csrf_other", forged.flow);
    assert_eq!(
        setup.submit(&forged, "pass16", imap_port()).await.status(),
        403
    );

    // Two wrong passwords show the page again; the right one then succeeds.
    for _ in 0..2 {
        let again = setup.submit(&page, "wrong", imap_port()).await;
        assert_eq!(again.status(), 200);
        let html = again.text().await.unwrap();
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(
            html.contains("refused that email address and password"),
            "{html}"
        );
    }
    let done = setup.submit(&page, "pass16", imap_port()).await;
    let back = location(&done);
    assert_eq!(back.as_str().split('?').next(), Some(REDIRECT));
    assert_eq!(param(&back, "state").as_deref(), Some("s-1"));
    assert!(param(&back, "code").is_some_and(|c| c.starts_with("code_")));
    // The page cannot be used twice.
    assert_eq!(
        setup.submit(&page, "pass16", imap_port()).await.status(),
        400
    );
    let grants = setup.api.get("/v3/grants").await;
    let listed = grants.body["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", grants.text);
    assert_eq!(listed[0]["email"], "user16@example.test");
    assert_eq!(listed[0]["grant_status"], "valid");
    let grant_id = listed[0]["id"].clone();

    // Signing in again re-authenticates the same grant; the scope asked for is kept.
    let page = setup
        .open_default("s-2", &[("scope", "email.read_only email.send")])
        .await;
    let back = location(&setup.submit(&page, "pass16", imap_port()).await);
    assert_eq!(param(&back, "state").as_deref(), Some("s-2"));
    let grants = setup.api.get("/v3/grants").await;
    let listed = grants.body["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], grant_id);
    assert_eq!(listed[0]["scope"], json!(["email.read_only", "email.send"]));

    // Three wrong passwords: back to the application with auth_limit_reached.
    let page = setup.open_default("s-3", &[]).await;
    for _ in 0..2 {
        assert_eq!(
            setup.submit(&page, "wrong", imap_port()).await.status(),
            200
        );
    }
    let back = location(&setup.submit(&page, "wrong", imap_port()).await);
    assert_eq!(
        param(&back, "error_type").as_deref(),
        Some("auth_limit_reached")
    );
    for name in ["error", "error_code", "error_description"] {
        assert!(param(&back, name).is_some_and(|v| !v.is_empty()), "{back}");
    }
    assert_eq!(param(&back, "state").as_deref(), Some("s-3"));
    assert!(param(&back, "code").is_none());

    // An IMAP server that does not answer: provider_not_responding. (A port of its own
    // is not the domain's server: the application allows other servers for this, and
    // another user is signing in, for user16's grant stays on its servers.)
    setup.allow_custom_servers();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let page = setup.open_default("s-4", &[]).await;
    let back = location(
        &setup
            .submit_as(&page, &Testbed::user(55).0, "pass55", dead_port)
            .await,
    );
    assert_eq!(
        param(&back, "error_type").as_deref(),
        Some("provider_not_responding")
    );
    assert_eq!(param(&back, "state").as_deref(), Some("s-4"));
}

#[tokio::test]
async fn bad_links_never_redirect() {
    let setup = setup(&[]).await;
    let unregistered = setup
        .open(&[
            ("client_id", setup.client_id.as_str()),
            ("redirect_uri", "http://localhost:9000/elsewhere"),
            ("response_type", "code"),
            ("state", "s"),
        ])
        .await;
    assert_eq!(unregistered.status, 400);
    assert!(unregistered.headers.get("location").is_none());
    assert!(
        unregistered.html.contains("is not registered"),
        "{}",
        unregistered.html
    );
    assert!(unregistered.headers.get("set-cookie").is_none());

    let unknown_client = setup
        .open(&[
            ("client_id", "00000000-0000-0000-0000-000000000000"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ])
        .await;
    assert_eq!(unknown_client.status, 400);
    assert!(unknown_client.headers.get("location").is_none());

    // With a registered redirect URI, a bad request goes back there with an OAuth error.
    let url = format!("{}/v3/connect/auth", setup.server.base_url);
    for (extra, error) in [
        (("scope", "email.everything"), "invalid_scope"),
        (("response_type", "token"), "unsupported_response_type"),
    ] {
        let mut query = vec![
            ("client_id", setup.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "s-bad"),
        ];
        query.retain(|(k, _)| *k != extra.0);
        query.push(extra);
        let response = setup.browser.get(&url).query(&query).send().await.unwrap();
        let back = location(&response);
        assert_eq!(param(&back, "error").as_deref(), Some(error), "{back}");
        assert_eq!(param(&back, "state").as_deref(), Some("s-bad"));
    }
}

#[tokio::test]
async fn smtp_required_insists_on_smtp_credentials() {
    let setup = setup(&[]).await;
    let page = setup
        .open_default("s-smtp", &[("options", "smtp_required")])
        .await;
    assert!(
        page.html.contains("<details open>"),
        "the SMTP fields are shown"
    );
    let response = setup.submit(&page, "pass16", imap_port()).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("SMTP username and password"), "{html}");
}

#[tokio::test]
async fn servers_announced_in_dns_need_no_settings() {
    // The testbed's DNS announces example.test's servers by SRV: IMAPS and SMTPS.
    let setup = setup(&[]).await;
    let page = setup.open_default("s-srv", &[]).await;
    let testbed = Testbed::get();
    assert!(
        page.html
            .contains("id=\"imap_host\" name=\"imap_host\" value=\"localhost\""),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(&format!(
            "name=\"imap_port\" inputmode=\"numeric\" value=\"{}\"",
            testbed.imaps_port
        )),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(&format!(
            "name=\"smtp_port\" inputmode=\"numeric\" value=\"{}\"",
            testbed.smtps_port
        )),
        "{}",
        page.html
    );
    // Only email and password: the servers come from DNS (the selects send their default).
    let form = [
        ("flow", page.flow.as_str()),
        ("csrf", page.csrf.as_str()),
        ("email", "user16@example.test"),
        ("password", "pass16"),
        ("imap_security", "ssl"),
        ("smtp_security", "ssl"),
    ];
    let done = setup
        .browser
        .post(format!("{}/v3/connect/auth", setup.server.base_url))
        .header("cookie", &page.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let back = location(&done);
    assert!(param(&back, "code").is_some(), "{back}");
    let grants = setup.api.get("/v3/grants").await;
    let grant = &grants.body["data"][0];
    assert_eq!(grant["email"], "user16@example.test");
    let id = grant["id"].as_str().unwrap();
    let full = setup.api.get(&format!("/v3/grants/{id}")).await;
    assert_eq!(
        full.body["data"]["settings"]["imap_port"], testbed.imaps_port,
        "{}",
        full.text
    );
    assert_eq!(
        full.body["data"]["settings"]["smtp_port"], testbed.smtps_port,
        "{}",
        full.text
    );
}

/// An HTTPS server on 127.0.0.1:443 (the testbed's certificate for `localhost`) serving
/// files from a directory: the domain `localhost`'s autoconfiguration document.
struct AutoconfigSite {
    server: std::process::Child,
    _root: tempfile::TempDir,
}

impl AutoconfigSite {
    fn serve(document: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(".well-known/autoconfig/mail");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config-v1.1.xml"), document).unwrap();
        let certs = Testbed::get().dir.join("certs");
        let server = std::process::Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:443",
                "-WWW",
                "-quiet",
                "-cert",
            ])
            .arg(certs.join("server.pem"))
            .arg("-key")
            .arg(certs.join("server.key"))
            .current_dir(root.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run openssl s_server");
        support::wait_for(
            "openssl s_server on 127.0.0.1:443 (is the port taken?)",
            std::time::Duration::from_secs(10),
            || std::net::TcpStream::connect("127.0.0.1:443").ok(),
        );
        AutoconfigSite {
            server,
            _root: root,
        }
    }
}

impl Drop for AutoconfigSite {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[tokio::test]
async fn servers_described_by_autoconfig_are_prefilled() {
    let testbed = Testbed::get();
    let _site = AutoconfigSite::serve(&format!(
        "<?xml version=\"1.0\"?><clientConfig version=\"1.1\"><emailProvider id=\"localhost\">\
         <incomingServer type=\"imap\"><hostname>localhost</hostname><port>{}</port>\
         <socketType>SSL</socketType></incomingServer>\
         <outgoingServer type=\"smtp\"><hostname>localhost</hostname><port>{}</port>\
         <socketType>STARTTLS</socketType></outgoingServer></emailProvider></clientConfig>",
        testbed.imaps_port, testbed.submission_port
    ));
    let setup = setup(&[]).await;
    let page = setup
        .open(&[
            ("client_id", setup.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("login_hint", "someone@localhost"),
        ])
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    for expected in [
        format!(
            "name=\"imap_port\" inputmode=\"numeric\" value=\"{}\"",
            testbed.imaps_port
        ),
        format!(
            "name=\"smtp_port\" inputmode=\"numeric\" value=\"{}\"",
            testbed.submission_port
        ),
        "<option value=\"starttls\" selected>".to_owned(),
        "id=\"imap_host\" name=\"imap_host\" value=\"localhost\"".to_owned(),
    ] {
        assert!(page.html.contains(&expected), "{expected} in {}", page.html);
    }
}

#[tokio::test]
async fn a_server_name_that_does_not_resolve_is_shown_on_the_page() {
    let setup = setup(&[]).await;
    // Without the application's leave, a host outside the domain is not even looked up.
    let page = setup.open_default("s-foreign", &[]).await;
    let foreign = setup
        .browser
        .post(format!("{}/v3/connect/auth", setup.server.base_url))
        .header("cookie", &page.cookie)
        .form(&[
            ("flow", page.flow.as_str()),
            ("csrf", page.csrf.as_str()),
            ("email", "user16@example.test"),
            ("password", "pass16"),
            ("imap_host", "no-such-host.invalid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    let html = foreign.text().await.unwrap();
    assert!(html.contains("do not belong"), "{html}");

    setup.allow_custom_servers();
    let page = setup.open_default("s-typo", &[]).await;
    let form = [
        ("flow", page.flow.as_str()),
        ("csrf", page.csrf.as_str()),
        ("email", "user16@example.test"),
        ("password", "pass16"),
        ("imap_host", "no-such-host.invalid"),
        ("imap_port", "993"),
        ("imap_security", "ssl"),
        ("smtp_security", "ssl"),
    ];
    let response = setup
        .browser
        .post(format!("{}/v3/connect/auth", setup.server.base_url))
        .header("cookie", &page.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the page again, not a redirect");
    let html = response.text().await.unwrap();
    assert!(html.contains("server name was not found"), "{html}");
    assert!(html.contains("value=\"no-such-host.invalid\""), "{html}");
    assert!(
        html.contains("<details open>"),
        "the settings are shown to fix"
    );
}
