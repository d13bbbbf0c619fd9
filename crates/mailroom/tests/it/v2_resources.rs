//! Nylas v2 resources beyond mail: `/folders` created, renamed and deleted on the mail
//! server, `/files` (a real attachment listed, shown and downloaded; uploads kept for
//! the account alone, bounded in size), `/contacts`, `/calendars` and `/events` in v2's
//! shapes, each under the scopes of its v3 counterpart with v2's 403 body, and
//! unknown ids answered 404 in v2's error shape.

use crate::support::{
    self, Api, Mailroom, Testbed, eventually, imap_app,
    imap_peer::{ImapPeer, message_with_attachment, reset_user},
    testbed_env,
};
use base64::Engine;
use serde_json::{Value, json};

/// Testbed users no other test signs in as (ARCHITECTURE.md, "Testbed users").
const RESOURCES_USER: u32 = 81;
const ISOLATION_USER: u32 = 82;
/// The router's bound on a mail body, which uploads share (`MAX_MAIL_BODY_BYTES`).
const MAX_UPLOAD_BODY: usize = 32 * 1024 * 1024;

/// A server that polls every second, so tests see new mail quickly.
fn fast_server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

/// A v2 account of testbed user `user` by native authentication, with `scopes` (empty:
/// every scope): its access token and id.
async fn v2_account(server: &Mailroom, client_id: &str, secret: &str, user: u32) -> (Api, String) {
    let testbed = Testbed::get();
    let (email, password) = Testbed::user(user);
    let http = reqwest::Client::new();
    let authorized: Value = http
        .post(format!("{}/connect/authorize", server.base_url))
        .json(&json!({
            "client_id": client_id, "name": "Resources", "email_address": email,
            "provider": "imap",
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
    let code = authorized["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {authorized}"));
    let account: Value = http
        .post(format!("{}/connect/token", server.base_url))
        .json(&json!({"client_id": client_id, "client_secret": secret, "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = account["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {account}"));
    let api = Api {
        base_url: server.base_url.clone(),
        api_key: Some(token.to_owned()),
        http: reqwest::Client::new(),
    };
    (api, account["id"].as_str().unwrap().to_owned())
}

/// A multipart/form-data body with one file in the part `file`, as the v2 SDKs send it.
fn upload_body(filename: &str, content_type: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "v2-upload-boundary-7d3f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(api: &Api, filename: &str, content_type: &str, content: &[u8]) -> Value {
    let (content_type_header, body) = upload_body(filename, content_type, content);
    let reply = api
        .bytes("POST", "/files", &content_type_header, body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let files = reply.body.as_array().expect("an array of files");
    assert_eq!(files.len(), 1, "{}", reply.text);
    files[0].clone()
}

/// A download: status, Content-Type, Content-Disposition and bytes.
async fn download(api: &Api, file_id: &str) -> (u16, String, String, Vec<u8>) {
    let response = api
        .http
        .get(format!("{}/files/{file_id}/download", api.base_url))
        .bearer_auth(api.api_key.as_deref().unwrap_or_default())
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status().as_u16();
    (
        status,
        content_type,
        disposition,
        response.bytes().await.unwrap().to_vec(),
    )
}

fn assert_v2_not_found(reply: &support::Reply, what: &str) {
    assert_eq!(reply.status, 404, "{what}: {}", reply.text);
    assert_eq!(reply.body["type"], "invalid_request_error", "{what}");
    assert!(reply.body["message"].is_string(), "{what}: {}", reply.text);
    assert_eq!(
        reply.body.as_object().map(|o| o.len()),
        Some(2),
        "{what}: {}",
        reply.text
    );
}

/// An invitation whose calendar is the whole body, at 17:00 to 18:00 UTC on 15 March 2024.
fn invitation(own: &str) -> String {
    format!(
        "Message-ID: <roadmap-81@example.org>\nDate: Fri, 01 Mar 2024 12:00:00 +0000\n\
         From: Ada Lovelace <ada@example.org>\nTo: {own}\nSubject: Invitation: Roadmap review\n\
         MIME-Version: 1.0\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\n\n\
         BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Example//Calendar//EN\nMETHOD:REQUEST\n\
         BEGIN:VEVENT\nUID:roadmap-81@example.org\nDTSTAMP:20240301T120000Z\n\
         DTSTART:20240315T170000Z\nDTEND:20240315T180000Z\nSUMMARY:Roadmap review\n\
         LOCATION:Room 4\nORGANIZER;CN=Ada Lovelace:mailto:ada@example.org\n\
         ATTENDEE;PARTSTAT=ACCEPTED;CN=Ada Lovelace:mailto:ada@example.org\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION;CN=User 81:mailto:{own}\n\
         SEQUENCE:0\nSTATUS:CONFIRMED\nEND:VEVENT\nEND:VCALENDAR\n"
    )
}

const ROADMAP_START: i64 = 1_710_522_000;
const ROADMAP_END: i64 = 1_710_525_600;

#[tokio::test]
async fn folders_files_contacts_and_events_in_v2_shapes() {
    reset_user(RESOURCES_USER, true);
    let own = Testbed::user(RESOURCES_USER).0;
    let report: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut peer = ImapPeer::login(RESOURCES_USER).await;
    peer.append(
        "INBOX",
        "(\\Seen)",
        &message_with_attachment(
            "report-81@example.test",
            "Quarterly report",
            "report.pdf",
            &report,
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &format!(
            "Message-ID: <hello-81@example.org>\nDate: Mon, 04 Mar 2024 09:00:00 +0000\n\
             From: Bob Stone <bob@example.org>\nTo: {own}\nSubject: Hello\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\nHello.\n"
        ),
    )
    .await;
    peer.append("INBOX", "()", &invitation(&own)).await;

    let server = fast_server();
    let (app, _api) = imap_app(&server, "v2 resources").await;
    let (v2, account_id) = v2_account(
        &server,
        &app.application_id,
        &app.client_secret,
        RESOURCES_USER,
    )
    .await;
    eventually(
        &v2,
        "/messages?view=count",
        "the three messages synced",
        |b| b["count"] == 3,
    )
    .await;

    // Files: the attachment of the report, listed, shown and downloaded.
    let listed = v2.get("/files").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let files = listed.body.as_array().unwrap();
    let file = files
        .iter()
        .find(|f| f["filename"] == "report.pdf")
        .unwrap_or_else(|| panic!("no report.pdf in {}", listed.text))
        .clone();
    assert_eq!(file["object"], "file");
    assert_eq!(file["account_id"], account_id.as_str());
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["size"], report.len());
    assert!(file.get("content_id").is_some(), "{file}");
    let file_id = file["id"].as_str().unwrap().to_owned();
    let message_id = file["message_ids"][0].as_str().unwrap().to_owned();
    assert_eq!(file["message_ids"], json!([message_id]));
    assert!(file_id.starts_with(&message_id), "{file}");
    let one = v2.get(&format!("/files/{file_id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body, file);
    let (status, content_type, disposition, bytes) = download(&v2, &file_id).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/pdf");
    assert!(disposition.contains("report.pdf"), "{disposition}");
    assert_eq!(bytes, report);
    // Filters, views and paging; the token as Basic user, as Node's SDK sends it.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:", v2.api_key.as_deref().unwrap()))
    );
    let by_name: Value = v2
        .http
        .get(format!("{}/files?filename=report.pdf", server.base_url))
        .header("authorization", basic)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_name, json!([file]));
    for (query, expected) in [
        (
            "?filename=report.pdf&view=count".to_owned(),
            json!({"count": 1}),
        ),
        (
            "?filename=other.pdf&view=count".to_owned(),
            json!({"count": 0}),
        ),
        (
            "?content_type=APPLICATION/PDF&view=ids".to_owned(),
            json!([file_id]),
        ),
        (
            format!("?message_id={message_id}&view=ids"),
            json!([file_id]),
        ),
        ("?message_id=nope".to_owned(), json!([])),
        ("?filename=report.pdf&offset=1".to_owned(), json!([])),
    ] {
        let reply = v2.get(&format!("/files{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        assert_eq!(reply.body, expected, "{query}");
    }
    for path in [
        "/files/nope".to_owned(),
        format!("/files/{message_id}-99"),
        "/files/nope/download".to_owned(),
        format!("/files/{message_id}-99/download"),
    ] {
        assert_v2_not_found(&v2.get(&path).await, &path);
    }

    // An upload, shown and downloaded as it was sent.
    let notes = b"Notes for the roadmap review.\n".to_vec();
    let uploaded = upload(&v2, "notes.txt", "text/plain", &notes).await;
    assert_eq!(uploaded["object"], "file");
    assert_eq!(uploaded["account_id"], account_id.as_str());
    assert_eq!(uploaded["filename"], "notes.txt");
    assert_eq!(uploaded["content_type"], "text/plain");
    assert_eq!(uploaded["size"], notes.len());
    assert_eq!(uploaded["message_ids"], json!([]));
    let upload_id = uploaded["id"].as_str().unwrap().to_owned();
    let shown = v2.get(&format!("/files/{upload_id}")).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body, uploaded);
    let (status, content_type, disposition, bytes) = download(&v2, &upload_id).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain");
    assert!(disposition.contains("notes.txt"), "{disposition}");
    assert_eq!(bytes, notes);
    let not_multipart = v2.post("/files", json!({"file": "x"})).await;
    assert_eq!(not_multipart.status, 400, "{}", not_multipart.text);
    assert_eq!(not_multipart.body["type"], "invalid_request_error");

    // Folders: created, renamed and deleted on the mail server.
    let created = v2
        .post("/folders", json!({"display_name": "Projects81"}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.body["object"], "folder");
    assert_eq!(created.body["account_id"], account_id.as_str());
    assert_eq!(created.body["display_name"], "Projects81");
    assert_eq!(created.body["name"], Value::Null);
    let folder_id = created.body["id"].as_str().unwrap().to_owned();
    assert!(peer.mailboxes().await.contains(&"Projects81".to_owned()));
    // Python's SDK sends the whole object back.
    let renamed = v2
        .send(
            "PUT",
            &format!("/folders/{folder_id}"),
            Some(
                json!({"id": folder_id, "object": "folder", "account_id": account_id,
                        "name": null, "display_name": "Plans81"}),
            ),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["id"], folder_id.as_str());
    assert_eq!(renamed.body["display_name"], "Plans81");
    let names = peer.mailboxes().await;
    assert!(names.contains(&"Plans81".to_owned()), "{names:?}");
    assert!(!names.contains(&"Projects81".to_owned()), "{names:?}");
    let nameless = v2.post("/folders", json!({"display_name": ""})).await;
    assert_eq!(nameless.status, 400, "{}", nameless.text);
    assert_eq!(nameless.body["type"], "invalid_request_error");
    let deleted = v2.delete(&format!("/folders/{folder_id}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(!peer.mailboxes().await.contains(&"Plans81".to_owned()));
    assert_v2_not_found(&v2.get(&format!("/folders/{folder_id}")).await, "gone");
    assert_v2_not_found(
        &v2.send("PUT", "/folders/nope", Some(json!({"display_name": "X"})))
            .await,
        "rename of nothing",
    );
    assert_v2_not_found(&v2.delete("/folders/nope").await, "delete of nothing");

    // Contacts: the people of the mail, in v2's shape.
    let contacts = eventually(&v2, "/contacts", "contacts from the mail", |b| {
        b.as_array().is_some_and(|l| {
            l.iter()
                .any(|c| c["emails"][0]["email"] == "bob@example.org")
        })
    })
    .await;
    let bob = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["emails"][0]["email"] == "bob@example.org")
        .unwrap()
        .clone();
    assert_eq!(bob["object"], "contact");
    assert_eq!(bob["account_id"], account_id.as_str());
    assert_eq!(bob["given_name"], "Bob");
    assert_eq!(bob["surname"], "Stone");
    assert_eq!(
        bob["emails"],
        json!([{"type": null, "email": "bob@example.org"}])
    );
    assert_eq!(bob["phone_numbers"], json!([]));
    assert_eq!(bob["source"], "inbox");
    let bob_id = bob["id"].as_str().unwrap();
    assert_eq!(v2.get(&format!("/contacts/{bob_id}")).await.body, bob);
    assert_eq!(
        v2.get("/contacts?email=BOB%40example.org").await.body,
        json!([bob])
    );
    let count = v2.get("/contacts?view=count").await.body["count"]
        .as_u64()
        .unwrap();
    assert_eq!(count as usize, contacts.as_array().unwrap().len());
    let ids = v2.get("/contacts?view=ids&limit=1&offset=1").await;
    assert_eq!(ids.body.as_array().map(Vec::len), Some(1), "{}", ids.text);
    assert_eq!(ids.body[0], contacts[1]["id"]);
    assert_v2_not_found(&v2.get("/contacts/nope").await, "contact");

    // The calendar of invitations and its event.
    let calendars = v2.get("/calendars").await;
    assert_eq!(calendars.status, 200, "{}", calendars.text);
    let calendar = calendars.body[0].clone();
    assert_eq!(calendar["object"], "calendar");
    assert_eq!(calendar["account_id"], account_id.as_str());
    assert_eq!(calendar["read_only"], true);
    assert_eq!(calendar["is_primary"], true);
    let calendar_id = calendar["id"].as_str().unwrap().to_owned();
    assert_eq!(
        v2.get(&format!("/calendars/{calendar_id}")).await.body,
        calendar
    );
    assert_eq!(
        v2.get("/calendars?view=count").await.body,
        json!({"count": 1})
    );
    assert_v2_not_found(&v2.get("/calendars/nope").await, "calendar");
    let events = eventually(&v2, "/events", "the invitation's event", |b| {
        b.as_array().is_some_and(|l| !l.is_empty())
    })
    .await;
    let event = events[0].clone();
    assert_eq!(event["object"], "event");
    assert_eq!(event["account_id"], account_id.as_str());
    assert_eq!(event["calendar_id"], calendar_id.as_str());
    assert_eq!(event["title"], "Roadmap review");
    assert_eq!(event["location"], "Room 4");
    assert_eq!(event["read_only"], true);
    assert_eq!(event["status"], "confirmed");
    assert_eq!(event["owner"], "Ada Lovelace <ada@example.org>");
    assert_eq!(event["when"]["object"], "timespan");
    assert_eq!(event["when"]["start_time"], ROADMAP_START);
    assert_eq!(event["when"]["end_time"], ROADMAP_END);
    let ada = event["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == "ada@example.org")
        .unwrap();
    assert_eq!(ada["status"], "yes");
    assert_eq!(ada["name"], "Ada Lovelace");
    let event_id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(v2.get(&format!("/events/{event_id}")).await.body, event);
    for (query, expected) in [
        (format!("?calendar_id={calendar_id}&view=count"), 1),
        ("?title=roadmap".to_owned(), 1),
        ("?title=budget".to_owned(), 0),
        (format!("?starts_after={}", ROADMAP_START - 1), 1),
        (format!("?starts_after={ROADMAP_START}"), 0),
        (format!("?ends_before={ROADMAP_END}"), 1),
        (format!("?ends_before={}", ROADMAP_END - 1), 0),
        ("?offset=1".to_owned(), 0),
    ] {
        let reply = v2.get(&format!("/events{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        let found = reply.body["count"]
            .as_u64()
            .map(|n| n as usize)
            .or(reply.body.as_array().map(Vec::len));
        assert_eq!(found, Some(expected), "{query}: {}", reply.text);
    }
    assert_eq!(v2.get("/events?view=ids").await.body, json!([event_id]));
    assert_v2_not_found(&v2.get("/events?calendar_id=nope").await, "their calendar");
    assert_v2_not_found(&v2.get("/events/nope").await, "event");
}

/// Sends a request head over a new connection, then (with `chunked_bytes`) a chunked
/// multipart body with one file of that many bytes, written until the server stops
/// reading; returns what the server answered.
fn raw_exchange(base_url: &str, head: &str, chunked_bytes: Option<usize>) -> String {
    use std::io::{ErrorKind, Read, Write};
    let address = base_url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let sender = chunked_bytes.map(|total| {
        let mut writer = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let opening = b"--v2-upload-boundary-7d3f\r\nContent-Disposition: form-data; \
                            name=\"file\"; filename=\"big.bin\"\r\n\r\n";
            let frame =
                |data: &[u8]| [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n"].concat();
            if writer.write_all(&frame(opening)).is_err() {
                return;
            }
            let chunk = vec![b'x'; 256 * 1024];
            let mut sent = 0;
            while sent < total {
                if writer.write_all(&frame(&chunk)).is_err() {
                    return;
                }
                sent += chunk.len();
            }
        })
    });
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        let complete = text
            .split_once("\r\n\r\n")
            .is_some_and(|(_, body)| body.trim_end().ends_with('}'));
        if complete || std::time::Instant::now() > deadline {
            break;
        }
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    drop(stream);
    if let Some(sender) = sender {
        let _ = sender.join();
    }
    String::from_utf8_lossy(&seen).into_owned()
}

fn assert_refused_as_too_large(response: &str) {
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    let body: Value = response
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body.trim()).ok())
        .unwrap_or_else(|| panic!("no JSON body: {response}"));
    assert_eq!(body["type"], "invalid_request_error", "{response}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("larger than"),
        "{response}"
    );
}

/// Seed 004's 403 for a token holding only `held`.
fn assert_out_of_scope(reply: &support::Reply, held: &str, route: &str) {
    assert_eq!(reply.status, 403, "{route}: {}", reply.text);
    assert_eq!(reply.body["type"], "api_error", "{route}");
    let message = reply.body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "You do not have access to the required scopes. You provided a token which has the following scopes: {held}. You would need a token with at least one of the following scopes: ['"
        )),
        "{route}: {message}"
    );
}

#[tokio::test]
async fn uploads_stay_with_their_account_and_scopes_guard_every_route() {
    reset_user(ISOLATION_USER, true);
    let server = fast_server();
    let (app, api) = imap_app(&server, "v2 uploads").await;
    let (mine, account_id) = v2_account(
        &server,
        &app.application_id,
        &app.client_secret,
        ISOLATION_USER,
    )
    .await;
    // The same mailbox through another application is another account.
    let (other_app, _) = imap_app(&server, "v2 other").await;
    let (theirs, their_id) = v2_account(
        &server,
        &other_app.application_id,
        &other_app.client_secret,
        ISOLATION_USER,
    )
    .await;
    assert_ne!(account_id, their_id);

    let secret = b"for my account only".to_vec();
    let uploaded = upload(&mine, "secret.txt", "text/plain", &secret).await;
    let upload_id = uploaded["id"].as_str().unwrap().to_owned();
    assert_v2_not_found(
        &theirs.get(&format!("/files/{upload_id}")).await,
        "another account's upload",
    );
    let (status, _, _, _) = download(&theirs, &upload_id).await;
    assert_eq!(status, 404);
    assert_v2_not_found(
        &theirs.delete(&format!("/files/{upload_id}")).await,
        "another account's delete",
    );
    let (status, _, _, bytes) = download(&mine, &upload_id).await;
    assert_eq!((status, bytes), (200, secret));

    // An upload over the bound of a mail body is refused in v2's shape: from its
    // declared length before any of it is read, and sent without a length once the
    // bound is reached.
    let token = mine.api_key.clone().unwrap();
    let (content_type, _) = upload_body("big.bin", "application/octet-stream", b"");
    let declared = raw_exchange(
        &server.base_url,
        &format!(
            "POST /files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            MAX_UPLOAD_BODY + 1
        ),
        None,
    );
    assert_refused_as_too_large(&declared);
    let chunked = raw_exchange(
        &server.base_url,
        &format!(
            "POST /files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        Some(MAX_UPLOAD_BODY + 1024 * 1024),
    );
    assert_refused_as_too_large(&chunked);

    // Deleted, it is gone.
    let deleted = mine.delete(&format!("/files/{upload_id}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_v2_not_found(&mine.get(&format!("/files/{upload_id}")).await, "deleted");

    // Narrowed to the calendar, the token reaches no mail, files or contacts.
    let narrowed = api
        .send(
            "PATCH",
            &format!("/v3/grants/{account_id}"),
            Some(json!({"scope": ["calendar"]})),
        )
        .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text);
    let (upload_type, upload_bytes) = upload_body("a.txt", "text/plain", b"a");
    let refused = mine
        .bytes("POST", "/files", &upload_type, upload_bytes)
        .await;
    assert_out_of_scope(&refused, "['calendar']", "POST /files");
    for (method, path, body) in [
        ("GET", "/files", None),
        ("GET", "/files/nope", None),
        ("GET", "/files/nope/download", None),
        ("DELETE", "/files/nope", None),
        ("POST", "/folders", Some(json!({"display_name": "X"}))),
        ("PUT", "/folders/nope", Some(json!({"display_name": "X"}))),
        ("DELETE", "/folders/nope", None),
        ("GET", "/contacts", None),
        ("GET", "/contacts/nope", None),
    ] {
        let reply = mine.send(method, path, body).await;
        assert_out_of_scope(&reply, "['calendar']", &format!("{method} {path}"));
    }
    assert_eq!(mine.get("/calendars").await.status, 200);

    // Narrowed to mail metadata, it reaches no calendar, and no attachment's bytes.
    let narrowed = api
        .send(
            "PATCH",
            &format!("/v3/grants/{account_id}"),
            Some(json!({"scope": ["email.metadata"]})),
        )
        .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text);
    for path in [
        "/calendars",
        "/calendars/nope",
        "/events",
        "/events/nope",
        "/files/nope/download",
        "/contacts",
    ] {
        assert_out_of_scope(&mine.get(path).await, "['email.metadata']", path);
    }
    assert_out_of_scope(
        &mine.post("/folders", json!({"display_name": "X"})).await,
        "['email.metadata']",
        "POST /folders",
    );
    let files = mine.get("/files").await;
    assert_eq!(files.status, 200, "{}", files.text);
}
