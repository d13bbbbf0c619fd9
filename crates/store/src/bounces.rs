//! `message.bounce_detected` (docs/API.md §6.2): a non-delivery report read into a
//! grant's mailbox, matched by the Message-ID it returns to the message of the grant that
//! bounced, is announced once per failed recipient, when its body is first stored. A
//! report that names no message of the grant is not announced: it is not known to be one
//! of the grant's sends.

use mailroom_mime::BounceReport;
use mailroom_model::{GrantId, v3::TriggerType};
use serde_json::{Value, json};
use sqlx::{Any, Transaction};

use crate::{
    error::StoreError,
    messages::{COLUMNS, message_from_row},
    webhook_outbox::record_notifications,
};

/// Records the notifications of `report`, found in the grant's message `report_id`.
/// Returns how many were recorded.
pub(crate) async fn announce_bounce(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    report_id: &str,
    report: &BounceReport,
) -> Result<usize, StoreError> {
    let Some(original) = &report.original_message_id else {
        return Ok(0);
    };
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.grant_id = $1 AND m.identity_key = $2"
    ))
    .bind(grant_id.as_str())
    .bind(format!("mid:{original}"))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        tracing::debug!(%grant_id, report_id, "a bounce report names no message of the grant");
        return Ok(0);
    };
    let bounced = message_from_row(&row)?;
    let emails = |list: &[mailroom_model::v3::EmailName]| -> Vec<Value> {
        list.iter().map(|n| Value::from(n.email.clone())).collect()
    };
    let origin = json!({
        "id": bounced.id,
        "mime_id": original,
        "subject": bounced.subject,
        "from": bounced.from.first().map(|n| n.email.clone()),
        "to": emails(&bounced.to),
        "cc": emails(&bounced.cc),
        "bcc": emails(&bounced.bcc),
        "original_send_at": rfc3339(bounced.date),
    });
    let reported_at = report
        .reported_at
        .unwrap_or_else(mailroom_model::time::unix_now);
    let objects: Vec<(String, Option<String>)> = report
        .recipients
        .iter()
        .filter(|recipient| recipient.permanent)
        .map(|recipient| {
            let object = json!({
                "grant_id": grant_id.as_str(),
                "object": {
                    "grant_id": grant_id.as_str(),
                    "message_id": bounced.id,
                    "bounced_addresses": recipient.address,
                    "bounce_reason": recipient.reason,
                    "type": recipient.kind.as_str(),
                    "code": recipient.code,
                    "status": recipient.status,
                    "bounce_date": rfc3339(reported_at),
                    "report_message_id": report_id,
                    "origin": origin,
                },
            });
            (
                format!("{report_id}:{}", recipient.address),
                Some(object.to_string()),
            )
        })
        .collect();
    record_notifications(tx, grant_id, TriggerType::MessageBounceDetected, &objects).await
}

/// Unix seconds as an RFC 3339 UTC time.
fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
