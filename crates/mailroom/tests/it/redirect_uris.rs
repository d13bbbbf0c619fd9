//! `/v3/applications/redirect-uris`: an application's redirect (callback) URIs, each URL
//! once, checked for their platform; the same URIs as `callback_uris` on
//! `GET /v3/applications` and through `mailroom app callback-uri`.

use crate::support::{self, Mailroom};
use serde_json::{Value, json};

const BASE: &str = "/v3/applications/redirect-uris";

fn path(id: &str) -> String {
    format!("{BASE}/{id}")
}

#[tokio::test]
async fn redirect_uri_lifecycle() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("redirects");
    let api = server.client(&app.api_key);

    let empty = api.get(BASE).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.body["data"], json!([]));
    assert!(empty.body["request_id"].is_string());

    let created = api
        .post(BASE, json!({"url": "https://example.com/callback"}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let web = created.body["data"].clone();
    let web_id = web["id"].as_str().unwrap().to_owned();
    assert_eq!(
        web,
        json!({"id": web_id, "url": "https://example.com/callback", "platform": "web", "settings": {}})
    );

    let ios = api
        .post(
            BASE,
            json!({"url": "com.example.app://oauth/callback", "platform": "ios",
                   "settings": {"bundle_id": "com.example.app", "team_id": "ABCDE12345"}}),
        )
        .await;
    assert_eq!(ios.status, 200, "{}", ios.text);
    let ios_id = ios.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ios.body["data"]["platform"], "ios");
    assert_eq!(
        ios.body["data"]["settings"],
        json!({"bundle_id": "com.example.app", "team_id": "ABCDE12345"})
    );

    let list = api.get(BASE).await;
    assert_eq!(list.status, 200);
    let ids: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [web_id.as_str(), ios_id.as_str()], "in creation order");

    let found = api.get(&path(&web_id)).await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.body["data"], web);

    // A partial update keeps what it does not name.
    let moved = api
        .send(
            "PATCH",
            &path(&web_id),
            Some(json!({"url": "https://example.com/v2/callback"})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["data"]["url"], "https://example.com/v2/callback");
    assert_eq!(moved.body["data"]["platform"], "web");
    assert_eq!(moved.body["data"]["id"], web_id.as_str());

    let to_js = api
        .send(
            "PATCH",
            &path(&web_id),
            Some(json!({"platform": "js", "settings": {"origin": "https://example.com"}})),
        )
        .await;
    assert_eq!(to_js.status, 200, "{}", to_js.text);
    assert_eq!(
        to_js.body["data"],
        json!({"id": web_id, "url": "https://example.com/v2/callback", "platform": "js",
               "settings": {"origin": "https://example.com"}})
    );

    // `settings` is replaced whole, as Nylas does.
    let new_settings = api
        .send(
            "PATCH",
            &path(&ios_id),
            Some(json!({"settings": {"app_store_id": "123456789"}})),
        )
        .await;
    assert_eq!(new_settings.status, 200, "{}", new_settings.text);
    assert_eq!(
        new_settings.body["data"]["settings"],
        json!({"app_store_id": "123456789"})
    );
    assert_eq!(
        api.get(&path(&ios_id)).await.body["data"],
        new_settings.body["data"],
        "the update was stored"
    );

    let application = api.get("/v3/applications").await;
    assert_eq!(application.status, 200);
    assert_eq!(
        application.body["data"]["callback_uris"],
        api.get(BASE).await.body["data"]
    );

    let deleted = api.delete(&path(&web_id)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(deleted.body["request_id"].is_string());
    assert!(deleted.body.get("data").is_none(), "{}", deleted.text);
    assert_eq!(api.get(&path(&web_id)).await.status, 404);
    assert_eq!(api.delete(&path(&web_id)).await.status, 404);
    let remaining = api.get(BASE).await;
    assert_eq!(remaining.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(remaining.body["data"][0]["id"], ios_id.as_str());

    // A deleted URL can be registered again.
    let again = api
        .post(BASE, json!({"url": "https://example.com/v2/callback"}))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_ne!(again.body["data"]["id"], web_id.as_str());
}

#[tokio::test]
async fn invalid_redirect_uris_are_refused() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("refusals");
    let api = server.client(&app.api_key);

    let refused = |reply: &support::Reply, needle: &str| {
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(
            reply.error_type(),
            "api.invalid_request_payload",
            "{}",
            reply.text
        );
        assert!(reply.body["request_id"].is_string());
        assert!(
            reply.error_message().contains(needle),
            "expected '{needle}' in {}",
            reply.text
        );
    };
    refused(
        &api.post(BASE, json!({"platform": "web"})).await,
        "'url' is required",
    );
    refused(
        &api.post(BASE, json!({"url": "/callback"})).await,
        "not absolute",
    );
    refused(
        &api.post(BASE, json!({"url": "example.com/cb"})).await,
        "not absolute",
    );
    refused(
        &api.post(BASE, json!({"url": "https://example.com/cb#done"}))
            .await,
        "fragment",
    );
    refused(
        &api.post(BASE, json!({"url": "https://exa mple.com/cb"}))
            .await,
        "spaces",
    );
    refused(
        &api.post(BASE, json!({"url": "myapp://callback"})).await,
        "http:// or https://",
    );
    refused(
        &api.post(BASE, json!({"url": "myapp://callback", "platform": "js"}))
            .await,
        "http:// or https://",
    );
    refused(
        &api.post(BASE, json!({"url": "https://"})).await,
        "no valid host",
    );
    refused(
        &api.post(
            BASE,
            json!({"url": "https://example.com", "platform": "windows"}),
        )
        .await,
        "unknown platform",
    );
    refused(
        &api.post(
            BASE,
            json!({"url": "https://example.com", "settings": {"colour": "red"}}),
        )
        .await,
        "colour",
    );
    refused(
        &api.post(BASE, json!({"url": "https://example.com", "id": "mine"}))
            .await,
        "'id'",
    );
    refused(
        &api.raw("POST", BASE, "application/json", "{\"url\": ")
            .await,
        "not valid JSON",
    );
    refused(&api.post(BASE, json!({"url": 42})).await, "does not fit");
    assert_eq!(
        api.get(BASE).await.body["data"],
        json!([]),
        "nothing was stored"
    );

    let first = api
        .post(BASE, json!({"url": "https://example.com/cb"}))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let duplicate = api
        .post(BASE, json!({"url": "https://example.com/cb"}))
        .await;
    assert_eq!(duplicate.status, 400, "{}", duplicate.text);
    assert_eq!(duplicate.error_type(), "api.invalid_request_error");
    assert!(
        duplicate
            .error_message()
            .contains("already has the redirect URI"),
        "{}",
        duplicate.text
    );
    // Even on another platform the URL is registered once.
    let other_platform = api
        .post(
            BASE,
            json!({"url": "https://example.com/cb", "platform": "android"}),
        )
        .await;
    assert_eq!(other_platform.status, 400, "{}", other_platform.text);

    let mobile = api
        .post(
            BASE,
            json!({"url": "com.example.app://cb", "platform": "android"}),
        )
        .await;
    assert_eq!(mobile.status, 200, "{}", mobile.text);
    let mobile_id = mobile.body["data"]["id"].as_str().unwrap().to_owned();

    // PATCH checks the merged result: the same rules, duplicates included.
    let onto_existing = api
        .send(
            "PATCH",
            &path(&mobile_id),
            Some(json!({"url": "https://example.com/cb"})),
        )
        .await;
    assert_eq!(onto_existing.status, 400, "{}", onto_existing.text);
    assert!(onto_existing.error_message().contains("already has"));
    refused(
        &api.send("PATCH", &path(&mobile_id), Some(json!({"platform": "web"})))
            .await,
        "http:// or https://",
    );
    refused(
        &api.send(
            "PATCH",
            &path(&mobile_id),
            Some(json!({"url": "com.example.app://cb#x"})),
        )
        .await,
        "fragment",
    );
    refused(
        &api.send("PATCH", &path(&mobile_id), Some(json!({"id": "other"})))
            .await,
        "cannot be changed",
    );
    refused(
        &api.raw("PATCH", &path(&mobile_id), "application/json", "not json")
            .await,
        "not valid JSON",
    );
    let unchanged = api.get(&path(&mobile_id)).await;
    assert_eq!(unchanged.body["data"]["url"], "com.example.app://cb");
    assert_eq!(unchanged.body["data"]["platform"], "android");

    // Its own URL again, with its own id in the body, is no conflict.
    let same = api
        .send(
            "PATCH",
            &path(&mobile_id),
            Some(json!({"id": mobile_id, "url": "com.example.app://cb",
                        "settings": {"package_name": "com.example.app"}})),
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(
        same.body["data"]["settings"],
        json!({"package_name": "com.example.app"})
    );
}

#[tokio::test]
async fn redirect_uris_belong_to_their_application() {
    let server = Mailroom::start_with(vec![]);
    let mine = server.create_app("mine");
    let theirs = server.create_app("theirs");
    let created = server
        .client(&mine.api_key)
        .post(BASE, json!({"url": "https://mine.example/cb"}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();

    let other = server.client(&theirs.api_key);
    let not_found = |reply: support::Reply| {
        assert_eq!(reply.status, 404, "{}", reply.text);
        assert_eq!(reply.error_type(), "api.not_found_error");
        assert!(reply.body["request_id"].is_string());
    };
    not_found(other.get(&path(&id)).await);
    not_found(
        other
            .send(
                "PATCH",
                &path(&id),
                Some(json!({"url": "https://theirs.example/cb"})),
            )
            .await,
    );
    not_found(other.delete(&path(&id)).await);
    assert_eq!(other.get(BASE).await.body["data"], json!([]));
    assert_eq!(
        other.get("/v3/applications").await.body["data"]["callback_uris"],
        json!([])
    );
    // The same URL is free for another application.
    assert_eq!(
        other
            .post(BASE, json!({"url": "https://mine.example/cb"}))
            .await
            .status,
        200
    );

    let api = server.client(&mine.api_key);
    for unknown in [
        "0196a5c2-0000-7000-8000-000000000000",
        "no-such-id",
        "a%2Fb",
    ] {
        not_found(api.get(&path(unknown)).await);
        not_found(
            api.send("PATCH", &path(unknown), Some(json!({"platform": "web"})))
                .await,
        );
        not_found(api.delete(&path(unknown)).await);
    }
    let still_there = api.get(&path(&id)).await;
    assert_eq!(still_there.status, 200);
    assert_eq!(still_there.body["data"]["url"], "https://mine.example/cb");

    assert_eq!(server.anonymous().get(BASE).await.status, 401);
}

#[tokio::test]
async fn callback_uris_from_the_cli_are_the_api_s() {
    let server = Mailroom::start_with(vec![]);
    let output = server.cli(&[
        "app",
        "create",
        "--name",
        "cli redirects",
        "--callback-uri",
        "https://example.com/one",
        "--callback-uri",
        "http://localhost:3000/two",
        "--callback-uri",
        "https://example.com/one",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    let app_id = created["application_id"].as_str().unwrap().to_owned();
    let api = server.client(created["api_key"].as_str().unwrap());

    let list = api.get(BASE).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let urls: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        ["https://example.com/one", "http://localhost:3000/two"]
    );
    for uri in list.body["data"].as_array().unwrap() {
        assert_eq!(uri["platform"], "web");
        assert_eq!(uri["settings"], json!({}));
        let id = uri["id"].as_str().unwrap();
        assert_eq!(api.get(&path(id)).await.body["data"], *uri);
    }
    assert_eq!(
        api.get("/v3/applications").await.body["data"]["callback_uris"],
        list.body["data"]
    );

    // The CLI refuses what the API refuses, with the same words.
    let refused = server.cli(&[
        "app",
        "create",
        "--name",
        "bad",
        "--callback-uri",
        "https://example.com/cb#frag",
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--callback-uri"), "{stderr}");
    assert!(stderr.contains("fragment"), "{stderr}");

    // `app callback-uri add|list|remove` on an existing application.
    let added = server.cli(&[
        "app",
        "callback-uri",
        "add",
        "--app",
        &app_id,
        "com.example.app://cb",
        "--platform",
        "ios",
        "--json",
    ]);
    assert!(added.status.success(), "{added:?}");
    let added: Value = serde_json::from_slice(&added.stdout).unwrap();
    let added_id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&path(&added_id)).await.body["data"], added);

    let duplicate = server.cli(&[
        "app",
        "callback-uri",
        "add",
        "--app",
        &app_id,
        "https://example.com/one",
    ]);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already has"));
    let not_web = server.cli(&["app", "callback-uri", "add", "--app", &app_id, "myapp://cb"]);
    assert!(!not_web.status.success());

    let listed = server.cli(&["app", "callback-uri", "list", "--app", &app_id, "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed, api.get(BASE).await.body["data"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);

    let removed = server.cli(&["app", "callback-uri", "remove", "--app", &app_id, &added_id]);
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(api.get(&path(&added_id)).await.status, 404);
    let again = server.cli(&["app", "callback-uri", "remove", "--app", &app_id, &added_id]);
    assert!(!again.status.success());
    let unknown_app = server.cli(&[
        "app",
        "callback-uri",
        "list",
        "--app",
        "0196a5c2-0000-7000-8000-000000000000",
    ]);
    assert!(!unknown_app.status.success());
    assert!(String::from_utf8_lossy(&unknown_app.stderr).contains("no application"));
}
