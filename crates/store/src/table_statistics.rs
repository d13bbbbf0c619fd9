//! Planner statistics and visibility maps for the index tables on PostgreSQL. The lists'
//! plans depend on statistics (a folder of a million messages and one of ten want
//! different plans), and their index-only scans on the visibility map: until a table is
//! vacuumed, an index-only scan visits the table for every entry, and the planner,
//! knowing it, reads a frequent address's rows by scanning the whole table (37 ms for a
//! page at 1M messages, 2.6 ms once vacuumed). A database filled by an initial sync would
//! otherwise keep the statistics of its empty tables, and the dead rows and unset
//! visibility maps of the sync, until autovacuum runs, or forever where it is off. So the
//! writer vacuums and analyzes the tables itself as they grow: after 1,000 new messages,
//! then each time the count doubles, then every 200,000, one run at a time. SQLite plans
//! these lists from the indexes alone (`message_lists.rs`) and is left as it is.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use crate::open::{Engine, Store};

const FIRST_ANALYZE: u64 = 1_000;
const MOST_BETWEEN: u64 = 200_000;

/// Messages written by this process, and when to analyze next.
#[derive(Debug)]
pub(crate) struct StatisticsSchedule {
    written: AtomicU64,
    next: AtomicU64,
    /// A run is under way: a mark crossed meanwhile waits for the next.
    running: Arc<AtomicBool>,
}

impl Default for StatisticsSchedule {
    fn default() -> Self {
        Self {
            written: AtomicU64::new(0),
            next: AtomicU64::new(FIRST_ANALYZE),
            running: Arc::new(AtomicBool::new(false)),
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
        if schedule.running.swap(true, Ordering::AcqRel) {
            return;
        }
        // In the background: the writer that crossed the mark carries on with its sync.
        // VACUUM runs outside any transaction, so it is sent as a plain statement.
        let (pool, running) = (self.pool.clone(), schedule.running.clone());
        tokio::spawn(async move {
            let vacuumed = sqlx::raw_sql(
                "VACUUM (ANALYZE) messages, message_locations, message_addresses, threads, \
                 thread_folders, thread_refs, thread_addresses, folders",
            )
            .execute(&pool)
            .await;
            running.store(false, Ordering::Release);
            if let Err(error) = vacuumed {
                tracing::warn!(%error, "could not vacuum and analyze the index tables");
            }
        });
    }
}
