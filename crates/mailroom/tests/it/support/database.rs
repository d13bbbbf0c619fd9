//! The database a test's `mailroom` runs on. `MAILROOM_TEST_DATABASE` picks the engine for
//! the whole run: unset or `sqlite`, the embedded SQLite file in the data dir (mailroom's
//! default); `postgres`, a fresh schema `mr_test_<uuid>` in the database at
//! `MAILROOM_TEST_POSTGRES` (by default the local server's `test` database, as for the
//! store's tests), handed to mailroom as `MAILROOM_DATABASE_URL` with that schema as its
//! search path and dropped with the [`Database`]. The data dir still holds the key file.

use std::{path::Path, sync::OnceLock};

use sqlx::{Connection, Row};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The engine this run's servers use. Any value but `sqlite` or `postgres` fails the test:
/// a typo must not quietly test SQLite again.
pub fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    *ENGINE.get_or_init(|| match std::env::var("MAILROOM_TEST_DATABASE") {
        Err(std::env::VarError::NotPresent) => Engine::Sqlite,
        Ok(value) if value.is_empty() || value == "sqlite" => Engine::Sqlite,
        Ok(value) if value == "postgres" => Engine::Postgres,
        Ok(value) => panic!("MAILROOM_TEST_DATABASE={value:?}: expected `sqlite` or `postgres`"),
        Err(e) => panic!("MAILROOM_TEST_DATABASE: {e}"),
    })
}

pub fn postgres_url() -> String {
    std::env::var("MAILROOM_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// One server's database (kept across its restarts).
#[derive(Debug)]
pub enum Database {
    /// `<data_dir>/mailroom.db`, which mailroom makes itself.
    Sqlite,
    Postgres(PgSchema),
}

impl Database {
    /// A new database of this run's engine.
    pub fn new() -> Self {
        match engine() {
            Engine::Sqlite => Database::Sqlite,
            Engine::Postgres => Database::Postgres(PgSchema::create()),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Database::Sqlite => Engine::Sqlite,
            Database::Postgres(_) => Engine::Postgres,
        }
    }

    /// What a `mailroom` process needs to use it: nothing for SQLite (the data dir's
    /// file), `MAILROOM_DATABASE_URL` for PostgreSQL.
    pub fn env(&self) -> Vec<(String, String)> {
        match self {
            Database::Sqlite => Vec::new(),
            Database::Postgres(schema) => {
                vec![("MAILROOM_DATABASE_URL".into(), schema.database_url())]
            }
        }
    }

    /// Everything stored, as text to search for what must not be there (a password, a
    /// secret). SQLite: the database file and its write-ahead log as they are on disk.
    /// PostgreSQL: every row of every table of the schema, each column as text and byte
    /// columns with their printable bytes as they are.
    pub fn contents(&self, data_dir: &Path) -> String {
        match self {
            Database::Sqlite => {
                let mut bytes = Vec::new();
                for name in ["mailroom.db", "mailroom.db-wal"] {
                    if let Ok(b) = std::fs::read(data_dir.join(name)) {
                        bytes.extend(b);
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Database::Postgres(schema) => schema.dump(),
        }
    }

    /// A number (an integer in the first column of the first row) read behind the
    /// server's back.
    pub fn scalar(&self, data_dir: &Path, sql: &str) -> i64 {
        let sql = sql.to_owned();
        match self {
            Database::Sqlite => {
                let url = format!("sqlite://{}", data_dir.join("mailroom.db").display());
                block_on(move || async move {
                    let mut conn = sqlx::SqliteConnection::connect(&url)
                        .await
                        .expect("open the database");
                    let value = sqlx::query(&sql)
                        .fetch_one(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                        .get::<i64, _>(0);
                    conn.close().await.ok();
                    value
                })
            }
            Database::Postgres(schema) => schema.scalar(&sql),
        }
    }

    /// Runs statements behind the server's back (to age the schema, say).
    pub fn execute(&self, data_dir: &Path, sql: &str) {
        let sql = sql.to_owned();
        match self {
            Database::Sqlite => {
                let url = format!("sqlite://{}", data_dir.join("mailroom.db").display());
                block_on(move || async move {
                    let mut conn = sqlx::SqliteConnection::connect(&url)
                        .await
                        .expect("open the database");
                    sqlx::raw_sql(&sql)
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    conn.close().await.ok();
                })
            }
            Database::Postgres(schema) => schema.execute(&sql),
        }
    }
}

/// A schema of its own in the PostgreSQL database, dropped on drop.
#[derive(Debug)]
pub struct PgSchema {
    pub name: String,
}

impl PgSchema {
    /// Creates it; fails the test (never skips it) when PostgreSQL cannot be reached.
    pub fn create() -> Self {
        let name = format!("mr_test_{}", uuid::Uuid::new_v4().simple());
        let schema = PgSchema { name };
        let create = format!("CREATE SCHEMA {}", schema.name);
        block_on(move || async move {
            let mut conn = admin_connection().await;
            sqlx::raw_sql(&create)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{create}: {e}"));
            conn.close().await.ok();
        });
        schema
    }

    /// The URL mailroom is given: the database's, with this schema as the search path.
    pub fn database_url(&self) -> String {
        let url = postgres_url();
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}options=-c%20search_path%3D{}", self.name)
    }

    pub fn scalar(&self, sql: &str) -> i64 {
        let (schema, sql) = (self.name.clone(), sql.to_owned());
        block_on(move || async move {
            let mut conn = schema_connection(&schema).await;
            let value = sqlx::query(&sql)
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get::<i64, _>(0);
            conn.close().await.ok();
            value
        })
    }

    pub fn execute(&self, sql: &str) {
        let (schema, sql) = (self.name.clone(), sql.to_owned());
        block_on(move || async move {
            let mut conn = schema_connection(&schema).await;
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            conn.close().await.ok();
        })
    }

    /// Every row of every table, one line per row. `bytea` columns go through
    /// `encode(…, 'escape')`, which keeps printable bytes as they are: a password stored
    /// unsealed in one would show.
    pub fn dump(&self) -> String {
        let schema = self.name.clone();
        block_on(move || async move {
            let mut conn = schema_connection(&schema).await;
            let columns = sqlx::query(
                "SELECT table_name::text, column_name::text, data_type::text \
                 FROM information_schema.columns WHERE table_schema = $1 \
                 ORDER BY table_name, ordinal_position",
            )
            .bind(&schema)
            .fetch_all(&mut conn)
            .await
            .expect("list the schema's columns");
            let mut tables: Vec<(String, Vec<String>)> = Vec::new();
            for row in columns {
                let (table, column, kind): (String, String, String) =
                    (row.get(0), row.get(1), row.get(2));
                let expression = if kind == "bytea" {
                    format!("encode(\"{column}\", 'escape')")
                } else {
                    format!("\"{column}\"::text")
                };
                match tables.last_mut() {
                    Some((name, expressions)) if *name == table => expressions.push(expression),
                    _ => tables.push((table, vec![expression])),
                }
            }
            assert!(!tables.is_empty(), "schema {schema} has no tables");
            let mut text = String::new();
            for (table, expressions) in tables {
                let select = format!(
                    "SELECT concat_ws(' | ', {}) FROM \"{schema}\".\"{table}\"",
                    expressions.join(", ")
                );
                let rows = sqlx::query(&select)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{select}: {e}"));
                for row in rows {
                    text.push_str(&table);
                    text.push_str(": ");
                    text.push_str(&row.get::<String, _>(0));
                    text.push('\n');
                }
            }
            conn.close().await.ok();
            text
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let dropped = block_on_result(move || async move {
            let mut conn = sqlx::PgConnection::connect(&postgres_url()).await?;
            sqlx::raw_sql(&drop).execute(&mut conn).await?;
            conn.close().await
        });
        // Never a panic in a drop (it would abort a failing test's unwinding).
        if let Err(e) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

async fn admin_connection() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&postgres_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "MAILROOM_TEST_DATABASE=postgres needs PostgreSQL at {} \
                 (MAILROOM_TEST_POSTGRES): {e}",
                postgres_url()
            )
        })
}

async fn schema_connection(schema: &str) -> sqlx::PgConnection {
    let mut conn = admin_connection().await;
    sqlx::raw_sql(&format!("SET search_path TO {schema}"))
        .execute(&mut conn)
        .await
        .expect("set the search path");
    conn
}

/// Runs the future `make` makes to completion on a runtime of its own, on a thread of its
/// own, so that it can be called from synchronous code, from a drop, and from inside a
/// test's runtime alike. (The future is made on that thread: sqlx's futures are not
/// always `Send`.)
fn block_on<T: Send + 'static, F: Future<Output = T>>(
    make: impl FnOnce() -> F + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(make())
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn block_on_result<T: Send + 'static, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    make: impl FnOnce() -> F + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(make())
            .map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "panicked".to_owned())?
}
