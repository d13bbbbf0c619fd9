//! The answers kept for a send's `Idempotency-Key`: claimed once per grant, answered or
//! freed, shared by nobody else, started afresh after a day. Every scenario runs on the
//! embedded SQLite and on PostgreSQL.

use crate::support::{
    Engine, clean_up, execute_raw, grant_with_inbox, on_both_engines, open_store,
};
use mailroom_store::{IDEMPOTENCY_KEY_LIFETIME_SECS, IdempotencyClaim};

async fn a_key_is_claimed_once_and_then_answers(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, _) = grant_with_inbox(&store).await;
    let (other, _) = grant_with_inbox(&store).await;
    let claim = |grant, hash| store.claim_idempotency_key(grant, "key-1", hash);

    assert_eq!(
        claim(&grant, "h1").await.unwrap(),
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        claim(&grant, "h1").await.unwrap(),
        IdempotencyClaim::UnderWay {
            request_hash: "h1".into()
        }
    );
    // Another grant's key of the same name is its own.
    assert_eq!(
        claim(&other, "h9").await.unwrap(),
        IdempotencyClaim::Claimed
    );

    store
        .answer_idempotency_key(&grant, "key-1", 200, r#"{"data":{"id":"m1"}}"#)
        .await
        .unwrap();
    assert_eq!(
        claim(&grant, "h2").await.unwrap(),
        IdempotencyClaim::Answered {
            request_hash: "h1".into(),
            status: 200,
            response: r#"{"data":{"id":"m1"}}"#.into(),
        },
        "the first request's hash comes back for the caller to compare"
    );
    store.close().await;
    clean_up(place).await;
}

async fn a_freed_key_may_be_claimed_again(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, _) = grant_with_inbox(&store).await;
    assert_eq!(
        store
            .claim_idempotency_key(&grant, "retry-me", "h1")
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
    store
        .release_idempotency_key(&grant, "retry-me")
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(&grant, "retry-me", "h2")
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
    store.close().await;
    clean_up(place).await;
}

async fn a_key_older_than_a_day_starts_afresh_and_is_purged(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, _) = grant_with_inbox(&store).await;
    for key in ["old", "older"] {
        store
            .claim_idempotency_key(&grant, key, "h1")
            .await
            .unwrap();
        store
            .answer_idempotency_key(&grant, key, 200, "{}")
            .await
            .unwrap();
    }
    let long_ago = mailroom_model::time::unix_now() - IDEMPOTENCY_KEY_LIFETIME_SECS - 10;
    execute_raw(
        &place,
        &format!("UPDATE idempotency_keys SET created_at = {long_ago}"),
    )
    .await;
    assert_eq!(
        store
            .claim_idempotency_key(&grant, "old", "h2")
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
    let cutoff = mailroom_model::time::unix_now() - IDEMPOTENCY_KEY_LIFETIME_SECS;
    assert_eq!(store.purge_idempotency_keys(cutoff).await.unwrap(), 1);
    // Claimed afresh, it is under way like any new claim.
    assert_eq!(
        store
            .claim_idempotency_key(&grant, "old", "h2")
            .await
            .unwrap(),
        IdempotencyClaim::UnderWay {
            request_hash: "h2".into()
        }
    );
    store.close().await;
    clean_up(place).await;
}

on_both_engines!(
    a_key_is_claimed_once_and_then_answers,
    a_freed_key_may_be_claimed_again,
    a_key_older_than_a_day_starts_afresh_and_is_purged,
);
