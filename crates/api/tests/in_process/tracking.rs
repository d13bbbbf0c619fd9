//! Open and link tracking (docs/API.md §5.2): a send with `tracking_options` carries the
//! image and the redirected links under `public_url`; loading the image and following a
//! link are announced as `message.opened` and `message.link_clicked`. Sends here are
//! scheduled an hour ahead (the in-process server has no mail server), which composes
//! the message exactly as an immediate send does; drafts, which need a mail server to be
//! saved, are tried through the SDKs (tests/sdk/python/test_webhook_triggers.py).

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use mailroom_model::{time::unix_now, v3::TriggerType};
use mailroom_store::NewWebhook;
use serde_json::{Value, json};

use crate::support::{App, Reply, assert_v3_error_type};

const PUBLIC: &str = "https://mr.example.test";

async fn subscribe(app: &App) {
    app.store
        .create_webhook(
            &app.application(),
            &NewWebhook {
                description: Some("tracking"),
                webhook_url: "https://hooks.example.test/tracking",
                trigger_types: &[TriggerType::MessageOpened, TriggerType::MessageLinkClicked],
                notification_email_addresses: &[],
            },
        )
        .await
        .expect("a webhook");
}

/// The tracking notifications recorded since the last call, (trigger, object), in order.
async fn announced(app: &App) -> Vec<(String, Value)> {
    let due = app
        .store
        .due_deliveries(unix_now() + 60, 1000)
        .await
        .expect("deliveries");
    let mut seen = Vec::new();
    for delivery in due {
        app.store.delivery_succeeded(&delivery).await.expect("done");
        let object = serde_json::from_str(delivery.object_json.as_deref().unwrap_or("null"))
            .expect("an object");
        seen.push((delivery.trigger_type, object));
    }
    seen
}

async fn schedule(app: &App, fields: Value) -> Reply {
    let mut body = json!({
        "to": [{"email": "bob@example.test"}],
        "subject": "Tracked",
        "send_at": unix_now() + 3600,
    });
    if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
        body.extend(fields.clone());
    }
    app.call(Method::POST, &app.grant_path("/messages/send"), Some(body))
        .await
}

/// The path (without the origin) of every tracking URL in `html`, in order.
fn tracking_paths(html: &str) -> Vec<String> {
    html.split(&format!("{PUBLIC}/v3/tracking/"))
        .skip(1)
        .map(|rest| {
            let end = rest.find('"').unwrap_or(rest.len());
            format!("/v3/tracking/{}", &rest[..end])
        })
        .collect()
}

async fn hit(app: &App, path: &str, user_agent: &str) -> Reply {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::USER_AGENT, user_agent)
        .body(Body::empty())
        .expect("a request");
    app.request(request).await
}

#[tokio::test]
async fn opens_and_links_are_refused_without_a_public_url() {
    let app = App::new().await;
    let refused = schedule(
        &app,
        json!({"body": "<p>hi</p>", "tracking_options": {"opens": true}}),
    )
    .await;
    assert_v3_error_type(
        &refused,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_payload",
        "no public_url",
    );
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("public_url")),
        "{}",
        refused.text
    );
    // Replies alone need nothing from the server's address.
    let Reply { status, body, .. } = schedule(
        &app,
        json!({"body": "<p>hi</p>", "tracking_options": {"thread_replies": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn an_open_and_a_click_are_counted_once_per_client_and_announced() {
    let app = App::with_public_url(PUBLIC).await;
    subscribe(&app).await;
    let html = "<html><body><p>Hi, see <a href=\"https://example.com/a?x=1&amp;y=2\">this</a>, \
                <a href=\"mailto:bob@example.test\">mail me</a> or \
                <a href='https://example.org/b'>that</a>.</p></body></html>";
    let Reply { status, body, .. } = schedule(
        &app,
        json!({"body": html,
               "tracking_options": {"opens": true, "links": true, "thread_replies": true, "label": "q3 launch"}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let sent_body = body["data"]["body"].as_str().expect("the body as sent");
    assert!(
        sent_body.contains("href=\"mailto:bob@example.test\""),
        "{sent_body}"
    );
    assert!(!sent_body.contains("example.com/a"), "{sent_body}");
    let paths = tracking_paths(sent_body);
    assert_eq!(paths.len(), 3, "two links and the image: {paths:?}");
    let (first_link, second_link, image) = (&paths[0], &paths[1], &paths[2]);
    assert!(first_link.ends_with("/links/0") && second_link.ends_with("/links/1"));
    assert!(image.ends_with("/open.gif"), "{image}");
    let message_id = body["data"]["id"].as_str().expect("an id").to_owned();

    let opened = hit(&app, image, "Thunderbird/128").await;
    assert_eq!(opened.status, StatusCode::OK);
    assert_eq!(opened.header("content-type"), Some("image/gif"));
    assert!(opened.text.starts_with("GIF89a"));
    assert!(
        opened
            .header("cache-control")
            .is_some_and(|c| c.contains("no-store"))
    );
    // The same client again within the minute is the same open.
    assert_eq!(
        hit(&app, image, "Thunderbird/128").await.status,
        StatusCode::OK
    );
    assert_eq!(
        hit(&app, image, "AppleMail/18").await.status,
        StatusCode::OK
    );

    let clicked = hit(&app, first_link, "Firefox/140").await;
    assert_eq!(clicked.status, StatusCode::FOUND);
    assert_eq!(
        clicked.header("location"),
        Some("https://example.com/a?x=1&y=2")
    );
    assert_eq!(clicked.header("referrer-policy"), Some("no-referrer"));

    let seen = announced(&app).await;
    let triggers: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        triggers,
        ["message.opened", "message.opened", "message.link_clicked"]
    );
    let second_open = &seen[1].1;
    assert_eq!(second_open["object"], "message");
    assert_eq!(second_open["grant_id"], app.grant_id.as_str());
    assert_eq!(second_open["message_id"], message_id.as_str());
    assert_eq!(second_open["label"], "q3 launch");
    assert_eq!(second_open["sender_app_id"], app.application_id.as_str());
    assert_eq!(second_open["message_data"]["count"], 2);
    let recents = second_open["recents"].as_array().expect("recents");
    assert_eq!(recents.len(), 2);
    assert_eq!(recents[0]["opened_id"], 1);
    assert_eq!(recents[0]["user_agent"], "Thunderbird/128");
    assert_eq!(recents[1]["opened_id"], 2);
    assert_eq!(recents[1]["user_agent"], "AppleMail/18");
    let click = &seen[2].1;
    assert_eq!(
        click["link_data"],
        json!([{"url": "https://example.com/a?x=1&y=2", "count": 1},
               {"url": "https://example.org/b", "count": 0}])
    );
    assert_eq!(click["recents"][0]["click_id"], 1);
    assert_eq!(click["recents"][0]["link_index"], "0");
    assert_eq!(click["recents"][0]["user_agent"], "Firefox/140");

    // The message lists the tracking it was sent with once it is indexed; the scheduled
    // send's own answer already carried it.
    assert_eq!(body["data"]["tracking_options"]["label"], "q3 launch");
}

#[tokio::test]
async fn unknown_tokens_and_links_lead_nowhere_and_announce_nothing() {
    let app = App::with_public_url(PUBLIC).await;
    subscribe(&app).await;
    let Reply { status, body, .. } = schedule(
        &app,
        json!({"body": "<a href=\"https://example.com\">x</a>", "tracking_options": {"links": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let paths = tracking_paths(body["data"]["body"].as_str().unwrap_or_default());
    assert_eq!(paths.len(), 1, "links only: no image {paths:?}");
    let token = paths[0]
        .trim_start_matches("/v3/tracking/")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let forged = "A".repeat(43);
    for path in [
        format!("/v3/tracking/{token}/links/1"),
        format!("/v3/tracking/{token}/links/-1"),
        format!("/v3/tracking/{token}/links/zero"),
        format!("/v3/tracking/{forged}/links/0"),
        "/v3/tracking/short/links/0".to_owned(),
        format!("/v3/tracking/{}/links/0", "A".repeat(20_000)),
        format!("/v3/tracking/{token}/links/{}", "9".repeat(400)),
    ] {
        let reply = hit(&app, &path, "x").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.header("location").is_none(), "{path}");
    }
    // Opens were not asked for: the image answers but counts nothing.
    for path in [
        format!("/v3/tracking/{token}/open.gif"),
        format!("/v3/tracking/{forged}/open.gif"),
        format!("/v3/tracking/{}/open.gif", "A".repeat(20_000)),
    ] {
        let reply = hit(&app, &path, "x").await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.text.starts_with("GIF89a"));
    }
    assert_eq!(announced(&app).await, vec![]);
}

#[tokio::test]
async fn plain_text_is_left_alone_and_bad_options_are_refused() {
    let app = App::with_public_url(PUBLIC).await;
    let text = "See https://example.com/a";
    let Reply { status, body, .. } = schedule(
        &app,
        json!({"body": text, "is_plaintext": true, "tracking_options": {"opens": true, "links": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["body"], text);

    // A draft's options are checked before it is saved.
    let plain = App::new().await;
    let draft = plain
        .call(
            Method::POST,
            &plain.grant_path("/drafts"),
            Some(json!({"body": "<p>x</p>", "tracking_options": {"opens": true}})),
        )
        .await;
    assert_v3_error_type(
        &draft,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_payload",
        "a draft without public_url",
    );
    assert!(draft.text.contains("public_url"), "{}", draft.text);
    let draft = app
        .call(
            Method::POST,
            &app.grant_path("/drafts"),
            Some(json!({"body": "<p>x</p>", "tracking_options": {"links": "yes"}})),
        )
        .await;
    assert_v3_error_type(
        &draft,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_payload",
        "a draft with bad options",
    );

    for options in [
        json!("opens"),
        json!({"opens": "yes"}),
        json!({"opens": true, "pixel": true}),
        json!({"links": true, "label": 7}),
    ] {
        let refused = schedule(
            &app,
            json!({"body": "<p>x</p>", "tracking_options": options}),
        )
        .await;
        assert_v3_error_type(
            &refused,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_payload",
            &options.to_string(),
        );
    }
}
