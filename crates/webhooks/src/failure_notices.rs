//! The failure-notice worker: emails a webhook's `notification_email_addresses` when it
//! has been marked `failed` (docs/API.md §6.3), through the operator's notification
//! mailer (`notification_smtp_url`, README.md "Configuration"). The store records one
//! notice per address in the transaction that marks the webhook failed; this worker
//! claims each with a lease, submits a short plain-text message, and marks it sent. A
//! temporary SMTP failure (RFC 5321 §4.2.1: a 4xx reply, or no connection) is retried
//! with exponential backoff a bounded number of times; anything else gives the notice up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mail_builder::{MessageBuilder, headers::message_id::MessageId};
use mailroom_model::time::unix_now;
use mailroom_net::OutboundPolicy;
use mailroom_smtp::{SmtpAuth, SmtpError, SmtpServer, SmtpSession, SmtpTls};
use mailroom_store::{FailureNotice, Store};

/// Where failure notices are submitted and whom they come from: the operator's
/// `notification_smtp_url` and `notification_from`.
#[derive(Clone)]
pub struct NotificationMailer {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// The user name and password, when the server wants a login (AUTH PLAIN or LOGIN).
    pub login: Option<(String, String)>,
    /// The address notices come from (envelope and `From:`).
    pub from: String,
}

// The password stays out of `Debug`, so that no log line can carry it.
impl std::fmt::Debug for NotificationMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationMailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.login.as_ref().map(|(user, _)| user))
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct NoticeSettings {
    /// How often the store is looked at for notices to send.
    pub poll: Duration,
    /// The first retry of a temporary failure waits this long, each next one twice as
    /// long.
    pub retry_base: Duration,
    /// Tries of one notice in all, the first included.
    pub attempts: u32,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        Self {
            // Notices are rare: a look a second is prompt enough and costs nothing.
            poll: Duration::from_secs(1),
            retry_base: Duration::from_secs(60),
            // 1 + 2 + 4 + 8 + 16 minutes of waits: about half an hour in all.
            attempts: 6,
        }
    }
}

/// Notices looked at in one round.
const DUE_PER_ROUND: i64 = 32;

#[derive(Clone)]
pub struct FailureNotices {
    pub store: Store,
    pub policy: OutboundPolicy,
    /// `None` without a configured mailer: notices recorded earlier are given up.
    pub mailer: Option<NotificationMailer>,
    pub settings: NoticeSettings,
}

impl FailureNotices {
    /// Runs until the store closes, sending one notice after another.
    pub async fn run(self) {
        loop {
            match self
                .store
                .due_failure_notices(unix_now(), DUE_PER_ROUND)
                .await
            {
                Ok(due) => {
                    for notice in due {
                        match self.store.claim_failure_notice(&notice, self.lease()).await {
                            Ok(true) => self.send(notice).await,
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "webhooks: could not claim a failure notice")
                            }
                        }
                    }
                }
                Err(_) if self.store.is_closed() => return,
                Err(e) => tracing::warn!(error = %e, "webhooks: could not read failure notices"),
            }
            tokio::time::sleep(self.settings.poll).await;
        }
    }

    /// A lease outlasting one submission's own bounds (connect and login, then the data).
    fn lease(&self) -> i64 {
        i64::try_from((self.submission_deadline() + Duration::from_secs(30)).as_secs())
            .unwrap_or(i64::MAX)
    }

    fn submission_deadline(&self) -> Duration {
        self.policy.timeout() * 6
    }

    async fn send(&self, notice: FailureNotice) {
        let outcome = match &self.mailer {
            Some(mailer) => self.submit(mailer, &notice).await,
            None => Err(Failure {
                reason: "no notification mailer is configured (notification_smtp_url)".into(),
                temporary: false,
            }),
        };
        let recorded = match outcome {
            Ok(()) => {
                tracing::info!(
                    webhook_id = %notice.webhook_id,
                    notice_id = %notice.id,
                    "webhook failure notice sent"
                );
                self.store.failure_notice_sent(&notice).await
            }
            Err(failure) => {
                let retry_at = self.retry_at(&notice, failure.temporary);
                tracing::warn!(
                    webhook_id = %notice.webhook_id,
                    notice_id = %notice.id,
                    attempt = notice.attempts + 1,
                    retry_at,
                    reason = %failure.reason,
                    "webhook failure notice not sent"
                );
                self.store
                    .failure_notice_failed(&notice, retry_at, &failure.reason)
                    .await
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the notice is tried again.
            tracing::warn!(error = %e, "webhooks: could not record a failure notice's outcome");
        }
    }

    /// When to try a notice again after a failure, or `None` to give it up.
    fn retry_at(&self, notice: &FailureNotice, temporary: bool) -> Option<i64> {
        retry_wait(&self.settings, notice.attempts, temporary)
            .map(|wait| unix_now() + wait.as_secs().max(1) as i64)
    }

    async fn submit(
        &self,
        mailer: &NotificationMailer,
        notice: &FailureNotice,
    ) -> Result<(), Failure> {
        let message = notice_message(&mailer.from, notice).map_err(|reason| Failure {
            reason,
            temporary: false,
        })?;
        let server = SmtpServer {
            host: &mailer.host,
            port: mailer.port,
            tls: mailer.tls,
            username: mailer.login.as_ref().map_or("", |(user, _)| user),
        };
        let auth = match &mailer.login {
            Some((_, password)) => SmtpAuth::Password(password),
            None => SmtpAuth::None,
        };
        let recipients = [notice.recipient.clone()];
        let submission = async {
            let mut session = SmtpSession::open_with(&self.policy, server, auth).await?;
            let (outcome, _) = session
                .submit(&self.policy, server, &mailer.from, &recipients, &message)
                .await;
            if outcome.is_ok() {
                session.quit(&self.policy).await;
            }
            outcome.map(|_| ())
        };
        match tokio::time::timeout(self.submission_deadline(), submission).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::from_smtp(&e)),
            Err(_) => Err(Failure {
                reason: format!(
                    "the mail server took longer than {} s",
                    self.submission_deadline().as_secs()
                ),
                // Cut off mid-transaction, the message may have gone: not sent twice.
                temporary: false,
            }),
        }
    }
}

/// How long to wait after a failure of a notice tried `attempts` times before, or `None`
/// to give it up: a permanent failure is not retried, nor one past the last attempt.
fn retry_wait(settings: &NoticeSettings, attempts: i64, temporary: bool) -> Option<Duration> {
    let tried = u32::try_from(attempts.saturating_add(1)).unwrap_or(u32::MAX);
    if !temporary || tried >= settings.attempts {
        return None;
    }
    Some(settings.retry_base.saturating_mul(1 << (tried - 1).min(20)))
}

struct Failure {
    reason: String,
    temporary: bool,
}

impl Failure {
    fn from_smtp(e: &SmtpError) -> Self {
        Failure {
            reason: e.to_string(),
            temporary: e.is_temporary(),
        }
    }
}

/// The notice as a plain-text message (RFC 5322) from `from` to its recipient. It names
/// the webhook, its URL, its status and the last error, and how to switch it back on;
/// never its secret.
pub fn notice_message(from: &str, notice: &FailureNotice) -> Result<Vec<u8>, String> {
    let domain = from.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let failed_at = DateTime::<Utc>::from_timestamp(notice.failed_at, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| notice.failed_at.to_string());
    let failure = match notice.failure.trim() {
        "" => "(none recorded)",
        text => text,
    };
    let text = format!(
        "mailroom gave up delivering a notification to one of your webhooks and has marked\r\n\
         it failed. It receives no notifications until it is set active again.\r\n\
         \r\n\
         Webhook:      {id}\r\n\
         Callback URL: {url}\r\n\
         Status:       failed\r\n\
         Failed at:    {failed_at}\r\n\
         Last error:   {failure}\r\n\
         \r\n\
         To re-activate it once the receiver answers again, send\r\n\
         \r\n\
         \x20   PUT /v3/webhooks/{id}\r\n\
         \x20   {{\"status\": \"active\"}}\r\n\
         \r\n\
         with the application's API key. mailroom checks the URL with a challenge first\r\n\
         (GET {url}?challenge=...), which must be answered with the challenge value.\r\n\
         \r\n\
         You receive this because this address is among the webhook's\r\n\
         notification_email_addresses.\r\n",
        id = notice.webhook_id,
        url = notice.webhook_url,
    );
    MessageBuilder::new()
        .from(from)
        .to(notice.recipient.as_str())
        .subject(format!("Webhook {} failed", notice.webhook_id))
        .message_id(MessageId::new(format!("{}@{domain}", notice.id)))
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-generated"),
        )
        .text_body(text)
        .write_to_vec()
        .map_err(|e| format!("the notice could not be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> FailureNotice {
        FailureNotice {
            id: "0190abc".into(),
            webhook_id: "wh-1".into(),
            recipient: "ops@example.test".into(),
            webhook_url: "https://hooks.example.test/in".into(),
            failure: "the receiver answered 500".into(),
            failed_at: 1_700_000_000,
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: 0,
            last_error: None,
            sent_at: None,
        }
    }

    #[test]
    fn the_notice_names_the_webhook_its_url_status_and_error() {
        let message = notice_message("mailroom@example.test", &notice()).unwrap();
        let text = String::from_utf8(message).unwrap();
        for expected in [
            "From: <mailroom@example.test>",
            "To: <ops@example.test>",
            "Subject: Webhook wh-1 failed",
            "Message-ID: <0190abc@example.test>",
            "Auto-Submitted: auto-generated",
            "Callback URL: https://hooks.example.test/in",
            "Status:       failed",
            "Last error:   the receiver answered 500",
            "PUT /v3/webhooks/wh-1",
            "{\"status\": \"active\"}",
            "2023-11-14T22:13:20+00:00",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn only_temporary_failures_are_retried_and_not_for_ever() {
        let settings = NoticeSettings {
            poll: Duration::from_secs(1),
            retry_base: Duration::from_secs(10),
            attempts: 3,
        };
        let wait = |attempts, temporary| retry_wait(&settings, attempts, temporary);
        assert_eq!(wait(0, true), Some(Duration::from_secs(10)));
        assert_eq!(wait(1, true), Some(Duration::from_secs(20)));
        assert_eq!(wait(2, true), None);
        assert_eq!(wait(0, false), None);
        assert_eq!(wait(i64::MAX, true), None);
    }
}
