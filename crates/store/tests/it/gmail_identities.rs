//! Messages known by Gmail's ids (`gm:<X-GM-MSGID>`, crates/sync `gmail`): one the index
//! knew by its Message-ID is taken over and keeps its id, once; and a Message-ID finds a
//! Gmail message by its header. Every scenario runs on the embedded SQLite and on
//! PostgreSQL (`MAILROOM_TEST_POSTGRES`).

use crate::support::{Engine, Place, clean_up, message, new_grant, on_both_engines, open_store};
use mailroom_model::GrantId;
use mailroom_store::{FolderListing, MessageQuery, NewMessage, Store};

/// A store with a grant and its folders INBOX and Work.
async fn store_with_folders(engine: Engine) -> (Store, GrantId, String, String, Place) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await;
    let listing = |name: &str| FolderListing {
        imap_name: name.into(),
        name: name.into(),
        parent_imap_name: None,
        delimiter: Some("/".into()),
        attributes: vec![],
    };
    let folders = store
        .reconcile_folders(&grant.id, &[listing("INBOX"), listing("Work")])
        .await
        .unwrap();
    let id = |name: &str| {
        folders
            .iter()
            .find(|f| f.imap_name == name)
            .unwrap()
            .id
            .clone()
    };
    (store, grant.id, id("INBOX"), id("Work"), place)
}

/// A Gmail message as sync reads it: Gmail id `msgid`, Message-ID `header`.
fn gmail_message(uid: i64, msgid: u64, header: &str, subject: &str) -> NewMessage {
    NewMessage {
        identity_key: format!("gm:{msgid}"),
        thread_keys: vec![format!("gmthread:{msgid}")],
        adopts_identity: Some(format!("mid:{header}")),
        ..message(uid, header, &[], subject)
    }
}

async fn located(store: &Store, grant: &GrantId) -> Vec<String> {
    let query = MessageQuery {
        limit: 100,
        ..Default::default()
    };
    let mut ids: Vec<String> = store
        .list_messages(grant, &query)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    ids.sort();
    ids
}

async fn a_message_known_by_its_message_id_is_taken_over_by_its_gmail_id(engine: Engine) {
    let (store, grant, inbox, work, place) = store_with_folders(engine).await;
    store
        .add_folder_messages(&grant, &inbox, &[message(1, "a@x", &[], "Plans")])
        .await
        .unwrap();
    let before = located(&store, &grant).await;
    let created = store
        .add_folder_messages(&grant, &work, &[gmail_message(1, 77, "a@x", "Plans")])
        .await
        .unwrap();
    assert_eq!(created, 0);
    assert_eq!(located(&store, &grant).await, before);
    let id = &before[0];
    let folders = store.message_folders(&grant, &before).await.unwrap();
    assert_eq!(folders[id].len(), 2);
    assert_eq!(
        store
            .message_id_by_identity(&grant, "gm:77")
            .await
            .unwrap()
            .as_ref(),
        Some(id)
    );
    // Its Message-ID still finds it, by header now.
    assert_eq!(
        store
            .message_id_by_identity(&grant, "mid:a@x")
            .await
            .unwrap()
            .as_ref(),
        Some(id)
    );
    assert_eq!(
        store.index_drift(&grant).await.unwrap(),
        Vec::<String>::new()
    );
    clean_up(place).await;
}

async fn an_identity_is_taken_over_once_and_never_from_the_batch_itself(engine: Engine) {
    let (store, grant, inbox, work, place) = store_with_folders(engine).await;
    store
        .add_folder_messages(&grant, &inbox, &[message(1, "a@x", &[], "Alert")])
        .await
        .unwrap();
    // Two Gmail messages with the one Message-ID: the first takes the message over, the
    // second is a message of its own.
    let created = store
        .add_folder_messages(
            &grant,
            &work,
            &[
                gmail_message(1, 1, "a@x", "Alert"),
                gmail_message(2, 2, "a@x", "Alert again"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(created, 1);
    assert_eq!(located(&store, &grant).await.len(), 2);
    // A batch with the message it names (a draft and its sent copy read together): both
    // stay.
    let created = store
        .add_folder_messages(
            &grant,
            &inbox,
            &[
                message(5, "d@x", &[], "Draft"),
                gmail_message(6, 3, "d@x", "Sent"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(created, 2);
    assert_eq!(located(&store, &grant).await.len(), 4);
    assert_eq!(
        store.index_drift(&grant).await.unwrap(),
        Vec::<String>::new()
    );
    clean_up(place).await;
}

async fn a_message_id_finds_a_gmail_message_by_its_header(engine: Engine) {
    let (store, grant, inbox, _, place) = store_with_folders(engine).await;
    store
        .add_folder_messages(
            &grant,
            &inbox,
            &[
                gmail_message(1, 10, "h@x", "Older"),
                gmail_message(2, 11, "h@x", "Newer"),
            ],
        )
        .await
        .unwrap();
    let newer = store
        .message_id_by_identity(&grant, "gm:11")
        .await
        .unwrap()
        .expect("indexed");
    assert_eq!(
        store
            .message_id_by_identity(&grant, "mid:h@x")
            .await
            .unwrap(),
        Some(newer)
    );
    assert_eq!(
        store
            .message_id_by_identity(&grant, "mid:none@x")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .message_id_by_identity(&grant, "gm:404")
            .await
            .unwrap(),
        None
    );
    clean_up(place).await;
}

on_both_engines!(
    a_message_known_by_its_message_id_is_taken_over_by_its_gmail_id,
    an_identity_is_taken_over_once_and_never_from_the_batch_itself,
    a_message_id_finds_a_gmail_message_by_its_header,
);
