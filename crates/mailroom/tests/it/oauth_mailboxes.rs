//! Google, Microsoft and Yahoo mailboxes connected with OAuth 2.0 (issue: OAuth
//! mailboxes), against the testbed's authorization server and Dovecot and Postfix
//! taking its tokens (`testbed/README.md`): connectors holding the application's
//! client, custom auth with a refresh token, sync and sends over XOAUTH2/OAUTHBEARER,
//! an access token that expires (refreshed, no error), a refresh token revoked at the
//! provider (the grant invalid, `grant.expired` once), and one refresh for many
//! requests when the provider rotates refresh tokens.

use crate::support::{
    self, Api, Mailroom, Testbed,
    cluster_nodes::{Cluster, Schema, cluster_env, postgres_url},
    eventually,
    imap_peer::{ImapPeer, end_sessions, reset_user},
    oauth_provider::{CLIENT_SECRET, control, provider_env, refresh_token, register_client},
    testbed_env,
    webhook_receiver::Receiver,
};
use serde_json::json;

/// Testbed users no other test signs in as (ARCHITECTURE.md, "Testbed users").
const GOOGLE_USER: u32 = 65;
const MICROSOFT_USER: u32 = 66;
const YAHOO_USER: u32 = 67;
const CLUSTER_USER: u32 = 75;

fn server() -> Mailroom {
    let mut env = testbed_env();
    env.extend(provider_env());
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

fn client_id(provider: &str) -> String {
    format!(
        "mailroom-{provider}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    )
}

async fn connector(api: &Api, provider: &str, client_id: &str) {
    let reply = api
        .post(
            "/v3/connectors",
            json!({"provider": provider,
                   "settings": {"client_id": client_id, "client_secret": CLIENT_SECRET}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

async fn custom_auth(api: &Api, provider: &str, refresh: &str) -> support::Reply {
    api.post(
        "/v3/connect/custom",
        json!({"provider": provider, "settings": {"refresh_token": refresh}}),
    )
    .await
}

async fn send_to_self(api: &Api, grant: &str, user: u32, subject: &str) {
    let reply = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({"to": [{"email": Testbed::user(user).0}], "subject": subject,
                   "body": "sent with an OAuth access token"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// Waits until both copies of a message sent to oneself are indexed, as one message in
/// two folders: the copy filed in Sent, and the one delivered to Inbox (read by the
/// sync, over IMAP with the token).
async fn wait_indexed(api: &Api, grant: &str, subject: &str) {
    let path = format!("/v3/grants/{grant}/messages?subject={}", urlencode(subject));
    eventually(
        api,
        &path,
        &format!("'{subject}' in Sent and Inbox"),
        |body| {
            support::data_len(body) == 1
                && body["data"][0]["folders"].as_array().map(Vec::len) == Some(2)
        },
    )
    .await;
}

/// Puts a message in the user's Inbox behind mailroom's back (over IMAP with the
/// user's password), for the sync to find.
async fn deliver(user: u32, subject: &str) {
    let mut peer = ImapPeer::login(user).await;
    let message = format!(
        "From: someone@example.test\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{}@example.test>\r\n\r\nhello\r\n",
        Testbed::user(user).0,
        rand::random::<u64>()
    );
    peer.append("INBOX", "", &message).await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn oauth_connectors_keep_the_client_secret_sealed_and_unshown() {
    let server = server();
    let app = server.create_app("connectors");
    let api = server.client(&app.api_key);

    let without_secret = api
        .post(
            "/v3/connectors",
            json!({"provider": "google", "settings": {"client_id": "id-only"}}),
        )
        .await;
    assert_eq!(without_secret.status, 400, "{}", without_secret.text);
    assert!(without_secret.error_message().contains("client_secret"));
    let unknown = api
        .post(
            "/v3/connectors",
            json!({"provider": "yahoo",
                   "settings": {"client_id": "a", "client_secret": "b", "topic": "c"}}),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);

    let secret = format!("very-secret-{}", rand::random::<u64>());
    let google = api
        .post(
            "/v3/connectors",
            json!({"provider": "google", "name": "Gmail",
                   "settings": {"client_id": "google-client", "client_secret": secret}}),
        )
        .await;
    assert_eq!(google.status, 201, "{}", google.text);
    let data = &google.body["data"];
    assert_eq!(data["provider"], "google");
    assert_eq!(data["settings"], json!({"client_id": "google-client"}));
    assert_eq!(
        data["scope"],
        json!(["https://mail.google.com/", "openid", "email"])
    );
    let microsoft = api
        .post(
            "/v3/connectors",
            json!({"provider": "microsoft",
                   "settings": {"client_id": "ms-client", "client_secret": secret},
                   "scope": ["https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"]}),
        )
        .await;
    assert_eq!(microsoft.status, 201, "{}", microsoft.text);
    assert_eq!(microsoft.body["data"]["settings"]["tenant"], "common");
    assert_eq!(
        microsoft.body["data"]["scope"].as_array().map(Vec::len),
        Some(2)
    );

    let changed = api
        .send(
            "PATCH",
            "/v3/connectors/microsoft",
            Some(json!({"settings": {"tenant": "contoso.onmicrosoft.com"}})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(
        changed.body["data"]["settings"],
        json!({"client_id": "ms-client", "tenant": "contoso.onmicrosoft.com"})
    );
    let bad_tenant = api
        .send(
            "PATCH",
            "/v3/connectors/microsoft",
            Some(json!({"settings": {"tenant": "a/b?c"}})),
        )
        .await;
    assert_eq!(bad_tenant.status, 400, "{}", bad_tenant.text);

    let listed = api.get("/v3/connectors").await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text.contains(&secret), "{}", listed.text);
    assert!(!google.text.contains(&secret));
    assert!(!changed.text.contains(&secret));
    assert!(
        !server.database_text().contains(&secret),
        "the client secret is stored in the clear"
    );

    // Custom auth without the provider's connector says what is missing.
    let no_connector = custom_auth(&api, "yahoo", "rt").await;
    assert_eq!(no_connector.status, 400, "{}", no_connector.text);
    assert!(no_connector.error_message().contains("connector"));
    let no_token = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "google", "settings": {"email": "a@b.example"}}),
        )
        .await;
    assert_eq!(no_token.status, 400, "{}", no_token.text);
    assert!(no_token.error_message().contains("refresh_token"));
    // A password has no place in a token grant.
    let password = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "google", "settings": {"refresh_token": "x", "imap_password": "p"}}),
        )
        .await;
    assert_eq!(password.status, 400, "{}", password.text);
}

#[tokio::test]
async fn a_google_refresh_token_connects_a_mailbox_that_syncs_sends_and_outlives_its_tokens() {
    reset_user(GOOGLE_USER, true);
    let client = client_id("google");
    register_client("google", &client, &[]).await;
    let receiver = Receiver::start().await;
    let server = server();
    let app = server.create_app("google");
    let api = server.client(&app.api_key);
    connector(&api, "google", &client).await;
    let hook = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["grant.expired", "message.created"],
                   "webhook_url": receiver.url}),
        )
        .await;
    assert!(hook.status < 300, "{}", hook.text);

    let refused = custom_auth(&api, "google", "not-a-refresh-token").await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(
        refused.error_message().contains("invalid_grant"),
        "{}",
        refused.text
    );

    let refresh = refresh_token(
        "google",
        &client,
        GOOGLE_USER,
        "https://mail.google.com/ openid email",
    )
    .await;
    let created = custom_auth(&api, "google", &refresh).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let grant = created.body["data"]["id"].as_str().unwrap().to_owned();
    let email = Testbed::user(GOOGLE_USER).0;
    assert_eq!(created.body["data"]["provider"], "google");
    assert_eq!(created.body["data"]["email"], email.as_str());
    assert_eq!(created.body["data"]["grant_status"], "valid");
    assert!(
        !server.database_text().contains(&refresh),
        "the refresh token is stored in the clear"
    );
    // Signing in again keeps the grant.
    let again = custom_auth(&api, "google", &refresh).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["data"]["id"], grant.as_str());

    // Sent over SMTP with the token, delivered, and synced over IMAP with it.
    send_to_self(&api, &grant, GOOGLE_USER, "OAuth one").await;
    wait_indexed(&api, &grant, "OAuth one").await;

    // The access token expires at the provider; every session is dropped, so the sync
    // must sign in again: it refreshes, and nothing shows an error.
    let expired = control("expire", &[("email", email.as_str())]).await;
    assert!(expired["expired"].as_u64().unwrap_or(0) >= 1, "{expired}");
    end_sessions(GOOGLE_USER);
    deliver(GOOGLE_USER, "OAuth two").await;
    let path = format!(
        "/v3/grants/{grant}/messages?subject={}",
        urlencode("OAuth two")
    );
    eventually(
        &api,
        &path,
        "'OAuth two' read after the sync signed in again",
        |body| support::data_len(body) == 1,
    )
    .await;
    // Announced like any grant's mail.
    receiver
        .wait_for("message.created", |o| {
            o["grant_id"] == grant.as_str() && o["subject"] == "OAuth two"
        })
        .await;
    send_to_self(&api, &grant, GOOGLE_USER, "OAuth three").await;
    let status = api.get(&format!("/v3/grants/{grant}")).await;
    assert_eq!(
        status.body["data"]["grant_status"], "valid",
        "{}",
        status.text
    );

    // The user revokes mailroom at the provider: the grant is invalid, once.
    let revoked = control("revoke-refresh", &[("email", email.as_str())]).await;
    assert!(revoked["revoked"].as_u64().unwrap_or(0) >= 1, "{revoked}");
    end_sessions(GOOGLE_USER);
    let notice = receiver
        .wait_for("grant.expired", |o| o["grant_id"] == grant.as_str())
        .await;
    assert_eq!(notice.body["data"]["object"]["code"], 25009);
    eventually(
        &api,
        &format!("/v3/grants/{grant}"),
        "the grant invalid",
        |b| b["data"]["grant_status"] == "invalid",
    )
    .await;
    let refused_send = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({"to": [{"email": email}], "subject": "never", "body": "x"}),
        )
        .await;
    assert!(refused_send.status >= 400, "{}", refused_send.text);
    end_sessions(GOOGLE_USER);
    // A fresh consent makes the same grant valid again.
    let renewed = refresh_token(
        "google",
        &client,
        GOOGLE_USER,
        "https://mail.google.com/ openid email",
    )
    .await;
    let back = custom_auth(&api, "google", &renewed).await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["data"]["id"], grant.as_str());
    assert_eq!(back.body["data"]["grant_status"], "valid");
    assert_eq!(receiver.of_type("grant.expired").len(), 1);
}

#[tokio::test]
async fn rotating_refresh_tokens_are_refreshed_once_for_many_requests() {
    reset_user(MICROSOFT_USER, true);
    let client = client_id("microsoft");
    // Microsoft's way: every refresh returns a new refresh token and ends the old one,
    // so two refreshes racing with one token would leave the grant with a dead one.
    register_client("microsoft", &client, &[("rotate", "always")]).await;
    let server = server();
    let app = server.create_app("microsoft");
    let api = server.client(&app.api_key);
    connector(&api, "microsoft", &client).await;
    let refresh = refresh_token(
        "microsoft",
        &client,
        MICROSOFT_USER,
        "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access openid email",
    )
    .await;
    let created = custom_auth(&api, "microsoft", &refresh).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let grant = created.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["data"]["provider"], "microsoft");
    assert_eq!(
        created.body["data"]["email"],
        Testbed::user(MICROSOFT_USER).0.as_str()
    );
    // The token mailroom traded is spent: rotation gave it a new one.
    let spent = custom_auth(&api, "microsoft", &refresh).await;
    assert_eq!(spent.status, 401, "{}", spent.text);

    for round in 0..3 {
        let email = Testbed::user(MICROSOFT_USER).0;
        control("expire", &[("email", email.as_str())]).await;
        end_sessions(MICROSOFT_USER);
        let sends = (0..4).map(|i| {
            let (api, grant) = (&api, &grant);
            async move {
                send_to_self(api, grant, MICROSOFT_USER, &format!("rotation {round}.{i}")).await
            }
        });
        futures::future::join_all(sends).await;
        let status = api.get(&format!("/v3/grants/{grant}")).await;
        assert_eq!(
            status.body["data"]["grant_status"], "valid",
            "round {round}: {}",
            status.text
        );
    }
    wait_indexed(&api, &grant, "rotation 2.3").await;
}

#[tokio::test]
async fn a_yahoo_mailbox_signs_in_with_the_client_as_basic_auth() {
    reset_user(YAHOO_USER, true);
    let client = client_id("yahoo");
    register_client("yahoo", &client, &[]).await;
    let server = server();
    let app = server.create_app("yahoo");
    let api = server.client(&app.api_key);
    connector(&api, "yahoo", &client).await;
    let refresh = refresh_token("yahoo", &client, YAHOO_USER, "mail-w openid email").await;
    let created = custom_auth(&api, "yahoo", &refresh).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let grant = created.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["data"]["provider"], "yahoo");
    send_to_self(&api, &grant, YAHOO_USER, "Yahoo OAuth").await;
    wait_indexed(&api, &grant, "Yahoo OAuth").await;
    let listed = api.get("/v3/grants?provider=yahoo").await;
    assert_eq!(support::data_len(&listed.body), 1, "{}", listed.text);
}

/// Two nodes on one PostgreSQL (cluster mode) answer sends for one grant while its
/// access token has just expired at the provider: every send's new SMTP session needs a
/// fresh token, and with rotating refresh tokens a second refresh racing the first would
/// spend a dead token and leave the grant invalid.
#[tokio::test]
async fn two_nodes_refresh_a_rotating_token_once_between_them() {
    reset_user(CLUSTER_USER, true);
    let client = client_id("microsoft");
    register_client("microsoft", &client, &[("rotate", "always")]).await;
    let schema = Schema::create(&postgres_url(), "mr_test_oauth");
    let mut env = cluster_env(&schema.url, 15);
    env.extend(provider_env());
    let cluster = Cluster::start(2, env);
    let output = cluster.cli(&["app", "create", "--name", "oauth cluster", "--json"]);
    assert!(output.status.success(), "app create: {output:?}");
    let app: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let key = app["api_key"].as_str().expect("api_key").to_owned();
    let apis: Vec<Api> = cluster
        .nodes
        .iter()
        .map(|node| Api {
            base_url: node.base_url.clone(),
            api_key: Some(key.clone()),
            http: reqwest::Client::new(),
        })
        .collect();
    connector(&apis[0], "microsoft", &client).await;
    let refresh = refresh_token(
        "microsoft",
        &client,
        CLUSTER_USER,
        "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access openid email",
    )
    .await;
    let created = custom_auth(&apis[1], "microsoft", &refresh).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let grant = created.body["data"]["id"].as_str().unwrap().to_owned();
    let email = Testbed::user(CLUSTER_USER).0;
    for round in 0..3 {
        control("expire", &[("email", email.as_str())]).await;
        end_sessions(CLUSTER_USER);
        let sends = (0..6).map(|i| {
            let (api, grant) = (&apis[i % 2], &grant);
            async move {
                send_to_self(api, grant, CLUSTER_USER, &format!("two nodes {round}.{i}")).await
            }
        });
        futures::future::join_all(sends).await;
        for api in &apis {
            let status = api.get(&format!("/v3/grants/{grant}")).await;
            assert_eq!(
                status.body["data"]["grant_status"], "valid",
                "round {round}: {}",
                status.text
            );
        }
    }
    wait_indexed(&apis[0], &grant, "two nodes 2.5").await;
}
