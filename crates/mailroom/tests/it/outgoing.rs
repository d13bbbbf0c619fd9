//! Outgoing mail end to end, below the HTTP API: a message built by `mailroom_mime` and
//! submitted by `mailroom_smtp` through the testbed's Postfix (submission, STARTTLS,
//! AUTH) arrives in Dovecot with its headers and attachment bytes intact, and a refused
//! recipient stops the whole message. Testbed user 19 sends and receives.

use std::time::Duration;

use async_imap::{Client, Session};
use futures::TryStreamExt;
use mailroom_mime::{
    BuiltMessage, EmailName, OutgoingAttachment, OutgoingMessage, build_message,
    envelope_recipients,
};
use mailroom_net::{OutboundPolicy, PolicySettings};
use mailroom_smtp::{SmtpError, SmtpServer, SmtpTls, SubmitReceipt, submit};
use tokio::net::TcpStream;

use crate::support::Testbed;

const USER: u32 = 19;

/// The policy mailroom runs with against the testbed (`support::testbed_env`).
fn testbed_policy() -> OutboundPolicy {
    let testbed = Testbed::get();
    let ca = std::fs::read(&testbed.ca_file).expect("read the testbed CA");
    OutboundPolicy::new(PolicySettings {
        allow_private_hosts: true,
        allow_insecure_transport: true,
        timeout: Duration::from_secs(3),
        extra_ca_pem: Some(ca),
        ..PolicySettings::default()
    })
    .expect("outbound policy")
}

fn submission_server(username: &str) -> SmtpServer<'_> {
    SmtpServer {
        host: "localhost",
        port: Testbed::get().submission_port,
        tls: SmtpTls::StartTls,
        username,
    }
}

fn address(name: Option<&str>, email: &str) -> EmailName {
    EmailName {
        name: name.map(str::to_owned),
        email: email.to_owned(),
    }
}

fn unique(label: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{label}-{nanos}-{}", std::process::id())
}

fn now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

async fn imap_login(user: u32) -> Session<TcpStream> {
    let (email, password) = Testbed::user(user);
    let tcp = TcpStream::connect(("127.0.0.1", Testbed::get().imap_port))
        .await
        .expect("connect to the testbed IMAP port");
    let mut client = Client::new(tcp);
    client.read_response().await.expect("IMAP greeting");
    client
        .login(email, password)
        .await
        .map_err(|(e, _)| e)
        .expect("IMAP login")
}

/// The bytes of the message with this Message-ID in INBOX, if it is there now.
async fn fetch_by_message_id(
    session: &mut Session<TcpStream>,
    message_id: &str,
) -> Option<Vec<u8>> {
    session.select("INBOX").await.expect("SELECT INBOX");
    let uids = session
        .uid_search(format!("HEADER Message-ID \"{message_id}\""))
        .await
        .expect("UID SEARCH");
    let uid = uids.iter().min()?;
    let fetches: Vec<_> = session
        .uid_fetch(uid.to_string(), "BODY.PEEK[]")
        .await
        .expect("UID FETCH")
        .try_collect()
        .await
        .expect("UID FETCH responses");
    fetches.iter().find_map(|f| f.body().map(<[u8]>::to_vec))
}

/// Waits (deadline 20 s) for the message with this Message-ID to reach INBOX.
async fn wait_for_delivery(session: &mut Session<TcpStream>, message_id: &str) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(raw) = fetch_by_message_id(session, message_id).await {
            return raw;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {message_id} was not delivered within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Builds `message` and submits it as user 19 with `password`.
async fn build_and_submit(
    message: &OutgoingMessage<'_>,
    password: &str,
) -> (BuiltMessage, Result<SubmitReceipt, SmtpError>) {
    let built = build_message(message).expect("build");
    let (email, _) = Testbed::user(USER);
    let outcome = submit(
        &testbed_policy(),
        submission_server(&email),
        password,
        &email,
        &envelope_recipients(message),
        &built.bytes,
    )
    .await;
    (built, outcome)
}

/// A short text message from and to user 19.
fn simple_message<'a>(
    from: &'a EmailName,
    to: &'a [EmailName],
    subject: &'a str,
) -> OutgoingMessage<'a> {
    OutgoingMessage {
        from,
        to,
        cc: &[],
        bcc: &[],
        reply_to: &[],
        include_bcc: false,
        subject: Some(subject),
        body: Some("plain"),
        is_plaintext: true,
        attachments: &[],
        in_reply_to: None,
        references: &[],
        custom_headers: &[],
        message_id: None,
        message_id_domain: "example.test",
        date: now(),
    }
}

#[tokio::test]
async fn a_built_message_arrives_with_its_headers_and_attachment_bytes_intact() {
    let (email, password) = Testbed::user(USER);
    let token = unique("outgoing");
    let from = address(Some("Nineteen Ünïcode"), &email);
    let to = vec![address(Some("Nineteen"), &email)];
    // A +tag address delivers to the same INBOX: the Bcc copy arrives without the header.
    let bcc = vec![address(
        Some("Hidden"),
        &format!("user{USER}+bcc@example.test"),
    )];
    let binary: Vec<u8> = (0..=255u8).cycle().take(300 * 1024).collect();
    let awkward_text = b"lone\rcarriage\0nul\nbare lf\r\n.\r\ndot line \r\n".to_vec();
    let attachments = vec![
        OutgoingAttachment {
            filename: Some("bytes 0-255 – Übersicht.bin".into()),
            content_type: "application/octet-stream".into(),
            content: binary.clone(),
            content_id: None,
            inline: false,
        },
        OutgoingAttachment {
            filename: Some("notes.txt".into()),
            content_type: "text/plain".into(),
            content: awkward_text.clone(),
            content_id: None,
            inline: false,
        },
        OutgoingAttachment {
            filename: Some("logo.png".into()),
            content_type: "image/png".into(),
            content: vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a],
            content_id: Some("logo@mailroom".into()),
            inline: true,
        },
    ];
    let custom_headers = vec![("X-Mailroom-Test".to_owned(), token.clone())];
    let references = vec!["root@example.test".to_owned()];
    let subject = format!("Grüße aus Köln 🎉 {token}");
    let body = format!(r#"<p>Hallo <b>{token}</b></p><img src="cid:logo@mailroom">"#);
    let message = OutgoingMessage {
        from: &from,
        to: &to,
        cc: &[],
        bcc: &bcc,
        reply_to: &[],
        include_bcc: false,
        subject: Some(&subject),
        body: Some(&body),
        is_plaintext: false,
        attachments: &attachments,
        in_reply_to: Some("parent@example.test"),
        references: &references,
        custom_headers: &custom_headers,
        message_id: None,
        message_id_domain: "example.test",
        date: now(),
    };
    assert_eq!(envelope_recipients(&message).len(), 2);
    let (built, outcome) = build_and_submit(&message, &password).await;
    let receipt = outcome.expect("submit");
    assert_eq!(receipt.code, "250", "{receipt:?}");

    let mut imap = imap_login(USER).await;
    let raw = wait_for_delivery(&mut imap, &built.message_id).await;
    let _ = imap.logout().await;

    let parsed = mailroom_mime::parse_message(&raw);
    let headers = &parsed.headers;
    assert_eq!(headers.subject.as_deref(), Some(subject.as_str()));
    assert_eq!(headers.from, vec![from.clone()]);
    assert_eq!(headers.to, to);
    assert!(headers.bcc.is_empty(), "no Bcc header reaches a recipient");
    assert_eq!(
        headers.message_id.as_deref(),
        Some(built.message_id.as_str())
    );
    assert_eq!(headers.in_reply_to, vec!["parent@example.test"]);
    assert_eq!(
        headers.references,
        vec!["root@example.test", "parent@example.test"]
    );
    assert!(
        headers
            .headers
            .iter()
            .any(|(name, value)| name == "X-Mailroom-Test" && *value == token),
        "custom header missing"
    );
    assert!(parsed.body_html.contains(&format!("<b>{token}</b>")));

    assert_eq!(parsed.attachments.len(), 3, "{:?}", parsed.attachments);
    let content = |filename: &str| {
        let info = parsed
            .attachments
            .iter()
            .find(|a| a.filename.as_deref() == Some(filename))
            .unwrap_or_else(|| panic!("no attachment {filename}: {:?}", parsed.attachments));
        mailroom_mime::attachment_content(&raw, info.index)
            .expect("attachment content")
            .1
    };
    assert!(
        content("bytes 0-255 – Übersicht.bin") == binary,
        "binary attachment changed in transit"
    );
    assert_eq!(content("notes.txt"), awkward_text);
    assert_eq!(
        content("logo.png"),
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]
    );
    let logo = parsed
        .attachments
        .iter()
        .find(|a| a.filename.as_deref() == Some("logo.png"))
        .expect("logo");
    assert_eq!(logo.content_id.as_deref(), Some("logo@mailroom"));
    assert!(logo.is_inline);
}

#[tokio::test]
async fn a_refused_recipient_is_reported_and_nothing_is_delivered() {
    let (email, password) = Testbed::user(USER);
    let from = address(None, &email);
    let to = vec![address(None, &email), address(None, "nobody@example.test")];
    let subject = unique("refused");
    let message = simple_message(&from, &to, &subject);
    let (refused, outcome) = build_and_submit(&message, &password).await;
    let error = outcome.expect_err("a recipient that does not exist is refused");
    match &error {
        SmtpError::Refused {
            code,
            text,
            permanent,
            recipient,
        } => {
            assert!(code.starts_with('5'), "{error}");
            assert!(*permanent, "{error}");
            assert_eq!(recipient.as_deref(), Some("nobody@example.test"));
            assert!(text.contains("nobody@example.test"), "{error}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Once a later message has arrived, the refused one would have too, had any copy
    // of it (even user 19's) been accepted.
    let marker_subject = unique("after-refusal");
    let only_me = vec![address(None, &email)];
    let marker_message = simple_message(&from, &only_me, &marker_subject);
    let (marker, outcome) = build_and_submit(&marker_message, &password).await;
    outcome.expect("submit the marker");
    let mut imap = imap_login(USER).await;
    wait_for_delivery(&mut imap, &marker.message_id).await;
    assert!(
        fetch_by_message_id(&mut imap, &refused.message_id)
            .await
            .is_none(),
        "the refused message reached user 19"
    );
    let _ = imap.logout().await;
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_failure() {
    let (email, _) = Testbed::user(USER);
    let from = address(None, &email);
    let to = vec![address(None, &email)];
    let message = simple_message(&from, &to, "never sent");
    let (_, outcome) = build_and_submit(&message, "wrong password").await;
    let error = outcome.expect_err("a wrong password is refused");
    assert!(error.is_authentication(), "{error:?}");
}
