//! Submitting a message: one mail transaction on an authenticated connection.
//!
//! The envelope goes first (MAIL, then one RCPT per recipient); the message is handed
//! over with DATA only once the server has accepted all of it. A refused recipient ends
//! the transaction before DATA, so a message goes to all its recipients or to none.
//! Every wait is bounded: each envelope step by the policy timeout, the message itself
//! by a time that grows with its size.
//!
//! The transaction runs on a connection it is given, so a submitter that keeps a
//! grant's connection open between messages can reuse it (after a refusal such a
//! submitter sends RSET; after any other error it drops the connection).

use std::{borrow::Cow, future::Future, time::Duration};

use lettre::{
    Address,
    transport::smtp::{
        Error as LettreError,
        client::AsyncSmtpConnection,
        commands::{Data, Mail, Rcpt},
        extension::{Extension, MailBodyParameter, MailParameter},
        response::Response,
    },
};
use mailroom_net::{NetError, OutboundPolicy};

use crate::{
    error::SmtpError,
    open_sessions::OpenConnection,
    submission::{SmtpAuth, SmtpServer, authenticated_connection, classify, source_chain},
};

/// The slowest upload a message is given time for; the DATA wait grows with its size.
const MIN_UPLOAD_BYTES_PER_SECOND: u64 = 64 * 1024;

/// The server's final answer to an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitReceipt {
    /// The reply code, e.g. `250`.
    pub code: String,
    /// The reply text, e.g. `2.0.0 Ok: queued as 4VxYz`.
    pub reply: String,
}

/// Connects, logs in and submits `message` to `recipients`, then quits. The message is
/// sent as given except for line endings, which SMTP requires to be CRLF: bare CR and
/// LF are converted, so no byte sequence in a message can end its DATA early.
pub async fn submit(
    policy: &OutboundPolicy,
    server: SmtpServer<'_>,
    password: &str,
    envelope_from: &str,
    recipients: &[String],
    message: &[u8],
) -> Result<SubmitReceipt, SmtpError> {
    let envelope = SmtpEnvelope::new(envelope_from, recipients)?;
    let message = crlf_line_endings(message);
    let mut connection =
        authenticated_connection(policy, server, SmtpAuth::Password(password)).await?;
    let _open = OpenConnection::count();
    let outcome = send_transaction(&mut connection, policy, server, &envelope, &message).await;
    // After a success or a refusal the server is answering and a QUIT ends the session
    // cleanly; after anything else the connection's state is unknown and it is dropped.
    if matches!(outcome, Ok(_) | Err(SmtpError::Refused { .. })) {
        let _ = tokio::time::timeout(policy.timeout(), connection.quit()).await;
    }
    if let Ok(receipt) = &outcome {
        tracing::debug!(
            host = server.host,
            recipients = envelope.recipients.len(),
            reply = %receipt.reply,
            "message submitted"
        );
    }
    outcome
}

/// A checked envelope: addresses SMTP can carry, at least one recipient, each once.
pub(crate) struct SmtpEnvelope {
    from: Address,
    recipients: Vec<Address>,
}

impl SmtpEnvelope {
    pub(crate) fn new(from: &str, recipients: &[String]) -> Result<Self, SmtpError> {
        let parse = |address: &str| {
            address.trim().parse::<Address>().map_err(|e| {
                SmtpError::InvalidEnvelope(format!(
                    "'{}' is not an address SMTP can carry: {e}",
                    address.chars().take(320).collect::<String>()
                ))
            })
        };
        let from = parse(from)?;
        let mut unique: Vec<Address> = Vec::with_capacity(recipients.len());
        for recipient in recipients {
            let address = parse(recipient)?;
            if !unique
                .iter()
                .any(|known| text(known).eq_ignore_ascii_case(text(&address)))
            {
                unique.push(address);
            }
        }
        if unique.is_empty() {
            return Err(SmtpError::InvalidEnvelope("it has no recipients".into()));
        }
        Ok(Self {
            from,
            recipients: unique,
        })
    }

    fn needs_smtputf8(&self) -> bool {
        std::iter::once(&self.from)
            .chain(&self.recipients)
            .any(|address| !text(address).is_ascii())
    }
}

fn text(address: &Address) -> &str {
    <Address as AsRef<str>>::as_ref(address)
}

/// MAIL, RCPT for each recipient, DATA and the message, on a logged-in connection.
pub(crate) async fn send_transaction(
    connection: &mut AsyncSmtpConnection,
    policy: &OutboundPolicy,
    server: SmtpServer<'_>,
    envelope: &SmtpEnvelope,
    message: &[u8],
) -> Result<SubmitReceipt, SmtpError> {
    let mut parameters = Vec::new();
    if envelope.needs_smtputf8() {
        if !connection
            .server_info()
            .supports_feature(Extension::SmtpUtfEight)
        {
            return Err(SmtpError::InvalidEnvelope(
                "an address is not ASCII and the SMTP server does not offer SMTPUTF8".into(),
            ));
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !message.is_ascii() {
        if !connection
            .server_info()
            .supports_feature(Extension::EightBitMime)
        {
            return Err(SmtpError::InvalidEnvelope(
                "the message has 8-bit content and the SMTP server does not offer 8BITMIME".into(),
            ));
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }

    let step = policy.timeout();
    let mail = Mail::new(Some(envelope.from.clone()), parameters);
    envelope_step(server, step, None, connection.command(mail)).await?;
    for recipient in &envelope.recipients {
        let rcpt = Rcpt::new(recipient.clone(), Vec::new());
        envelope_step(server, step, Some(recipient), connection.command(rcpt)).await?;
    }
    envelope_step(server, step, None, connection.command(Data)).await?;

    // lettre ends the data with CRLF "." CRLF; a final CRLF of the message is that one.
    let data = message.strip_suffix(b"\r\n").unwrap_or(message);
    let limit = data_timeout(policy, message.len());
    match tokio::time::timeout(limit, connection.message(data)).await {
        Ok(Ok(reply)) => Ok(receipt(&reply)),
        Ok(Err(e)) => {
            Err(refusal(&e, None).unwrap_or_else(|| SmtpError::Unconfirmed(source_chain(&e))))
        }
        Err(_) => Err(SmtpError::Unconfirmed(format!(
            "{}:{} gave no answer within {} s",
            server.host,
            server.port,
            limit.as_secs()
        ))),
    }
}

/// One envelope command, bounded by `limit`; a negative reply is a refusal.
async fn envelope_step(
    server: SmtpServer<'_>,
    limit: Duration,
    recipient: Option<&Address>,
    command: impl Future<Output = Result<Response, LettreError>>,
) -> Result<Response, SmtpError> {
    match tokio::time::timeout(limit, command).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(e)) => Err(refusal(&e, recipient).unwrap_or_else(|| classify(e, server.host))),
        Err(_) => Err(SmtpError::Net(NetError::Timeout {
            host: server.host.to_owned(),
            port: server.port,
            seconds: limit.as_secs(),
        })),
    }
}

/// The refusal a 4xx/5xx reply carries, if the error is one.
fn refusal(e: &LettreError, recipient: Option<&Address>) -> Option<SmtpError> {
    let code = e.status()?;
    let text = std::error::Error::source(e)
        .map(|inner| inner.to_string())
        .unwrap_or_default();
    Some(SmtpError::Refused {
        code: code.to_string(),
        text,
        permanent: e.is_permanent(),
        recipient: recipient.map(|r| r.to_string()),
    })
}

fn receipt(reply: &Response) -> SubmitReceipt {
    SubmitReceipt {
        code: reply.code().to_string(),
        reply: reply.message().collect::<Vec<_>>().join(" "),
    }
}

/// Twice the policy timeout (for the server's checks after the data) plus the time
/// the upload takes at the slowest rate allowed for.
fn data_timeout(policy: &OutboundPolicy, size: usize) -> Duration {
    let upload = (size as u64).div_ceil(MIN_UPLOAD_BYTES_PER_SECOND);
    policy.timeout() * 2 + Duration::from_secs(upload)
}

/// The message with every line ending CRLF. A bare LF or CR could otherwise be read
/// by a lax server as the end of a line, and "\n.\n" as the end of the data.
pub(crate) fn crlf_line_endings(message: &[u8]) -> Cow<'_, [u8]> {
    let clean = message.iter().enumerate().all(|(at, &byte)| match byte {
        b'\n' => at > 0 && message[at - 1] == b'\r',
        b'\r' => message.get(at + 1) == Some(&b'\n'),
        _ => true,
    });
    if clean {
        return Cow::Borrowed(message);
    }
    let mut normalized = Vec::with_capacity(message.len() + message.len() / 32);
    let mut bytes = message.iter().peekable();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'\r' => {
                normalized.extend_from_slice(b"\r\n");
                bytes.next_if_eq(&&b'\n');
            }
            b'\n' => normalized.extend_from_slice(b"\r\n"),
            other => normalized.push(other),
        }
    }
    Cow::Owned(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_net::PolicySettings;

    #[test]
    fn line_endings_become_crlf_and_clean_messages_are_not_copied() {
        assert!(matches!(crlf_line_endings(b"a\r\nb\r\n"), Cow::Borrowed(_)));
        assert_eq!(
            crlf_line_endings(b"a\nb\rc\r\n.\nd\r\r\n").as_ref(),
            b"a\r\nb\r\nc\r\n.\r\nd\r\n\r\n"
        );
        assert_eq!(crlf_line_endings(b"").as_ref(), b"");
        assert_eq!(crlf_line_endings(b"\n").as_ref(), b"\r\n");
    }

    #[test]
    fn the_envelope_is_checked_before_connecting() {
        let envelope = SmtpEnvelope::new(
            "me@example.test",
            &[
                "a@example.test".into(),
                "A@Example.test".into(),
                " b@example.test ".into(),
            ],
        )
        .unwrap();
        assert_eq!(envelope.recipients.len(), 2);
        assert!(!envelope.needs_smtputf8());
        assert!(matches!(
            SmtpEnvelope::new("me@example.test", &[]),
            Err(SmtpError::InvalidEnvelope(_))
        ));
        for bad in ["not an address", "a@b>\r\nRCPT TO:<x@y", ""] {
            assert!(
                matches!(
                    SmtpEnvelope::new("me@example.test", &[bad.into()]),
                    Err(SmtpError::InvalidEnvelope(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            SmtpEnvelope::new("bad from", &["a@example.test".into()]),
            Err(SmtpError::InvalidEnvelope(_))
        ));
        let international = SmtpEnvelope::new("me@example.test", &["jürgen@example.test".into()]);
        assert!(international.is_ok_and(|e| e.needs_smtputf8()));
    }

    #[test]
    fn the_data_wait_grows_with_the_message() {
        let policy = OutboundPolicy::new(PolicySettings {
            timeout: Duration::from_secs(10),
            ..PolicySettings::default()
        })
        .unwrap();
        assert_eq!(data_timeout(&policy, 0), Duration::from_secs(20));
        assert_eq!(data_timeout(&policy, 1), Duration::from_secs(21));
        assert_eq!(
            data_timeout(&policy, 25 * 1024 * 1024),
            Duration::from_secs(20 + 400)
        );
    }

    #[test]
    fn a_refusal_names_the_recipient_and_the_reply() {
        let error = SmtpError::Refused {
            code: "550".into(),
            text: "5.1.1 <nobody@example.test>: Recipient address rejected".into(),
            permanent: true,
            recipient: Some("nobody@example.test".into()),
        };
        assert_eq!(
            error.to_string(),
            "the SMTP server refused the recipient nobody@example.test: 550 5.1.1 <nobody@example.test>: Recipient address rejected"
        );
        assert!(error.is_refusal());
    }

    /// A scripted SMTP server on loopback (no TLS): records every line it reads.
    mod fake_server {
        use std::sync::{Arc, Mutex};

        use tokio::{
            io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
            net::TcpListener,
        };

        pub struct Script {
            /// RCPT addresses containing this are refused with a 550.
            pub refuse_recipient: &'static str,
            /// The reply to MAIL.
            pub mail_reply: &'static str,
            /// The reply after the data; `None`: never answer.
            pub final_reply: Option<&'static str>,
        }

        pub const ACCEPTING: Script = Script {
            refuse_recipient: "nobody@",
            mail_reply: "250 2.1.0 Ok",
            final_reply: Some("250 2.0.0 Ok: queued as ABC123"),
        };

        #[derive(Clone, Default)]
        pub struct Transcript(Arc<Mutex<Vec<Vec<u8>>>>);

        impl Transcript {
            pub fn lines(&self) -> Vec<String> {
                self.0
                    .lock()
                    .map(|l| {
                        l.iter()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            }

            pub fn commands(&self) -> Vec<String> {
                self.lines()
                    .iter()
                    .filter_map(|l| l.split_whitespace().next().map(str::to_ascii_uppercase))
                    .collect()
            }

            /// The bytes between DATA's 354 and the final ".", as they crossed the wire.
            pub fn data(&self) -> Vec<u8> {
                let lines = self.0.lock().map(|l| l.clone()).unwrap_or_default();
                let start = lines.iter().position(|l| l == b"DATA\r\n").map(|i| i + 1);
                let Some(start) = start else {
                    return Vec::new();
                };
                lines[start..]
                    .iter()
                    .take_while(|l| l.as_slice() != b".\r\n")
                    .flatten()
                    .copied()
                    .collect()
            }
        }

        pub async fn start(script: Script) -> (u16, Transcript) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let transcript = Transcript::default();
            let record = transcript.clone();
            tokio::spawn(async move {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                let _ = write.write_all(b"220 fake ESMTP\r\n").await;
                let mut in_data = false;
                loop {
                    let mut line = Vec::new();
                    match read.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if let Ok(mut lines) = record.0.lock() {
                        lines.push(line.clone());
                    }
                    let text = String::from_utf8_lossy(&line).to_ascii_uppercase();
                    let reply: String = if in_data {
                        if line != b".\r\n" {
                            continue;
                        }
                        in_data = false;
                        match script.final_reply {
                            Some(reply) => reply.into(),
                            None => std::future::pending().await,
                        }
                    } else if text.starts_with("EHLO") {
                        "250-fake\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8".into()
                    } else if text.starts_with("AUTH") {
                        "235 2.7.0 Authentication successful".into()
                    } else if text.starts_with("MAIL") {
                        script.mail_reply.into()
                    } else if text.starts_with("RCPT") {
                        if text.contains(&script.refuse_recipient.to_ascii_uppercase()) {
                            "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown".into()
                        } else {
                            "250 2.1.5 Ok".into()
                        }
                    } else if text.starts_with("DATA") {
                        in_data = true;
                        "354 End data with <CR><LF>.<CR><LF>".into()
                    } else if text.starts_with("QUIT") {
                        let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
                        return;
                    } else {
                        "250 Ok".into()
                    };
                    if write
                        .write_all(format!("{reply}\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
            (port, transcript)
        }
    }

    fn loopback_policy() -> OutboundPolicy {
        OutboundPolicy::new(PolicySettings {
            allow_private_hosts: true,
            allow_insecure_transport: true,
            timeout: Duration::from_secs(1),
            ..PolicySettings::default()
        })
        .unwrap()
    }

    async fn submit_to(
        port: u16,
        recipients: &[&str],
        message: &[u8],
    ) -> Result<SubmitReceipt, SmtpError> {
        let server = SmtpServer {
            host: "127.0.0.1",
            port,
            tls: crate::SmtpTls::Plain,
            username: "user",
        };
        let recipients: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
        submit(
            &loopback_policy(),
            server,
            "secret",
            "me@example.test",
            &recipients,
            message,
        )
        .await
    }

    #[tokio::test]
    async fn a_message_is_sent_dot_stuffed_with_crlf_line_endings() {
        let (port, transcript) = fake_server::start(fake_server::ACCEPTING).await;
        let message = b"Subject: hi\n\n.leading dot\r\nlast line\n";
        let receipt = submit_to(port, &["a@example.test", "b@example.test"], message)
            .await
            .unwrap();
        assert_eq!(receipt.code, "250");
        assert_eq!(receipt.reply, "2.0.0 Ok: queued as ABC123");
        assert_eq!(
            transcript.commands(),
            [
                "EHLO",
                "AUTH",
                "MAIL",
                "RCPT",
                "RCPT",
                "DATA",
                "SUBJECT:",
                "..LEADING",
                "LAST",
                ".",
                "QUIT"
            ]
        );
        assert_eq!(
            transcript.data(),
            b"Subject: hi\r\n\r\n..leading dot\r\nlast line\r\n"
        );
    }

    #[tokio::test]
    async fn a_refused_recipient_stops_the_transaction_before_data() {
        let (port, transcript) = fake_server::start(fake_server::ACCEPTING).await;
        let error = submit_to(
            port,
            &["a@example.test", "nobody@example.test"],
            b"Subject: x\r\n\r\nbody\r\n",
        )
        .await
        .unwrap_err();
        match error {
            SmtpError::Refused {
                code,
                text,
                permanent,
                recipient,
            } => {
                assert_eq!(code, "550");
                assert!(text.contains("Recipient address rejected"), "{text}");
                assert!(permanent);
                assert_eq!(recipient.as_deref(), Some("nobody@example.test"));
            }
            other => panic!("{other:?}"),
        }
        let commands = transcript.commands();
        assert!(!commands.contains(&"DATA".to_owned()), "{commands:?}");
        assert_eq!(commands.last().map(String::as_str), Some("QUIT"));
    }

    /// The error submitting a one-line message to a server following `script`.
    async fn failure_with(script: fake_server::Script) -> SmtpError {
        let (port, _) = fake_server::start(script).await;
        submit_to(port, &["a@example.test"], b"x\r\n")
            .await
            .expect_err("the submission should fail")
    }

    #[tokio::test]
    async fn a_refused_sender_is_a_temporary_refusal_without_a_recipient() {
        let error = failure_with(fake_server::Script {
            mail_reply: "451 4.3.0 Try again later",
            ..fake_server::ACCEPTING
        })
        .await;
        assert!(
            matches!(&error, SmtpError::Refused { code, permanent: false, recipient: None, .. } if code == "451"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_message_refused_after_its_data_is_a_refusal() {
        let error = failure_with(fake_server::Script {
            final_reply: Some("554 5.7.1 Message rejected as spam"),
            ..fake_server::ACCEPTING
        })
        .await;
        assert!(
            matches!(&error, SmtpError::Refused { code, permanent: true, recipient: None, text } if code == "554" && text.contains("spam")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn silence_after_the_data_is_unconfirmed() {
        let error = failure_with(fake_server::Script {
            final_reply: None,
            ..fake_server::ACCEPTING
        })
        .await;
        assert!(matches!(error, SmtpError::Unconfirmed(_)), "{error:?}");
    }
}
