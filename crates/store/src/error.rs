//! The store's one error type: the database, a migration, stored data that does not
//! parse, a sealed secret that does not open. Its text is for the log, not for clients.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("a database task stopped: {0}")]
    Task(String),
    #[error(transparent)]
    Secret(#[from] crate::secret_box::SecretBoxError),
    #[error("the database's secrets were sealed with another secret key")]
    WrongSecretKey,
    #[error(
        "the database schema is older than this mailroom ({applied} of {known} migrations \
         applied); run `mailroom migrate`, or start `mailroom serve` of this version, first"
    )]
    SchemaBehind { applied: usize, known: usize },
    #[error(
        "the database schema is newer than this mailroom (migration {0} is unknown to it); \
         use the mailroom version that the server runs"
    )]
    SchemaAhead(i64),
    /// A fenced store's grant lease has passed to another node (`grant_leases`).
    #[error("grant {0} is now synced by another node")]
    LeaseLost(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
