//! Threads in the index: messages join by reference in any order; a message that links
//! two threads merges them; subject fallback only without references. Every scenario runs
//! on the embedded SQLite and on PostgreSQL (`MAILROOM_TEST_POSTGRES`, by default the
//! local server's `test` database, each run in a schema of its own).

use crate::support::{Engine, Place, clean_up, message, new_grant, on_both_engines, open_store};
use mailroom_store::{FolderListing, MessageQuery, Store};

async fn store_with_grant(engine: Engine) -> (Store, mailroom_model::GrantId, String, Place) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await;
    let folders = store
        .reconcile_folders(
            &grant.id,
            &[FolderListing {
                imap_name: "INBOX".into(),
                name: "INBOX".into(),
                parent_imap_name: None,
                delimiter: Some("/".into()),
                attributes: vec![],
            }],
        )
        .await
        .unwrap();
    (store, grant.id, folders[0].id.clone(), place)
}

async fn thread_of(store: &Store, grant: &mailroom_model::GrantId, subject: &str) -> String {
    // The subject filter matches substrings ("Plan" finds "Re: Plan"): pick the exact one.
    let query = MessageQuery {
        limit: 100,
        subject: Some(subject.into()),
        ..Default::default()
    };
    let found = store.list_messages(grant, &query).await.unwrap();
    let exact: Vec<_> = found
        .iter()
        .filter(|m| m.subject.as_deref() == Some(subject))
        .collect();
    assert_eq!(exact.len(), 1, "{subject}");
    exact[0].thread_id.clone()
}

async fn replies_arriving_before_their_parent_end_up_in_one_thread(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    store
        .add_folder_messages(
            &grant,
            &folder,
            &[message(1, "c@x", &["a@x", "b@x"], "Re: Re: Plan")],
        )
        .await
        .unwrap();
    store
        .add_folder_messages(&grant, &folder, &[message(2, "other@x", &[], "Lunch")])
        .await
        .unwrap();
    store
        .add_folder_messages(&grant, &folder, &[message(3, "a@x", &[], "Plan")])
        .await
        .unwrap();
    let reply = thread_of(&store, &grant, "Re: Re: Plan").await;
    assert_eq!(thread_of(&store, &grant, "Plan").await, reply);
    assert_ne!(thread_of(&store, &grant, "Lunch").await, reply);
    clean_up(place).await;
}

async fn a_message_linking_two_threads_merges_them(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    store
        .add_folder_messages(
            &grant,
            &folder,
            &[
                message(1, "a@x", &[], "First"),
                message(2, "b@x", &[], "Second"),
            ],
        )
        .await
        .unwrap();
    assert_ne!(
        thread_of(&store, &grant, "First").await,
        thread_of(&store, &grant, "Second").await
    );
    store
        .add_folder_messages(
            &grant,
            &folder,
            &[message(3, "c@x", &["a@x", "b@x"], "Both")],
        )
        .await
        .unwrap();
    let merged = thread_of(&store, &grant, "Both").await;
    assert_eq!(thread_of(&store, &grant, "First").await, merged);
    assert_eq!(thread_of(&store, &grant, "Second").await, merged);
    clean_up(place).await;
}

async fn the_same_message_in_two_folders_is_one_message(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    let folders = store
        .reconcile_folders(
            &grant,
            &[
                FolderListing {
                    imap_name: "INBOX".into(),
                    name: "INBOX".into(),
                    parent_imap_name: None,
                    delimiter: None,
                    attributes: vec![],
                },
                FolderListing {
                    imap_name: "Archive".into(),
                    name: "Archive".into(),
                    parent_imap_name: None,
                    delimiter: None,
                    attributes: vec!["\\Archive".into()],
                },
            ],
        )
        .await
        .unwrap();
    let archive = folders.iter().find(|f| f.imap_name == "Archive").unwrap();
    let created = store
        .add_folder_messages(&grant, &folder, &[message(1, "a@x", &[], "Kept")])
        .await
        .unwrap();
    assert_eq!(created, 1);
    let again = store
        .add_folder_messages(&grant, &archive.id, &[message(9, "a@x", &[], "Kept")])
        .await
        .unwrap();
    assert_eq!(again, 0);
    let listed = store
        .list_messages(
            &grant,
            &MessageQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let places = store
        .message_folders(&grant, &[listed[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(places[&listed[0].id].len(), 2);
    clean_up(place).await;
}

async fn one_batch_threads_its_own_replies_and_duplicates(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    let mut duplicate = message(5, "a@x", &[], "Plan");
    duplicate.flags = vec!["\\Seen".into()];
    let created = store
        .add_folder_messages(
            &grant,
            &folder,
            &[
                message(1, "c@x", &["a@x", "b@x"], "Re: Re: Plan"),
                message(2, "other@x", &[], "Lunch"),
                message(3, "a@x", &[], "Plan"),
                message(4, "b@x", &["a@x"], "Re: Plan"),
                duplicate,
            ],
        )
        .await
        .unwrap();
    assert_eq!(created, 4, "the second copy of a@x is the same message");
    let plan = thread_of(&store, &grant, "Plan").await;
    assert_eq!(thread_of(&store, &grant, "Re: Plan").await, plan);
    assert_eq!(thread_of(&store, &grant, "Re: Re: Plan").await, plan);
    assert_ne!(thread_of(&store, &grant, "Lunch").await, plan);
    let uids = store.folder_uids(&folder).await.unwrap();
    assert_eq!(uids, vec![1, 2, 3, 4, 5], "both copies have a location");
    clean_up(place).await;
}

on_both_engines!(
    replies_arriving_before_their_parent_end_up_in_one_thread,
    a_message_linking_two_threads_merges_them,
    the_same_message_in_two_folders_is_one_message,
    one_batch_threads_its_own_replies_and_duplicates,
);
