//! `mailroom app …` and `mailroom api-key …`: managing applications and keys against
//! the same database a running server uses.

use anyhow::{Context, bail};
use mailroom_model::{ApiKeyId, ApplicationId};
use serde_json::json;

use crate::{
    cli::{ApiKeyCommand, AppCommand},
    database,
    settings::Settings,
};

pub async fn app(settings: Settings, command: AppCommand) -> anyhow::Result<()> {
    let store = database::open(&settings).await?;
    match command {
        AppCommand::Create {
            name,
            callback_uris,
            json,
        } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("--name must not be empty");
            }
            for uri in &callback_uris {
                check_callback_uri(uri)?;
            }
            let created = store.create_application(name, &callback_uris).await?;
            let id = created.application.id.to_string();
            if json {
                let out = json!({
                    "application_id": id,
                    "client_id": id,
                    "client_secret": created.client_secret,
                    "api_key": created.api_key,
                    "api_key_id": created.api_key_id.to_string(),
                    "name": created.application.name,
                    "callback_uris": callback_uris,
                });
                println!("{out}");
            } else {
                println!("Application '{}' created.", created.application.name);
                println!("  application_id / client_id: {id}");
                println!("  client_secret: {}", created.client_secret);
                println!(
                    "  api_key: {}  (id {})",
                    created.api_key, created.api_key_id
                );
                println!("The secrets are shown only now; mailroom keeps only their hashes.");
            }
        }
        AppCommand::List { json } => {
            let apps = store.list_applications().await?;
            if json {
                let list: Vec<_> = apps
                    .iter()
                    .map(|a| json!({"application_id": a.id.to_string(), "name": a.name, "created_at": a.created_at}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else if apps.is_empty() {
                println!("No applications. Create one with: mailroom app create --name NAME");
            } else {
                for a in apps {
                    println!("{}  {}", a.id, a.name);
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

pub async fn api_key(settings: Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let store = database::open(&settings).await?;
    match command {
        ApiKeyCommand::Create {
            application_id,
            json,
        } => {
            let app_id =
                ApplicationId::parse(&application_id).map_err(|e| anyhow::anyhow!("--app: {e}"))?;
            let (record, key) = store
                .create_api_key(&app_id)
                .await?
                .with_context(|| format!("no application with id {application_id}"))?;
            if json {
                println!(
                    "{}",
                    json!({"api_key_id": record.id.to_string(), "api_key": key, "application_id": application_id})
                );
            } else {
                println!("api_key: {key}  (id {})", record.id);
                println!("The key is shown only now; mailroom keeps only its hash.");
            }
        }
        ApiKeyCommand::Revoke { key_id } => {
            let id = ApiKeyId::parse(&key_id).map_err(|e| anyhow::anyhow!("{e}"))?;
            if !store.revoke_api_key(&id).await? {
                bail!("no live API key with id {key_id}");
            }
            println!("API key {key_id} revoked.");
        }
    }
    store.close().await;
    Ok(())
}

/// Redirect URIs are compared exactly later; refuse what cannot be one now.
fn check_callback_uri(uri: &str) -> anyhow::Result<()> {
    let ok = (uri.starts_with("https://") || uri.starts_with("http://"))
        && !uri.contains(char::is_whitespace)
        && !uri.contains('#');
    if ok {
        Ok(())
    } else {
        bail!("--callback-uri '{uri}' must be an absolute http(s) URL without a fragment")
    }
}
