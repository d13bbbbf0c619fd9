//! What the store's integration tests share: a store on the embedded SQLite or on
//! PostgreSQL (`MAILROOM_TEST_POSTGRES`, by default the local server's `test` database,
//! each store in a schema of its own), and a macro that runs a scenario on both.

use mailroom_store::{SecretBox, Store};

#[derive(Clone, Copy)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Where a scenario's store lives; dropped (the schema) at the end of a passing test.
pub enum Place {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema(String),
}

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

fn postgres_url() -> String {
    std::env::var("MAILROOM_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

pub async fn open_store(engine: Engine) -> (Store, Place) {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let store = Store::open(&url, SecretBox::new(&[7; 32])).await.unwrap();
            (store, Place::Dir(dir))
        }
        Engine::Postgres => {
            use sqlx::Connection;
            let schema = format!("mr_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&postgres_url())
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed: {e}", postgres_url()));
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut admin)
                .await
                .unwrap();
            let separator = if postgres_url().contains('?') {
                '&'
            } else {
                '?'
            };
            let url = format!(
                "{}{separator}options=-c%20search_path%3D{schema}",
                postgres_url()
            );
            let store = Store::open(&url, SecretBox::new(&[7; 32])).await.unwrap();
            (store, Place::Schema(schema))
        }
    }
}

pub async fn clean_up(place: Place) {
    if let Place::Schema(schema) = place {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

/// Each scenario once per engine.
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario($crate::support::Engine::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario($crate::support::Engine::Postgres).await;
            })*
        }
    };
}
pub(crate) use on_both_engines;
