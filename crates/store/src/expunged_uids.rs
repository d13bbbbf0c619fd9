//! UIDs that left a folder, remembered a while (migration 0030): a sync pass that listed
//! the folder before mailroom expunged or moved a message (or before it vanished) must not
//! index it again when its write lands after the removal. Without this, a draft just sent
//! could reappear in Drafts until the next pass.

use std::collections::HashSet;

use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::{Engine, Store},
    sql_batch::value_rows,
    sql_filter::{Bind, SqlFilter},
};

/// How long a removed UID is remembered: far longer than any pass.
pub const EXPUNGED_UID_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// Remembers that these UIDs left the folder, under its current UIDVALIDITY.
pub(crate) async fn remember_expunged(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    folder_id: &str,
    uids: &[i64],
    now: i64,
) -> Result<(), StoreError> {
    let Some(folder) = sqlx::query("SELECT uid_validity FROM folders WHERE id = $1")
        .bind(folder_id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(());
    };
    let uid_validity: i64 = folder.try_get("uid_validity")?;
    for chunk in uids.chunks(250) {
        let sql = format!(
            "INSERT INTO expunged_uids (folder_id, uid_validity, uid, expunged_at) VALUES {} \
             ON CONFLICT (folder_id, uid_validity, uid) DO NOTHING",
            value_rows(engine, chunk.len(), 4)
        );
        let mut insert = sqlx::query(&sql);
        for uid in chunk {
            insert = insert
                .bind(folder_id)
                .bind(uid_validity)
                .bind(*uid)
                .bind(now);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Which of these UIDs left the folder under its current UIDVALIDITY.
pub(crate) async fn expunged_among(
    tx: &mut Transaction<'_, Any>,
    folder_id: &str,
    uids: &[i64],
) -> Result<HashSet<i64>, StoreError> {
    let mut gone = HashSet::new();
    for chunk in uids.chunks(500) {
        let mut filter = SqlFilter::default();
        filter.compare("e.folder_id", "=", Bind::Text(folder_id.to_owned()));
        filter.one_of("e.uid", chunk.iter().map(|uid| Bind::Int(*uid)));
        filter.clause("e.uid_validity = f.uid_validity".into());
        let sql = format!(
            "SELECT e.uid AS uid FROM expunged_uids e JOIN folders f ON f.id = e.folder_id{}",
            filter.where_sql()
        );
        for row in filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&mut **tx)
            .await?
        {
            gone.insert(row.try_get::<i64, _>("uid")?);
        }
    }
    Ok(gone)
}

impl Store {
    /// Forgets removed UIDs older than `before`.
    pub async fn purge_expunged_uids(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM expunged_uids WHERE expunged_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
