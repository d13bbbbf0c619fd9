//! Opening the database and bringing its schema up to date.

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor, Row,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

use crate::{error::StoreError, secret_box::SecretBox};

/// One set of migrations for both engines: each is written in the SQL both accept, so the
/// schemas cannot drift apart. What needs engine-specific work (splitting stored lists
/// into rows) is a backfill in Rust, run after the migrations (`crate::backfills`).
static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The database, and the key that seals mailbox passwords in it.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Where write transactions begin: on SQLite one connection, on PostgreSQL `pool`.
    writer: AnyPool,
    pub(crate) secrets: SecretBox,
    pub(crate) engine: Engine,
    pub(crate) statistics: std::sync::Arc<crate::table_statistics::StatisticsSchedule>,
    /// Checked by every write transaction when set (`grant_leases`).
    pub(crate) fence: Option<std::sync::Arc<crate::grant_leases::Fence>>,
    /// For the PostgreSQL connection that listens for cluster events (`cluster_events`).
    pub(crate) database_url: std::sync::Arc<str>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

impl Store {
    /// Begins a transaction that will write. SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`): two writers then queue on the busy timeout, where a deferred
    /// transaction that read first would fail with "database is locked" when it could
    /// not upgrade its lock.
    ///
    /// The BEGIN runs in a task of its own, so that a caller cancelled while it is under
    /// way (an actor stopped, a request abandoned, a timeout) cannot cut it short: sqlx
    /// checks a custom BEGIN after the server took it, and a future dropped at that point
    /// would hand the connection back to the pool with its transaction, and SQLite's
    /// write lock, open for good. A finished task's transaction that nobody awaits any
    /// more is simply dropped, which rolls it back.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        self.begin_write_serialized(None).await
    }

    /// Begins a transaction that will write a grant's index. SQLite has one writer
    /// anyway; on PostgreSQL the transaction first waits for any other write of the
    /// same grant to end (a transaction-scoped advisory lock), from whichever node:
    /// index writes read what they then change (is this location indexed? which rows
    /// does this thread have?), and two of one grant at once under READ COMMITTED would
    /// both insert what neither saw (an API move and the sync pass it nudged). Writes of
    /// different grants go on side by side.
    pub(crate) async fn begin_grant_write(
        &self,
        grant_id: &mailroom_model::GrantId,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        self.begin_write_serialized(Some(grant_id.as_str().to_owned()))
            .await
    }

    async fn begin_write_serialized(
        &self,
        grant_id: Option<String>,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let (pool, engine) = (self.writer.clone(), self.engine);
        let begun = tokio::spawn(async move {
            match engine {
                Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Engine::Postgres => {
                    let mut transaction = pool.begin().await?;
                    if let Some(grant_id) = grant_id {
                        lock_grant(&mut transaction, &grant_id).await?;
                    }
                    Ok(transaction)
                }
            }
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
        let mut transaction = begun?;
        // Dropped on failure, which rolls it back.
        self.check_fence(&mut transaction).await?;
        Ok(transaction)
    }

    /// For a write begun before it knew its grant: waits, as [`Store::begin_grant_write`]
    /// does, for any other write of the grant to end.
    pub(crate) async fn serialize_grant_writes(
        &self,
        transaction: &mut sqlx::Transaction<'static, sqlx::Any>,
        grant_id: &mailroom_model::GrantId,
    ) -> Result<(), StoreError> {
        if self.engine == Engine::Postgres {
            lock_grant(transaction, grant_id.as_str()).await?;
        }
        Ok(())
    }

    /// Connects to `database_url` (`sqlite://PATH` or `postgres://…`), creating an SQLite
    /// file if it is missing, runs pending migrations and checks the secret key.
    pub async fn open(database_url: &str, secrets: SecretBox) -> Result<Self, StoreError> {
        Self::open_with(database_url, secrets, Migrations::Apply).await
    }

    /// As [`Store::open`], with a choice of what to do about pending migrations; then
    /// refuses a secret key other than the one the database's secrets are sealed with.
    pub async fn open_with(
        database_url: &str,
        secrets: SecretBox,
        migrations: Migrations,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = if database_url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact(database_url)));
        };
        let url = match engine {
            Engine::Sqlite if !database_url.contains("mode=") => {
                let sep = if database_url.contains('?') { '&' } else { '?' };
                format!("{database_url}{sep}mode=rwc")
            }
            _ => database_url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = connect(&options, engine, Role::Read).await?;
        // SQLite takes one writer at a time: a connection of its own keeps the pages
        // that writes touch in one cache, instead of each transaction reading them back
        // from the file on whichever pooled connection it got, and writers queue here
        // rather than on the database's lock.
        let writer = match engine {
            Engine::Sqlite => connect(&options, engine, Role::Write).await?,
            Engine::Postgres => pool.clone(),
        };
        let migrator = &MIGRATIONS;
        // Nodes of a cluster starting together would otherwise migrate the same schema
        // at once and fail on each other's tables; the lock is held through the secret
        // key check and the backfills, which a new database's first node writes.
        let schema_lock = match engine {
            Engine::Postgres => Some(SchemaLock::take(&pool).await?),
            Engine::Sqlite => None,
        };
        let applied = applied_migrations(&pool, engine).await?;
        // A database with no schema yet is nobody's: any command may create it.
        if migrations == Migrations::Apply || applied.is_empty() {
            // Before the first table of a new database, and only where the schema is
            // changed anyway (never under a running server from the CLI).
            if engine == Engine::Sqlite {
                enable_incremental_vacuum(&pool).await?;
            }
            migrator.run(&pool).await?;
        } else {
            require_current(migrator, &applied)?;
        }
        let store = Self {
            pool,
            writer,
            secrets,
            engine,
            statistics: Default::default(),
            fence: None,
            database_url: url.as_str().into(),
        };
        store.check_secret_key().await?;
        // A new database's backfills find nothing to fill, but make what it lacks (the
        // subject index): whatever command made it, it is complete.
        if migrations == Migrations::Apply || applied.is_empty() {
            store.run_pending_backfills().await?;
        }
        if let Some(lock) = schema_lock {
            lock.release().await?;
        }
        Ok(store)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// After [`Store::close`]: background workers then stop.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }
}

/// Takes the transaction-scoped advisory lock of a grant's index writes (PostgreSQL).
async fn lock_grant(
    transaction: &mut sqlx::Transaction<'static, sqlx::Any>,
    grant_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('mailroom grant ' || current_schema() || ' ' || $1))",
    )
    .bind(grant_id)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// A PostgreSQL session lock on the schema's setup (migrations, the secret key check,
/// backfills), one process at a time. On an error the store is not made, its pool is
/// closed with this connection, and PostgreSQL drops the lock with the session.
struct SchemaLock(sqlx::pool::PoolConnection<sqlx::Any>);

const SCHEMA_LOCK_KEY: &str = "hashtext('mailroom schema ' || current_schema())";

impl SchemaLock {
    async fn take(pool: &AnyPool) -> Result<Self, StoreError> {
        let mut conn = pool.acquire().await?;
        sqlx::query(&format!("SELECT pg_advisory_lock({SCHEMA_LOCK_KEY})"))
            .execute(&mut *conn)
            .await?;
        Ok(Self(conn))
    }

    async fn release(mut self) -> Result<(), StoreError> {
        sqlx::query(&format!("SELECT pg_advisory_unlock({SCHEMA_LOCK_KEY})"))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

/// What a pool's connections are for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Read,
    Write,
}

/// Page cache of SQLite's writer connection, in KiB: an initial sync's index pages stay
/// in memory between its batches instead of being read back from the file.
const WRITER_CACHE_KIB: i64 = 65_536;

/// A pool for `role`, each SQLite connection set up as mailroom needs it.
async fn connect(
    options: &AnyConnectOptions,
    engine: Engine,
    role: Role,
) -> Result<AnyPool, StoreError> {
    let connections = match (engine, role) {
        (Engine::Sqlite, Role::Write) => 1,
        (Engine::Sqlite, Role::Read) => 8,
        (Engine::Postgres, _) => 16,
    };
    let pool = AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        // A SQLite connection is a handle on a file in this process: it cannot have
        // gone away while idle, and the check would cost every query another round
        // trip to the connection's thread. (Every connection is still checked when
        // it goes back to the pool.)
        .test_before_acquire(engine != Engine::Sqlite)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if engine == Engine::Sqlite {
                    // The busy timeout comes first, so that even switching to WAL
                    // waits for a writer instead of failing; it is long because a
                    // writer (the CLI beside a busy server, a large batch on a slow
                    // disk) should queue, never fail. WAL lets the CLI write while a
                    // server reads and writes. Statement journals (multi-row INSERT …
                    // ON CONFLICT) stay in memory, not in temp files; the WAL file is
                    // cut back after checkpoints instead of keeping its largest size.
                    //
                    // Incremental auto-vacuum, set before the first table of a new
                    // database is made, lets deleted mail's pages go back to the file
                    // system (`Store::reclaim_free_pages`). `synchronous = FULL`: a
                    // commit is on disk before it returns, so a power loss cannot undo
                    // a scheduled send's claim after its message went out.
                    conn.execute(
                        "PRAGMA busy_timeout = 30000; PRAGMA auto_vacuum = INCREMENTAL; \
                         PRAGMA journal_mode = WAL; \
                         PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                         PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864;",
                    )
                    .await?;
                    if role == Role::Write {
                        conn.execute(format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}").as_str())
                            .await?;
                    }
                } else {
                    // The store's statements are short index reads and writes; JIT
                    // compilation only pays for long analytic queries, and where the
                    // planner's estimates are off (tables not yet analyzed) it crossed
                    // the threshold and spent 25 ms compiling each thread page. Nor do
                    // they gain from parallel workers: starting two took 6 of the 8 ms
                    // of a page of unread Inbox mail whose scan took under one, and
                    // under concurrent requests the workers only take cores from them.
                    conn.execute("SET jit = off").await?;
                    // A transaction left open this long belongs to a paused or hung
                    // process: ended, it frees the grant lease it holds locked, for the
                    // node taking the grant over (`grant_leases`). No transaction of
                    // mailroom's waits on anything but the database.
                    conn.execute("SET idle_in_transaction_session_timeout = '15s'")
                        .await?;
                    conn.execute("SET max_parallel_workers_per_gather = 0")
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await?;
    Ok(pool)
}

/// What [`Store::open_with`] does about migrations the database lacks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Migrations {
    /// Applies them: the server, and `mailroom migrate`.
    Apply,
    /// Refuses to work on an older schema, which a server of an older version may be
    /// using at this moment (a new database is still set up).
    RequireCurrent,
}

/// The versions of the migrations applied to the database (none for a new one).
async fn applied_migrations(pool: &AnyPool, engine: Engine) -> Result<Vec<i64>, StoreError> {
    let exists_sql = match engine {
        Engine::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Engine::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
        }
    };
    let exists: i64 = sqlx::query(exists_sql)
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| row.try_get::<i64, _>("version").map_err(StoreError::from))
        .collect()
}

fn require_current(migrator: &Migrator, applied: &[i64]) -> Result<(), StoreError> {
    let known: Vec<i64> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .collect();
    if let Some(unknown) = applied.iter().find(|v| !known.contains(v)) {
        return Err(StoreError::SchemaAhead(*unknown));
    }
    let done = known.iter().filter(|v| applied.contains(v)).count();
    if done < known.len() {
        return Err(StoreError::SchemaBehind {
            applied: done,
            known: known.len(),
        });
    }
    Ok(())
}

/// Databases made before incremental auto-vacuum are rewritten once (`VACUUM`) to turn
/// it on, when that is quick; a larger one keeps its size until an operator runs
/// `PRAGMA auto_vacuum = INCREMENTAL; VACUUM;` on it while mailroom is stopped.
async fn enable_incremental_vacuum(pool: &AnyPool) -> Result<(), StoreError> {
    const REWRITE_UP_TO_BYTES: i64 = 256 * 1024 * 1024;
    let pragma = |name: &'static str| async move {
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(pool)
            .await?;
        Ok::<i64, StoreError>(sqlx::Row::try_get(&row, 0)?)
    };
    // 2 = INCREMENTAL.
    if pragma("auto_vacuum").await? == 2 {
        return Ok(());
    }
    let bytes = pragma("page_count")
        .await?
        .saturating_mul(pragma("page_size").await?);
    if bytes <= REWRITE_UP_TO_BYTES {
        // The connection asked for INCREMENTAL when it opened; VACUUM applies it.
        // Another process on the file makes it wait and then fail: it is tried again at
        // the next start.
        let mut conn = pool.acquire().await?;
        if let Err(e) = conn
            .execute("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
            .await
        {
            tracing::warn!(error = %e, "could not turn on incremental auto-vacuum");
        }
    }
    Ok(())
}

/// A database URL fit for an error message: no password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.chars().take(80).collect(),
    }
}
