//! The key that seals mailbox passwords: from configuration, or a key file made on first
//! run, readable by its owner only.

use std::{io::Write, path::Path};

use anyhow::{Context, bail};
use mailroom_store::SecretBox;

const KEY_FILE: &str = "secret.key";

pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<SecretBox> {
    if let Some(encoded) = configured {
        return SecretBox::from_encoded_key(encoded).context("MAILROOM_SECRET_KEY / secret_key");
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            check_private(&path)?;
            SecretBox::from_encoded_key(&text)
                .with_context(|| format!("key file {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path),
        Err(e) => Err(e).with_context(|| format!("cannot read key file {}", path.display())),
    }
}

fn create(path: &Path) -> anyhow::Result<SecretBox> {
    let encoded = SecretBox::generate_encoded_key();
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
            SecretBox::from_encoded_key(&encoded).context("new key")
        }
        // Another mailroom process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)?;
            SecretBox::from_encoded_key(&text)
                .with_context(|| format!("key file {}", path.display()))
        }
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
