//! On PostgreSQL the writer vacuums and analyzes the index tables as they grow
//! (`table_statistics.rs`), so that their statistics and visibility maps are those of
//! what a sync wrote even where autovacuum is off. Checked by writing past the first mark
//! (1,000 messages) and waiting for the tables to be vacuumed and analyzed. SQLite has
//! nothing of the kind.

use std::time::{Duration, Instant};

use crate::support::{Engine, Place, clean_up, grant_with_inbox, message, open_store};
use sqlx::{Connection, Row};

#[tokio::test]
async fn a_growing_index_is_vacuumed_and_analyzed_on_postgres() {
    let (store, place) = open_store(Engine::Postgres).await;
    let Place::Schema(schema) = &place else {
        unreachable!("a PostgreSQL store lives in a schema");
    };
    let (grant, inbox) = grant_with_inbox(&store).await;
    let batch: Vec<_> = (1..=1_000)
        .map(|uid| message(uid, &format!("m{uid}@x"), &[], &format!("Subject {uid}")))
        .collect();
    store
        .add_folder_messages(&grant, &inbox, &batch)
        .await
        .unwrap();

    let mut admin = sqlx::PgConnection::connect(&crate::support::postgres_url())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = sqlx::query(
            "SELECT relname::text AS name FROM pg_stat_user_tables \
             WHERE schemaname = $1 AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL",
        )
        .bind(schema)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        let done: Vec<String> = rows.iter().map(|r| r.get("name")).collect();
        let waiting: Vec<&str> = [
            "messages",
            "message_addresses",
            "thread_addresses",
            "threads",
            "message_locations",
        ]
        .into_iter()
        .filter(|table| !done.iter().any(|d| d == table))
        .collect();
        if waiting.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not vacuumed and analyzed after 1,000 messages: {waiting:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.close().await;
    clean_up(place).await;
}
