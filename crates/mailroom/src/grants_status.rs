//! `mailroom grants status`: how far each grant's local index is.

use serde_json::json;

use crate::{cli::GrantsCommand, database, settings::Settings};

const BAR_WIDTH: usize = 30;

pub async fn run(settings: Settings, command: GrantsCommand) -> anyhow::Result<()> {
    let GrantsCommand::Status { json } = command;
    let store = database::open(&settings).await?;
    let owners: std::collections::HashMap<_, _> = store
        .grant_leases()
        .await?
        .into_iter()
        .filter_map(|lease| Some((lease.grant_id, lease.node_id?)))
        .collect();
    let mut rows = Vec::new();
    for grant in store.all_grants().await? {
        let status = store.sync_status(&grant.id).await?.unwrap_or_default();
        rows.push((grant, status));
    }
    if json {
        let list: Vec<_> = rows
            .iter()
            .map(|(grant, status)| {
                json!({
                    "grant_id": grant.id.to_string(),
                    "email": grant.email.to_string(),
                    "grant_status": grant.status.as_str(),
                    "sync_state": status.state.map(|s| s.as_str()),
                    "folders_done": status.folders_done,
                    "folders_total": status.folders_total,
                    "messages_synced": status.messages_synced,
                    "messages_total": status.messages_total.max(status.messages_synced),
                    "last_error": status.last_error,
                    "owner_node": owners.get(&grant.id),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else if rows.is_empty() {
        println!("No grants yet.");
    } else {
        for (grant, status) in &rows {
            let total = status.messages_total.max(status.messages_synced);
            println!(
                "{:<36} {:<30} {:<12} {} {}/{} messages, {}/{} folders, node {}",
                grant.id,
                grant.email,
                status.state.map_or("pending", |s| s.as_str()),
                progress_bar(status.messages_synced, total),
                status.messages_synced,
                total,
                status.folders_done,
                status.folders_total,
                owners.get(&grant.id).map_or("-", String::as_str),
            );
        }
    }
    store.close().await;
    Ok(())
}

fn progress_bar(done: i64, total: i64) -> String {
    let filled = if total <= 0 {
        0
    } else {
        ((done.clamp(0, total) as f64 / total as f64) * BAR_WIDTH as f64).round() as usize
    };
    format!("[{}{}]", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(progress_bar(0, 0), format!("[{}]", "-".repeat(BAR_WIDTH)));
        assert_eq!(progress_bar(5, 10).matches('#').count(), BAR_WIDTH / 2);
        assert_eq!(progress_bar(10, 10), format!("[{}]", "#".repeat(BAR_WIDTH)));
    }
}
