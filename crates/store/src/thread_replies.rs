//! `thread.replied`: new mail from someone else in a thread the grant wrote to. IMAP has
//! no tracking pixels, so a reply is what the mailbox itself shows: an arrival whose
//! thread holds a message sent from the grant's own address.

use mailroom_model::{GrantId, v3::webhook::TriggerType};
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use crate::{error::StoreError, webhook_outbox::record_notifications};

/// Records a `thread.replied` notification for each of `arrived` (messages just
/// announced `message.created`) that answers a thread the grant took part in.
pub(crate) async fn record_thread_replies(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    arrived: &[String],
) -> Result<(), StoreError> {
    if arrived.is_empty() {
        return Ok(());
    }
    let Some(own) = sqlx::query("SELECT email FROM grants WHERE id = $1")
        .bind(grant_id.as_str())
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(());
    };
    let own: String = own.try_get("email")?;
    // `from_emails` is a space-separated, space-delimited list of lowercase addresses.
    let own_pattern = format!("% {} %", own.trim().to_lowercase());
    let mut replies = Vec::new();
    for id in arrived {
        let Some(row) = sqlx::query(
            "SELECT thread_id, date FROM messages WHERE id = $1 AND from_emails NOT LIKE $2",
        )
        .bind(id)
        .bind(&own_pattern)
        .fetch_optional(&mut **tx)
        .await?
        else {
            continue;
        };
        let thread_id: String = row.try_get("thread_id")?;
        let date: i64 = row.try_get("date")?;
        let Some(root) = sqlx::query(
            "SELECT id FROM messages WHERE grant_id = $1 AND thread_id = $2 AND from_emails LIKE $3 \
             ORDER BY date, id LIMIT 1",
        )
        .bind(grant_id.as_str())
        .bind(&thread_id)
        .bind(&own_pattern)
        .fetch_optional(&mut **tx)
        .await?
        else {
            continue;
        };
        let root_id: String = root.try_get("id")?;
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE grant_id = $1 AND thread_id = $2 \
             AND from_emails NOT LIKE $3",
        )
        .bind(grant_id.as_str())
        .bind(&thread_id)
        .bind(&own_pattern)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
        let object = json!({
            "object": "thread",
            "grant_id": grant_id.as_str(),
            "thread_id": thread_id,
            "message_id": id,
            "root_message_id": root_id,
            "reply_to_message_id": root_id,
            "reply_data": {"count": count},
            "timestamp": date,
            "from_self": false,
        });
        replies.push((id.clone(), Some(object.to_string())));
    }
    record_notifications(tx, grant_id, TriggerType::ThreadReplied, &replies).await?;
    Ok(())
}
