//! A sync pass that listed a folder before a message left it (mailroom expunged or moved
//! it) cannot put it back when its write lands afterwards; after a UIDVALIDITY change the
//! same UID numbers index again. Every scenario runs on the embedded SQLite and on
//! PostgreSQL.

use crate::support::{Engine, clean_up, grant_with_inbox, message, on_both_engines, open_store};
use mailroom_store::{FolderSyncState, Store};

fn state(uid_validity: i64) -> FolderSyncState {
    FolderSyncState {
        uid_validity,
        uid_next: 10,
        highest_modseq: 0,
        lowest_synced_uid: 1,
        initial_sync_done: true,
        server_total: 2,
    }
}

async fn at(store: &Store, folder: &str, uid: i64) -> Vec<(i64, String)> {
    store.messages_at_uids(folder, &[uid]).await.unwrap()
}

async fn a_late_write_does_not_bring_back_what_left_the_folder(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, inbox) = grant_with_inbox(&store).await;
    store
        .update_folder_sync_state(&inbox, state(7))
        .await
        .unwrap();
    let draft = message(1, "draft@x", &[], "Draft");
    let other = message(2, "other@x", &[], "Other");
    store
        .add_folder_messages(&grant, &inbox, &[draft.clone(), other])
        .await
        .unwrap();
    // Expunged through the API…
    store.remove_locations(&grant, &inbox, &[1]).await.unwrap();
    assert!(at(&store, &inbox, 1).await.is_empty());
    // …then a pass that had listed UID 1 before writes what it fetched.
    let added = store
        .add_arrived_messages(
            &grant,
            &inbox,
            &[draft.clone(), message(3, "new@x", &[], "New")],
        )
        .await
        .unwrap();
    assert_eq!(added, 1, "only the new message");
    assert!(at(&store, &inbox, 1).await.is_empty(), "UID 1 stays out");
    assert_eq!(at(&store, &inbox, 3).await.len(), 1);
    assert_eq!(
        at(&store, &inbox, 2).await.len(),
        1,
        "the rest is untouched"
    );

    // A new UIDVALIDITY: the folder is read again, and UID 1 may be another message.
    store
        .update_folder_sync_state(&inbox, state(8))
        .await
        .unwrap();
    store.clear_folder_locations(&inbox, 8).await.unwrap();
    store
        .add_folder_messages(&grant, &inbox, &[message(1, "reborn@x", &[], "Reborn")])
        .await
        .unwrap();
    assert_eq!(at(&store, &inbox, 1).await.len(), 1);

    // Many at once (a folder emptied elsewhere): all remembered, none written back.
    let many: Vec<_> = (100..1100)
        .map(|uid| message(uid, &format!("m{uid}@x"), &[], "Many"))
        .collect();
    store
        .add_folder_messages(&grant, &inbox, &many)
        .await
        .unwrap();
    let uids: Vec<i64> = (100..1100).collect();
    store.remove_locations(&grant, &inbox, &uids).await.unwrap();
    assert_eq!(
        store
            .add_folder_messages(&grant, &inbox, &many)
            .await
            .unwrap(),
        0
    );
    assert!(
        store
            .messages_at_uids(&inbox, &uids)
            .await
            .unwrap()
            .is_empty()
    );

    // Remembered a day at most.
    let later = mailroom_model::time::unix_now() + 1;
    store.remove_locations(&grant, &inbox, &[1]).await.unwrap();
    assert_eq!(store.purge_expunged_uids(later).await.unwrap(), 1001);
    store.close().await;
    clean_up(place).await;
}

on_both_engines!(a_late_write_does_not_bring_back_what_left_the_folder);
