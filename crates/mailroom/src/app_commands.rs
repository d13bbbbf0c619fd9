//! `mailroom app …` and `mailroom api-key …`: managing applications and keys against
//! the same database a running server uses.

use anyhow::{Context, bail};
use mailroom_model::{
    ApiKeyId, ApplicationId, CallbackUriId, RedirectPlatform, RedirectUrl, v3::RedirectUriSettings,
};
use mailroom_store::{CallbackUriRecord, Store};
use serde_json::json;

use crate::{
    cli::{ApiKeyCommand, AppCommand, CallbackUriCommand},
    database,
    settings::Settings,
};

pub async fn app(settings: Settings, command: AppCommand) -> anyhow::Result<()> {
    let store = database::open(&settings).await?;
    match command {
        AppCommand::Create {
            name,
            callback_uris,
            allow_custom_servers,
            json,
        } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("--name must not be empty");
            }
            let urls = callback_uris
                .iter()
                .map(|uri| RedirectUrl::parse(uri, RedirectPlatform::Web))
                .collect::<Result<Vec<_>, _>>()
                .context("--callback-uri")?;
            let created = store.create_application(name, &urls).await?;
            if allow_custom_servers {
                store
                    .set_allow_custom_servers(&created.application.id, true)
                    .await?;
            }
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
                    "allow_custom_servers": allow_custom_servers,
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
                if allow_custom_servers {
                    println!("  hosted sign-in accepts servers outside the email's domain");
                }
                println!("The secrets are shown only now; mailroom keeps only their hashes.");
            }
        }
        AppCommand::Update {
            application_id,
            allow_custom_servers,
        } => {
            let app_id =
                ApplicationId::parse(&application_id).map_err(|e| anyhow::anyhow!("--app: {e}"))?;
            let Some(allow) = allow_custom_servers else {
                bail!("nothing to change: give --allow-custom-servers true|false");
            };
            if !store.set_allow_custom_servers(&app_id, allow).await? {
                bail!("no application with id {application_id}");
            }
            println!("Application {application_id}: allow_custom_servers = {allow}");
        }
        AppCommand::List { json } => {
            let apps = store.list_applications().await?;
            if json {
                let list: Vec<_> = apps
                    .iter()
                    .map(|a| {
                        json!({
                            "application_id": a.id.to_string(),
                            "name": a.name,
                            "allow_custom_servers": a.allow_custom_servers,
                            "created_at": a.created_at,
                        })
                    })
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
        AppCommand::CallbackUri(command) => callback_uri(&store, command).await?,
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

async fn callback_uri(store: &Store, command: CallbackUriCommand) -> anyhow::Result<()> {
    match command {
        CallbackUriCommand::Add {
            application_id,
            url,
            platform,
            json,
        } => {
            let app_id = existing_application(store, &application_id).await?;
            let platform: RedirectPlatform = platform.parse().context("--platform")?;
            let url = RedirectUrl::parse(&url, platform)?;
            let record = store
                .create_callback_uri(&app_id, &url, &RedirectUriSettings::default())
                .await?
                .with_context(|| {
                    format!(
                        "application {application_id} already has '{}'",
                        url.as_str()
                    )
                })?;
            if json {
                println!("{}", callback_uri_json(&record));
            } else {
                println!("Redirect URI {} added (id {}).", record.url, record.id);
            }
        }
        CallbackUriCommand::List {
            application_id,
            json,
        } => {
            let app_id = existing_application(store, &application_id).await?;
            let records = store.list_callback_uris(&app_id).await?;
            if json {
                let list = records.iter().map(callback_uri_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else if records.is_empty() {
                println!(
                    "No redirect URIs. Add one with: mailroom app callback-uri add --app {application_id} URI"
                );
            } else {
                for r in records {
                    println!("{}  {}  {}", r.id, r.platform, r.url);
                }
            }
        }
        CallbackUriCommand::Remove { application_id, id } => {
            let app_id = existing_application(store, &application_id).await?;
            let uri_id = CallbackUriId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?;
            if !store.delete_callback_uri(&app_id, &uri_id).await? {
                bail!("application {application_id} has no redirect URI with id {id}");
            }
            println!("Redirect URI {id} removed.");
        }
    }
    Ok(())
}

async fn existing_application(store: &Store, id: &str) -> anyhow::Result<ApplicationId> {
    let app_id = ApplicationId::parse(id).map_err(|e| anyhow::anyhow!("--app: {e}"))?;
    store
        .application(&app_id)
        .await?
        .with_context(|| format!("no application with id {id}"))?;
    Ok(app_id)
}

/// The shape `GET /v3/applications/redirect-uris` lists.
fn callback_uri_json(record: &CallbackUriRecord) -> serde_json::Value {
    json!({
        "id": record.id.to_string(),
        "url": record.url,
        "platform": record.platform,
        "settings": record.settings,
    })
}
