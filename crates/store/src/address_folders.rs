//! Which roles each address has had in each folder (`address_folders`, migration 0017):
//! what lets a list filtered by a folder *and* an address that never met in it answer
//! "nothing" at once. Without it, such a list walks every message of the smaller side
//! and probes the other for each: from a frequent correspondent in Sent, that is every
//! message they ever sent, to find none.
//!
//! The table only grows: each location added notes its message's addresses in its
//! folder, and nothing is taken out when a message leaves. It can therefore name a pair
//! that no message holds any more (the list then walks, as it would without the table),
//! but never lacks one that a message holds.

use sqlx::{Any, Transaction};

use crate::{
    error::StoreError,
    open::Store,
    sql_batch::integer_list,
    sql_filter::{Bind, SqlFilter},
    thread_addresses::UNITED_ROLES,
};

/// The statement noting the addresses of the located messages `l` that `condition`
/// picks (with `$1`) in their folders. Unchanged pairs are not written again (most are,
/// once a mailbox is known).
fn noting(condition: &str) -> String {
    format!(
        "INSERT INTO address_folders (folder_id, email, roles) \
         SELECT l.folder_id, a.email, {UNITED_ROLES} \
         FROM message_locations l JOIN message_addresses a ON a.message_id = l.message_id \
         WHERE {condition} \
         GROUP BY l.folder_id, a.email \
         ON CONFLICT (folder_id, email) DO UPDATE SET roles = address_folders.roles | excluded.roles \
         WHERE (address_folders.roles | excluded.roles) <> address_folders.roles"
    )
}

/// Notes the addresses of the messages at `uids` of a folder (just located there).
/// UIDs are integers and are written into the statement.
pub(crate) async fn note_located_addresses(
    tx: &mut Transaction<'_, Any>,
    folder_id: &str,
    uids: &[i64],
) -> Result<(), StoreError> {
    for chunk in uids.chunks(500) {
        let list = integer_list(chunk);
        sqlx::query(&noting(&format!("l.folder_id = $1 AND l.uid IN ({list})")))
            .bind(folder_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Notes a message's addresses in every folder it is in (its headers were read again).
pub(crate) async fn note_message_addresses(
    tx: &mut Transaction<'_, Any>,
    message_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(&noting("l.message_id = $1"))
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Whether a message in one of `folder_ids` may have one of `emails` (lower-case) in
    /// one of `roles`: `false` only when none can.
    pub(crate) async fn folders_may_hold(
        &self,
        folder_ids: &[String],
        emails: &[String],
        roles: i64,
    ) -> Result<bool, StoreError> {
        let mut filter = SqlFilter::default();
        filter.one_of(
            "folder_id",
            folder_ids.iter().map(|f| Bind::Text(f.clone())),
        );
        filter.one_of("email", emails.iter().map(|e| Bind::Text(e.clone())));
        filter.clause(format!("(roles & {roles}) <> 0"));
        let sql = format!(
            "SELECT 1 AS found FROM address_folders{} LIMIT 1",
            filter.where_sql()
        );
        Ok(filter
            .bind_to(sqlx::query(&sql))
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Notes every located message's addresses (a backfill, once, for a store made
    /// before the table): by folder, in one transaction each.
    pub(crate) async fn backfill_address_folders(&self) -> Result<(), StoreError> {
        use sqlx::Row;
        let folders: Vec<String> = sqlx::query("SELECT id FROM folders")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        for folder_id in folders {
            let mut tx = self.begin_write().await?;
            sqlx::query(&noting("l.folder_id = $1"))
                .bind(&folder_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}
