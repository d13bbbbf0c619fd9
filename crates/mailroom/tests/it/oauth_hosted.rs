//! Hosted sign-in through Google (the testbed's authorization server playing it) over
//! plain HTTP, as a browser drives it: mailroom's link sends the browser to the
//! provider with PKCE, a state and a cookie; the provider's consent returns it to
//! `/v3/connect/callback`; the application gets mailroom's code and exchanges it. Also
//! how the IMAP sign-in page sends Gmail, Outlook.com and Yahoo addresses to their
//! providers. (The same flows in headless Chromium live in tests/browser.)

use crate::support::{
    self, Api, Mailroom, Testbed, hidden_input, hosted_auth_app,
    oauth_provider::{CLIENT_SECRET, provider_env, register_client},
    testbed_env,
};
use serde_json::json;

/// A testbed user no other test signs in as (ARCHITECTURE.md, "Testbed users").
const USER: u32 = 68;
const REDIRECT: &str = "http://localhost:9000/oauth/exchange";

struct Setup {
    server: Mailroom,
    api: Api,
    app_id: String,
    client_secret: String,
    browser: reqwest::Client,
}

async fn setup() -> Setup {
    let mut env = testbed_env();
    env.extend(provider_env());
    let server = Mailroom::start_with(env);
    let (app, api) = hosted_auth_app(&server, "Hosted OAuth", REDIRECT).await;
    Setup {
        server,
        api,
        app_id: app.application_id,
        client_secret: app.client_secret,
        browser: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Setup {
    async fn connector(&self, provider: &str) -> String {
        let client = format!("hosted-{provider}-{}", rand::random::<u64>());
        register_client(provider, &client, &[]).await;
        let reply = self
            .api
            .post(
                "/v3/connectors",
                json!({"provider": provider,
                       "settings": {"client_id": client, "client_secret": CLIENT_SECRET}}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        client
    }

    fn link(&self, extra: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut query = vec![
            ("client_id", self.app_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "app-state"),
        ];
        query.extend_from_slice(extra);
        self.browser
            .get(format!("{}/v3/connect/auth", self.server.base_url))
            .query(&query)
    }
}

fn location(response: &reqwest::Response) -> url::Url {
    assert_eq!(response.status(), 303, "not a redirect");
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("a Location");
    url::Url::parse(location).expect("an absolute Location")
}

fn param(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The `name=value` of the flow cookie mailroom set.
fn flow_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mailroom_oauth_"))
        .and_then(|v| v.split(';').next())
        .expect("a flow cookie")
        .to_owned()
}

/// The user consents at the provider; returns where the provider sends the browser.
async fn consent(
    browser: &reqwest::Client,
    authorize: &url::Url,
    email: &str,
    decision: &str,
) -> url::Url {
    let mut form: Vec<(String, String)> = authorize
        .query_pairs()
        .filter(|(k, _)| k != "login_hint")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.push(("email".into(), email.into()));
    form.push(("decision".into(), decision.into()));
    let mut target = authorize.clone();
    target.set_query(None);
    let reply = browser
        .post(target)
        .form(&form)
        .send()
        .await
        .expect("the consent page");
    assert!(reply.status().is_redirection(), "{}", reply.status());
    let location = reply
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap();
    url::Url::parse(location).unwrap()
}

#[tokio::test]
async fn google_sign_in_through_the_provider_creates_and_keeps_a_grant() {
    let setup = setup().await;
    let client = setup.connector("google").await;
    let (email, _) = Testbed::user(USER);
    let oauth_url = Testbed::get().oauth_url.clone();

    let mut grant_id = None;
    for round in 0..2 {
        let start = setup
            .link(&[("provider", "google"), ("login_hint", email.as_str())])
            .send()
            .await
            .unwrap();
        let authorize = location(&start);
        assert!(
            authorize
                .as_str()
                .starts_with(&format!("{oauth_url}/google/o/oauth2/v2/auth")),
            "{authorize}"
        );
        assert_eq!(
            param(&authorize, "client_id").as_deref(),
            Some(client.as_str())
        );
        assert_eq!(
            param(&authorize, "code_challenge_method").as_deref(),
            Some("S256")
        );
        assert_eq!(param(&authorize, "access_type").as_deref(), Some("offline"));
        assert_eq!(
            param(&authorize, "login_hint").as_deref(),
            Some(email.as_str())
        );
        assert_ne!(param(&authorize, "state").as_deref(), Some("app-state"));
        let callback = param(&authorize, "redirect_uri").unwrap();
        assert_eq!(
            callback,
            format!("{}/v3/connect/callback", setup.server.base_url)
        );
        let cookie = flow_cookie(&start);

        // The provider's flow takes no password on mailroom's own page, even with its
        // cookie's value presented as the page's token.
        let (name, csrf) = cookie.split_once('=').unwrap();
        let flow = name.trim_start_matches("mailroom_oauth_");
        let posted = setup
            .browser
            .post(format!("{}/v3/connect/auth", setup.server.base_url))
            .header("cookie", format!("mailroom_csrf_{flow}={csrf}"))
            .form(&[
                ("flow", flow),
                ("csrf", csrf),
                ("email", email.as_str()),
                ("password", "p"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 400);
        let back = consent(&setup.browser, &authorize, &email, "allow").await;
        assert!(back.as_str().starts_with(&callback), "{back}");
        // Without the browser's cookie the callback is refused, and the flow stays open.
        let stranger = setup.browser.get(back.clone()).send().await.unwrap();
        assert_eq!(stranger.status(), 403);
        let done = setup
            .browser
            .get(back.clone())
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let app = location(&done);
        assert!(app.as_str().starts_with(REDIRECT), "{app}");
        assert_eq!(param(&app, "state").as_deref(), Some("app-state"));
        let code = param(&app, "code").unwrap_or_else(|| panic!("no code: {app}"));
        // The provider's code works once: a replayed callback finds no flow.
        let replay = setup
            .browser
            .get(back)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 400);

        let token = setup
            .server
            .anonymous()
            .post(
                "/v3/connect/token",
                json!({"client_id": setup.app_id, "client_secret": setup.client_secret,
                       "grant_type": "authorization_code", "code": code,
                       "redirect_uri": REDIRECT}),
            )
            .await;
        assert_eq!(token.status, 200, "round {round}: {}", token.text);
        let grant = token.body["grant_id"].as_str().unwrap().to_owned();
        let got = setup.api.get(&format!("/v3/grants/{grant}")).await;
        assert_eq!(got.body["data"]["provider"], "google", "{}", got.text);
        assert_eq!(got.body["data"]["email"], email.as_str());
        assert_eq!(got.body["data"]["grant_status"], "valid");
        match &grant_id {
            None => grant_id = Some(grant),
            Some(first) => assert_eq!(first, &grant, "re-authentication keeps the grant"),
        }
    }

    // Refused at the provider: the application hears it, with its state.
    let start = setup
        .link(&[("provider", "google"), ("login_hint", email.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = flow_cookie(&start);
    let back = consent(&setup.browser, &location(&start), &email, "deny").await;
    let done = setup
        .browser
        .get(back)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let app = location(&done);
    assert_eq!(
        param(&app, "error").as_deref(),
        Some("access_denied"),
        "{app}"
    );
    assert_eq!(param(&app, "state").as_deref(), Some("app-state"));
    assert!(param(&app, "error_description").is_some());

    // A state the server never sent is an error page, never a redirect.
    let unknown = setup
        .browser
        .get(format!(
            "{}/v3/connect/callback?code=x&state=forged",
            setup.server.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn the_sign_in_page_sends_provider_addresses_to_their_providers() {
    let setup = setup().await;
    setup.connector("google").await;
    let oauth_url = Testbed::get().oauth_url.clone();

    // A Gmail login hint skips the page.
    let hinted = setup
        .link(&[("login_hint", "someone@gmail.com")])
        .send()
        .await
        .unwrap();
    let authorize = location(&hinted);
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{oauth_url}/google/")),
        "{authorize}"
    );
    assert_eq!(
        param(&authorize, "login_hint").as_deref(),
        Some("someone@gmail.com")
    );

    // Typed on the page, a Gmail address goes to Google too.
    let page = setup.link(&[]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf_cookie = support::csrf_cookie(page.headers()).expect("csrf cookie");
    let html = page.text().await.unwrap();
    let (flow, csrf) = (
        hidden_input(&html, "flow").unwrap(),
        hidden_input(&html, "csrf").unwrap(),
    );
    let submit = |email: &str| {
        setup
            .browser
            .post(format!("{}/v3/connect/auth", setup.server.base_url))
            .header("cookie", &csrf_cookie)
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", "not-used"),
            ])
            .send()
    };
    // Microsoft takes no passwords, and this application has no Microsoft connector.
    let outlook = submit("someone@outlook.com").await.unwrap();
    assert_eq!(outlook.status(), 200);
    let text = outlook.text().await.unwrap();
    assert!(text.contains("Microsoft"), "{text}");
    let gmail = submit("someone@gmail.com").await.unwrap();
    let authorize = location(&gmail);
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{oauth_url}/google/")),
        "{authorize}"
    );
    assert_eq!(
        param(&authorize, "login_hint").as_deref(),
        Some("someone@gmail.com")
    );
    // The page's flow ended there: it cannot be submitted again.
    let again = submit("someone@gmail.com").await.unwrap();
    assert_eq!(again.status(), 400);

    // An application with a Google connector alone is told to name it in the link.
    let google_only = setup.server.create_app("Google only");
    let api = setup.server.client(&google_only.api_key);
    let registered = api
        .post("/v3/applications/redirect-uris", json!({"url": REDIRECT}))
        .await;
    assert!(registered.status < 300, "{}", registered.text);
    let client = format!("hosted-only-{}", rand::random::<u64>());
    register_client("google", &client, &[]).await;
    let created = api
        .post(
            "/v3/connectors",
            json!({"provider": "google",
                   "settings": {"client_id": client, "client_secret": CLIENT_SECRET}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let plain = setup
        .browser
        .get(format!("{}/v3/connect/auth", setup.server.base_url))
        .query(&[
            ("client_id", google_only.application_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ])
        .send()
        .await
        .unwrap();
    let refused = location(&plain);
    assert_eq!(param(&refused, "error").as_deref(), Some("invalid_request"));
    assert!(
        param(&refused, "error_description").is_some_and(|d| d.contains("provider=google")),
        "{refused}"
    );
}
