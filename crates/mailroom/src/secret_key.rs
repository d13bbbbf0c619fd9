//! The key that seals mailbox passwords and webhook secrets: from configuration, or a key
//! file made on first run, readable by its owner only. A key file is written only once
//! the database has accepted the key (see `database.rs`), so a lost key file never turns
//! silently into a new key for a database that holds secrets.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use mailroom_store::SecretBox;

pub const KEY_FILE: &str = "secret.key";
/// A rotated key waits here until the database has committed to it.
pub const NEW_KEY_FILE: &str = "secret.key.new";

/// Where the key came from.
pub enum KeySource {
    /// `secret_key` / `MAILROOM_SECRET_KEY`.
    Configured,
    /// The key file at this path.
    File(PathBuf),
    /// No key yet: this one is new and is to be written to the key file at this path
    /// once the database accepts it.
    New { path: PathBuf, encoded: String },
}

pub struct Key {
    pub secrets: SecretBox,
    pub source: KeySource,
}

/// The configured key, else the key file's, else a new key not yet written anywhere.
pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Key> {
    if let Some(encoded) = configured {
        let secrets =
            SecretBox::from_encoded_key(encoded).context("MAILROOM_SECRET_KEY / secret_key")?;
        return Ok(Key {
            secrets,
            source: KeySource::Configured,
        });
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            check_private(&path)?;
            let secrets = SecretBox::from_encoded_key(&text)
                .with_context(|| format!("key file {}", path.display()))?;
            Ok(Key {
                secrets,
                source: KeySource::File(path),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let encoded = SecretBox::generate_encoded_key();
            let secrets = SecretBox::from_encoded_key(&encoded).context("new key")?;
            Ok(Key {
                secrets,
                source: KeySource::New { path, encoded },
            })
        }
        Err(e) => Err(e).with_context(|| format!("cannot read key file {}", path.display())),
    }
}

/// Writes a new key file, readable by its owner only. If another mailroom process wrote
/// one meanwhile, that is an error: this process's key is not the one on disk.
pub fn write_new(path: &Path, encoded: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(encoded.as_bytes())
                .and_then(|_| file.sync_all())
                .with_context(|| format!("cannot write key file {}", path.display()))?;
            tracing::info!(path = %path.display(), "created a new secret key file");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "another mailroom process created {} at the same moment; start again",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot create key file {}", path.display())),
    }
}

/// Refuses a key file that others can read.
fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "key file {} is readable by others (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}
