//! Opening the store as every command does: data dir, secret key, migrations.

use anyhow::Context;
use mailroom_store::Store;

use crate::{secret_key, settings::Settings};

pub async fn open(settings: &Settings) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    let secrets = secret_key::load(settings.secret_key.as_deref(), &settings.data_dir)?;
    Store::open(&settings.database_url, secrets)
        .await
        .context("cannot open the database")
}
