//! Cluster mode's ground rules (README.md, "Running a cluster"): a grant's lease moves
//! only from a node that released it or stopped beating its heartbeat, each move raises
//! the epoch, and a store fenced with a lease that has moved on writes nothing. Every
//! scenario runs on the embedded SQLite and on PostgreSQL.

use std::time::Duration;

use crate::support::{
    Engine, Place, clean_up, execute_raw, grant_with_inbox, listing, on_both_engines, open_store,
};
use mailroom_model::GrantId;
use mailroom_store::{Fence, Store, StoreError};

const LEASE: Duration = Duration::from_secs(15);

/// Makes a node's last heartbeat a minute old, as if it had died.
async fn silence(place: &Place, node: &str) {
    execute_raw(
        place,
        &format!(
            "UPDATE cluster_nodes SET heartbeat_at = heartbeat_at - 60000 WHERE id = '{node}'"
        ),
    )
    .await;
}

async fn two_nodes(store: &Store) {
    store.register_node("node-a", "host-a", 1).await.unwrap();
    store.register_node("node-b", "host-b", 2).await.unwrap();
}

fn fence(grant: &GrantId, node: &str, epoch: i64) -> Fence {
    Fence {
        grant_id: grant.clone(),
        node_id: node.into(),
        epoch,
    }
}

async fn a_lease_moves_only_from_a_dead_or_releasing_node(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, _) = grant_with_inbox(&store).await;
    two_nodes(&store).await;

    assert_eq!(
        store
            .take_lease(&grant, "node-a", LEASE, true)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .take_lease(&grant, "node-b", LEASE, true)
            .await
            .unwrap(),
        None,
        "a live holder keeps its lease"
    );
    silence(&place, "node-a").await;
    assert_eq!(store.live_nodes(LEASE).await.unwrap(), vec!["node-b"]);
    assert_eq!(
        store
            .take_lease(&grant, "node-b", LEASE, true)
            .await
            .unwrap(),
        Some(2)
    );

    // node-a comes back: it cannot release or take what is now node-b's.
    assert!(store.heartbeat("node-a").await.unwrap());
    store.release_lease(&grant, "node-a").await.unwrap();
    assert_eq!(
        store
            .take_lease(&grant, "node-a", LEASE, true)
            .await
            .unwrap(),
        None
    );
    // Released, it is anyone's, and the epoch still grows.
    store.release_lease(&grant, "node-b").await.unwrap();
    assert_eq!(
        store
            .take_lease(&grant, "node-a", LEASE, true)
            .await
            .unwrap(),
        Some(3)
    );
    let leases = store.grant_leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].node_id.as_deref(), Some("node-a"));
    assert_eq!(leases[0].epoch, 3);
    clean_up(place).await;
}

async fn a_fenced_store_writes_nothing_once_its_lease_moved(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, _) = grant_with_inbox(&store).await;
    two_nodes(&store).await;
    let epoch = store
        .take_lease(&grant, "node-a", LEASE, true)
        .await
        .unwrap()
        .unwrap();
    let node_a = store.fenced(fence(&grant, "node-a", epoch));

    let folders = node_a
        .reconcile_folders(&grant, &[listing("INBOX"), listing("Sent")])
        .await
        .unwrap();
    assert_eq!(folders.len(), 2, "the holder of the lease writes");

    silence(&place, "node-a").await;
    store
        .take_lease(&grant, "node-b", LEASE, true)
        .await
        .unwrap()
        .unwrap();
    let refused = node_a
        .reconcile_folders(
            &grant,
            &[listing("INBOX"), listing("Sent"), listing("Stale")],
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::LeaseLost(ref id)) if id == grant.as_str()),
        "{refused:?}"
    );
    let names: Vec<String> = store
        .folders(&grant)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.imap_name)
        .collect();
    assert!(!names.contains(&"Stale".to_owned()), "{names:?}");

    // A fence with the right epoch but another node's name does not pass either.
    let impostor = store.fenced(fence(&grant, "node-a", epoch + 1));
    assert!(matches!(
        impostor
            .reconcile_folders(&grant, &[listing("INBOX")])
            .await,
        Err(StoreError::LeaseLost(_))
    ));
    clean_up(place).await;
}

async fn the_registry_knows_live_leaving_and_silent_nodes(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, _) = grant_with_inbox(&store).await;
    two_nodes(&store).await;
    store.register_node("node-c", "host-c", 3).await.unwrap();
    store
        .take_lease(&grant, "node-b", LEASE, true)
        .await
        .unwrap()
        .unwrap();

    store.mark_node_leaving("node-c").await.unwrap();
    silence(&place, "node-a").await;
    assert_eq!(store.live_nodes(LEASE).await.unwrap(), vec!["node-b"]);
    let nodes = store.cluster_nodes().await.unwrap();
    assert_eq!(nodes.len(), 3);
    let b = nodes.iter().find(|n| n.id == "node-b").unwrap();
    assert_eq!((b.grants, b.host.as_str(), b.pid), (1, "host-b", 2));
    assert!(b.oldest_lease_age_ms.is_some());
    assert!(nodes.iter().find(|n| n.id == "node-c").unwrap().leaving);
    assert!(
        nodes
            .iter()
            .find(|n| n.id == "node-a")
            .unwrap()
            .heartbeat_age_ms
            >= 60_000
    );

    // Forgotten after long silence; a forgotten node's heartbeat says so.
    assert_eq!(
        store
            .forget_silent_nodes(Duration::from_secs(30))
            .await
            .unwrap(),
        1
    );
    assert!(!store.heartbeat("node-a").await.unwrap());
    assert_eq!(store.release_all_leases("node-b").await.unwrap(), 1);
    store.remove_node("node-b").await.unwrap();
    assert_eq!(store.forget_other_nodes("node-c").await.unwrap(), 0);
    assert_eq!(store.cluster_nodes().await.unwrap().len(), 1);
    clean_up(place).await;
}

on_both_engines!(
    a_lease_moves_only_from_a_dead_or_releasing_node,
    a_fenced_store_writes_nothing_once_its_lease_moved,
    the_registry_knows_live_leaving_and_silent_nodes,
);

/// PostgreSQL: a takeover never waits behind a write in flight under the old lease (the
/// write holds the lease row shared); it passes the grant over and tries again later.
#[tokio::test]
async fn a_takeover_skips_a_lease_locked_by_a_write_in_flight() {
    use sqlx::Connection;
    let (store, place) = open_store(Engine::Postgres).await;
    let (grant, _) = grant_with_inbox(&store).await;
    two_nodes(&store).await;
    store
        .take_lease(&grant, "node-a", LEASE, true)
        .await
        .unwrap()
        .unwrap();
    silence(&place, "node-a").await;

    let Place::Schema(schema) = &place else {
        unreachable!("a PostgreSQL store lives in a schema")
    };
    let mut writer = sqlx::PgConnection::connect(&crate::support::postgres_url())
        .await
        .unwrap();
    sqlx::query(&format!("SET search_path TO {schema}"))
        .execute(&mut writer)
        .await
        .unwrap();
    let mut in_flight = writer.begin().await.unwrap();
    sqlx::query("SELECT epoch FROM grant_leases WHERE grant_id = $1 FOR SHARE")
        .bind(grant.as_str())
        .fetch_one(&mut *in_flight)
        .await
        .unwrap();
    let taken = tokio::time::timeout(
        Duration::from_secs(30),
        store.take_lease(&grant, "node-b", LEASE, true),
    )
    .await
    .expect("the takeover does not wait for the write");
    assert_eq!(taken.unwrap(), None);
    in_flight.commit().await.unwrap();
    assert_eq!(
        store
            .take_lease(&grant, "node-b", LEASE, true)
            .await
            .unwrap(),
        Some(2)
    );
    clean_up(place).await;
}
