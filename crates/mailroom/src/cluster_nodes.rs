//! `mailroom nodes`: the `mailroom serve` processes on this database (README.md,
//! "Running a cluster"), how many grants each syncs and how fresh its heartbeat is.

use serde_json::json;

use crate::{database, settings::Settings};

pub async fn run(settings: Settings, json: bool) -> anyhow::Result<()> {
    let store = database::open(&settings).await?;
    let nodes = store.cluster_nodes().await?;
    store.close().await;
    let lease_ms = i64::try_from(settings.lease.as_millis()).unwrap_or(i64::MAX);
    let state = |leaving: bool, heartbeat_age_ms: i64| {
        if leaving {
            "leaving"
        } else if heartbeat_age_ms < lease_ms {
            "live"
        } else {
            "expired"
        }
    };
    if json {
        let list: Vec<_> = nodes
            .iter()
            .map(|node| {
                json!({
                    "node_id": node.id,
                    "host": node.host,
                    "pid": node.pid,
                    "state": state(node.leaving, node.heartbeat_age_ms),
                    "grants": node.grants,
                    "heartbeat_age_ms": node.heartbeat_age_ms,
                    "oldest_lease_age_ms": node.oldest_lease_age_ms,
                    "started_at": node.started_at / 1000,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else if nodes.is_empty() {
        println!("No node is running on this database.");
    } else {
        println!(
            "{:<32} {:<24} {:>8} {:<8} {:>7} {:>10} {:>12}",
            "NODE", "HOST", "PID", "STATE", "GRANTS", "HEARTBEAT", "OLDEST LEASE"
        );
        for node in &nodes {
            println!(
                "{:<32} {:<24} {:>8} {:<8} {:>7} {:>9.1}s {:>11}",
                node.id,
                node.host,
                node.pid,
                state(node.leaving, node.heartbeat_age_ms),
                node.grants,
                node.heartbeat_age_ms as f64 / 1000.0,
                node.oldest_lease_age_ms
                    .map_or("-".to_owned(), |ms| format!("{:.0}s", ms as f64 / 1000.0)),
            );
        }
    }
    Ok(())
}
