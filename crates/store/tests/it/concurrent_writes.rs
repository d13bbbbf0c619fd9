//! Two writes of one grant at once (an API move recording a message's new location while
//! the sync pass it nudged finds the same location) both succeed, on either engine: each
//! sees what the other wrote. On PostgreSQL they once both inserted the location and the
//! second failed on its primary key.

use crate::support::{Engine, clean_up, grant_with_folders, message, on_both_engines, open_store};
use mailroom_store::MessageQuery;

async fn one_location_written_twice_at_once(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, folders) = grant_with_folders(&store, &["INBOX", "Archive"]).await;
    let (inbox, archive) = (folders[0].clone(), folders[1].clone());
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
