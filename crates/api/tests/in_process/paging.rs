//! Paging (docs/API.md §1.5, §8.1, §9 rule 8): v3 lists page by cursor, at most `limit`
//! items (default 50, capped at 200), `next_cursor` only while more exist, and following
//! the cursors gives every item once; a page token mailroom did not issue is a 400. v2
//! pages by `limit` (capped at 1000) and `offset`, and answers `view=count|ids`.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mailroom_store::NewMessage;

use crate::support::{App, MAIL, NOTHING, assert_v2_error, assert_v3_error_type};

/// Follows `next_cursor` from the first page of `path` (which takes `limit` already);
/// every page, in order.
async fn pages(app: &App, path: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => format!("{path}&page_token={cursor}"),
            None => path.to_owned(),
        };
        let reply = app.call(Method::GET, &app.grant_path(&url), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.body);
        pages.push(reply.ids());
        match reply.body.get("next_cursor") {
            None => return pages,
            Some(next) => {
                let next = next.as_str().expect("a cursor is a string").to_owned();
                assert!(
                    next.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                    "a URL-safe cursor: {next}"
                );
                cursor = Some(next);
            }
        }
        assert!(pages.len() <= 100, "{path}: the cursors never end");
    }
}

#[tokio::test]
async fn lists_page_by_cursor() {
    let app = App::new().await;
    let first = app
        .call(Method::GET, &app.grant_path("/messages?limit=2"), None)
        .await;
    assert_eq!(first.body["data"].as_array().map(Vec::len), Some(2));
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let rest = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?limit=2&page_token={cursor}")),
            None,
        )
        .await;
    assert_eq!(
        rest.body["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        rest.body
    );
    assert!(rest.body.get("next_cursor").is_none());
}

#[tokio::test]
async fn following_the_cursors_gives_every_message_once_in_order() {
    let app = App::with_mailbox().await;
    let all = app
        .call(Method::GET, &app.grant_path("/messages?limit=200"), None)
        .await
        .ids();
    assert_eq!(all.len(), MAIL.len());
    for limit in 1..=4 {
        let pages = pages(&app, &format!("/messages?limit={limit}")).await;
        for page in &pages {
            assert!(
                !page.is_empty() && page.len() <= limit,
                "{limit}: {pages:?}"
            );
        }
        let walked: Vec<String> = pages.concat();
        assert_eq!(
            walked, all,
            "limit {limit}: no duplicate, no gap, same order"
        );
    }
}

#[tokio::test]
async fn following_the_cursors_gives_every_thread_once() {
    let app = App::with_mailbox().await;
    let all = app
        .call(Method::GET, &app.grant_path("/threads?limit=200"), None)
        .await
        .ids();
    assert!(all.len() > 3, "{all:?}");
    let walked = pages(&app, "/threads?limit=3").await.concat();
    assert_eq!(walked, all);
    let unique: BTreeSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len());
}

#[tokio::test]
async fn following_the_cursors_gives_every_contact_and_folder_once() {
    let app = App::with_mailbox().await;
    for (path, page) in [("/contacts", 2), ("/folders", 4)] {
        let all = app
            .call(
                Method::GET,
                &app.grant_path(&format!("{path}?limit=200")),
                None,
            )
            .await
            .ids();
        assert!(all.len() > page, "{path}: {all:?}");
        let walked = pages(&app, &format!("{path}?limit={page}")).await.concat();
        assert_eq!(walked, all, "{path}");
    }
}

#[tokio::test]
async fn the_last_page_has_no_cursor_even_when_it_is_full() {
    let app = App::with_mailbox().await;
    let total = MAIL.len();
    let exact = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?limit={total}")),
            None,
        )
        .await;
    assert_eq!(exact.data().len(), total);
    assert!(exact.body.get("next_cursor").is_none(), "{}", exact.body);
    let one_short = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?limit={}", total - 1)),
            None,
        )
        .await;
    assert!(one_short.body["next_cursor"].is_string());
}

#[tokio::test]
async fn an_empty_list_is_an_empty_page_without_a_cursor() {
    let app = App::new().await;
    let reply = app
        .call(
            Method::GET,
            &app.grant_path("/messages?subject=nothing-matches"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.data(), NOTHING);
    assert!(reply.body.get("next_cursor").is_none());
}

#[tokio::test]
async fn the_default_page_is_50_and_a_larger_limit_is_capped_at_200() {
    let app = App::new().await;
    let inbox = app.store.folders(&app.grant_id).await.expect("folders")[0]
        .id
        .clone();
    let more: Vec<NewMessage> = (10..215)
        .map(|uid| NewMessage {
            uid,
            identity_key: format!("mid:bulk{uid}@example.test"),
            message_id_header: Some(format!("bulk{uid}@example.test")),
            thread_keys: vec![format!("id:bulk{uid}@example.test")],
            subject: Some(format!("Bulk {uid}")),
            from: vec![],
            to: vec![],
            cc: vec![],
            bcc: vec![],
            reply_to: vec![],
            date: 1_600_000_000 + uid,
            sent_date: None,
            size: 10,
            flags: vec![],
            has_attachments: false,
            in_reply_to: None,
            adopts_identity: None,
        })
        .collect();
    app.store
        .add_folder_messages(&app.grant_id, &inbox, &more)
        .await
        .expect("indexed");
    let default = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    assert_eq!(default.data().len(), 50);
    assert!(default.body["next_cursor"].is_string());
    for limit in ["201", "1000", "9223372036854775807"] {
        let capped = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/messages?limit={limit}")),
                None,
            )
            .await;
        assert_eq!(capped.status, StatusCode::OK, "{limit}: {}", capped.body);
        assert_eq!(capped.data().len(), 200, "{limit}");
        assert!(
            capped.body["next_cursor"].is_string(),
            "208 messages in all"
        );
    }
    let walked = pages(&app, "/messages?limit=200").await;
    assert_eq!(walked.iter().map(Vec::len).collect::<Vec<_>>(), [200, 8]);
}

#[tokio::test]
async fn limit_must_be_a_positive_integer() {
    let app = App::with_mailbox().await;
    for list in [
        "/messages",
        "/threads",
        "/drafts",
        "/contacts",
        "/folders",
        "/calendars",
        "/events?calendar_id=primary&",
    ] {
        let separator = if list.ends_with('&') { "" } else { "?" };
        for limit in ["0", "-1", "abc", "1.5", "1e3", "99999999999999999999"] {
            let path = format!("{list}{separator}limit={limit}");
            let reply = app.call(Method::GET, &app.grant_path(&path), None).await;
            assert_v3_error_type(
                &reply,
                StatusCode::BAD_REQUEST,
                "api.invalid_request_error",
                &path,
            );
        }
    }
    let folders = app
        .call(Method::GET, &app.grant_path("/folders?limit=1001"), None)
        .await;
    assert_v3_error_type(
        &folders,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "folders take at most 1000",
    );
}

#[tokio::test]
async fn a_page_token_mailroom_did_not_issue_is_a_400() {
    let app = App::with_mailbox().await;
    let no_colon = URL_SAFE_NO_PAD.encode("no-colon-here");
    let not_a_date = URL_SAFE_NO_PAD.encode("yesterday:abc");
    for list in ["/messages", "/threads", "/drafts", "/contacts"] {
        for token in ["not-a-cursor!", "%%%", &no_colon, &not_a_date, "3"] {
            let path = format!("{list}?page_token={token}");
            let reply = app.call(Method::GET, &app.grant_path(&path), None).await;
            assert_v3_error_type(
                &reply,
                StatusCode::BAD_REQUEST,
                "api.invalid_request_error",
                &path,
            );
        }
    }
    // A message cursor is not a folder cursor, and the other way round.
    let messages = app
        .call(Method::GET, &app.grant_path("/messages?limit=1"), None)
        .await;
    let message_cursor = messages.body["next_cursor"].as_str().expect("a cursor");
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/folders?page_token={message_cursor}")),
            None,
        )
        .await;
    assert_v3_error_type(
        &reply,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "a message cursor on folders",
    );
    let folders = app
        .call(Method::GET, &app.grant_path("/folders?limit=1"), None)
        .await;
    let folder_cursor = folders.body["next_cursor"].as_str().expect("a cursor");
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?page_token={folder_cursor}")),
            None,
        )
        .await;
    assert_v3_error_type(
        &reply,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "a folder cursor on messages",
    );
}

#[tokio::test]
async fn a_cursor_goes_on_from_its_page_when_newer_mail_arrives() {
    let app = App::new().await;
    let first = app
        .call(Method::GET, &app.grant_path("/messages?limit=2"), None)
        .await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let inbox = app.store.folders(&app.grant_id).await.expect("folders")[0]
        .id
        .clone();
    let newer = NewMessage {
        uid: 99,
        identity_key: "mid:newer@example.test".into(),
        message_id_header: Some("newer@example.test".into()),
        thread_keys: vec!["id:newer@example.test".into()],
        subject: Some("Newer".into()),
        from: vec![],
        to: vec![],
        cc: vec![],
        bcc: vec![],
        reply_to: vec![],
        date: 1_800_000_000,
        sent_date: None,
        size: 10,
        flags: vec![],
        has_attachments: false,
        in_reply_to: None,
        adopts_identity: None,
    };
    app.store
        .add_folder_messages(&app.grant_id, &inbox, &[newer])
        .await
        .expect("indexed");
    let second = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?limit=2&page_token={cursor}")),
            None,
        )
        .await;
    assert_eq!(
        second.ids(),
        [app.message_ids[2].clone()],
        "{}",
        second.body
    );
}

#[tokio::test]
async fn v2_lists_page_by_offset_and_views() {
    let app = App::new().await;
    let token = app.token(&[]).await;
    let bearer = format!("Bearer {token}");
    let get = |path: &'static str| app.send(Method::GET, path, Some(&bearer), None);
    assert_eq!(
        get("/messages?view=count").await.body,
        serde_json::json!({"count": 3})
    );
    assert_eq!(
        get("/messages?view=ids")
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let second = get("/messages?limit=1&offset=1").await.body;
    assert_eq!(second[0]["subject"], "Subject 2", "{second}");
    assert_eq!(second[0]["object"], "message");
    assert_eq!(second[0]["folder"]["name"], "inbox");
    assert_eq!(
        get("/messages?unread=true&view=count").await.body,
        serde_json::json!({"count": 2})
    );
    assert_eq!(
        get("/threads?view=count").await.body,
        serde_json::json!({"count": 3})
    );
    assert_eq!(
        get("/folders?view=count").await.body,
        serde_json::json!({"count": 1})
    );
}

/// The ids of a v2 list.
fn v2_ids(body: &serde_json::Value) -> Vec<String> {
    body.as_array()
        .map(|list| {
            list.iter()
                .filter_map(|item| item["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn v2_offsets_walk_every_message_once_and_a_short_page_is_the_last() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let all = app
        .send(Method::GET, "/messages?limit=1000", Some(&bearer), None)
        .await;
    let all = v2_ids(&all.body);
    assert_eq!(all.len(), MAIL.len());
    let mut walked = Vec::new();
    let mut offset = 0;
    loop {
        let page = app
            .send(
                Method::GET,
                &format!("/messages?limit=4&offset={offset}"),
                Some(&bearer),
                None,
            )
            .await;
        let ids = v2_ids(&page.body);
        assert!(ids.len() <= 4);
        walked.extend(ids.iter().cloned());
        offset += 4;
        if ids.len() < 4 {
            break;
        }
    }
    assert_eq!(walked, all);
    let ids = app
        .send(
            Method::GET,
            "/messages?view=ids&limit=1000",
            Some(&bearer),
            None,
        )
        .await;
    let listed: Vec<String> = ids
        .body
        .as_array()
        .expect("an array of ids")
        .iter()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, all, "view=ids lists the same ids in the same order");
    let count = app
        .send(
            Method::GET,
            "/messages?view=count&limit=2",
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(count.body["count"], MAIL.len(), "a count ignores the page");
}

#[tokio::test]
async fn v2_limit_zero_and_offsets_past_the_end_are_empty_pages() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    for path in [
        "/messages?limit=0",
        "/messages?offset=3",
        "/messages?offset=100000",
        "/threads?offset=50",
        "/folders?offset=1",
    ] {
        let reply = app.send(Method::GET, path, Some(&bearer), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(reply.body, serde_json::json!([]), "{path}");
    }
}

#[tokio::test]
async fn v2_refuses_malformed_paging_in_its_own_shape() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    for path in [
        "/messages?view=everything",
        "/messages?offset=-1",
        "/messages?offset=100001",
        "/messages?limit=-5",
        "/messages?limit=many",
        "/threads?view=some",
        "/folders?offset=x",
        "/messages?in=nowhere",
    ] {
        let reply = app.send(Method::GET, path, Some(&bearer), None).await;
        assert_v2_error(&reply, StatusCode::BAD_REQUEST, path);
        assert_eq!(reply.body["type"], "invalid_request_error", "{path}");
    }
}

#[tokio::test]
async fn v2_expanded_messages_carry_their_threading_headers() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let reply = app
        .send(Method::GET, "/messages?view=expanded", Some(&bearer), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply_id = app.mailbox.id("report-reply");
    let expanded = reply
        .body
        .as_array()
        .expect("a list")
        .iter()
        .find(|m| m["id"] == reply_id.as_str())
        .cloned()
        .expect("the reply is listed");
    assert_eq!(
        expanded["headers"]["Message-Id"],
        "<report-reply@example.test>"
    );
    assert_eq!(expanded["headers"]["In-Reply-To"], "<report@example.test>");
    let plain = app
        .send(Method::GET, "/messages", Some(&bearer), None)
        .await;
    assert!(plain.body[0].get("headers").is_none(), "{}", plain.body[0]);
}
