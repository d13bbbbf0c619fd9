//! The `subject` filter of message and thread lists is a case-insensitive substring.
//! Matched against every subject, it costs a scan of the grant's messages, which at a
//! million messages is most of a second when few match. An index of
//! the subjects' trigrams answers it instead: SQLite's FTS5 `trigram` tokenizer over
//! `messages.subject_lower` (an external-content table kept by triggers), PostgreSQL's
//! `pg_trgm` GIN index. Neither can be written in the SQL both engines share, so the
//! migration that asks for it (0015) leaves it to [`create_subject_index`], run once
//! after the migrations as a backfill.

use mailroom_model::GrantId;
use sqlx::{AnyPool, Row};

use crate::{
    error::StoreError,
    open::{Engine, Store},
};

/// The SQLite side: the trigram table and the triggers that keep it equal to
/// `messages.subject_lower`. Its rows are keyed by `messages.rowid`, which stays a row's
/// for its life: `VACUUM` copies rows with their rowids (the store's tests check that the
/// index still answers after one).
const SQLITE_SUBJECT_INDEX: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS message_subjects USING fts5(
    subject_lower, content = 'messages', content_rowid = 'rowid', tokenize = 'trigram');
CREATE TRIGGER IF NOT EXISTS message_subjects_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_subjects (rowid, subject_lower) VALUES (new.rowid, new.subject_lower);
END;
CREATE TRIGGER IF NOT EXISTS message_subjects_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_subjects (message_subjects, rowid, subject_lower)
        VALUES ('delete', old.rowid, old.subject_lower);
END;
CREATE TRIGGER IF NOT EXISTS message_subjects_update AFTER UPDATE OF subject_lower ON messages
BEGIN
    INSERT INTO message_subjects (message_subjects, rowid, subject_lower)
        VALUES ('delete', old.rowid, old.subject_lower);
    INSERT INTO message_subjects (rowid, subject_lower) VALUES (new.rowid, new.subject_lower);
END;
INSERT INTO message_subjects (message_subjects) VALUES ('rebuild');
";

/// Creates the engine's trigram index of subjects and fills it from the stored messages;
/// false when it could not. On PostgreSQL, a database where `pg_trgm` cannot be installed
/// (it needs the `CREATE` privilege on the database) keeps working without it: subject
/// filters scan, and the operator is told at each start until it can be made.
pub(crate) async fn create_subject_index(
    pool: &AnyPool,
    engine: Engine,
) -> Result<bool, StoreError> {
    match engine {
        Engine::Sqlite => {
            sqlx::raw_sql(SQLITE_SUBJECT_INDEX).execute(pool).await?;
        }
        Engine::Postgres => {
            // In `public` where it can be, so that it outlives the schema of one store
            // (several stores can share a database, one schema each).
            let mut installed = Ok(());
            for create in [
                "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
                "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            ] {
                installed = sqlx::query(create).execute(pool).await.map(drop);
                if installed.is_ok() {
                    break;
                }
            }
            // Another process may have installed it at the same moment.
            let schema: Option<String> = sqlx::query(
                "SELECT CAST(n.nspname AS TEXT) AS schema FROM pg_extension e \
                 JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
            )
            .fetch_optional(pool)
            .await?
            .map(|row| row.try_get("schema"))
            .transpose()?;
            let Some(schema) = schema else {
                let error = installed.err().map(|e| e.to_string()).unwrap_or_default();
                tracing::warn!(
                    %error,
                    "pg_trgm could not be installed: subject filters will scan the messages \
                     (install it as a superuser with CREATE EXTENSION pg_trgm; mailroom makes \
                     the index at its next start)"
                );
                return Ok(false);
            };
            let schema = schema.replace('"', "\"\"");
            sqlx::query(&format!(
                "CREATE INDEX IF NOT EXISTS messages_subject_trigrams \
                 ON messages USING gin (subject_lower \"{schema}\".gin_trgm_ops)"
            ))
            .execute(pool)
            .await?;
        }
    }
    Ok(true)
}

impl Store {
    /// The ids of the grant's messages (located or not) whose subject contains `subject`,
    /// when there are fewer than `limit`; `None` when there are more, or when the index
    /// cannot answer (fewer than three characters, or LIKE's own wildcards in it).
    pub(crate) async fn messages_with_subject(
        &self,
        grant_id: &GrantId,
        subject: &str,
        limit: i64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let subject = subject.to_lowercase();
        if subject.chars().count() < 3 || subject.contains(['%', '_', '\\']) {
            return Ok(None);
        }
        let pattern = format!("%{subject}%");
        if self.engine == Engine::Sqlite {
            // Counted in the index alone first: a common subject is not worth reading
            // thousands of messages for.
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM message_subjects \
                 WHERE subject_lower LIKE $1 LIMIT $2) counted",
            )
            .bind(&pattern)
            .bind(limit)
            .fetch_one(&self.pool)
            .await?;
            if row.try_get::<i64, _>("n")? >= limit {
                return Ok(None);
            }
        }
        let sql = match self.engine {
            // The trigram table drives: its LIKE is answered from the index.
            Engine::Sqlite => {
                "SELECT m.id AS id FROM message_subjects s CROSS JOIN messages m \
                 WHERE s.subject_lower LIKE $1 AND m.rowid = s.rowid AND m.grant_id = $2 \
                 LIMIT $3"
            }
            Engine::Postgres => {
                "SELECT m.id AS id FROM messages m \
                 WHERE m.subject_lower LIKE $1 AND m.grant_id = $2 LIMIT $3"
            }
        };
        let ids: Vec<String> = sqlx::query(sql)
            .bind(&pattern)
            .bind(grant_id.as_str())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        Ok((ids.len() < usize::try_from(limit).unwrap_or(0)).then_some(ids))
    }
}
