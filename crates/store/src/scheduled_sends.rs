//! Sends scheduled for later (`send_at`). Each row holds the exact message and envelope
//! to submit, so a restart loses nothing. A row is claimed (`pending` → `sending`) by
//! one conditional UPDATE before it is sent, so two mailroom processes on one database
//! never send it twice; a send interrupted mid-way is reported as failed, not repeated,
//! because mailroom cannot know whether the server accepted it.

use mailroom_model::{GrantId, time::unix_now, v3::webhook::TriggerType};
use sqlx::Row;

use crate::{error::StoreError, open::Store, webhook_outbox::record_notifications};

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
}

const COLUMNS: &str = "id, grant_id, status, send_at, raw_mime, envelope_from, recipients_json, \
                       message_json, sent_message_id, error, close_time, created_at";

impl Store {
    pub async fn schedule_send(&self, new: NewScheduledSend) -> Result<ScheduledSend, StoreError> {
        use base64::Engine as _;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let now = unix_now();
        let mut message = new.message;
        if let Some(object) = message.as_object_mut() {
            object.insert("schedule_id".into(), serde_json::Value::String(id.clone()));
            object.insert("send_at".into(), new.send_at.into());
        }
        sqlx::query(
            "INSERT INTO scheduled_sends (id, grant_id, status, send_at, raw_mime, envelope_from, \
                 recipients_json, message_json, created_at, updated_at) \
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&id)
        .bind(new.grant_id.as_str())
        .bind(new.send_at)
        .bind(base64::engine::general_purpose::STANDARD.encode(&new.raw_mime))
        .bind(&new.envelope_from)
        .bind(serde_json::to_string(&new.recipients).map_err(StoreError::corrupt)?)
        .bind(message.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.scheduled_send(&new.grant_id, &id)
            .await?
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

    /// Pending sends due at `now`, oldest first.
    pub async fn due_scheduled_sends(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<ScheduledSend>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM scheduled_sends WHERE status = 'pending' AND send_at <= $1 \
             ORDER BY send_at, id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    /// When the next pending send is due.
    pub async fn next_scheduled_send_at(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(send_at) AS next FROM scheduled_sends WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>("next")?)
    }

    /// Takes a pending send for sending. Only one caller ever gets `true`.
    pub async fn claim_scheduled_send(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE scheduled_sends SET status = 'sending', updated_at = $1 WHERE id = $2 AND status = 'pending'",
        )
        .bind(unix_now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how a claimed send ended, announced `message.send_success` (its object,
    /// read when the notification goes out, holds the copy filed in Sent) or
    /// `message.send_failed` (`reason`, `error` and the message as scheduled).
    pub async fn finish_scheduled_send(
        &self,
        id: &str,
        outcome: Result<Option<&str>, &str>,
    ) -> Result<(), StoreError> {
        let now = unix_now();
        let (status, sent_id, error) = match outcome {
            Ok(sent_id) => (ScheduleStatus::Sent, sent_id, None),
            Err(error) => (ScheduleStatus::Failed, None, Some(error)),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE scheduled_sends SET status = $1, sent_message_id = $2, error = $3, close_time = $4, \
                 updated_at = $4 WHERE id = $5",
        )
        .bind(status.as_str())
        .bind(sent_id)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT grant_id, message_json, send_at FROM scheduled_sends WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
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
            record_notifications(&mut tx, &grant_id, notice.0, &[notice.1]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sends left `sending` by a process that stopped mid-way: whether the server took
    /// them is unknown, so they are failed with that said, never sent twice. `older_than`
    /// spares sends another live process has just claimed.
    pub async fn fail_interrupted_sends(&self, older_than: i64) -> Result<u64, StoreError> {
        let stuck = sqlx::query(
            "SELECT id FROM scheduled_sends WHERE status = 'sending' AND updated_at < $1",
        )
        .bind(older_than)
        .fetch_all(&self.pool)
        .await?;
        for row in &stuck {
            let id: String = row.try_get("id")?;
            self.finish_scheduled_send(
                &id,
                Err("mailroom stopped while submitting this message; it may or may not have been sent"),
            )
            .await?;
        }
        Ok(stuck.len() as u64)
    }
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
    })
}
