//! `mailroom secret-key rotate`: every sealed secret sealed again under a new key, in one
//! transaction, and the new key put where the next start finds it.
//!
//! The new key is written to `secret.key.new` before the transaction commits, so that it
//! is never lost: if the process stops between the commit and the rename, the server's
//! refusal to start names that file.

use std::path::Path;

use anyhow::{Context, bail};
use mailroom_store::SecretBox;

use crate::{
    database,
    secret_key::{self, KeySource, NEW_KEY_FILE},
    settings::Settings,
};

pub async fn rotate(settings: Settings) -> anyhow::Result<()> {
    let source = secret_key::load(settings.secret_key.as_deref(), &settings.data_dir)?.source;
    if let KeySource::New { path, .. } = &source {
        bail!(
            "there is no secret key to rotate: no key file {} and no MAILROOM_SECRET_KEY",
            path.display()
        );
    }
    let _no_server = database::rotation_lock(&settings.data_dir)?;
    let store = database::open(&settings).await?;
    let encoded = SecretBox::generate_encoded_key();
    let new_key = SecretBox::from_encoded_key(&encoded).context("new key")?;
    let pending = settings.data_dir.join(NEW_KEY_FILE);
    write_pending(&pending, &encoded)?;
    let report = match store.reseal_all(&new_key).await {
        Ok(report) => report,
        Err(e) => {
            // Nothing was committed: the old key stays the key.
            let _ = std::fs::remove_file(&pending);
            return Err(e).context("the secrets could not be sealed again; nothing changed");
        }
    };
    store.close().await;
    println!(
        "Sealed {} grant credential(s), {} webhook secret(s) and {} connector client secret(s) again under a new secret key.",
        report.grant_credentials, report.webhook_secrets, report.connector_secrets
    );
    match source {
        KeySource::File(path) => {
            std::fs::rename(&pending, &path).with_context(|| {
                format!(
                    "the database now needs the key in {}; move it to {} by hand",
                    pending.display(),
                    path.display()
                )
            })?;
            println!(
                "The new key is in {}. Start mailroom serve again.",
                path.display()
            );
        }
        KeySource::Configured | KeySource::New { .. } => {
            println!(
                "The new key is in {}. Put its contents in MAILROOM_SECRET_KEY (or secret_key \
                 in the config file) in place of the old key, then delete the file and start \
                 mailroom serve again. The old key no longer opens anything.",
                pending.display()
            );
        }
    }
    Ok(())
}

/// Writes the new key, owner-only, replacing a file left by a rotation that did not
/// commit (the database was just opened with the current key, so nothing uses it).
fn write_pending(path: &Path, encoded: &str) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
    }
    secret_key::write_new(path, encoded)
}
