//! A grant whose mail server misbehaves on purpose (`testbed/hostile-mail-server`) costs
//! that grant a retry and nothing else: mailroom stays up with bounded memory, another
//! grant on the real testbed keeps syncing, another application keeps getting webhooks,
//! and the grant's state says what went wrong.
//!
//! Each test makes its grant on a well-behaved server, waits for the first pass, then
//! switches the server to its hostile mode. The figures (peak RSS, the other grant's
//! time to see new mail) are printed for the record, never asserted as timings.

use std::time::{Duration, Instant};

use crate::support::{
    self, Api, Mailroom, data_len, eventually, find_by_subject,
    hostile_server::HostileServer,
    imap_app,
    imap_peer::{ImapPeer, message},
    testbed_env,
    webhook_receiver::Receiver,
};
use serde_json::json;

/// The testbed user whose mailbox the well-behaved grants read. Tests only add mail with
/// subjects of their own, so they share it without interfering.
const GOOD_USER: u32 = 18;
/// Messages in the hostile server's INBOX before it turns.
const MESSAGES: u32 = 5;
/// Peak memory allowed to the whole mailroom process (it idles at about 40 MiB).
const RSS_BOUND: u64 = 256 * 1024 * 1024;

struct Scene {
    server: Mailroom,
    hostile: HostileServer,
    hostile_api: Api,
    hostile_grant: String,
    good_api: Api,
    good_grant: String,
    receiver: Receiver,
}

fn mailroom(extra_env: &[(&str, &str)]) -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.push(("MAILROOM_WEBHOOK_RETRY_SECS".into(), "1".into()));
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Mailroom::start_with(env)
}

/// mailroom with a grant on a (for now) well-behaved hostile server, fully synced, and
/// another application with a grant on the testbed and a `message.created` webhook.
async fn scene() -> Scene {
    scene_with(&[], None).await
}

/// The same with more mailroom settings, and the hostile server's messages padded to
/// `message_size` bytes.
async fn scene_with(extra_env: &[(&str, &str)], message_size: Option<u64>) -> Scene {
    let hostile = HostileServer::start("normal", MESSAGES);
    if let Some(bytes) = message_size {
        hostile.set_message_size(bytes);
    }
    let server = mailroom(extra_env);

    let (_, hostile_api) = imap_app(&server, "hostile").await;
    let reply = hostile_api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap",
                   "settings": hostile.settings("victim@hostile.test", "secret")}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let hostile_grant = reply.body["data"]["id"].as_str().unwrap().to_owned();

    let receiver = Receiver::start().await;
    let (_, good_api) = imap_app(&server, "other").await;
    let reply = good_api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["message.created"], "webhook_url": receiver.url}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);
    let reply = good_api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": support::Testbed::get().settings(GOOD_USER)}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let good_grant = reply.body["data"]["id"].as_str().unwrap().to_owned();

    let path = format!("/v3/grants/{hostile_grant}");
    eventually(&hostile_api, &path, "the hostile grant's first pass", |b| {
        b["data"]["sync_state"] == "running"
            && b["data"]["sync_progress"]["messages_synced"] == MESSAGES
    })
    .await;
    let path = format!("/v3/grants/{good_grant}");
    eventually(&good_api, &path, "the testbed grant's first pass", |b| {
        b["data"]["sync_state"] == "running"
    })
    .await;
    Scene {
        server,
        hostile,
        hostile_api,
        hostile_grant,
        good_api,
        good_grant,
        receiver,
    }
}

impl Scene {
    /// Waits until the hostile server has received a command containing `needle` after
    /// the mark (a count of lines seen before).
    async fn wait_for_command(&self, needle: &str, after: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self
                .hostile
                .log()
                .lines()
                .skip(after)
                .any(|l| l.contains(needle));
            if seen {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the hostile server never received {needle:?}; log:\n{}",
                self.hostile.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_lines(&self) -> usize {
        self.hostile.log().lines().count()
    }

    /// New mail for the testbed grant shows through the API and reaches the other
    /// application's webhook. Returns how long that took.
    async fn other_grant_still_syncs(&self, tag: &str) -> Duration {
        // Unique per run and per call: the testbed mailbox keeps earlier runs' mail.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let tag = format!("{tag}-{nanos}");
        let subject = format!("still syncing {tag}");
        let started = Instant::now();
        let mut peer = ImapPeer::login(GOOD_USER).await;
        peer.append(
            "INBOX",
            "()",
            &message(
                &format!("{tag}@hostile-tests"),
                &subject,
                "ann@example.test",
                None,
                "text",
            ),
        )
        .await;
        peer.logout().await;
        let path = format!("/v3/grants/{}/messages?limit=200", self.good_grant);
        let body = eventually(
            &self.good_api,
            &path,
            "new mail on the testbed grant",
            |b| {
                b["data"]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|m| m["subject"] == subject.as_str()))
            },
        )
        .await;
        find_by_subject(&body, &subject);
        self.receiver
            .wait_for("message.created", |m| m["subject"] == subject.as_str())
            .await;
        started.elapsed()
    }

    async fn healthy(&mut self) {
        assert!(self.server.is_running(), "mailroom exited");
        let reply = self.server.anonymous().get("/healthz").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }

    /// Waits until the hostile grant reports a failed pass being retried; returns the
    /// error `mailroom grants status` shows for it. (Between retries the state passes
    /// through `connecting`, which clears the error: both are read in one status.)
    async fn hostile_grant_retries(&self) -> String {
        // A flood is read up to the command's budget before it is refused: with every
        // other test running on two cores, that took over 30 s once.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let status = self.server.cli(&["grants", "status", "--json"]);
            assert!(status.status.success(), "{status:?}");
            let rows: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
            let row = rows
                .as_array()
                .and_then(|r| {
                    r.iter()
                        .find(|g| g["grant_id"] == self.hostile_grant.as_str())
                })
                .cloned()
                .unwrap_or_default();
            let error = row["last_error"].as_str().unwrap_or_default();
            if row["sync_state"] == "retrying" && !error.is_empty() {
                return error.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the hostile grant never reported a retry; last status: {row}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server behaves again: how long until the grant shows `done`.
    async fn recovers(&self, mode: &str, done: impl Fn(&serde_json::Value) -> bool) -> Duration {
        let started = Instant::now();
        self.hostile.set_mode("normal");
        let path = format!("/v3/grants/{}", self.hostile_grant);
        eventually(&self.hostile_api, &path, "the grant recovered", |b| {
            done(&b["data"])
        })
        .await;
        let took = started.elapsed();
        println!(
            "hostile mode {mode}: the grant had recovered {} ms after the server did",
            took.as_millis()
        );
        took
    }

    fn peak_rss(&self, mode: &str, other_grant: Duration) -> u64 {
        let peak = self.server.peak_rss_bytes().expect("mailroom's VmHWM");
        println!(
            "hostile mode {mode}: mailroom peak RSS {} MiB; the testbed grant saw new mail \
             (API and webhook) after {} ms",
            peak / (1024 * 1024),
            other_grant.as_millis()
        );
        assert!(
            peak < RSS_BOUND,
            "mailroom's peak RSS was {peak} bytes in mode {mode}"
        );
        peak
    }
}

#[tokio::test]
async fn vanished_for_the_whole_uid_space_removes_only_what_was_indexed() {
    let mut scene = scene().await;
    let mark = scene.log_lines();
    scene.hostile.set_mode("vanish");
    scene.wait_for_command("(QRESYNC (", mark).await;
    // Every indexed message is in 1:4294967295: the five go, nothing else is done.
    let path = format!("/v3/grants/{}/messages", scene.hostile_grant);
    eventually(
        &scene.hostile_api,
        &path,
        "the vanished messages gone",
        |b| data_len(b) == 0,
    )
    .await;
    let took = scene.other_grant_still_syncs("vanish").await;
    scene.healthy().await;
    let grant = scene
        .hostile_api
        .get(&format!("/v3/grants/{}", scene.hostile_grant))
        .await;
    assert_eq!(
        grant.body["data"]["sync_state"], "running",
        "{}",
        grant.text
    );
    scene.peak_rss("vanish", took);
}

#[tokio::test]
async fn a_server_that_stalls_after_login_costs_its_grant_a_retry() {
    let mut scene = scene().await;
    let mark = scene.log_lines();
    scene.hostile.set_mode("stall");
    // The actor's next command (the STATUS round that ends its IDLE) gets no answer; so
    // does every reconnect's first command after login.
    scene.wait_for_command(" imap ", mark).await;
    let state = scene.hostile_grant_retries().await;
    assert!(state.contains("in time"), "{state}");
    println!("stall: the grant retries after: {state}");
    let took = scene.other_grant_still_syncs("stall").await;
    scene.healthy().await;
    // The index stays readable while the server is silent.
    let list = scene
        .hostile_api
        .get(&format!("/v3/grants/{}/messages", scene.hostile_grant))
        .await;
    assert_eq!(data_len(&list.body), MESSAGES as usize, "{}", list.text);
    scene.peak_rss("stall", took);
    scene
        .recovers("stall", |g| g["sync_state"] == "running")
        .await;
}

/// New mail on the hostile server whose bodies it then mishandles.
async fn bodies_in_mode(mode: &str) -> (Scene, Duration) {
    bodies_in_mode_with(mode, None).await
}

async fn bodies_in_mode_with(mode: &str, big_literal: Option<u64>) -> (Scene, Duration) {
    let mut scene = scene().await;
    let mark = scene.log_lines();
    if let Some(bytes) = big_literal {
        scene.hostile.set_big_literal(bytes);
    }
    scene.hostile.set_mode(mode);
    scene.hostile.set_messages(MESSAGES + 3);
    scene.wait_for_command("BODY.PEEK[]", mark).await;
    let error = scene.hostile_grant_retries().await;
    println!("{mode}: the grant retries after: {error}");
    assert!(!error.is_empty());
    let took = scene.other_grant_still_syncs(mode).await;
    scene.healthy().await;
    // The new messages were indexed from their summaries; only their bodies are missing.
    let path = format!("/v3/grants/{}/messages", scene.hostile_grant);
    let list = eventually(&scene.hostile_api, &path, "the new summaries", |b| {
        data_len(b) == (MESSAGES + 3) as usize
    })
    .await;
    // Reading one on demand fails within a deadline, and does not hang the request.
    let unread_body = list["data"]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["subject"] == "hostile message 8"))
        .and_then(|m| m["id"].as_str())
        .expect("message 8 indexed")
        .to_owned();
    let reply = scene
        .hostile_api
        .get(&format!(
            "/v3/grants/{}/messages/{unread_body}?fields=raw_mime",
            scene.hostile_grant
        ))
        .await;
    assert!(
        reply.status == 504 || reply.status == 413,
        "{}: {}",
        reply.status,
        reply.text
    );
    scene.healthy().await;
    (scene, took)
}

#[tokio::test]
async fn a_server_that_never_sends_a_body_costs_its_grant_a_retry() {
    let (scene, took) = bodies_in_mode("stall-body").await;
    scene.peak_rss("stall-body", took);
    // Recovered once the bodies it withheld are read.
    scene
        .recovers("stall-body", |g| {
            g["sync_progress"]["bodies_synced"] == MESSAGES + 3
        })
        .await;
}

#[tokio::test]
async fn a_literal_cut_off_midway_costs_its_grant_a_retry() {
    let (scene, took) = bodies_in_mode("stall-literal").await;
    scene.peak_rss("stall-literal", took);
}

#[tokio::test]
async fn a_two_gib_literal_is_refused_when_announced() {
    let (scene, took) = bodies_in_mode("bigliteral").await;
    let error = scene.hostile_grant_retries().await;
    assert!(error.contains("2147483648"), "{error}");
    scene.peak_rss("bigliteral", took);
}

/// Just under async-imap's own 512 MiB limit, a literal it would allocate whole as soon
/// as announced.
#[tokio::test]
async fn a_400_mib_literal_is_refused_before_it_is_buffered() {
    let (scene, took) = bodies_in_mode_with("bigliteral", Some(400 * 1024 * 1024)).await;
    let error = scene.hostile_grant_retries().await;
    assert!(error.contains("419430400"), "{error}");
    scene.peak_rss("bigliteral 400 MiB", took);
}

#[tokio::test]
async fn endless_untagged_lines_are_cut_off() {
    let mut scene = scene().await;
    let mark = scene.log_lines();
    scene.hostile.set_mode("flood");
    scene.wait_for_command(" imap ", mark).await;
    let state = scene.hostile_grant_retries().await;
    assert!(state.contains("more than"), "{state}");
    println!("flood: the grant retries after: {state}");
    let took = scene.other_grant_still_syncs("flood").await;
    // The SMTP server answers EHLO with a line without end: the send fails, and that is
    // all.
    let reply = scene
        .hostile_api
        .post(
            &format!("/v3/grants/{}/messages/send", scene.hostile_grant),
            json!({"to": [{"email": "ann@example.test"}], "subject": "hi", "body": "hello"}),
        )
        .await;
    assert!(reply.status >= 400, "{}", reply.text);
    println!(
        "flood: send answered {} {}",
        reply.status,
        reply.error_message()
    );
    scene.healthy().await;
    scene.peak_rss("flood", took);
}

#[tokio::test]
async fn copyuid_over_the_whole_uid_space_costs_nothing() {
    let mut scene = scene().await;
    scene.hostile.set_mode("copyuid");
    let path = format!("/v3/grants/{}/messages", scene.hostile_grant);
    let list = scene.hostile_api.get(&path).await;
    let first = list.body["data"][0]["id"]
        .as_str()
        .expect("a message")
        .to_owned();
    let folders = scene
        .hostile_api
        .get(&format!("/v3/grants/{}/folders", scene.hostile_grant))
        .await;
    let sent = folders.body["data"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == "Sent"))
        .and_then(|f| f["id"].as_str())
        .expect("the Sent folder")
        .to_owned();
    let mark = scene.log_lines();
    let reply = scene
        .hostile_api
        .send(
            "PUT",
            &format!("{path}/{first}"),
            Some(json!({"folders": [sent]})),
        )
        .await;
    // The mapping names four billion UIDs; the one moved is found in it by position.
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.body["data"]["folders"],
        json!([sent]),
        "{}",
        reply.text
    );
    scene.wait_for_command("UID MOVE", mark).await;
    let took = scene.other_grant_still_syncs("copyuid").await;
    scene.healthy().await;
    scene.peak_rss("copyuid", took);
}

#[tokio::test]
async fn search_query_native_cannot_smuggle_a_literal() {
    let mut scene = scene().await;
    let mark = scene.log_lines();
    for criteria in [
        "TEXT%20%7B5%7D",
        "TEXT%20%7B5%2B%7D",
        "TEXT%20a%0D%0AA1%20LOGOUT",
    ] {
        let reply = scene
            .hostile_api
            .get(&format!(
                "/v3/grants/{}/messages?search_query_native={criteria}",
                scene.hostile_grant
            ))
            .await;
        assert_eq!(reply.status, 400, "{criteria}: {}", reply.text);
        assert!(
            reply.error_message().contains("search_query_native"),
            "{}",
            reply.text
        );
    }
    // Refused before any connection: the server saw no SEARCH.
    assert!(
        !scene
            .hostile
            .log()
            .lines()
            .skip(mark)
            .any(|l| l.contains("SEARCH TEXT")),
        "{}",
        scene.hostile.log()
    );
    // Well-formed criteria still reach the server.
    let reply = scene
        .hostile_api
        .get(&format!(
            "/v3/grants/{}/messages?search_query_native=TEXT%20%22hostile%22",
            scene.hostile_grant
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    scene.healthy().await;
}

#[tokio::test]
async fn raw_mime_lists_share_one_session_per_request() {
    let mut scene = scene().await;
    let before = scene.hostile.count(" LOGIN ");
    let reply = scene
        .hostile_api
        .get(&format!(
            "/v3/grants/{}/messages?fields=raw_mime&limit=5",
            scene.hostile_grant
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(data_len(&reply.body), MESSAGES as usize);
    assert!(reply.body["data"][0]["raw_mime"].as_str().is_some());
    // One login for the five messages (the sync actor may log in again meanwhile, but
    // not five times).
    let logins = scene.hostile.count(" LOGIN ") - before;
    assert!(logins <= 2, "{logins} logins for one raw_mime list");
    scene.healthy().await;
}

#[tokio::test]
async fn messages_over_max_message_bytes_are_indexed_from_their_headers_only() {
    let mut scene = scene_with(&[("MAILROOM_MAX_MESSAGE_BYTES", "65536")], Some(200_000)).await;
    let grant = format!("/v3/grants/{}", scene.hostile_grant);
    eventually(
        &scene.hostile_api,
        &grant,
        "the header blocks stored",
        |b| b["data"]["sync_progress"]["bodies_synced"] == MESSAGES,
    )
    .await;
    let log = scene.hostile.log();
    assert!(log.contains("BODY.PEEK[HEADER])"), "{log}");
    assert!(
        !log.contains("BODY.PEEK[])"),
        "a large body was read whole:\n{log}"
    );
    let path = format!("/v3/grants/{}/messages", scene.hostile_grant);
    let list = scene.hostile_api.get(&path).await;
    assert_eq!(data_len(&list.body), MESSAGES as usize, "{}", list.text);
    let id = list.body["data"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    // Listed with its headers; no body, and no fetch of it on demand either.
    let one = scene.hostile_api.get(&format!("{path}/{id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["data"]["body"], "", "{}", one.text);
    assert!(
        one.body["data"]["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("hostile"))
    );
    let headers = scene
        .hostile_api
        .get(&format!("{path}/{id}?fields=include_headers"))
        .await;
    assert_eq!(headers.status, 200, "{}", headers.text);
    assert!(headers.text.contains("Message-ID"), "{}", headers.text);
    let listed = scene
        .hostile_api
        .get(&format!("{path}?fields=include_headers"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(data_len(&listed.body), MESSAGES as usize);
    for raw in [
        format!("{path}/{id}?fields=raw_mime"),
        format!("{path}?fields=raw_mime"),
    ] {
        let reply = scene.hostile_api.get(&raw).await;
        assert_eq!(reply.status, 413, "{}", reply.text);
        assert!(
            reply.error_message().contains("max_message_bytes"),
            "{}",
            reply.text
        );
    }
    assert!(!scene.hostile.log().contains("BODY.PEEK[])"));
    scene.healthy().await;
}

/// How many UIDs an IMAP UID set such as `1:3,7` names.
fn uid_count(set: &str) -> u64 {
    set.split(',')
        .map(|part| match part.split_once(':') {
            Some((low, high)) => {
                let (low, high): (u64, u64) = (low.parse().unwrap(), high.parse().unwrap());
                high.max(low) - high.min(low) + 1
            }
            None => 1,
        })
        .sum()
}

#[tokio::test]
async fn bodies_are_fetched_in_batches_bounded_by_bytes() {
    const MORE: u32 = 24;
    // 1 MB messages: 24 MB of bodies, so at least three FETCHes of 8 MiB at most.
    let scene = scene_with(&[], Some(1_000_000)).await;
    scene.hostile.set_messages(MESSAGES + MORE);
    let grant = format!("/v3/grants/{}", scene.hostile_grant);
    eventually(&scene.hostile_api, &grant, "every body read", |b| {
        b["data"]["sync_progress"]["bodies_synced"] == MESSAGES + MORE
    })
    .await;
    let batches: Vec<u64> = scene
        .hostile
        .log()
        .lines()
        .filter(|l| l.contains("(UID BODY.PEEK[])"))
        .filter_map(|l| l.split(" UID FETCH ").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .map(uid_count)
        .collect();
    assert!(batches.len() >= 3, "{batches:?}");
    assert!(
        batches.iter().all(|n| *n <= 8),
        "a FETCH asked for more than 8 MiB of 1 MB messages: {batches:?}"
    );
    assert_eq!(batches.iter().sum::<u64>(), u64::from(MESSAGES + MORE));
    println!(
        "peak RSS with {} bodies of 1 MB: {} MiB",
        MESSAGES + MORE,
        scene.server.peak_rss_bytes().unwrap_or(0) / (1024 * 1024)
    );
}

/// The hostile server also speaks implicit TLS with the testbed's certificate, and logs
/// the credentials it was given (what tests of credential handling look for).
#[tokio::test]
async fn the_hostile_server_speaks_tls_and_logs_credentials() {
    let hostile = HostileServer::start_tls("normal", MESSAGES);
    let server = mailroom(&[]);
    let (_, api) = imap_app(&server, "tls").await;
    let reply = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap",
                   "settings": hostile.tls_settings("tls@hostile.test", "tls-secret")}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let grant = reply.body["data"]["id"].as_str().unwrap().to_owned();
    eventually(
        &api,
        &format!("/v3/grants/{grant}"),
        "a synced grant",
        |b| b["data"]["sync_progress"]["messages_synced"] == MESSAGES,
    )
    .await;
    assert!(hostile.count(r#"LOGIN "tls@hostile.test" "tls-secret""#) >= 1);
    assert!(hostile.count("AUTH-DECODED tls@hostile.test tls-secret") >= 1);
}
