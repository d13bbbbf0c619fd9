//! Each folder's message and unread counts, kept by the writers instead of counted per
//! request. They count locations (UIDs), as IMAP STATUS counts MESSAGES and UNSEEN.
//!
//! Locations are counted in or out by the statement that adds or removes them: counted
//! after an insert and before a delete, from the rows themselves, so the counts stay exact
//! whatever the rows held (a UID seen twice, a message at two UIDs).

use sqlx::{Any, Transaction};

use crate::{error::StoreError, sql_batch::integer_list};

/// Whether locations are being added to a folder's counts or taken from them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Count {
    In,
    Out,
}

/// Counts the locations at `uids` of a folder in or out (in: after inserting them; out:
/// before deleting them). UIDs are integers and are written into the statement.
pub(crate) async fn count_locations(
    tx: &mut Transaction<'_, Any>,
    folder_id: &str,
    uids: &[i64],
    direction: Count,
) -> Result<(), StoreError> {
    let sign = match direction {
        Count::In => "+",
        Count::Out => "-",
    };
    for chunk in uids.chunks(500) {
        let list = integer_list(chunk);
        sqlx::query(&format!(
            "UPDATE folders SET \
                 total_count = total_count {sign} (SELECT COUNT(*) FROM message_locations l \
                     WHERE l.folder_id = $1 AND l.uid IN ({list})), \
                 unread_count = unread_count {sign} (SELECT COUNT(*) FROM message_locations l \
                     JOIN messages m ON m.id = l.message_id \
                     WHERE l.folder_id = $1 AND l.uid IN ({list}) AND m.unread = 1) \
             WHERE id = $1"
        ))
        .bind(folder_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A folder emptied of every location at once.
pub(crate) async fn clear_counts(
    tx: &mut Transaction<'_, Any>,
    folder_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE folders SET total_count = 0, unread_count = 0 WHERE id = $1")
        .bind(folder_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A message became unread (`+1`) or read (`-1`): every folder it lives in, once per
/// location there.
pub(crate) async fn count_unread_change(
    tx: &mut Transaction<'_, Any>,
    message_id: &str,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE folders SET unread_count = unread_count + $1 * \
             (SELECT COUNT(*) FROM message_locations l \
              WHERE l.folder_id = folders.id AND l.message_id = $2) \
         WHERE id IN (SELECT folder_id FROM message_locations WHERE message_id = $2)",
    )
    .bind(delta)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
