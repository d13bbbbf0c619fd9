//! Sends scheduled for later (`send_at`). Each row holds the exact message and envelope
//! to submit, so a restart loses nothing. A row is claimed (`pending` → `sending`) by
//! one conditional UPDATE before it is sent, so two mailroom processes on one database
//! never send it twice. The claim carries an id and a lease the sender renews while the
//! submission runs; only the holder of the claim can finish it, and only while it is
//! `sending`. A send whose lease ran out (its process stopped) is reported as failed,
//! not repeated, because mailroom cannot know whether the server accepted it.

use mailroom_model::{GrantId, time::unix_now, v3::webhook::TriggerType};
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::{Engine, Store},
    sql_filter::{Bind, SqlFilter},
    webhook_outbox::record_notifications,
};

/// Grants left out of one look at the due sends, at most: a bound on the statement's
/// parameters.
const MAX_SKIPPED_GRANTS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleStatus {
    Pending,
    Sending,
    Sent,
    Failed,
    Cancelled,
}

impl ScheduleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::Pending => "pending",
            ScheduleStatus::Sending => "sending",
            ScheduleStatus::Sent => "sent",
            ScheduleStatus::Failed => "failed",
            ScheduleStatus::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "pending" => ScheduleStatus::Pending,
            "sending" => ScheduleStatus::Sending,
            "sent" => ScheduleStatus::Sent,
            "failed" => ScheduleStatus::Failed,
            "cancelled" => ScheduleStatus::Cancelled,
            other => return Err(StoreError::corrupt(format!("schedule status '{other}'"))),
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewScheduledSend {
    pub grant_id: GrantId,
    pub send_at: i64,
    pub raw_mime: Vec<u8>,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    /// The Message object to show for it; its `schedule_id` is filled in here.
    pub message: serde_json::Value,
}

/// How much a grant may have waiting to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleQuota {
    /// Sends `pending` or `sending` at once.
    pub sends: i64,
    /// Their messages' bytes together.
    pub bytes: i64,
}

impl Default for ScheduleQuota {
    fn default() -> Self {
        Self {
            sends: 100,
            bytes: 100 * 1024 * 1024,
        }
    }
}

/// What became of a request to schedule a send.
#[derive(Debug, Clone)]
pub enum Scheduling {
    Scheduled(Box<ScheduledSend>),
    /// The grant's quota would be exceeded; the reason says which part.
    OverQuota(String),
}

/// A send whose time has come, before it is claimed.
#[derive(Debug, Clone)]
pub struct DueSend {
    pub id: String,
    pub grant_id: GrantId,
    pub application_id: String,
}

#[derive(Debug, Clone)]
pub struct ScheduledSend {
    pub id: String,
    pub grant_id: GrantId,
    pub status: ScheduleStatus,
    pub send_at: i64,
    pub raw_mime: Vec<u8>,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub message: serde_json::Value,
    pub sent_message_id: Option<String>,
    pub error: Option<String>,
    pub close_time: Option<i64>,
    pub created_at: i64,
    /// Tries begun, the one under way included.
    pub attempts: i64,
    /// When the next try is due: `send_at`, or later after a temporary refusal.
    pub due_at: i64,
    /// Why the last try failed, while the send waits to be tried again.
    pub last_error: Option<String>,
}

const COLUMNS: &str = "id, grant_id, status, send_at, raw_mime, envelope_from, recipients_json, \
                       message_json, sent_message_id, error, close_time, created_at, attempts, \
                       due_at, last_error";

impl Store {
    /// Keeps a send for later, unless the grant's pending sends would then exceed
    /// `quota`. The check and the insert are one transaction.
    pub async fn schedule_send(
        &self,
        new: NewScheduledSend,
        quota: &ScheduleQuota,
    ) -> Result<Scheduling, StoreError> {
        use base64::Engine as _;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let now = unix_now();
        let mut message = new.message;
        if let Some(object) = message.as_object_mut() {
            object.insert("schedule_id".into(), serde_json::Value::String(id.clone()));
            object.insert("send_at".into(), new.send_at.into());
        }
        let size = i64::try_from(new.raw_mime.len()).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        if self.engine == Engine::Postgres {
            // Two schedules for one grant at once queue here, so both see each other.
            sqlx::query("SELECT id FROM grants WHERE id = $1 FOR UPDATE")
                .bind(new.grant_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS sends, CAST(COALESCE(SUM(message_bytes), 0) AS BIGINT) AS bytes FROM scheduled_sends \
             WHERE grant_id = $1 AND status IN ('pending', 'sending')",
        )
        .bind(new.grant_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let (sends, bytes): (i64, i64) = (row.try_get("sends")?, row.try_get("bytes")?);
        if sends >= quota.sends {
            return Ok(Scheduling::OverQuota(format!(
                "this grant already has {sends} scheduled sends waiting, the most allowed; \
                 wait for some to go out or cancel some"
            )));
        }
        if bytes.saturating_add(size) > quota.bytes {
            return Ok(Scheduling::OverQuota(format!(
                "this grant's scheduled sends waiting would hold more than {} bytes, the most allowed; \
                 wait for some to go out or cancel some",
                quota.bytes
            )));
        }
        sqlx::query(
            "INSERT INTO scheduled_sends (id, grant_id, status, send_at, due_at, raw_mime, \
                 envelope_from, recipients_json, message_json, message_bytes, created_at, updated_at) \
             VALUES ($1, $2, 'pending', $3, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&id)
        .bind(new.grant_id.as_str())
        .bind(new.send_at)
        .bind(base64::engine::general_purpose::STANDARD.encode(&new.raw_mime))
        .bind(&new.envelope_from)
        .bind(serde_json::to_string(&new.recipients).map_err(StoreError::corrupt)?)
        .bind(message.to_string())
        .bind(size)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.scheduled_send(&new.grant_id, &id)
            .await?
            .map(|send| Scheduling::Scheduled(Box::new(send)))
            .ok_or_else(|| StoreError::corrupt("a scheduled send vanished after insert"))
    }

    pub async fn scheduled_send(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Option<ScheduledSend>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM scheduled_sends WHERE grant_id = $1 AND id = $2"
        ))
        .bind(grant_id.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(schedule_from_row).transpose()
    }

    /// A grant's scheduled sends, newest first.
    pub async fn scheduled_sends(
        &self,
        grant_id: &GrantId,
    ) -> Result<Vec<ScheduledSend>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM scheduled_sends WHERE grant_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(grant_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    /// Cancels a send that has not started. Returns false if it is no longer pending.
    pub async fn cancel_scheduled_send(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<bool, StoreError> {
        let now = unix_now();
        let done = sqlx::query(
            "UPDATE scheduled_sends SET status = 'cancelled', close_time = $1, updated_at = $1 \
             WHERE grant_id = $2 AND id = $3 AND status = 'pending'",
        )
        .bind(now)
        .bind(grant_id.as_str())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Pending sends due at `now`, oldest first, leaving out those of `skip_grants` (a
    /// send of theirs is under way), with the application each belongs to.
    pub async fn due_scheduled_sends(
        &self,
        now: i64,
        limit: i64,
        skip_grants: &[GrantId],
    ) -> Result<Vec<DueSend>, StoreError> {
        let mut filter = SqlFilter::default();
        filter.clause("s.status = 'pending'".into());
        filter.compare("s.due_at", "<=", Bind::Int(now));
        if !skip_grants.is_empty() {
            let skipped: Vec<String> = skip_grants
                .iter()
                .take(MAX_SKIPPED_GRANTS)
                .map(|id| filter.placeholder(Bind::Text(id.to_string())))
                .collect();
            filter.clause(format!("s.grant_id NOT IN ({})", skipped.join(", ")));
        }
        let where_sql = filter.where_sql();
        let limit = filter.placeholder(Bind::Int(limit));
        let sql = format!(
            "SELECT s.id AS id, s.grant_id AS grant_id, g.application_id AS application_id \
             FROM scheduled_sends s JOIN grants g ON g.id = s.grant_id{where_sql} \
             ORDER BY s.due_at, s.id LIMIT {limit}"
        );
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DueSend {
                    id: row.try_get("id")?,
                    grant_id: GrantId::from_stored(row.try_get("grant_id")?),
                    application_id: row.try_get("application_id")?,
                })
            })
            .collect()
    }

    /// When the next pending send is due.
    pub async fn next_scheduled_send_at(&self) -> Result<Option<i64>, StoreError> {
        let row =
            sqlx::query("SELECT MIN(due_at) AS next FROM scheduled_sends WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<Option<i64>, _>("next")?)
    }

    /// Takes a pending send for sending, for `lease_secs`, counting the try. Only one
    /// caller ever gets the claim id, which renewing and finishing the send then need.
    pub async fn claim_scheduled_send(
        &self,
        id: &str,
        lease_secs: i64,
    ) -> Result<Option<String>, StoreError> {
        let claim = uuid::Uuid::new_v4().simple().to_string();
        let now = unix_now();
        let done = sqlx::query(
            "UPDATE scheduled_sends SET status = 'sending', claim_id = $1, lease_until = $2, \
                 updated_at = $3, attempts = attempts + 1 \
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(&claim)
        .bind(now.saturating_add(lease_secs))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok((done.rows_affected() == 1).then_some(claim))
    }

    /// Extends the lease of a send under way. False when the claim is no longer held
    /// (its lease ran out and the send was failed as interrupted).
    pub async fn renew_scheduled_send(
        &self,
        id: &str,
        claim: &str,
        lease_secs: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE scheduled_sends SET lease_until = $1 \
             WHERE id = $2 AND claim_id = $3 AND status = 'sending'",
        )
        .bind(unix_now().saturating_add(lease_secs))
        .bind(id)
        .bind(claim)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how a claimed send ended, announced `message.send_success` (its object,
    /// read when the notification goes out, holds the copy filed in Sent) or
    /// `message.send_failed` (`reason`, `error` and the message as scheduled). Only the
    /// holder of `claim` can, and only while the send is `sending`: false otherwise,
    /// and nothing is recorded.
    pub async fn finish_scheduled_send(
        &self,
        id: &str,
        claim: &str,
        outcome: Result<Option<&str>, &str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let finished = finish(&mut tx, id, outcome, Guard::Claim(claim)).await?;
        tx.commit().await?;
        Ok(finished)
    }

    /// Puts a claimed send back to wait for another try at `due_at`, after a temporary
    /// refusal (`error`); nothing is announced. Only the holder of `claim` can, while
    /// the send is `sending`: false otherwise.
    pub async fn retry_scheduled_send(
        &self,
        id: &str,
        claim: &str,
        error: &str,
        due_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE scheduled_sends SET status = 'pending', claim_id = NULL, lease_until = NULL, \
                 due_at = $1, last_error = $2, updated_at = $3 \
             WHERE id = $4 AND claim_id = $5 AND status = 'sending'",
        )
        .bind(due_at)
        .bind(error)
        .bind(unix_now())
        .bind(id)
        .bind(claim)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sends left `sending` past their lease by a process that stopped mid-way: whether
    /// the server took them is unknown, so they are failed with that said, never sent
    /// twice. A send whose lease is renewed is never touched. Rows claimed before leases
    /// existed count as leased for ten minutes from their claim.
    pub async fn fail_interrupted_sends(&self, now: i64) -> Result<u64, StoreError> {
        let stuck = sqlx::query(
            "SELECT id FROM scheduled_sends WHERE status = 'sending' \
             AND COALESCE(lease_until, updated_at + 600) < $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut failed = 0;
        for row in &stuck {
            let id: String = row.try_get("id")?;
            let mut tx = self.begin_write().await?;
            if finish(
                &mut tx,
                &id,
                Err("mailroom stopped while submitting this message; it may or may not have been sent"),
                Guard::LeaseEndedBefore(now),
            )
            .await?
            {
                failed += 1;
            }
            tx.commit().await?;
        }
        Ok(failed)
    }
}

/// Who may end a send that is `sending`.
enum Guard<'a> {
    /// The holder of this claim.
    Claim(&'a str),
    /// Anyone, once its lease ended before this time.
    LeaseEndedBefore(i64),
}

/// Ends a send that is `sending`, if `guard` allows, and records its notification.
/// False when it was not ended.
async fn finish(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    outcome: Result<Option<&str>, &str>,
    guard: Guard<'_>,
) -> Result<bool, StoreError> {
    let now = unix_now();
    let (status, sent_id, error) = match outcome {
        Ok(sent_id) => (ScheduleStatus::Sent, sent_id, None),
        Err(error) => (ScheduleStatus::Failed, None, Some(error)),
    };
    let condition = match guard {
        Guard::Claim(_) => "claim_id = $6",
        Guard::LeaseEndedBefore(_) => "COALESCE(lease_until, updated_at + 600) < $6",
    };
    let statement = format!(
        "UPDATE scheduled_sends SET status = $1, sent_message_id = $2, error = $3, close_time = $4, \
             updated_at = $4 WHERE id = $5 AND status = 'sending' AND {condition}"
    );
    let query = sqlx::query(&statement)
        .bind(status.as_str())
        .bind(sent_id)
        .bind(error)
        .bind(now)
        .bind(id);
    let query = match guard {
        Guard::Claim(claim) => query.bind(claim),
        Guard::LeaseEndedBefore(before) => query.bind(before),
    };
    if query.execute(&mut **tx).await?.rows_affected() != 1 {
        return Ok(false);
    }
    let row =
        sqlx::query("SELECT grant_id, message_json, send_at FROM scheduled_sends WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(row) = row {
        let grant_id = GrantId::from_stored(row.try_get("grant_id")?);
        let notice = match error {
            // The sent copy is read when the notification goes out.
            None => (TriggerType::MessageSendSuccess, (id.to_owned(), None)),
            Some(error) => {
                let text: String = row.try_get("message_json")?;
                let message = scheduled_message(&text, id, &grant_id, row.try_get("send_at")?);
                let object = serde_json::json!({
                    "grant_id": grant_id.as_str(),
                    "reason": error,
                    "error": {"type": "api.provider_error", "message": error},
                    "object": message,
                });
                (
                    TriggerType::MessageSendFailed,
                    (id.to_owned(), Some(object.to_string())),
                )
            }
        };
        record_notifications(tx, &grant_id, notice.0, &[notice.1]).await?;
    }
    Ok(true)
}

/// A scheduled message as notifications carry it: what was asked for, with its ids.
pub fn scheduled_message(
    message_json: &str,
    schedule_id: &str,
    grant_id: &GrantId,
    send_at: i64,
) -> serde_json::Value {
    let mut message: serde_json::Value =
        serde_json::from_str(message_json).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(fields) = message.as_object_mut() {
        fields.insert("id".into(), schedule_id.into());
        fields.insert("schedule_id".into(), schedule_id.into());
        fields.insert("send_at".into(), send_at.into());
        fields.insert("grant_id".into(), grant_id.as_str().into());
        fields.insert("object".into(), "message".into());
    }
    message
}

fn schedule_from_row(row: &sqlx::any::AnyRow) -> Result<ScheduledSend, StoreError> {
    use base64::Engine as _;
    let raw: String = row.try_get("raw_mime")?;
    let recipients: String = row.try_get("recipients_json")?;
    let message: String = row.try_get("message_json")?;
    let status: String = row.try_get("status")?;
    Ok(ScheduledSend {
        id: row.try_get("id")?,
        grant_id: GrantId::from_stored(row.try_get("grant_id")?),
        status: ScheduleStatus::parse(&status)?,
        send_at: row.try_get("send_at")?,
        raw_mime: base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(StoreError::corrupt)?,
        envelope_from: row.try_get("envelope_from")?,
        recipients: serde_json::from_str(&recipients).map_err(StoreError::corrupt)?,
        message: serde_json::from_str(&message).map_err(StoreError::corrupt)?,
        sent_message_id: row.try_get("sent_message_id")?,
        error: row.try_get("error")?,
        close_time: row.try_get("close_time")?,
        created_at: row.try_get("created_at")?,
        attempts: row.try_get("attempts")?,
        due_at: row
            .try_get::<Option<i64>, _>("due_at")?
            .map_or_else(|| row.try_get("send_at"), Ok)?,
        last_error: row.try_get("last_error")?,
    })
}
