//! Writers cancelled at any moment (an actor stopped, a request abandoned, a timeout)
//! never leave a transaction open behind them: afterwards every connection of the pool
//! still writes, and on SQLite, where an open transaction holds the database's one write
//! lock, so does another process's store (the CLI beside a server). A leaked transaction
//! fails this test through the busy timeout.

use std::time::Duration;

use crate::support::{Engine, Place, clean_up, new_grant, on_both_engines, open_store};
use mailroom_store::{SecretBox, Store};

async fn cancelled_writers_leave_no_transaction_open(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await;
    // Cut writes short at every point from before their BEGIN to after their COMMIT.
    for round in 0..3000u64 {
        let cut = Duration::from_micros(round % 400);
        let _ = tokio::time::timeout(cut, store.expire_grant(&grant.id)).await;
    }
    // More writes than the pool has connections: each connection is used.
    for _ in 0..16 {
        store.create_application("again", &[]).await.unwrap();
    }
    if let Place::Dir(dir) = &place {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let other = Store::open(&url, SecretBox::new(&[7; 32])).await.unwrap();
        other.create_application("cli", &[]).await.unwrap();
    }
    clean_up(place).await;
}

on_both_engines!(cancelled_writers_leave_no_transaction_open,);
