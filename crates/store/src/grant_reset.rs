//! What a change of a grant's credentials or servers takes away: every token issued for
//! the grant (whoever held one proved the old credentials, not the new), and, when the
//! servers change, everything learnt from the old mailbox, so that the next sync starts
//! afresh against the new one.

use mailroom_model::{GrantId, time::unix_now};

use crate::error::StoreError;

/// Revokes every live code, access and refresh token of the grant.
pub(crate) async fn revoke_grant_tokens(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    grant_id: &GrantId,
) -> Result<u64, StoreError> {
    let revoked = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
    )
    .bind(unix_now())
    .bind(grant_id.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(revoked.rows_affected())
}

/// Deletes the grant's index: folders, messages and their locations, threads, sync
/// state, contacts and events derived from mail, and pending deletion announcements.
/// Scheduled sends stay: the application asked for them.
pub(crate) async fn empty_grant_index(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    grant_id: &GrantId,
) -> Result<(), StoreError> {
    // Children first, so that neither engine's foreign keys object.
    for table in [
        "message_locations",
        "deletion_candidates",
        "message_addresses",
        "messages",
        "threads",
        "thread_refs",
        "folders",
        "sync_status",
        "contacts",
        "contact_derivation",
        "events",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE grant_id = $1"))
            .bind(grant_id.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
