//! Notifications recorded in the transaction of the change they report: new mail but
//! never historic mail, a move told from a deletion only after a whole pass, flag
//! changes once, folder changes (but not a new grant's first listing; a deleted folder's
//! messages), and a grant's lifecycle. Every scenario runs on the embedded SQLite and on PostgreSQL.

use crate::support::{
    Engine, clean_up, listing as folder, message, new_grant, on_both_engines, open_store,
};
use mailroom_model::{
    ApplicationId, GrantId,
    v3::{EmailName, TriggerType},
};
use mailroom_store::{GrantUpdate, NewWebhook, Store};

/// An application with a webhook on every trigger these scenarios produce.
async fn subscribed_app(store: &Store) -> ApplicationId {
    let app = store.create_application("t", &[]).await.unwrap();
    let triggers = [
        TriggerType::GrantCreated,
        TriggerType::GrantUpdated,
        TriggerType::GrantDeleted,
        TriggerType::GrantExpired,
        TriggerType::MessageCreated,
        TriggerType::MessageUpdated,
        TriggerType::MessageDeleted,
        TriggerType::FolderCreated,
        TriggerType::FolderUpdated,
        TriggerType::FolderDeleted,
    ];
    store
        .create_webhook(
            &app.application.id,
            &NewWebhook {
                description: None,
                webhook_url: "https://hooks.example/n",
                trigger_types: &triggers,
                notification_email_addresses: &[],
            },
        )
        .await
        .unwrap();
    app.application.id
}

/// What the outbox holds, oldest first: (trigger, object id), taken so each check sees
/// only what happened since the last.
async fn take_outbox(store: &Store) -> Vec<(String, String)> {
    let due = store
        .due_deliveries(mailroom_model::time::unix_now() + 60, 1000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for delivery in due {
        store.delivery_succeeded(&delivery).await.unwrap();
        seen.push((
            delivery.trigger_type.clone(),
            delivery.object_id.clone().unwrap_or_default(),
        ));
    }
    seen
}

fn triggers(seen: &[(String, String)]) -> Vec<&str> {
    seen.iter().map(|(t, _)| t.as_str()).collect()
}

async fn message_id(store: &Store, grant: &GrantId, identity: &str) -> String {
    store
        .message_id_by_identity(grant, &format!("mid:{identity}"))
        .await
        .unwrap()
        .unwrap()
}

async fn moves_are_told_from_deletions(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = subscribed_app(&store).await;
    let grant = new_grant(&store, &app).await.id;
    assert_eq!(triggers(&take_outbox(&store).await), ["grant.created"]);

    // The first listing and the history found in it are not news.
    let folders = store
        .reconcile_folders(&grant, &[folder("INBOX"), folder("Archive")])
        .await
        .unwrap();
    let (inbox, archive) = (folders[0].id.clone(), folders[1].id.clone());
    let (inbox, archive) = if folders[0].imap_name == "INBOX" {
        (inbox, archive)
    } else {
        (archive, inbox)
    };
    store
        .add_folder_messages(&grant, &inbox, &[message(1, "old@x", &[], "Old")])
        .await
        .unwrap();
    assert!(take_outbox(&store).await.is_empty());

    // Arrivals are news, once.
    let arrived = [message(2, "new@x", &[], "New")];
    store
        .add_arrived_messages(&grant, &inbox, &arrived)
        .await
        .unwrap();
    let new_id = message_id(&store, &grant, "new@x").await;
    assert_eq!(
        take_outbox(&store).await,
        [("message.created".to_owned(), new_id.clone())]
    );
    store
        .add_arrived_messages(&grant, &inbox, &arrived)
        .await
        .unwrap();
    assert!(take_outbox(&store).await.is_empty());

    // Flags: an update only when they change.
    let mut flagged = message(2, "new@x", &[], "New");
    flagged.flags = vec!["\\Flagged".into()];
    store
        .update_flags(&grant, &inbox, &[(2, flagged.flags.clone())])
        .await
        .unwrap();
    store
        .update_flags(&grant, &inbox, &[(2, flagged.flags.clone())])
        .await
        .unwrap();
    assert_eq!(
        take_outbox(&store).await,
        [("message.updated".to_owned(), new_id.clone())]
    );

    // Set by mailroom itself (the API): an update when it changes something, once.
    store
        .set_message_state(&grant, &new_id, Some(false), None)
        .await
        .unwrap();
    store
        .set_message_state(&grant, &new_id, Some(false), Some(true))
        .await
        .unwrap();
    assert_eq!(
        take_outbox(&store).await,
        [("message.updated".to_owned(), new_id.clone())]
    );

    // Gone from the Inbox, then found in the Archive: a move, an update, no deletion.
    let pass_before = mailroom_model::time::unix_millis();
    store.remove_locations(&grant, &inbox, &[2]).await.unwrap();
    assert_eq!(
        store.settle_deletions(&grant, pass_before).await.unwrap(),
        0
    );
    let mut moved = flagged.clone();
    moved.uid = 7;
    store
        .add_arrived_messages(&grant, &archive, &[moved])
        .await
        .unwrap();
    let after_move = mailroom_model::time::unix_millis() + 1;
    assert_eq!(store.settle_deletions(&grant, after_move).await.unwrap(), 0);
    assert_eq!(
        take_outbox(&store).await,
        [("message.updated".to_owned(), new_id.clone())]
    );

    // Gone for good: deleted once a pass that began after it was noticed ends.
    let old_id = message_id(&store, &grant, "old@x").await;
    store.remove_locations(&grant, &inbox, &[1]).await.unwrap();
    assert_eq!(store.settle_deletions(&grant, 0).await.unwrap(), 0);
    let later = mailroom_model::time::unix_millis() + 1;
    assert_eq!(store.settle_deletions(&grant, later).await.unwrap(), 1);
    assert_eq!(store.settle_deletions(&grant, later).await.unwrap(), 0);
    assert_eq!(
        take_outbox(&store).await,
        [("message.deleted".to_owned(), old_id)]
    );

    // Removed by mailroom itself: deleted at once.
    store
        .remove_locations(&grant, &archive, &[7])
        .await
        .unwrap();
    assert!(store.settle_deletion_now(&grant, &new_id).await.unwrap());
    assert_eq!(
        take_outbox(&store).await,
        [("message.deleted".to_owned(), new_id)]
    );
    clean_up(place).await;
}

async fn a_uidvalidity_reset_announces_only_what_vanished(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = subscribed_app(&store).await;
    let grant = new_grant(&store, &app).await.id;
    let folders = store
        .reconcile_folders(&grant, &[folder("INBOX")])
        .await
        .unwrap();
    let inbox = folders[0].id.clone();
    let kept = message(1, "kept@x", &[], "Kept");
    let lost = message(2, "lost@x", &[], "Lost");
    store
        .add_folder_messages(&grant, &inbox, &[kept.clone(), lost])
        .await
        .unwrap();
    take_outbox(&store).await;

    // New UIDVALIDITY: the folder is re-read and holds only one of the two, at a new UID.
    store.clear_folder_locations(&inbox, 2).await.unwrap();
    let mut renumbered = kept;
    renumbered.uid = 1001;
    store
        .add_arrived_messages(&grant, &inbox, &[renumbered])
        .await
        .unwrap();
    assert!(take_outbox(&store).await.is_empty(), "nothing is news yet");
    let lost_id = message_id(&store, &grant, "lost@x").await;
    let later = mailroom_model::time::unix_millis() + 1;
    assert_eq!(store.settle_deletions(&grant, later).await.unwrap(), 1);
    assert_eq!(
        take_outbox(&store).await,
        [("message.deleted".to_owned(), lost_id)]
    );
    // Announced deleted, it has left the index.
    assert!(
        store
            .message_id_by_identity(&grant, "mid:lost@x")
            .await
            .unwrap()
            .is_none()
    );
    clean_up(place).await;
}

async fn contacts_from_news_are_announced_and_historic_ones_are_not(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    store
        .create_webhook(
            &app.application.id,
            &NewWebhook {
                description: None,
                webhook_url: "https://hooks.example/c",
                trigger_types: &[TriggerType::ContactUpdated],
                notification_email_addresses: &[],
            },
        )
        .await
        .unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(&grant, &[folder("INBOX")])
        .await
        .unwrap();
    let inbox = folders[0].id.clone();
    let from = |name: &str, email: &str| EmailName {
        name: Some(name.into()),
        email: email.into(),
    };
    let mut old = message(1, "old@x", &[], "Old");
    old.from = vec![from("Ann Example", "ann@example.test")];
    store
        .add_folder_messages(&grant, &inbox, &[old])
        .await
        .unwrap();
    assert_eq!(store.derive_contacts(&grant).await.unwrap().len(), 1);
    assert!(take_outbox(&store).await.is_empty(), "history is not news");

    let mut new = message(2, "new@x", &[], "New");
    new.from = vec![from("Zoe Example", "zoe@example.test")];
    store
        .add_arrived_messages(&grant, &inbox, &[new])
        .await
        .unwrap();
    let changes = store.derive_contacts(&grant).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        take_outbox(&store).await,
        [("contact.updated".to_owned(), changes[0].contact.id.clone())]
    );
    clean_up(place).await;
}

async fn folder_and_grant_changes_are_announced(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = subscribed_app(&store).await;
    let grant = new_grant(&store, &app).await.id;
    store
        .reconcile_folders(&grant, &[folder("INBOX")])
        .await
        .unwrap();
    take_outbox(&store).await;

    let listed = store
        .reconcile_folders(&grant, &[folder("INBOX"), folder("Receipts")])
        .await
        .unwrap();
    let receipts = listed
        .iter()
        .find(|f| f.imap_name == "Receipts")
        .unwrap()
        .id
        .clone();
    assert_eq!(
        take_outbox(&store).await,
        [("folder.created".to_owned(), receipts.clone())]
    );
    let mut renamed = folder("Receipts");
    renamed.name = "Invoices".into();
    store
        .reconcile_folders(&grant, &[folder("INBOX"), renamed.clone()])
        .await
        .unwrap();
    store
        .reconcile_folders(&grant, &[folder("INBOX"), renamed])
        .await
        .unwrap();
    assert_eq!(
        take_outbox(&store).await,
        [("folder.updated".to_owned(), receipts.clone())]
    );
    // Deleted with a message that lived only there: the folder at once, the message
    // once a pass has not found it elsewhere.
    store
        .add_folder_messages(&grant, &receipts, &[message(1, "bill@x", &[], "Bill")])
        .await
        .unwrap();
    let bill = message_id(&store, &grant, "bill@x").await;
    store
        .reconcile_folders(&grant, &[folder("INBOX")])
        .await
        .unwrap();
    assert_eq!(
        take_outbox(&store).await,
        [("folder.deleted".to_owned(), receipts)]
    );
    let later = mailroom_model::time::unix_millis() + 1;
    assert_eq!(store.settle_deletions(&grant, later).await.unwrap(), 1);
    assert_eq!(
        take_outbox(&store).await,
        [("message.deleted".to_owned(), bill)]
    );

    // The grant: an update, expiry once, deletion.
    store
        .update_grant(
            &app,
            &grant,
            GrantUpdate {
                name: Some("Renamed"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.expire_grant(&grant).await.unwrap();
    store.expire_grant(&grant).await.unwrap();
    assert!(store.delete_grant(&app, &grant).await.unwrap());
    assert!(!store.delete_grant(&app, &grant).await.unwrap());
    let seen = take_outbox(&store).await;
    assert_eq!(
        triggers(&seen),
        ["grant.updated", "grant.expired", "grant.deleted"]
    );
    assert!(seen.iter().all(|(_, id)| id == grant.as_str()));
    clean_up(place).await;
}

on_both_engines!(
    moves_are_told_from_deletions,
    a_uidvalidity_reset_announces_only_what_vanished,
    contacts_from_news_are_announced_and_historic_ones_are_not,
    folder_and_grant_changes_are_announced,
);
