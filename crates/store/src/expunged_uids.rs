//! UIDs that left a folder, remembered a while (migration 0030): a sync pass that listed
//! the folder before mailroom expunged or moved a message (or before it vanished) must not
//! index it again when its write lands after the removal. Without this, a draft just sent
//! could reappear in Drafts until the next pass.

use std::collections::HashSet;

use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::Store,
    sql_filter::{Bind, SqlFilter},
};

/// How long a removed UID is remembered: far longer than any pass.
pub const EXPUNGED_UID_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// Remembers that these UIDs left the folder, under its current UIDVALIDITY.
pub(crate) async fn remember_expunged(
    tx: &mut Transaction<'_, Any>,
    folder_id: &str,
    uids: &[i64],
    now: i64,
) -> Result<(), StoreError> {
    for uid in uids {
        sqlx::query(
            "INSERT INTO expunged_uids (folder_id, uid_validity, uid, expunged_at) \
             SELECT id, uid_validity, $1, $2 FROM folders WHERE id = $3 \
             ON CONFLICT (folder_id, uid_validity, uid) DO NOTHING",
        )
        .bind(*uid)
        .bind(now)
        .bind(folder_id)
        .execute(&mut **tx)
        .await?;
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
