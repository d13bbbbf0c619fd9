//! Recording changes mailroom itself made on the server (flags set, messages moved,
//! copied, expunged or appended), so the index shows them at once instead of after the
//! next sync pass. Sync later sees the same changes from the server; every write here is
//! idempotent with what it will record.

use mailroom_model::{GrantId, time::unix_now, v3::webhook::TriggerType};
use sqlx::{Any, Row, Transaction};

use crate::{
    address_folders::note_located_addresses,
    deletions::take_found_candidates,
    error::StoreError,
    folder_counts::{Count, count_locations},
    location_flags::change_every_copy,
    message_addresses::{Participants, replace_participants, roles_by_address},
    message_row::header_columns,
    messages::{FlagState, MessageLocation, NewMessage, apply_flag_state},
    open::Store,
    sql_filter::{Bind, SqlFilter},
    thread_summaries::TouchedThreads,
    webhook_outbox::record_notifications,
};

impl Store {
    /// Every place a message of the grant lives (usually one folder).
    pub async fn message_locations(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Vec<MessageLocation>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.folder_id, f.imap_name, l.uid, m.size, f.uid_validity FROM message_locations l \
             JOIN folders f ON f.id = l.folder_id JOIN messages m ON m.id = l.message_id \
             WHERE l.message_id = $1 AND l.grant_id = $2 ORDER BY l.folder_id, l.uid",
        )
        .bind(id)
        .bind(grant_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MessageLocation {
                    folder_id: row.try_get("folder_id")?,
                    imap_name: row.try_get("imap_name")?,
                    uid: row.try_get("uid")?,
                    size: row.try_get("size")?,
                    uid_validity: row.try_get("uid_validity")?,
                })
            })
            .collect()
    }

    /// Sets the read and starred state of a message as mailroom set it on the server,
    /// announcing `message.updated` when that changed it.
    pub async fn set_message_state(
        &self,
        grant_id: &GrantId,
        id: &str,
        unread: Option<bool>,
        starred: Option<bool>,
    ) -> Result<(), StoreError> {
        let state = FlagState {
            unread,
            starred,
            ..FlagState::default()
        };
        self.change_flag_state(grant_id, id, state).await
    }

    /// A sent draft whose copy in Drafts mailroom removed: the copy that stays (in
    /// Sent) is a message. A sync pass that read the Drafts copy while the draft was
    /// being sent may have given the message its `\Draft` state back.
    pub async fn clear_draft_state(&self, grant_id: &GrantId, id: &str) -> Result<(), StoreError> {
        let state = FlagState {
            draft: Some(false),
            ..FlagState::default()
        };
        self.change_flag_state(grant_id, id, state).await
    }

    async fn change_flag_state(
        &self,
        grant_id: &GrantId,
        id: &str,
        state: FlagState,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_grant_write(grant_id).await?;
        let Some(id) = grant_message(&mut tx, grant_id, id).await? else {
            return Ok(());
        };
        let mut touched = TouchedThreads::default();
        // The change was made to every copy on the server.
        change_every_copy(&mut tx, &id, state).await?;
        if apply_flag_state(&mut tx, &id, state, unix_now(), &mut touched).await? {
            touched.refresh(&mut tx, grant_id).await?;
            announce_updated(&mut tx, grant_id, &id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the metadata an application keeps on a message (`message.updated`).
    pub async fn set_message_metadata(
        &self,
        grant_id: &GrantId,
        id: &str,
        metadata: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_grant_write(grant_id).await?;
        let done = sqlx::query(
            "UPDATE messages SET metadata_json = $1, updated_at = $2 WHERE id = $3 AND grant_id = $4",
        )
        .bind(metadata.to_string())
        .bind(unix_now())
        .bind(id)
        .bind(grant_id.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            announce_updated(&mut tx, grant_id, id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that a message now lives at `uid` in a folder (after a copy, move or
    /// append that reported the UID): its folders changed, `message.updated`.
    pub async fn add_message_location(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
        uid: i64,
        message_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_grant_write(grant_id).await?;
        let mut touched = TouchedThreads::default();
        if let Some(row) = sqlx::query(
            "SELECT message_id FROM message_locations WHERE folder_id = $1 AND uid = $2",
        )
        .bind(folder_id)
        .bind(uid)
        .fetch_optional(&mut *tx)
        .await?
        {
            touched.message(&row.try_get::<String, _>("message_id")?);
            count_locations(&mut tx, folder_id, &[uid], Count::Out).await?;
            sqlx::query("DELETE FROM message_locations WHERE folder_id = $1 AND uid = $2")
                .bind(folder_id)
                .bind(uid)
                .execute(&mut *tx)
                .await?;
        }
        let added = sqlx::query(
            // A copy has its original's flags (RFC 3501 §6.4.7), as the message has them.
            "INSERT INTO message_locations (folder_id, uid, message_id, grant_id, date, flags) \
             SELECT $1, $2, m.id, m.grant_id, m.date, \
                 (1 - m.unread) + 2 * m.starred + 4 * m.answered + 8 * m.draft \
             FROM messages m WHERE m.id = $3 AND m.grant_id = $4",
        )
        .bind(folder_id)
        .bind(uid)
        .bind(message_id)
        .bind(grant_id.as_str())
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(());
        }
        count_locations(&mut tx, folder_id, &[uid], Count::In).await?;
        note_located_addresses(&mut tx, folder_id, &[uid]).await?;
        touched.message(message_id);
        touched.refresh(&mut tx, grant_id).await?;
        take_found_candidates(&mut tx, &[message_id.to_owned()], folder_id).await?;
        announce_updated(&mut tx, grant_id, message_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Brings the header-derived fields of an indexed message up to date, for a message
    /// replaced under the same identity (a draft saved again keeps its Message-ID).
    pub async fn refresh_message_headers(
        &self,
        id: &str,
        message: &NewMessage,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT grant_id FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(());
        };
        let grant_id = GrantId::from_stored(row.try_get("grant_id")?);
        self.serialize_grant_writes(&mut tx, &grant_id).await?;
        let mut filter = SqlFilter::default();
        let mut assignments = Vec::new();
        for (column, value) in header_columns(message)? {
            assignments.push(format!("{column} = {}", filter.placeholder(value)));
        }
        // The body is read again for the new headers.
        assignments.push("body_fetched = 0".into());
        assignments.push(format!(
            "updated_at = {}",
            filter.placeholder(Bind::Int(unix_now()))
        ));
        let target = filter.placeholder(Bind::Text(id.to_owned()));
        let sql = format!(
            "UPDATE messages SET {} WHERE id = {target}",
            assignments.join(", ")
        );
        filter.bind_to(sqlx::query(&sql)).execute(&mut *tx).await?;
        sqlx::query("UPDATE message_locations SET date = $1 WHERE message_id = $2")
            .bind(message.date)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let participants = Participants {
            message_id: id,
            date: message.date,
            roles: roles_by_address(&message.from, &message.to, &message.cc, &message.bcc),
        };
        replace_participants(&mut tx, self.engine, &grant_id, participants).await?;
        let mut touched = TouchedThreads::default();
        touched.message(id);
        touched.refresh(&mut tx, &grant_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The id of the indexed message with this identity, located or not. A Message-ID
    /// identity (`mid:…`) no message has is looked for among the messages known by
    /// another identity with that Message-ID header (a Gmail message is known by its
    /// Gmail id), the newest first.
    pub async fn message_id_by_identity(
        &self,
        grant_id: &GrantId,
        identity_key: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT id FROM messages WHERE grant_id = $1 AND identity_key = $2")
            .bind(grant_id.as_str())
            .bind(identity_key)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            return Ok(Some(row.try_get("id")?));
        }
        let Some(header) = identity_key.strip_prefix("mid:") else {
            return Ok(None);
        };
        // The condition is the partial index's (migration 0021), word for word; no ORDER
        // BY, which would have SQLite walk the grant's date index instead. A header is
        // shared by a few messages, not hundreds.
        let rows = sqlx::query(
            "SELECT id, date FROM messages WHERE grant_id = $1 AND message_id_header = $2 \
             AND identity_key NOT LIKE 'mid:%' LIMIT 100",
        )
        .bind(grant_id.as_str())
        .bind(header)
        .fetch_all(&self.pool)
        .await?;
        let mut newest: Option<(i64, String)> = None;
        for row in rows {
            let found = (row.try_get("date")?, row.try_get("id")?);
            if newest.as_ref().is_none_or(|n| found > *n) {
                newest = Some(found);
            }
        }
        Ok(newest.map(|(_, id)| id))
    }
}

/// `message.updated` for one message; the object is read when the notification goes out.
async fn announce_updated(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    id: &str,
) -> Result<(), StoreError> {
    record_notifications(
        tx,
        grant_id,
        TriggerType::MessageUpdated,
        &[(id.to_owned(), None)],
    )
    .await?;
    Ok(())
}

/// The id of a message of the grant (`None` for another grant's or an unknown id).
async fn grant_message(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    id: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT id FROM messages WHERE id = $1 AND grant_id = $2")
        .bind(id)
        .bind(grant_id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}
