//! Nylas v2 mail beyond sign-in: the delta feed (`/delta/latest_cursor`, `/delta`,
//! `/delta/longpoll`) over the grant's change log, drafts with `version`, and
//! `view=expanded`. Runs on SQLite and, with `MAILROOM_TEST_DATABASE=postgres`, on
//! PostgreSQL, whose change log orders by transaction.

use crate::support::{
    self, Mailroom, Testbed,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
};
use serde_json::{Value, json};

/// Testbed users no other test signs in as (ARCHITECTURE.md, "Testbed users").
const DELTA_USER: u32 = 83;
const DRAFTS_USER: u32 = 84;

struct V2 {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl V2 {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("mailroom answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Waits until `check` holds for the answer to `GET path`.
    async fn until(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let (status, body) = self.get(path).await;
            if status == 200 && check(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: last answer {status} {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// A v2 account for the testbed user by native authentication, with `scopes`.
async fn native_account(server: &Mailroom, user: u32, scopes: &str) -> V2 {
    let (app, _) = support::imap_app(server, "v2 mail").await;
    let http = reqwest::Client::new();
    let testbed = Testbed::get();
    let (email, password) = Testbed::user(user);
    let reply: Value = http
        .post(format!("{}/connect/authorize", server.base_url))
        .json(&json!({
            "client_id": app.application_id, "name": "V2 Mail", "email_address": email,
            "provider": "imap", "scopes": scopes,
            "settings": {
                "imap_host": "localhost", "imap_port": testbed.imap_port,
                "imap_username": email, "imap_password": password,
                "smtp_host": "localhost", "smtp_port": testbed.submission_port,
                "smtp_username": email, "smtp_password": password,
                "ssl_required": false,
            },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = reply["code"].as_str().unwrap_or_else(|| panic!("{reply}"));
    let account: Value = http
        .post(format!("{}/connect/token", server.base_url))
        .json(&json!({"client_id": app.application_id, "client_secret": app.client_secret, "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    V2 {
        base: server.base_url.clone(),
        token: account["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{account}"))
            .to_owned(),
        http,
    }
}

fn ids_of(deltas: &Value) -> Vec<(String, String, String)> {
    deltas["deltas"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|d| {
            (
                d["object"].as_str().unwrap_or_default().to_owned(),
                d["event"].as_str().unwrap_or_default().to_owned(),
                d["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_delta_feed_tells_each_change_once_in_order() {
    reset_user(DELTA_USER, true);
    let mut peer = ImapPeer::login(DELTA_USER).await;
    let (email, _) = Testbed::user(DELTA_USER);
    peer.append(
        "INBOX",
        "()",
        &message(
            "before@example.test",
            "before the cursor",
            &email,
            None,
            "old",
        ),
    )
    .await;
    let server = Mailroom::start_with(testbed_env());
    let v2 = native_account(&server, DELTA_USER, "email").await;
    v2.until("/messages?view=count", "the first sync", |b| {
        b["count"] == 1
    })
    .await;

    let (status, latest) = v2
        .call(reqwest::Method::POST, "/delta/latest_cursor", None)
        .await;
    assert_eq!(status, 200, "{latest}");
    let start = latest["cursor"].as_str().unwrap().to_owned();
    let (status, empty) = v2.get(&format!("/delta?cursor={start}")).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["deltas"], json!([]));
    assert_eq!(empty["cursor_start"], start.as_str());
    assert_eq!(empty["cursor_end"], start.as_str());

    // A long poll waits for the next change: a message arriving behind mailroom's back.
    let waiting = {
        let v2 = V2 {
            base: v2.base.clone(),
            token: v2.token.clone(),
            http: v2.http.clone(),
        };
        let start = start.clone();
        tokio::spawn(async move {
            v2.get(&format!("/delta/longpoll?cursor={start}&timeout=60"))
                .await
        })
    };
    peer.append(
        "INBOX",
        "()",
        &message(
            "arrived@example.test",
            "after the cursor",
            &email,
            None,
            "new",
        ),
    )
    .await;
    let (status, polled) = waiting.await.unwrap();
    assert_eq!(status, 200, "{polled}");
    let created = &polled["deltas"][0];
    assert_eq!(created["object"], "message", "{polled}");
    assert_eq!(created["event"], "create");
    assert_eq!(created["attributes"]["subject"], "after the cursor");
    assert_eq!(created["attributes"]["object"], "message");
    let arrived = created["id"].as_str().unwrap().to_owned();

    // Changed through the API, then deleted behind mailroom's back.
    let (status, changed) = v2
        .call(
            reqwest::Method::PUT,
            &format!("/messages/{arrived}"),
            Some(json!({"unread": false})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let before_deletion = v2
        .until(&format!("/delta?cursor={start}"), "the change", |b| {
            ids_of(b).iter().any(|(_, e, _)| e == "modify")
        })
        .await;
    let events = ids_of(&before_deletion);
    assert_eq!(
        events[0],
        ("message".into(), "create".into(), arrived.clone()),
        "{before_deletion}"
    );
    assert!(
        events[1..]
            .iter()
            .all(|e| *e == ("message".into(), "modify".into(), arrived.clone())),
        "{before_deletion}"
    );
    let modified = before_deletion["deltas"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(modified["attributes"]["unread"], false);

    peer.create("Delta Folder").await;
    peer.expunge_message("INBOX", "arrived@example.test").await;
    // Both are reported, in whichever order the server told of them.
    let all = v2
        .until(
            &format!("/delta?cursor={start}"),
            "the deletion and the new folder",
            |b| {
                let events = ids_of(b);
                events.iter().any(|(_, e, _)| e == "delete")
                    && events
                        .iter()
                        .any(|(o, e, _)| o == "folder" && e == "create")
            },
        )
        .await;
    let events = ids_of(&all);
    // What a message went through before it was deleted is no longer shown: only that
    // it was deleted, without attributes.
    let of_arrived: Vec<&Value> = all["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["id"] == arrived.as_str())
        .collect();
    assert_eq!(of_arrived.len(), 1, "{all}");
    assert_eq!(of_arrived[0]["event"], "delete");
    assert!(of_arrived[0].get("attributes").is_none());
    // Cursors increase, and reading on from the end gives nothing new.
    let cursors: Vec<&str> = all["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cursor"].as_str().unwrap())
        .collect();
    assert_eq!(all["cursor_end"].as_str(), cursors.last().copied());
    let end = all["cursor_end"].as_str().unwrap();
    let (_, after) = v2.get(&format!("/delta?cursor={end}")).await;
    assert_eq!(after["deltas"], json!([]), "{after}");
    assert_eq!(after["cursor_end"], end);
    // Reading from the middle gives what follows, the same way.
    let (_, rest) = v2.get(&format!("/delta?cursor={}", cursors[0])).await;
    assert_eq!(ids_of(&rest), events[1..].to_vec());

    // Types asked for, and what is refused.
    let (_, folders_only) = v2
        .get(&format!("/delta?cursor={start}&include_types=folder"))
        .await;
    assert!(
        ids_of(&folders_only).iter().all(|(o, _, _)| o == "folder"),
        "{folders_only}"
    );
    assert_eq!(folders_only["cursor_end"], all["cursor_end"]);
    let (_, no_messages) = v2
        .get(&format!("/delta?cursor={start}&exclude_types=message"))
        .await;
    assert!(ids_of(&no_messages).iter().all(|(o, _, _)| o != "message"));
    for bad in [
        format!("/delta?cursor={start}&include_types=folder&exclude_types=message"),
        format!("/delta?cursor={start}&include_types=nonsense"),
        "/delta?cursor=not-a-cursor".to_owned(),
        "/delta".to_owned(),
    ] {
        let (status, body) = v2.get(&bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["type"], "invalid_request_error");
    }

    // view=expanded shows a message's threading headers.
    let (_, expanded) = v2.get("/messages?view=expanded").await;
    assert_eq!(
        expanded[0]["headers"]["Message-Id"], "<before@example.test>",
        "{expanded}"
    );
}

#[tokio::test]
async fn drafts_move_on_by_version_and_a_stale_version_is_refused() {
    reset_user(DRAFTS_USER, true);
    let (email, _) = Testbed::user(DRAFTS_USER);
    let server = Mailroom::start_with(testbed_env());
    let v2 = native_account(&server, DRAFTS_USER, "email").await;
    v2.until("/folders", "the folders", |b| {
        b.as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "drafts"))
    })
    .await;
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    let delete = reqwest::Method::DELETE;

    let (status, draft) = v2
        .call(
            post.clone(),
            "/drafts",
            Some(
                json!({"subject": "v2 draft", "to": [{"email": email, "name": "Me"}],
                        "body": "<p>first words</p>", "file_ids": []}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(draft["object"], "draft");
    assert_eq!(draft["version"], 0);
    let id = draft["id"].as_str().unwrap().to_owned();
    let (status, read) = v2.get(&format!("/drafts/{id}")).await;
    assert_eq!(status, 200, "{read}");
    assert!(
        read["body"]
            .as_str()
            .unwrap_or_default()
            .contains("first words")
    );

    // Saved again as the SDKs do: the whole object back, with the version read.
    let mut edited = read.clone();
    edited["subject"] = json!("v2 draft, edited");
    let (status, saved) = v2
        .call(put.clone(), &format!("/drafts/{id}"), Some(edited.clone()))
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["id"], id.as_str());
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["subject"], "v2 draft, edited");
    assert_eq!(saved["to"][0]["email"], email.as_str());
    // The same version again is stale, and so are a deletion and a send naming it.
    let (status, stale) = v2
        .call(put.clone(), &format!("/drafts/{id}"), Some(edited))
        .await;
    assert_eq!(status, 409, "{stale}");
    assert_eq!(stale["type"], "invalid_request_error");
    let (status, _) = v2
        .call(
            delete.clone(),
            &format!("/drafts/{id}"),
            Some(json!({"version": 0})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = v2
        .call(
            post.clone(),
            "/send",
            Some(json!({"draft_id": id, "version": 0})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, missing) = v2
        .call(
            put.clone(),
            &format!("/drafts/{id}"),
            Some(json!({"subject": "x"})),
        )
        .await;
    assert_eq!(status, 400, "{missing}");
    let (status, unknown) = v2
        .call(
            post.clone(),
            "/drafts",
            Some(json!({"subject": "x", "send_later": true})),
        )
        .await;
    assert_eq!(status, 400, "{unknown}");
    let (_, listed) = v2.get("/drafts").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["version"], 1);

    let (status, sent) = v2
        .call(
            post.clone(),
            "/send",
            Some(json!({"draft_id": id, "version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["object"], "message");
    assert_eq!(sent["subject"], "v2 draft, edited");
    v2.until("/drafts?view=count", "the sent draft gone", |b| {
        b["count"] == 0
    })
    .await;
    v2.until(
        "/messages?in=inbox&subject=v2%20draft,%20edited&view=count",
        "the draft delivered",
        |b| b["count"] == 1,
    )
    .await;

    // Files uploaded through /files go with a draft by file_ids; unknown ids are named.
    let boundary = "v2-mail-boundary";
    let upload = v2
        .http
        .post(format!("{}/files", v2.base))
        .bearer_auth(&v2.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nthe attached words\r\n--{boundary}--\r\n"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200);
    let uploaded: Value = upload.json().await.unwrap();
    let file_id = uploaded[0]["id"].as_str().unwrap().to_owned();
    let (status, with_file) = v2
        .call(
            post.clone(),
            "/drafts",
            Some(
                json!({"subject": "with a file", "to": [{"email": email}], "file_ids": [file_id]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{with_file}");
    assert_eq!(
        with_file["files"][0]["filename"], "notes.txt",
        "{with_file}"
    );
    let (status, unknown_file) = v2
        .call(
            post.clone(),
            "/drafts",
            Some(json!({"subject": "x", "file_ids": ["no-such-upload"]})),
        )
        .await;
    assert_eq!(status, 400, "{unknown_file}");
    assert!(
        unknown_file["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no-such-upload")
    );

    // A draft deleted at its version is gone; unknown drafts are 404 in v2's shape.
    let (_, second) = v2
        .call(
            post.clone(),
            "/drafts",
            Some(json!({"subject": "to be deleted"})),
        )
        .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (status, _) = v2
        .call(
            delete.clone(),
            &format!("/drafts/{second_id}"),
            Some(json!({"version": 0})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, gone) = v2.get(&format!("/drafts/{second_id}")).await;
    assert_eq!(status, 404, "{gone}");
    assert_eq!(gone["type"], "invalid_request_error");
}
