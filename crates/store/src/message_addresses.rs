//! The participants index: one row per address of a message, with its roles there, so
//! that `from`, `to`, `cc`, `bcc` and `any_email` filters are a range scan of
//! `(grant, email, date)` instead of a text match over every message.

use std::collections::BTreeMap;

use mailroom_model::{GrantId, v3::EmailName};
use sqlx::{Any, Transaction};

use crate::{
    address_folders::note_message_addresses,
    error::StoreError,
    open::Engine,
    sql_batch::value_rows,
    sql_filter::{Bind, SqlFilter},
};

/// The roles an address has in a message, as bits of `message_addresses.roles`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    From = 1,
    To = 2,
    Cc = 4,
    Bcc = 8,
}

impl Role {
    pub(crate) fn bit(self) -> i64 {
        self as i64
    }
}

/// Rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 500;

/// A message's addresses, lower case, each with the bits of its roles.
pub(crate) fn roles_by_address(
    from: &[EmailName],
    to: &[EmailName],
    cc: &[EmailName],
    bcc: &[EmailName],
) -> BTreeMap<String, i64> {
    let mut roles = BTreeMap::new();
    for (names, role) in [
        (from, Role::From),
        (to, Role::To),
        (cc, Role::Cc),
        (bcc, Role::Bcc),
    ] {
        for name in names {
            let email = name.email.trim().to_lowercase();
            if !email.is_empty() {
                *roles.entry(email).or_insert(0) |= role.bit();
            }
        }
    }
    roles
}

/// One message's participants to index.
pub(crate) struct Participants<'a> {
    pub message_id: &'a str,
    pub date: i64,
    pub roles: BTreeMap<String, i64>,
}

/// Indexes the participants of messages new to the index.
pub(crate) async fn insert_participants(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    grant_id: &GrantId,
    messages: &[Participants<'_>],
) -> Result<(), StoreError> {
    let rows: Vec<(&str, i64, &str, i64)> = messages
        .iter()
        .flat_map(|m| {
            m.roles
                .iter()
                .map(move |(email, roles)| (m.message_id, m.date, email.as_str(), *roles))
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO message_addresses (grant_id, email, date, message_id, roles) VALUES {} \
             ON CONFLICT (grant_id, email, date, message_id, roles) DO NOTHING",
            value_rows(engine, chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for (message_id, date, email, roles) in chunk {
            query = query
                .bind(grant_id.as_str())
                .bind(*email)
                .bind(*date)
                .bind(*message_id)
                .bind(*roles);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Replaces one message's participants (its headers were read again).
pub(crate) async fn replace_participants(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    grant_id: &GrantId,
    message: Participants<'_>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM message_addresses WHERE message_id = $1")
        .bind(message.message_id)
        .execute(&mut **tx)
        .await?;
    let message_id = message.message_id;
    insert_participants(tx, engine, grant_id, &[message]).await?;
    note_message_addresses(tx, message_id).await
}

/// A condition on message `m`: one of `emails` has one of `roles` (bits) in it. For an
/// address with few messages (`collected`), their ids are gathered once; otherwise it is
/// checked per message through the participants' message index.
pub(crate) fn participants_clause(
    filter: &mut SqlFilter,
    grant_id: &GrantId,
    emails: &[String],
    roles: i64,
    collected: bool,
) -> String {
    let list: Vec<String> = emails
        .iter()
        .map(|e| filter.placeholder(Bind::Text(e.trim().to_lowercase())))
        .collect();
    let list = list.join(", ");
    if collected {
        let grant = filter.placeholder(Bind::Text(grant_id.to_string()));
        format!(
            "m.id IN (SELECT a.message_id FROM message_addresses a WHERE a.grant_id = {grant} \
             AND a.email IN ({list}) AND (a.roles & {roles}) <> 0)"
        )
    } else {
        format!(
            "EXISTS (SELECT 1 FROM message_addresses a WHERE a.message_id = m.id \
             AND a.email IN ({list}) AND (a.roles & {roles}) <> 0)"
        )
    }
}
