//! `mailroom admin-token create|list|revoke`: the credentials of the operator dashboard.

use anyhow::bail;
use serde_json::json;

use crate::{cli::AdminTokenCommand, database, settings::Settings};

pub async fn run(settings: Settings, command: AdminTokenCommand) -> anyhow::Result<()> {
    let store = database::open(&settings).await?;
    match command {
        AdminTokenCommand::Create { json } => {
            let (record, token) = store.create_admin_token().await?;
            if json {
                println!("{}", json!({"id": record.id, "admin_token": token}));
            } else {
                println!("admin_token: {token}  (id {})", record.id);
                println!(
                    "The token is shown only now; mailroom keeps only its hash. Sign in at /admin."
                );
            }
        }
        AdminTokenCommand::List { json } => {
            let tokens = store.admin_tokens().await?;
            if json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| json!({"id": t.id, "created_at": t.created_at, "revoked_at": t.revoked_at}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else if tokens.is_empty() {
                println!("No admin tokens.");
            } else {
                for t in tokens {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    };
                    println!("{}  created {}  {state}", t.id, t.created_at);
                }
            }
        }
        AdminTokenCommand::Revoke { id } => {
            if !store.revoke_admin_token(&id).await? {
                bail!("no live admin token with id {id}");
            }
            println!("Admin token {id} revoked; its dashboard sessions are closed.");
        }
    }
    store.close().await;
    Ok(())
}
