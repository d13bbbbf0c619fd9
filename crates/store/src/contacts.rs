//! Contacts derived from mail: one per address a grant's indexed messages name (From,
//! To, Cc, Bcc, Reply-To), except the grant's own, with the best name seen for it — the
//! name people give themselves in From over names others give them, the newest among
//! equals.
//!
//! Derivation reads messages in id order from a per-grant mark. Message ids are UUIDv7,
//! ordered by creation time, so a run reads only what was indexed since the last one,
//! through the `(grant_id, message_id)` index of `message_locations`; indexing itself
//! does no extra work. Each run leaves its mark a margin before its own start, so rows of
//! transactions still open then are read by the next run. Reading a message twice changes
//! nothing: a name is replaced only by a better-ranked one, or an equally ranked one from
//! a newer message.

use std::collections::HashMap;

use mailroom_model::{
    GrantId,
    time::unix_now,
    v3::{EmailName, webhook::TriggerType},
};
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::Store,
    sql_filter::{Bind, SqlFilter},
    webhook_outbox::record_notifications,
};

/// Messages read per round (one transaction each).
const MESSAGES_PER_ROUND: i64 = 500;
/// Contacts per multi-row upsert (9 parameters each).
const CONTACTS_PER_STATEMENT: usize = 100;
/// How long before a run began its successor starts reading again: longer than any
/// indexing transaction stays open, and than clocks of nodes sharing a database differ.
const REREAD_MARGIN_MS: u64 = 10 * 60 * 1000;

/// Where a name was seen, best last.
const RANK_NONE: i64 = 0;
const RANK_OTHERS: i64 = 1;
const RANK_REPLY_TO: i64 = 2;
const RANK_OWN: i64 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub id: String,
    pub grant_id: GrantId,
    pub email: String,
    /// The address in lower case, by which contacts are unique and listed.
    pub email_key: String,
    pub display_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A contact a derivation run created, or whose name or address spelling it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactChange {
    pub contact: ContactRecord,
    pub created: bool,
}

/// Filters and paging of a contact list, ordered by address.
#[derive(Debug, Clone, Default)]
pub struct ContactQuery {
    pub limit: i64,
    /// The `email_key` of the last contact of the previous page.
    pub after: Option<String>,
    /// Exactly this address, in any case.
    pub email: Option<String>,
}

/// The best occurrence of one address in the messages read.
#[derive(Debug, Clone)]
struct Candidate {
    email: String,
    email_key: String,
    name: Option<String>,
    rank: i64,
    date: i64,
    /// Seen in a message that was announced (`message.created`): a change it makes to
    /// the contact is news too; one made by historic mail is not.
    news: bool,
}

impl Candidate {
    fn outranks(&self, rank: i64, date: i64) -> bool {
        (self.rank, self.date) > (rank, date)
    }
}

impl Store {
    /// Brings a grant's contacts up to date with the messages indexed since the last
    /// run, and returns the contacts created or changed.
    pub async fn derive_contacts(
        &self,
        grant_id: &GrantId,
    ) -> Result<Vec<ContactChange>, StoreError> {
        let started_ms = unix_millis();
        let Some(row) = sqlx::query("SELECT email FROM grants WHERE id = $1")
            .bind(grant_id.as_str())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(Vec::new());
        };
        let own_email: String = row.try_get("email")?;
        let own_key = own_email.trim().to_lowercase();
        let mut after: String =
            sqlx::query("SELECT next_message_id FROM contact_derivation WHERE grant_id = $1")
                .bind(grant_id.as_str())
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get("next_message_id"))
                .transpose()?
                .unwrap_or_default();

        let mut changes = Vec::new();
        loop {
            let rows = sqlx::query(
                "SELECT DISTINCT message_id FROM message_locations \
                 WHERE grant_id = $1 AND message_id > $2 ORDER BY message_id LIMIT $3",
            )
            .bind(grant_id.as_str())
            .bind(&after)
            .bind(MESSAGES_PER_ROUND)
            .fetch_all(&self.pool)
            .await?;
            let ids: Vec<String> = rows
                .iter()
                .map(|r| r.try_get("message_id"))
                .collect::<Result<_, _>>()?;
            let Some(last) = ids.last() else { break };
            after = last.clone();
            let candidates = self.read_participants(&ids, &own_key).await?;
            changes.extend(self.apply_candidates(grant_id, candidates).await?);
            if (ids.len() as i64) < MESSAGES_PER_ROUND {
                break;
            }
        }

        let mark = reread_mark(started_ms);
        sqlx::query(
            "INSERT INTO contact_derivation (grant_id, next_message_id, updated_at) \
             VALUES ($1, $2, $3) ON CONFLICT (grant_id) DO UPDATE \
             SET next_message_id = excluded.next_message_id, updated_at = excluded.updated_at",
        )
        .bind(grant_id.as_str())
        .bind(mark)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(changes)
    }

    /// Contacts by address, at most `query.limit`, after the cursor.
    pub async fn list_contacts(
        &self,
        grant_id: &GrantId,
        query: &ContactQuery,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let mut filter = SqlFilter::default();
        filter.compare("grant_id", "=", Bind::Text(grant_id.to_string()));
        if let Some(email) = &query.email {
            filter.compare("email_key", "=", Bind::Text(email.trim().to_lowercase()));
        }
        if let Some(after) = &query.after {
            filter.compare("email_key", ">", Bind::Text(after.clone()));
        }
        let where_sql = filter.where_sql();
        let limit = filter.placeholder(Bind::Int(query.limit));
        let sql =
            format!("SELECT {COLUMNS} FROM contacts{where_sql} ORDER BY email_key LIMIT {limit}");
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(contact_from_row).collect()
    }

    pub async fn contact(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Option<ContactRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE grant_id = $1 AND id = $2"
        ))
        .bind(grant_id.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(contact_from_row).transpose()
    }

    /// The best occurrence of each address in these messages.
    async fn read_participants(
        &self,
        ids: &[String],
        own_key: &str,
    ) -> Result<Vec<Candidate>, StoreError> {
        let mut filter = SqlFilter::default();
        filter.one_of("id", ids.iter().map(|id| Bind::Text(id.clone())));
        let sql = format!(
            "SELECT id, date, announced, from_json, to_json, cc_json, bcc_json, reply_to_json FROM messages{}",
            filter.where_sql()
        );
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        let mut best: HashMap<String, Candidate> = HashMap::new();
        for row in &rows {
            let date: i64 = row.try_get("date")?;
            let news = row.try_get::<i64, _>("announced")? != 0;
            for (column, named_rank) in [
                ("from_json", RANK_OWN),
                ("reply_to_json", RANK_REPLY_TO),
                ("to_json", RANK_OTHERS),
                ("cc_json", RANK_OTHERS),
                ("bcc_json", RANK_OTHERS),
            ] {
                let text: String = row.try_get(column)?;
                let Ok(names) = serde_json::from_str::<Vec<EmailName>>(&text) else {
                    let id: String = row.try_get("id")?;
                    tracing::warn!(message = %id, column, "participants unreadable; skipped for contacts");
                    continue;
                };
                for participant in names {
                    let Some(mut candidate) = candidate(&participant, named_rank, date, news)
                    else {
                        continue;
                    };
                    if candidate.email_key == own_key {
                        continue;
                    }
                    match best.get_mut(&candidate.email_key) {
                        Some(known) if !candidate.outranks(known.rank, known.date) => {
                            known.news |= candidate.news;
                        }
                        known => {
                            candidate.news |= known.is_some_and(|k| k.news);
                            best.insert(candidate.email_key.clone(), candidate);
                        }
                    }
                }
            }
        }
        Ok(best.into_values().collect())
    }

    /// Writes what is new or better, in one transaction; returns what visibly changed.
    /// Changes that come from announced mail are announced `contact.updated` (v3 has no
    /// `contact.created`).
    async fn apply_candidates(
        &self,
        grant_id: &GrantId,
        mut candidates: Vec<Candidate>,
    ) -> Result<Vec<ContactChange>, StoreError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        candidates.sort_by(|a, b| a.email_key.cmp(&b.email_key));
        let now = unix_now();
        let mut changes = Vec::new();
        let mut news = Vec::new();
        let mut tx = self.begin_grant_write(grant_id).await?;
        for chunk in candidates.chunks(CONTACTS_PER_STATEMENT) {
            let existing = existing_contacts(&mut tx, grant_id, chunk).await?;
            let mut writes: Vec<(ContactRecord, i64, i64)> = Vec::new();
            let mut planned: HashMap<String, ContactChange> = HashMap::new();
            for candidate in chunk {
                let (record, visible, created) = match existing.get(&candidate.email_key) {
                    None => (
                        ContactRecord {
                            id: contact_id(grant_id, &candidate.email_key),
                            grant_id: grant_id.clone(),
                            email: candidate.email.clone(),
                            email_key: candidate.email_key.clone(),
                            display_name: candidate.name.clone(),
                            created_at: now,
                            updated_at: now,
                        },
                        true,
                        true,
                    ),
                    Some((known, rank, date)) if candidate.outranks(*rank, *date) => {
                        let visible =
                            known.display_name != candidate.name || known.email != candidate.email;
                        (
                            ContactRecord {
                                email: candidate.email.clone(),
                                display_name: candidate.name.clone(),
                                updated_at: if visible { now } else { known.updated_at },
                                ..known.clone()
                            },
                            visible,
                            false,
                        )
                    }
                    Some(_) => continue,
                };
                if visible && candidate.news {
                    news.push((record.id.clone(), None));
                }
                if visible {
                    planned.insert(
                        record.id.clone(),
                        ContactChange {
                            contact: record.clone(),
                            created,
                        },
                    );
                }
                writes.push((record, candidate.rank, candidate.date));
            }
            // Only rows the upsert really wrote are reported: a concurrent run that got
            // there first leaves nothing to tell.
            for id in upsert_contacts(&mut tx, &writes).await? {
                if let Some(change) = planned.remove(&id) {
                    changes.push(change);
                }
            }
        }
        // Only what the upserts really wrote (see above) is announced.
        news.retain(|(id, _)| changes.iter().any(|c| &c.contact.id == id));
        record_notifications(&mut tx, grant_id, TriggerType::ContactUpdated, &news).await?;
        tx.commit().await?;
        Ok(changes)
    }
}

const COLUMNS: &str = "id, grant_id, email, email_key, display_name, created_at, updated_at";

fn contact_from_row(row: &sqlx::any::AnyRow) -> Result<ContactRecord, StoreError> {
    Ok(ContactRecord {
        id: row.try_get("id")?,
        grant_id: GrantId::from_stored(row.try_get("grant_id")?),
        email: row.try_get("email")?,
        email_key: row.try_get("email_key")?,
        display_name: row.try_get("display_name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The stored contacts of these candidates' addresses, with their name rank and date.
async fn existing_contacts(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    chunk: &[Candidate],
) -> Result<HashMap<String, (ContactRecord, i64, i64)>, StoreError> {
    let mut filter = SqlFilter::default();
    filter.compare("grant_id", "=", Bind::Text(grant_id.to_string()));
    filter.one_of(
        "email_key",
        chunk.iter().map(|c| Bind::Text(c.email_key.clone())),
    );
    let sql = format!(
        "SELECT {COLUMNS}, name_rank, name_date FROM contacts{}",
        filter.where_sql()
    );
    let mut found = HashMap::new();
    for row in filter
        .bind_to(sqlx::query(&sql))
        .fetch_all(&mut **tx)
        .await?
    {
        let record = contact_from_row(&row)?;
        let rank: i64 = row.try_get("name_rank")?;
        let date: i64 = row.try_get("name_date")?;
        found.insert(record.email_key.clone(), (record, rank, date));
    }
    Ok(found)
}

/// Inserts new contacts and overwrites stored ones the candidate outranks (checked again
/// by the database, against what it holds now). Returns the ids written.
async fn upsert_contacts(
    tx: &mut Transaction<'_, Any>,
    writes: &[(ContactRecord, i64, i64)],
) -> Result<Vec<String>, StoreError> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    const PARAMS: usize = 9;
    let rows: Vec<String> = (0..writes.len())
        .map(|row| {
            let placeholders: Vec<String> = (1..=PARAMS)
                .map(|column| format!("${}", row * PARAMS + column))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO contacts (id, grant_id, email_key, email, display_name, name_rank, name_date, \
             created_at, updated_at) VALUES {} \
         ON CONFLICT (grant_id, email_key) DO UPDATE SET email = excluded.email, \
             display_name = excluded.display_name, name_rank = excluded.name_rank, \
             name_date = excluded.name_date, updated_at = excluded.updated_at \
         WHERE excluded.name_rank > contacts.name_rank \
             OR (excluded.name_rank = contacts.name_rank AND excluded.name_date > contacts.name_date) \
         RETURNING id",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (record, rank, date) in writes {
        query = query
            .bind(record.id.clone())
            .bind(record.grant_id.to_string())
            .bind(record.email_key.clone())
            .bind(record.email.clone())
            .bind(record.display_name.clone())
            .bind(*rank)
            .bind(*date)
            .bind(record.created_at)
            .bind(record.updated_at);
    }
    let written = query.fetch_all(&mut **tx).await?;
    written.iter().map(|row| Ok(row.try_get("id")?)).collect()
}

/// One participant as a candidate contact; `None` for what is not a usable address.
fn candidate(participant: &EmailName, named_rank: i64, date: i64, news: bool) -> Option<Candidate> {
    let email = participant
        .email
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, domain) = email.split_once('@')?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || email.len() > 320
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let name = participant
        .name
        .as_deref()
        .and_then(|name| usable_name(name, email));
    Some(Candidate {
        email: email.to_owned(),
        email_key: email.to_lowercase(),
        rank: if name.is_some() {
            named_rank
        } else {
            RANK_NONE
        },
        name,
        date,
        news,
    })
}

/// A display name worth keeping: quotes and extra spaces gone; not an address.
fn usable_name(name: &str, email: &str) -> Option<String> {
    let collapsed = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed
        .trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .to_owned();
    if trimmed.is_empty() || trimmed.contains('@') || trimmed.eq_ignore_ascii_case(email) {
        None
    } else {
        Some(trimmed)
    }
}

/// Stable and URL-safe: the same grant and address always give the same id.
fn contact_id(grant_id: &GrantId, email_key: &str) -> String {
    let digest = Sha256::digest(format!("contact\0{grant_id}\0{email_key}"));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_millis() -> u64 {
    u64::try_from(mailroom_model::time::unix_millis()).unwrap_or(0)
}

/// The first characters of a UUIDv7 made `REREAD_MARGIN_MS` before `started_ms`: every
/// message id made since then sorts after it.
fn reread_mark(started_ms: u64) -> String {
    format!("{:012x}", started_ms.saturating_sub(REREAD_MARGIN_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: Option<&str>, email: &str) -> EmailName {
        EmailName {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }

    #[test]
    fn addresses_and_names_are_cleaned_or_refused() {
        let c = candidate(
            &named(Some(" \"Ada  Lovelace\" "), "Ada@Example.COM"),
            3,
            1,
            false,
        )
        .unwrap();
        assert_eq!(c.email, "Ada@Example.COM");
        assert_eq!(c.email_key, "ada@example.com");
        assert_eq!(c.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(c.rank, RANK_OWN);
        for unnamed in [
            None,
            Some(""),
            Some("ada@example.com"),
            Some("'ada@example.com'"),
        ] {
            let c = candidate(&named(unnamed, "ada@example.com"), 3, 1, false).unwrap();
            assert_eq!((c.name, c.rank), (None, RANK_NONE));
        }
        for bad in ["", "undisclosed-recipients:;", "a@b@c", "@x", "x@", "a b@c"] {
            assert!(candidate(&named(None, bad), 1, 1, false).is_none(), "{bad}");
        }
    }

    #[test]
    fn ranks_then_dates_decide() {
        let own = candidate(&named(Some("Ada"), "a@x"), RANK_OWN, 10, false).unwrap();
        assert!(own.outranks(RANK_OTHERS, 99));
        assert!(own.outranks(RANK_OWN, 9));
        assert!(!own.outranks(RANK_OWN, 10));
        let others = candidate(&named(Some("A."), "a@x"), RANK_OTHERS, 99, false).unwrap();
        assert!(!others.outranks(RANK_OWN, 10));
    }

    #[test]
    fn ids_are_stable_and_url_safe_and_marks_sort_with_message_ids() {
        let grant = GrantId::from_stored("g1".into());
        let id = contact_id(&grant, "a@x");
        assert_eq!(id, contact_id(&grant, "a@x"));
        assert_ne!(id, contact_id(&grant, "b@x"));
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let message_id = uuid::Uuid::now_v7().simple().to_string();
        let mark = reread_mark(unix_millis());
        assert!(message_id.as_str() > mark.as_str(), "{message_id} {mark}");
        let old = reread_mark(unix_millis() + 2 * REREAD_MARGIN_MS);
        assert!(message_id.as_str() < old.as_str());
    }
}
