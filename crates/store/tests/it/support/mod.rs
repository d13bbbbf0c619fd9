//! What the store's integration tests share: a store on the embedded SQLite or on
//! PostgreSQL (`MAILROOM_TEST_POSTGRES`, by default the local server's `test` database,
//! each store in a schema of its own), and a macro that runs a scenario on both.

use mailroom_model::{
    ApplicationId, EmailAddress, MailCredentials, MailServerSettings, Provider, TransportSecurity,
};
use mailroom_store::{GrantRecord, GrantScope, GrantWrite, NewMessage, SecretBox, Store};

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

pub fn postgres_url() -> String {
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

/// An IMAP grant for `a@example.test` in the application, with every scope.
pub async fn new_grant(store: &Store, application_id: &ApplicationId) -> GrantRecord {
    let settings = MailServerSettings {
        imap_username: "a@example.test".into(),
        imap_host: "h".into(),
        imap_port: 993,
        imap_security: TransportSecurity::Ssl,
        smtp_username: "a@example.test".into(),
        smtp_host: "h".into(),
        smtp_port: 465,
        smtp_security: TransportSecurity::Ssl,
    };
    let email = EmailAddress::parse("a@example.test").unwrap();
    let credentials = MailCredentials {
        imap_password: "p".into(),
        smtp_password: "p".into(),
    };
    let (grant, _) = store
        .upsert_grant(GrantWrite {
            application_id,
            provider: Provider::Imap,
            email: &email,
            name: None,
            scope: GrantScope::Unchanged,
            settings: &settings,
            credentials: &credentials.into(),
            email_verified: false,
            max_grants: 10,
            state: None,
            ip: None,
            user_agent: None,
        })
        .await
        .unwrap()
        .unwrap();
    grant
}

/// A top-level folder as a LIST answer names it.
pub fn listing(name: &str) -> mailroom_store::FolderListing {
    mailroom_store::FolderListing {
        imap_name: name.into(),
        name: name.into(),
        parent_imap_name: None,
        delimiter: Some("/".into()),
        attributes: vec![],
    }
}

/// An application, its grant (see [`new_grant`]) and the grant's folders of these
/// names. Returns the grant's id and the folders' ids, in the order of `names`.
pub async fn grant_with_folders(
    store: &Store,
    names: &[&str],
) -> (mailroom_model::GrantId, Vec<String>) {
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(store, &app.application.id).await.id;
    let listings: Vec<_> = names.iter().map(|n| listing(n)).collect();
    let folders = store.reconcile_folders(&grant, &listings).await.unwrap();
    let ids = names
        .iter()
        .map(|name| {
            folders
                .iter()
                .find(|f| f.imap_name == *name)
                .map(|f| f.id.clone())
                .expect("the folder was listed")
        })
        .collect();
    (grant, ids)
}

/// An application, its grant and the grant's Inbox folder: what most index scenarios
/// start from. Returns the grant's id and the folder's id.
pub async fn grant_with_inbox(store: &Store) -> (mailroom_model::GrantId, String) {
    let (grant, mut folders) = grant_with_folders(store, &["INBOX"]).await;
    (grant, folders.remove(0))
}

/// Runs a statement on the store's database behind its back (to age rows, say).
pub async fn execute_raw(place: &Place, sql: &str) {
    use sqlx::Connection;
    match place {
        Place::Dir(dir) => {
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Place::Schema(schema) => {
            let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            sqlx::query(&format!("SET search_path TO {schema}"))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
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

/// A message as sync would read it: `id` is its Message-ID, `refs` its references.
pub fn message(uid: i64, id: &str, refs: &[&str], subject: &str) -> NewMessage {
    let mut thread_keys = vec![format!("id:{id}")];
    thread_keys.extend(refs.iter().map(|r| format!("id:{r}")));
    if refs.is_empty() {
        thread_keys.push(format!("subject:{}", subject.to_lowercase()));
    }
    NewMessage {
        uid,
        identity_key: format!("mid:{id}"),
        message_id_header: Some(id.into()),
        thread_keys,
        subject: Some(subject.into()),
        from: vec![],
        to: vec![],
        cc: vec![],
        bcc: vec![],
        reply_to: vec![],
        date: 1_700_000_000 + uid,
        sent_date: None,
        size: 100,
        flags: vec![],
        has_attachments: false,
        in_reply_to: refs.last().map(|r| r.to_string()),
        adopts_identity: None,
    }
}
