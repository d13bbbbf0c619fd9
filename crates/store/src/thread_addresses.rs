//! `thread_addresses`: each address of a thread's located messages with the roles it has
//! in any of them, dated by the thread's latest message, so that a thread list filtered by
//! an address is one range scan of `thread_addresses_by_email` (migration 0014). Kept with
//! the thread rows (`thread_summaries.rs`): grown from the messages a write adds, and
//! recomputed from the participants index with the rows it recomputes.

use std::collections::BTreeMap;

use mailroom_model::GrantId;
use sqlx::{Any, Transaction};

use crate::{
    error::StoreError, open::Engine, sql_batch::value_rows, sql_filter::Bind, sql_filter::SqlFilter,
};

/// Rows per multi-row upsert.
const ROWS_PER_INSERT: usize = 250;

/// The union of the roles (bits) of `a.roles` over a group of participant rows. Neither
/// engine has one aggregate for it in common, so each bit is kept by its own `MAX`.
pub(crate) const UNITED_ROLES: &str =
    "(MAX(a.roles & 1) | MAX(a.roles & 2) | MAX(a.roles & 4) | MAX(a.roles & 8))";

/// What messages new to the index add to one thread's addresses.
pub(crate) struct GrownAddresses<'a> {
    pub thread_id: &'a str,
    /// The thread's latest date after the write.
    pub latest_date: i64,
    /// Whether the thread had a row before with another latest date: its stored addresses
    /// move to the new one.
    pub redated: bool,
    pub roles: &'a BTreeMap<String, i64>,
}

/// Adds new messages' addresses to their threads, uniting roles with those stored. A row
/// whose roles would not change is left as it is: an update that changes nothing would
/// still write a new row version on PostgreSQL (1.7M dead rows beside 1.3M live ones
/// after a 1M fill), and rewrite the row's index entries on both engines.
pub(crate) async fn grow_thread_addresses(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    grant_id: &GrantId,
    threads: &[GrownAddresses<'_>],
) -> Result<(), StoreError> {
    for thread in threads.iter().filter(|t| t.redated) {
        sqlx::query("UPDATE thread_addresses SET latest_date = $1 WHERE thread_id = $2")
            .bind(thread.latest_date)
            .bind(thread.thread_id)
            .execute(&mut **tx)
            .await?;
    }
    let rows: Vec<(&str, &str, i64, i64)> = threads
        .iter()
        .flat_map(|t| {
            t.roles
                .iter()
                .map(move |(email, roles)| (t.thread_id, email.as_str(), t.latest_date, *roles))
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO thread_addresses (thread_id, email, grant_id, latest_date, roles) \
             VALUES {} ON CONFLICT (thread_id, email) \
             DO UPDATE SET roles = thread_addresses.roles | excluded.roles \
             WHERE (thread_addresses.roles | excluded.roles) <> thread_addresses.roles",
            value_rows(engine, chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for (thread, email, latest, roles) in chunk {
            query = query
                .bind(*thread)
                .bind(*email)
                .bind(grant_id.as_str())
                .bind(*latest)
                .bind(*roles);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes the addresses of these threads from their located messages' participants. The
/// threads' rows are written first; threads without one get no addresses. Stored rows of
/// these threads must be gone (they go with the thread rows).
pub(crate) async fn recompute_thread_addresses(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    threads: &[String],
) -> Result<(), StoreError> {
    let mut filter = SqlFilter::default();
    filter.compare("m.grant_id", "=", Bind::Text(grant_id.to_string()));
    filter.one_of("m.thread_id", threads.iter().map(|t| Bind::Text(t.clone())));
    filter.clause("EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)".into());
    let sql = format!(
        "INSERT INTO thread_addresses (thread_id, email, grant_id, latest_date, roles) \
         SELECT t.id, a.email, t.grant_id, t.latest_date, {UNITED_ROLES} \
         FROM messages m JOIN message_addresses a ON a.message_id = m.id \
             JOIN threads t ON t.id = m.thread_id{} \
         GROUP BY t.id, a.email, t.grant_id, t.latest_date",
        filter.where_sql()
    );
    filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;
    Ok(())
}
