//! Planner statistics for the index tables on PostgreSQL. The lists' plans depend on them
//! (a folder of a million messages and one of ten want different plans), and a database
//! filled by an initial sync would otherwise keep the statistics of its empty tables until
//! autovacuum analyzes it, or forever where autovacuum is off. So the writer analyzes
//! the tables itself as they grow: after 1,000 new messages, then each time the count
//! doubles, then every 200,000. SQLite plans these lists from the indexes alone
//! (`message_lists.rs`) and is left as it is.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::open::{Engine, Store};

const FIRST_ANALYZE: u64 = 1_000;
const MOST_BETWEEN: u64 = 200_000;

/// Messages written by this process, and when to analyze next.
#[derive(Debug)]
pub(crate) struct StatisticsSchedule {
    written: AtomicU64,
    next: AtomicU64,
}

impl Default for StatisticsSchedule {
    fn default() -> Self {
        Self {
            written: AtomicU64::new(0),
            next: AtomicU64::new(FIRST_ANALYZE),
        }
    }
}

impl Store {
    /// Counts `messages` new rows and analyzes the index tables when the schedule says.
    pub(crate) fn note_new_messages(&self, messages: u64) {
        if self.engine != Engine::Postgres || messages == 0 {
            return;
        }
        let schedule = &self.statistics;
        let written = schedule.written.fetch_add(messages, Ordering::Relaxed) + messages;
        let next = schedule.next.load(Ordering::Relaxed);
        if written < next {
            return;
        }
        let following = written + written.clamp(FIRST_ANALYZE, MOST_BETWEEN);
        // One writer wins the turn; the others carry on.
        if schedule
            .next
            .compare_exchange(next, following, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        // In the background: the writer that crossed the mark carries on with its sync.
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let analyzed = sqlx::query(
                "ANALYZE messages, message_locations, message_addresses, threads, \
                 thread_folders, thread_refs, folders",
            )
            .execute(&pool)
            .await;
            if let Err(error) = analyzed {
                tracing::warn!(%error, "could not refresh the index tables' statistics");
            }
        });
    }
}
