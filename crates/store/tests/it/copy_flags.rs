//! A message with copies in several folders (sent to oneself: in Sent and in Inbox) has
//! the flags its copies say together, whichever folder was read last: read once a copy is
//! read, starred once a copy is, a draft only while every copy is one. A copy leaving
//! takes its say with it; a change mailroom made to every copy sticks. Every scenario
//! runs on the embedded SQLite and on PostgreSQL.

use crate::support::{Engine, clean_up, grant_with_folders, message, on_both_engines, open_store};
use mailroom_model::GrantId;
use mailroom_store::Store;

fn flagged(uid: i64, flags: &[&str]) -> mailroom_store::NewMessage {
    let mut copy = message(uid, "self@x", &[], "To myself");
    copy.flags = flags.iter().map(|f| (*f).to_owned()).collect();
    copy
}

/// (unread, starred, draft) of the message, and the unread counts of Inbox and Sent.
async fn state(store: &Store, grant: &GrantId, id: &str) -> ((bool, bool, bool), [i64; 2]) {
    let m = store.message(grant, id).await.unwrap().expect("indexed");
    let folders = store.folders_with_counts(grant).await.unwrap();
    let unread = |name: &str| {
        folders
            .iter()
            .find(|f| f.folder.imap_name == name)
            .map(|f| f.unread_count)
            .expect("the folder")
    };
    (
        (m.unread, m.starred, m.draft),
        [unread("INBOX"), unread("Sent")],
    )
}

async fn copies_with_different_flags_agree_in_either_order(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, folders) = grant_with_folders(&store, &["INBOX", "Sent"]).await;
    let (inbox, sent) = (folders[0].clone(), folders[1].clone());

    // Sent first (read), then Inbox (not read): read.
    store
        .add_folder_messages(&grant, &sent, &[flagged(1, &["\\Seen"])])
        .await
        .unwrap();
    store
        .add_folder_messages(&grant, &inbox, &[flagged(7, &[])])
        .await
        .unwrap();
    let id = store
        .message_id_by_identity(&grant, "mid:self@x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state(&store, &grant, &id).await,
        ((false, false, false), [0, 0])
    );

    // Each folder's flags read again, in both orders: nothing flips.
    for _ in 0..2 {
        store
            .update_flags(&grant, &inbox, &[(7, vec![])])
            .await
            .unwrap();
        assert_eq!(state(&store, &grant, &id).await.0, (false, false, false));
        store
            .update_flags(&grant, &sent, &[(1, vec!["\\Seen".into()])])
            .await
            .unwrap();
        assert_eq!(state(&store, &grant, &id).await.0, (false, false, false));
    }

    // Starred in Inbox only: starred.
    store
        .update_flags(&grant, &inbox, &[(7, vec!["\\Flagged".into()])])
        .await
        .unwrap();
    assert_eq!(state(&store, &grant, &id).await.0, (false, true, false));

    // The read copy leaves: what is left is unread, and Inbox counts it.
    store.remove_locations(&grant, &sent, &[1]).await.unwrap();
    assert_eq!(
        state(&store, &grant, &id).await,
        ((true, true, false), [1, 0])
    );

    // Marked read and unstarred through mailroom (on every copy); a copy made after it
    // and read again agrees.
    store
        .set_message_state(&grant, &id, Some(false), Some(false))
        .await
        .unwrap();
    store
        .add_message_location(&grant, &sent, 2, &id)
        .await
        .unwrap();
    store
        .update_flags(&grant, &sent, &[(2, vec!["\\Seen".into()])])
        .await
        .unwrap();
    assert_eq!(
        state(&store, &grant, &id).await,
        ((false, false, false), [0, 0])
    );

    store.close().await;
    clean_up(place).await;
}

async fn a_draft_with_a_sent_copy_is_a_message(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, folders) = grant_with_folders(&store, &["Drafts", "Sent"]).await;
    let (drafts, sent) = (folders[0].clone(), folders[1].clone());
    store
        .add_folder_messages(&grant, &drafts, &[flagged(3, &["\\Draft", "\\Seen"])])
        .await
        .unwrap();
    let id = store
        .message_id_by_identity(&grant, "mid:self@x")
        .await
        .unwrap()
        .unwrap();
    assert!(store.message(&grant, &id).await.unwrap().unwrap().draft);
    // Sent: its copy in Sent is no draft, whichever folder a pass reads last.
    store
        .add_folder_messages(&grant, &sent, &[flagged(4, &["\\Seen"])])
        .await
        .unwrap();
    store
        .update_flags(
            &grant,
            &drafts,
            &[(3, vec!["\\Draft".into(), "\\Seen".into()])],
        )
        .await
        .unwrap();
    assert!(!store.message(&grant, &id).await.unwrap().unwrap().draft);
    store.remove_locations(&grant, &drafts, &[3]).await.unwrap();
    assert!(!store.message(&grant, &id).await.unwrap().unwrap().draft);
    store.close().await;
    clean_up(place).await;
}

on_both_engines!(
    copies_with_different_flags_agree_in_either_order,
    a_draft_with_a_sent_copy_is_a_message
);
