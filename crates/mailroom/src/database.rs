//! Opening the store as every command does: a private data dir and database files, the
//! secret key checked against the database, and migrations only where asked for.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mailroom_store::{Migrations, Store, StoreError};

use crate::{
    secret_key::{self, KeySource, NEW_KEY_FILE},
    settings::Settings,
};

/// Opens the store for a command that must not change the schema under a running server
/// (all but `serve` and `migrate`).
pub async fn open(settings: &Settings) -> anyhow::Result<Store> {
    open_with(settings, Migrations::RequireCurrent).await
}

/// `mailroom migrate`: applies pending migrations, and says so.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let store = open_with(&settings, Migrations::Apply).await?;
    store.close().await;
    println!("the database schema is up to date");
    Ok(())
}

pub async fn open_with(settings: &Settings, migrations: Migrations) -> anyhow::Result<Store> {
    create_private_dir(&settings.data_dir)?;
    if let Some(path) = sqlite_path(&settings.database_url) {
        make_database_files_private(&path)?;
    }
    let key = secret_key::load(settings.secret_key.as_deref(), &settings.data_dir)?;
    let store = match Store::open_with(&settings.database_url, key.secrets, migrations).await {
        Ok(store) => store,
        Err(StoreError::WrongSecretKey) => bail!(wrong_key_message(settings, &key.source)),
        Err(e) => return Err(e).context("cannot open the database"),
    };
    // Written only now: the database has accepted the key.
    if let KeySource::New { path, encoded } = &key.source {
        secret_key::write_new(path, encoded)?;
    }
    if let Some(path) = sqlite_path(&settings.database_url) {
        // The WAL and shared-memory files exist now; SQLite gives them the database
        // file's mode, but one left from an earlier run may be wider.
        make_database_files_private(&path)?;
    }
    Ok(store)
}

/// The lock file every `serve` on a data dir holds shared, and a key rotation exclusive.
const SERVE_LOCK_FILE: &str = "serve.lock";

/// Held (shared) by `serve` for its lifetime, so that a key rotation can tell that a
/// server would go on sealing with the old key.
pub fn serve_lock(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let file = open_lock_file(data_dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "a secret key rotation is under way on {}; start again when it has finished",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", data_dir.display()))
        }
    }
}

/// Held (exclusive) during a key rotation; refused while a server runs on the data dir.
pub fn rotation_lock(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let file = open_lock_file(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "mailroom serve is running on {}: stop every server on this database before \
             rotating the key (a running server would go on sealing with the old one)",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", data_dir.display()))
        }
    }
}

/// Held (exclusive) by `serve` on an SQLite database for its lifetime: one process
/// syncs an SQLite database's grants. A cluster of several runs on PostgreSQL.
pub fn sqlite_serve_lock(settings: &Settings) -> anyhow::Result<Option<std::fs::File>> {
    use std::io::{Read, Seek, Write};
    let Some(database) = sqlite_path(&settings.database_url) else {
        return Ok(None);
    };
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push("-serve.lock");
    let path = database.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            // The holder's process id, for the message another `serve` gets.
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())?;
            Ok(Some(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (process {pid})"),
            };
            bail!(
                "another mailroom serve{holder} is using the SQLite database {}: an SQLite \
                 database is served by one process. Stop that one first, or run several \
                 nodes on PostgreSQL (README.md, \"Running a cluster\")",
                database.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn open_lock_file(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    create_private_dir(data_dir)?;
    let path = data_dir.join(SERVE_LOCK_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))
}

fn wrong_key_message(settings: &Settings, source: &KeySource) -> String {
    let key_file = settings.data_dir.join(secret_key::KEY_FILE);
    let pending = settings.data_dir.join(NEW_KEY_FILE);
    let hint = if pending.exists() {
        format!(
            " {} exists: a key rotation may have stopped before putting it in place; if so, \
             move it to {}.",
            pending.display(),
            key_file.display()
        )
    } else {
        String::new()
    };
    match source {
        KeySource::New { .. } => format!(
            "the database was sealed with another secret key, and there is no key file \
             ({}) and no MAILROOM_SECRET_KEY: restore the key file from a backup, or set \
             the key the database was sealed with. No new key was written.{hint}",
            key_file.display()
        ),
        KeySource::File(path) => format!(
            "the database was sealed with another secret key than the one in {}: restore \
             the right key file (or set MAILROOM_SECRET_KEY to the right key).{hint}",
            path.display()
        ),
        KeySource::Configured => format!(
            "the database was sealed with another secret key than MAILROOM_SECRET_KEY / \
             secret_key: set the key the database was sealed with.{hint}"
        ),
    }
}

/// The data dir, created readable by its owner only (it holds the key file and the
/// database, that is every indexed message); an existing one open to others is narrowed.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    narrow_to_owner(dir, 0o700)
}

/// Creates the SQLite database file readable by its owner only if it is missing, and
/// narrows it and its companion files if they exist and are open to others.
fn make_database_files_private(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create the database {}", path.display()));
            }
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        if file.exists() {
            narrow_to_owner(&file, 0o600)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn narrow_to_owner(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)
        .with_context(|| format!("cannot read the mode of {}", path.display()))?
        .permissions()
        .mode();
    if current & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(|| {
        format!(
            "{} is open to other users (mode {:o}) and cannot be narrowed; run: chmod {mode:o} {}",
            path.display(),
            current & 0o777,
            path.display()
        )
    })?;
    tracing::warn!(
        path = %path.display(),
        from = format!("{:o}", current & 0o777),
        to = format!("{mode:o}"),
        "narrowed permissions to the owner only"
    );
    Ok(())
}

#[cfg(not(unix))]
fn narrow_to_owner(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// The file of an SQLite database URL (`sqlite://PATH`, `sqlite:PATH`, with or without
/// query parameters); `None` for PostgreSQL and in-memory databases.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:") && !url.contains("mode=memory"))
        .then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;
    use std::path::PathBuf;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/m/mailroom.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/m/mailroom.db"))
        );
        assert_eq!(
            sqlite_path("sqlite://./data/mailroom.db"),
            Some(PathBuf::from("./data/mailroom.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u:p@h/db"), None);
    }
}
