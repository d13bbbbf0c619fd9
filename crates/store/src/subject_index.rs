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

/// How many of the newest messages a subject is looked for in before the trigram index
/// is asked, and how many must have it for it to be common: then a page of
/// matches is at most about 5,000 messages deep in the date index.
const NEWEST_SAMPLED: i64 = 1000;
const COMMON_AMONG_NEWEST: i64 = 10;
/// Words of a subject filter sampled at most.
const MOST_WORDS_SAMPLED: usize = 8;
/// The longest subject filter sampled, in bytes.
const LONGEST_SAMPLED: usize = 1000;

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
        // The index is asked for the pattern of one word of the subject (see
        // `index_pattern`), and the whole subject is checked on the rows it gives.
        let Some(mut index_pattern) = self.index_pattern(grant_id, &subject, &pattern).await?
        else {
            return Ok(None);
        };
        if self.engine == Engine::Sqlite {
            // Counted in the index alone first: a common subject is not worth reading
            // thousands of messages for. A word common in older mail is counted with
            // the whole subject instead.
            for candidate in [index_pattern.clone(), pattern.clone()] {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM message_subjects \
                     WHERE subject_lower LIKE $1 LIMIT $2) counted",
                )
                .bind(&candidate)
                .bind(limit)
                .fetch_one(&self.pool)
                .await?;
                if row.try_get::<i64, _>("n")? < limit {
                    index_pattern = candidate;
                    break;
                }
                if candidate == pattern {
                    return Ok(None);
                }
            }
        }
        let sql = match self.engine {
            // The trigram table drives: its LIKE is answered from the index.
            Engine::Sqlite => {
                "SELECT m.id AS id FROM message_subjects s CROSS JOIN messages m \
                 WHERE s.subject_lower LIKE $1 AND m.rowid = s.rowid AND m.grant_id = $2 \
                 AND instr(m.subject_lower, $4) > 0 LIMIT $3"
            }
            // `strpos` is no operator of the index: only the chosen pattern reads it.
            Engine::Postgres => {
                "SELECT m.id AS id FROM messages m \
                 WHERE m.subject_lower LIKE $1 AND m.grant_id = $2 \
                 AND strpos(m.subject_lower, $4) > 0 LIMIT $3"
            }
        };
        let ids: Vec<String> = sqlx::query(sql)
            .bind(&index_pattern)
            .bind(grant_id.as_str())
            .bind(limit)
            .bind(&subject)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        Ok((ids.len() < usize::try_from(limit).unwrap_or(0)).then_some(ids))
    }

    /// What the trigram index is asked for a subject filter; `None` when the subject is
    /// common, and walking the date index finds a page of it sooner.
    ///
    /// Both engines' trigram indexes read the whole list of messages holding each of
    /// the pattern's trigrams, even when one message matches (pg_trgm's GIN index also
    /// gathers every match before the first is returned): "topic 123457" costs the
    /// lists of "top", "opi" and "pic", shared by every "Topic …" subject (28 ms on
    /// PostgreSQL at a million messages, 3 ms for "123457" alone). So the newest
    /// messages are sampled once: a subject that several of them have is common;
    /// otherwise the index is asked for the word of the subject (of three characters or
    /// more) that the fewest of them have, which every match contains.
    async fn index_pattern(
        &self,
        grant_id: &GrantId,
        subject: &str,
        pattern: &str,
    ) -> Result<Option<String>, StoreError> {
        // SQLite refuses LIKE patterns past 50,000 bytes: a subject that long is given
        // to the index whole, unsampled.
        if pattern.len() > LONGEST_SAMPLED {
            return Ok(Some(pattern.to_owned()));
        }
        let words: Vec<String> = subject
            .split_whitespace()
            .filter(|word| word.chars().count() >= 3)
            .take(MOST_WORDS_SAMPLED)
            .map(|word| format!("%{word}%"))
            .collect();
        let counted: Vec<String> = (0..words.len())
            .map(|n| {
                format!(
                    "COALESCE(SUM(CASE WHEN newest.subject_lower LIKE ${} THEN 1 ELSE 0 END), 0) \
                     AS w{n}",
                    n + 4
                )
            })
            .collect();
        let sql = format!(
            "SELECT COALESCE(SUM(CASE WHEN newest.subject_lower LIKE $3 THEN 1 ELSE 0 END), 0) \
                 AS whole{} \
             FROM (SELECT m.subject_lower FROM messages m WHERE m.grant_id = $1 \
                 ORDER BY m.date DESC, m.id DESC LIMIT $2) newest",
            counted.iter().map(|c| format!(", {c}")).collect::<String>()
        );
        let mut query = sqlx::query(&sql)
            .bind(grant_id.as_str())
            .bind(NEWEST_SAMPLED)
            .bind(pattern);
        for word in &words {
            query = query.bind(word);
        }
        let row = query.fetch_one(&self.pool).await?;
        if row.try_get::<i64, _>("whole")? >= COMMON_AMONG_NEWEST {
            return Ok(None);
        }
        let mut chosen = (i64::MAX, pattern.to_owned());
        if words.len() > 1 {
            for (n, word) in words.into_iter().enumerate() {
                let seen: i64 = row.try_get(format!("w{n}").as_str())?;
                // The fewest; of those, the longest (the most specific).
                if (seen, std::cmp::Reverse(word.len()))
                    < (chosen.0, std::cmp::Reverse(chosen.1.len()))
                {
                    chosen = (seen, word);
                }
            }
        }
        Ok(Some(chosen.1))
    }
}
