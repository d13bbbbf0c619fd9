//! Two writes of one grant at once (an API move recording a message's new location while
//! the sync pass it nudged finds the same location) both succeed, on either engine: each
//! sees what the other wrote. On PostgreSQL they once both inserted the location and the
//! second failed on its primary key.

use crate::support::{Engine, clean_up, message, new_grant, on_both_engines, open_store};
use mailroom_store::{FolderListing, MessageQuery};

fn listing(name: &str) -> FolderListing {
    FolderListing {
        imap_name: name.into(),
        name: name.into(),
        parent_imap_name: None,
        delimiter: Some("/".into()),
        attributes: vec![],
    }
}

async fn one_location_written_twice_at_once(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(&grant, &[listing("INBOX"), listing("Archive")])
        .await
        .unwrap();
    let id_of = |name: &str| {
        folders
            .iter()
            .find(|f| f.imap_name == name)
            .map(|f| f.id.clone())
            .unwrap()
    };
    let (inbox, archive) = (id_of("INBOX"), id_of("Archive"));
    const MESSAGES: i64 = 20;
    let batch: Vec<_> = (1..=MESSAGES)
        .map(|uid| message(uid, &format!("m{uid}@x"), &[], &format!("Subject {uid}")))
        .collect();
    store
        .add_folder_messages(&grant, &inbox, &batch)
        .await
        .unwrap();
    let listed = store
        .list_messages(
            &grant,
            &MessageQuery {
                limit: MESSAGES,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len() as i64, MESSAGES);
    for (uid, record) in (1..).zip(&listed) {
        let (first, second) = tokio::join!(
            store.add_message_location(&grant, &archive, uid, &record.id),
            store.add_message_location(&grant, &archive, uid, &record.id),
        );
        first.unwrap();
        second.unwrap();
    }
    let archived = store
        .list_messages(
            &grant,
            &MessageQuery {
                limit: MESSAGES,
                folder_ids: vec![archive.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(archived.len() as i64, MESSAGES);
    clean_up(place).await;
}

on_both_engines!(one_location_written_twice_at_once,);
