//! Sending mail and drafts against the real testbed: a sent message reaches the
//! recipient's mailbox with its attachments byte for byte, is filed in the sender's Sent
//! folder and joins its thread; refusals by the SMTP server come back with its words;
//! drafts live in Drafts and are sent from there; a scheduled send survives a restart.

use std::time::Duration;

use crate::support::{
    Api, Mailroom, connect_grant, eventually,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
};
use base64::Engine;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

const SENDER: u32 = 31;
const RECIPIENT: u32 = 32;

fn fast_server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

fn address(user: u32) -> String {
    format!("user{user}@example.test")
}

/// Bytes that survive only an exact, binary-safe round trip.
fn binary_content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

/// Waits until a mailbox of `user` holds a message with this subject; returns it raw.
async fn arrived(user: u32, folder: &str, subject: &str) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut peer = ImapPeer::login(user).await;
        let found = peer.raw_by_subject(folder, subject).await;
        peer.logout().await;
        if let Some(raw) = found {
            return raw;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "'{subject}' did not arrive in {folder} of user{user}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn id_of(api: &Api, grant: &str, subject: &str) -> Value {
    let body = eventually(
        api,
        &format!("/v3/grants/{grant}/messages?limit=200"),
        subject,
        |b| {
            b["data"]
                .as_array()
                .is_some_and(|l| l.iter().any(|m| m["subject"] == subject))
        },
    )
    .await;
    body["data"]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["subject"] == subject))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn folder_id(api: &Api, grant: &str, name: &str) -> String {
    let body = api.get(&format!("/v3/grants/{grant}/folders")).await.body;
    body["data"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == name))
        .and_then(|f| f["id"].as_str())
        .unwrap_or_else(|| panic!("no folder {name}: {body}"))
        .to_owned()
}

#[tokio::test]
async fn a_reply_with_attachments_arrives_intact_is_filed_in_sent_and_joins_its_thread() {
    reset_user(SENDER, false);
    reset_user(RECIPIENT, false);
    let mut peer = ImapPeer::login(SENDER).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "lunch@send",
            "Lunch?",
            &address(RECIPIENT),
            None,
            "Shall we?",
        ),
    )
    .await;
    let server = fast_server();
    let (api, grant) = connect_grant(&server, SENDER).await;
    let original = id_of(&api, &grant, "Lunch?").await;
    let pdf = binary_content(300_000);
    let reply = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({
                "to": [{"email": address(RECIPIENT), "name": "Ræcipient"}],
                "bcc": [{"email": format!("user{SENDER}+bcc@example.test")}],
                "subject": "Re: Lunch? — ja gerne",
                "body": "<p>Yes, <b>noon</b>.</p>",
                "reply_to_message_id": original["id"],
                "custom_headers": [{"name": "X-Mailroom-Test", "value": "reply-1"}],
                "attachments": [{
                    "filename": "menü.pdf",
                    "content_type": "application/pdf",
                    "content": base64::engine::general_purpose::STANDARD.encode(&pdf),
                    "size": pdf.len(),
                }],
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let sent = &reply.body["data"];
    assert_eq!(reply.body["grant_id"], grant.as_str());
    assert_eq!(sent["object"], "message");
    assert_eq!(sent["thread_id"], original["thread_id"], "{sent}");
    let sent_folder = folder_id(&api, &grant, "Sent").await;
    // (The Bcc copy to the sender's own Inbox may already be indexed under the same id.)
    assert!(
        sent["folders"]
            .as_array()
            .is_some_and(|f| f.contains(&json!(sent_folder))),
        "{sent}"
    );
    assert_eq!(sent["attachments"][0]["filename"], "menü.pdf");

    // The recipient got it, attachment byte for byte, threaded, with the custom header.
    let raw = arrived(RECIPIENT, "INBOX", "ja gerne").await;
    let parsed = MessageParser::default().parse(&raw[..]).expect("parses");
    let attachment = parsed.attachments().next().expect("an attachment");
    assert_eq!(attachment.attachment_name(), Some("menü.pdf"));
    assert_eq!(attachment.contents(), &pdf[..]);
    assert_eq!(parsed.in_reply_to().as_text(), Some("lunch@send"));
    assert_eq!(
        parsed.header("X-Mailroom-Test").and_then(|h| h.as_text()),
        Some("reply-1")
    );
    assert!(parsed.bcc().is_none());

    // The sender's Sent folder has it, Bcc shown to its author only; the Bcc copy
    // arrived; the original is marked answered.
    let filed = arrived(SENDER, "Sent", "ja gerne").await;
    let filed = MessageParser::default().parse(&filed[..]).expect("parses");
    assert!(filed.bcc().is_some(), "the Sent copy keeps its Bcc");
    let blind = arrived(SENDER, "INBOX", "ja gerne").await;
    let blind = MessageParser::default().parse(&blind[..]).expect("parses");
    assert!(blind.bcc().is_none());
    assert!(
        peer.flags_of("INBOX", "lunch@send")
            .await
            .contains(&"\\Answered".to_owned())
    );
    let thread = api
        .get(&format!(
            "/v3/grants/{grant}/threads/{}",
            original["thread_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(
        thread.body["data"]["message_ids"].as_array().map(Vec::len),
        Some(2),
        "{}",
        thread.text
    );
    peer.logout().await;
}

#[tokio::test]
async fn multipart_and_raw_mime_sends_arrive_and_smtp_refusals_are_reported() {
    reset_user(33, false);
    let server = fast_server();
    let (api, grant) = connect_grant(&server, 33).await;
    let send = format!("/v3/grants/{grant}/messages/send");

    // Multipart as the Python SDK sends it: a JSON part with filename="" and a file part.
    let big = binary_content(4 * 1024 * 1024 + 17);
    let boundary = "mailroom-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"message\"; filename=\"\"\r\n\
             Content-Type: application/json\r\n\r\n{}\r\n",
            json!({"to": [{"email": address(33)}], "subject": "Multipart big", "body": "see attached"})
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file0\"; filename=\"data.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&big);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let reply = api
        .bytes(
            "POST",
            &send,
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let raw = arrived(33, "INBOX", "Multipart big").await;
    let parsed = MessageParser::default().parse(&raw[..]).expect("parses");
    let attachment = parsed.attachments().next().expect("an attachment");
    assert_eq!(attachment.attachment_name(), Some("data.bin"));
    assert_eq!(attachment.contents().len(), big.len());
    assert!(attachment.contents() == &big[..], "attachment bytes differ");

    // Raw MIME goes out unchanged.
    let mime = format!(
        "From: <{}>\r\nTo: <{}>\r\nSubject: Raw as is\r\nMessage-ID: <raw-1@send>\r\nX-Raw: kept\r\n\r\nRaw body.\r\n",
        address(33),
        address(33)
    );
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"mime\"; filename=\"message.eml\"\r\n\
             Content-Type: message/rfc822\r\n\r\n{mime}\r\n--{boundary}--\r\n"
        )
        .as_bytes(),
    );
    let reply = api
        .bytes(
            "POST",
            &format!("{send}?type=mime"),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let raw = arrived(33, "INBOX", "Raw as is").await;
    let parsed = MessageParser::default().parse(&raw[..]).expect("parses");
    assert_eq!(
        parsed.header("X-Raw").and_then(|h| h.as_text()),
        Some("kept")
    );
    assert_eq!(parsed.message_id(), Some("raw-1@send"));

    // An unknown local user is refused at RCPT: a clear provider error, nothing filed.
    let reply = api
        .post(
            &send,
            json!({"to": [{"email": "nobody-here@example.test"}], "subject": "Never sent", "body": "x"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error_type(), "api.provider_error");
    assert!(
        reply.error_message().contains("550") || reply.error_message().contains("5.1.1"),
        "{}",
        reply.text
    );
    let mut peer = ImapPeer::login(33).await;
    assert!(peer.raw_by_subject("Sent", "Never sent").await.is_none());
    peer.logout().await;
    // The SMTP session kept for the grant was reset after the refusal and still sends.
    let reply = api
        .post(
            &send,
            json!({"to": [{"email": address(33)}], "subject": "After the refusal", "body": "x"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    arrived(33, "INBOX", "After the refusal").await;

    // Malformed requests are refused with a reason and send nothing.
    for bad in [
        json!({"subject": "no recipients", "body": "x"}),
        json!({"to": [{"email": "not an address"}], "subject": "bad"}),
        json!({"to": [{"email": address(33)}], "custom_headers": [{"name": "Bcc", "value": "x@example.test"}]}),
        json!({"to": [{"email": address(33)}], "attachments": [{"filename": "a", "content_type": "text/plain", "content": "***"}]}),
    ] {
        let reply = api.post(&send, bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
        assert!(!reply.error_message().is_empty());
    }
    let reply = api
        .raw("POST", &send, "application/json", "{not json")
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
}

#[tokio::test]
async fn drafts_are_saved_updated_and_sent_from_the_drafts_folder() {
    reset_user(34, false);
    reset_user(35, false);
    let server = fast_server();
    let (api, grant) = connect_grant(&server, 34).await;
    let drafts = format!("/v3/grants/{grant}/drafts");
    let notes = b"draft attachment \x00\x01\xff".to_vec();
    let reply = api
        .post(
            &drafts,
            json!({
                "to": [{"email": address(34)}],
                "bcc": [{"email": address(35)}],
                "subject": "Draft one",
                "body": "<p>first version</p>",
                "starred": true,
                "attachments": [{
                    "filename": "notes.bin", "content_type": "application/octet-stream",
                    "content": base64::engine::general_purpose::STANDARD.encode(&notes),
                }],
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let draft = reply.body["data"].clone();
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(draft["object"], "draft");
    assert_eq!(draft["grant_id"], grant.as_str());
    assert_eq!(draft["starred"], true);
    assert_eq!(draft["bcc"][0]["email"], address(35));
    let drafts_folder = folder_id(&api, &grant, "Drafts").await;
    assert_eq!(draft["folders"], json!([drafts_folder]));

    // On the server: in Drafts, flagged as a draft, Bcc kept for the author.
    let raw = arrived(34, "Drafts", "Draft one").await;
    let parsed = MessageParser::default().parse(&raw[..]).expect("parses");
    assert!(parsed.bcc().is_some());
    let listed = api.get(&drafts).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(listed.body["data"].as_array().is_some_and(|l| {
        l.iter()
            .any(|d| d["id"] == id.as_str() && d["object"] == "draft")
    }));

    // Update: the subject changes, the id and the attachment stay, one copy on the server.
    let reply = api
        .send(
            "PUT",
            &format!("{drafts}/{id}"),
            Some(json!({"subject": "Draft two"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["id"], id.as_str());
    assert_eq!(reply.body["data"]["subject"], "Draft two");
    assert_eq!(
        reply.body["data"]["attachments"][0]["filename"],
        "notes.bin"
    );
    let mut peer = ImapPeer::login(34).await;
    assert!(peer.raw_by_subject("Drafts", "Draft one").await.is_none());
    assert!(peer.raw_by_subject("Drafts", "Draft two").await.is_some());
    let got = api.get(&format!("{drafts}/{id}")).await;
    assert_eq!(got.body["data"]["subject"], "Draft two");
    assert!(
        got.body["data"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("first version"))
    );

    // Send it: it leaves Drafts, arrives without Bcc, the Bcc recipient gets it too.
    let reply = api
        .raw("POST", &format!("{drafts}/{id}"), "application/json", "{}")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["object"], "message");
    assert_eq!(reply.body["data"]["id"], id.as_str());
    let raw = arrived(34, "INBOX", "Draft two").await;
    let parsed = MessageParser::default().parse(&raw[..]).expect("parses");
    assert!(parsed.bcc().is_none(), "the sent message shows its Bcc");
    assert_eq!(
        parsed.attachments().next().map(|a| a.contents().to_vec()),
        Some(notes)
    );
    arrived(35, "INBOX", "Draft two").await;
    arrived(34, "Sent", "Draft two").await;
    assert!(peer.raw_by_subject("Drafts", "Draft two").await.is_none());
    assert_eq!(api.get(&format!("{drafts}/{id}")).await.status, 404);

    // A new draft deleted is gone from the server.
    let reply = api.post(&drafts, json!({"subject": "Scrap"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let scrap = reply.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(api.delete(&format!("{drafts}/{scrap}")).await.status, 200);
    assert!(peer.raw_by_subject("Drafts", "Scrap").await.is_none());
    assert_eq!(api.get(&format!("{drafts}/{scrap}")).await.status, 404);

    // A draft written as multipart, as the SDKs do for large attachments.
    let photo = binary_content(1_000_003);
    let boundary = "draft-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{}\r\n",
            json!({"to": [{"email": address(35)}], "subject": "Multipart draft"})
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file0\"; filename=\"photo.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let reply = api
        .bytes(
            "POST",
            &drafts,
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["object"], "draft");
    assert_eq!(
        reply.body["data"]["attachments"][0]["filename"],
        "photo.jpg"
    );
    let raw = arrived(34, "Drafts", "Multipart draft").await;
    let parsed = MessageParser::default().parse(&raw[..]).expect("parses");
    let attachment = parsed.attachments().next().expect("an attachment");
    assert!(
        attachment.contents() == &photo[..],
        "draft attachment bytes differ"
    );
    peer.logout().await;
}

#[tokio::test]
async fn a_scheduled_send_survives_a_restart_and_a_cancelled_one_never_goes() {
    reset_user(36, false);
    let server = fast_server();
    let (api, grant) = connect_grant(&server, 36).await;
    let send = format!("/v3/grants/{grant}/messages/send");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let reply = api
        .post(
            &send,
            json!({"to": [{"email": address(36)}], "subject": "Later", "body": "scheduled", "send_at": now + 8}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let schedule = reply.body["data"]["schedule_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(reply.body["data"]["send_at"], now + 8);
    let reply = api
        .post(
            &send,
            json!({"to": [{"email": address(36)}], "subject": "Cancelled", "body": "x", "send_at": now + 3600}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let cancelled = reply.body["data"]["schedule_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let reply = api
        .delete(&format!(
            "/v3/grants/{grant}/messages/schedules/{cancelled}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body["data"]["message"].is_string());

    let listed = api
        .get(&format!("/v3/grants/{grant}/messages/schedules"))
        .await;
    let codes: Vec<(String, String)> = listed.body["data"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|s| {
                    (
                        s["schedule_id"].as_str().unwrap_or_default().to_owned(),
                        s["status"]["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        codes.contains(&(schedule.clone(), "pending".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(cancelled.clone(), "cancelled".into())),
        "{codes:?}"
    );

    // Restart before it is due: the schedule is kept and the message goes after all.
    let app_key = api.api_key.clone().unwrap_or_default();
    let server = server.restart();
    let api = server.client(&app_key);
    arrived(36, "INBOX", "Later").await;
    let done = eventually(
        &api,
        &format!("/v3/grants/{grant}/messages/schedules/{schedule}"),
        "the schedule to be sent",
        |b| b["data"]["status"]["code"] == "sent",
    )
    .await;
    assert!(done["data"]["close_time"].is_i64());
    let mut peer = ImapPeer::login(36).await;
    assert!(peer.raw_by_subject("INBOX", "Cancelled").await.is_none());
    peer.logout().await;
    let reply = api
        .delete(&format!("/v3/grants/{grant}/messages/schedules/{schedule}"))
        .await;
    assert_eq!(
        reply.status, 400,
        "a sent schedule cannot be cancelled: {}",
        reply.text
    );
}
