//! Open and link tracking: hits on a tracked message are counted once per client within
//! the repeat window and announced as `message.opened` / `message.link_clicked` with the
//! message's index id once known; unknown tokens and links count nothing; a flood is
//! counted but announced at most the hourly share; a deleted grant's tracking goes with
//! it. Every scenario runs on the embedded SQLite and on PostgreSQL.

use crate::support::{Engine, clean_up, message, new_grant, on_both_engines, open_store};
use mailroom_model::{GrantId, v3::TriggerType};
use mailroom_store::{
    ApplicationRecord, FolderListing, HitOutcome, MAX_ANNOUNCED_HITS_PER_HOUR, NewTrackedMessage,
    NewWebhook, Store, TrackingHit, generate_tracking_token,
};
use serde_json::Value;

const HEADER: &str = "tracked-1@example.test";

/// An application with a webhook on both tracking triggers, and a grant of it.
async fn grant(store: &Store) -> (ApplicationRecord, GrantId) {
    let app = store.create_application("tracking", &[]).await.unwrap();
    store
        .create_webhook(
            &app.application.id,
            &NewWebhook {
                description: None,
                webhook_url: "https://hooks.example/t",
                trigger_types: &[TriggerType::MessageOpened, TriggerType::MessageLinkClicked],
                notification_email_addresses: &[],
            },
        )
        .await
        .unwrap();
    let grant = new_grant(store, &app.application.id).await.id;
    (app.application, grant)
}

async fn track(store: &Store, grant: &GrantId, opens: bool, links: &[&str]) -> String {
    let token = generate_tracking_token();
    let links: Vec<String> = links.iter().map(|l| l.to_string()).collect();
    store
        .track_message(&NewTrackedMessage {
            token: &token,
            grant_id: grant,
            message_id_header: HEADER,
            label: Some("launch"),
            opens,
            links: &links,
            links_tracked: !links.is_empty(),
        })
        .await
        .unwrap();
    token
}

fn hit<'a>(token: &'a str, link: Option<i64>, user_agent: &'a str) -> TrackingHit<'a> {
    TrackingHit {
        token,
        link,
        ip: Some("198.51.100.0"),
        user_agent: Some(user_agent),
    }
}

/// The notifications recorded since the last call, (trigger, object), each taken once.
async fn announced(store: &Store) -> Vec<(String, Value)> {
    let due = store
        .due_deliveries(mailroom_model::time::unix_now() + 60, 1000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for delivery in due {
        store.delivery_succeeded(&delivery).await.unwrap();
        let object = serde_json::from_str(delivery.object_json.as_deref().unwrap()).unwrap();
        seen.push((delivery.trigger_type, object));
    }
    seen
}

async fn hits_are_counted_once_per_client_and_announced(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (app, grant) = grant(&store).await;
    let token = track(
        &store,
        &grant,
        true,
        &["https://a.example/", "https://b.example/"],
    )
    .await;

    let record = |h| {
        let store = store.clone();
        async move { store.record_tracking_hit(&h).await.unwrap() }
    };
    assert_eq!(
        record(hit(&token, None, "Mail/1")).await,
        HitOutcome::Announced
    );
    assert_eq!(
        record(hit(&token, None, "Mail/1")).await,
        HitOutcome::Repeat
    );
    // Before the sent copy is indexed the message is named by its Message-ID.
    let first = announced(&store).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, "message.opened");
    assert_eq!(first[0].1["message_id"], HEADER);
    assert_eq!(first[0].1["sender_app_id"], app.id.as_str());
    assert_eq!(first[0].1["label"], "launch");
    assert_eq!(first[0].1["recents"][0]["ip"], "198.51.100.0");

    // Indexed (by sync, say): its index id from then on.
    let folders = store
        .reconcile_folders(
            &grant,
            &[FolderListing {
                imap_name: "Sent".into(),
                name: "Sent".into(),
                parent_imap_name: None,
                delimiter: Some("/".into()),
                attributes: vec![],
            }],
        )
        .await
        .unwrap();
    store
        .add_folder_messages(&grant, &folders[0].id, &[message(1, HEADER, &[], "Launch")])
        .await
        .unwrap();
    let indexed = store
        .message_id_by_identity(&grant, &format!("mid:{HEADER}"))
        .await
        .unwrap()
        .expect("indexed");
    assert_eq!(
        record(hit(&token, None, "Phone/2")).await,
        HitOutcome::Announced
    );
    assert_eq!(
        record(hit(&token, Some(1), "Browser/3")).await,
        HitOutcome::Announced
    );
    assert_eq!(
        record(hit(&token, Some(1), "Browser/3")).await,
        HitOutcome::Repeat
    );
    assert_eq!(
        record(hit(&token, Some(0), "Browser/3")).await,
        HitOutcome::Announced
    );
    assert_eq!(
        record(hit(&token, Some(7), "Browser/3")).await,
        HitOutcome::Unknown
    );
    let forged = generate_tracking_token();
    assert_eq!(
        record(hit(&forged, None, "Mail/1")).await,
        HitOutcome::Unknown
    );
    let seen = announced(&store).await;
    let triggers: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        triggers,
        [
            "message.opened",
            "message.link_clicked",
            "message.link_clicked"
        ]
    );
    assert!(
        seen.iter()
            .all(|(_, o)| o["message_id"] == indexed.as_str())
    );
    assert_eq!(seen[0].1["message_data"]["count"], 2);
    let opened: Vec<(i64, String)> = seen[0].1["recents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["opened_id"].as_i64().unwrap(),
                r["user_agent"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(opened, [(1, "Mail/1".into()), (2, "Phone/2".into())]);
    assert_eq!(
        seen[2].1["link_data"],
        serde_json::json!([{"url": "https://a.example/", "count": 1},
                           {"url": "https://b.example/", "count": 1}])
    );
    assert_eq!(seen[2].1["recents"][1]["click_id"], 2);
    assert_eq!(seen[2].1["recents"][1]["link_index"], "0");

    // The send knew the id: that one is used.
    store
        .set_tracked_message_id(&token, "sent-1")
        .await
        .unwrap();
    assert_eq!(
        record(hit(&token, None, "Tablet/4")).await,
        HitOutcome::Announced
    );
    assert_eq!(announced(&store).await[0].1["message_id"], "sent-1");

    assert_eq!(
        store.tracked_link(&token, 1).await.unwrap().as_deref(),
        Some("https://b.example/")
    );
    assert_eq!(store.tracked_link(&token, 2).await.unwrap(), None);
    assert_eq!(store.tracked_link(&forged, 0).await.unwrap(), None);
    let options = store.tracking_options(&grant, HEADER).await.unwrap();
    let expected = serde_json::json!({"opens": true, "links": true, "thread_replies": true, "label": "launch"});
    assert_eq!(options, Some(expected.clone()));
    let page = store
        .tracking_options_by_header(&grant, &[HEADER, "<untracked@example.test>"])
        .await
        .unwrap();
    assert_eq!(page.len(), 1, "{page:?}");
    assert_eq!(page.get(HEADER), Some(&expected));
    store.close().await;
    clean_up(place).await;
}

async fn what_was_not_asked_for_is_not_counted(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (_, grant) = grant(&store).await;
    let links_only = track(&store, &grant, false, &["https://a.example/"]).await;
    let opens_only = track(&store, &grant, true, &[]).await;
    let outcome = store
        .record_tracking_hit(&hit(&links_only, None, "Mail/1"))
        .await
        .unwrap();
    assert_eq!(outcome, HitOutcome::Unknown);
    let outcome = store
        .record_tracking_hit(&hit(&opens_only, Some(0), "Mail/1"))
        .await
        .unwrap();
    assert_eq!(outcome, HitOutcome::Unknown);
    assert_eq!(store.tracked_link(&opens_only, 0).await.unwrap(), None);
    assert!(announced(&store).await.is_empty());

    // A send that failed forgets its tracking.
    store.forget_tracked_message(&links_only).await.unwrap();
    assert_eq!(store.tracked_link(&links_only, 0).await.unwrap(), None);
    store.close().await;
    clean_up(place).await;
}

async fn a_flood_is_counted_but_announced_at_most_the_hourly_share(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (app, grant) = grant(&store).await;
    let token = track(&store, &grant, true, &["https://a.example/"]).await;
    let mut outcomes = Vec::new();
    for n in 0..MAX_ANNOUNCED_HITS_PER_HOUR + 5 {
        let agent = format!("Bot/{n}");
        outcomes.push(
            store
                .record_tracking_hit(&hit(&token, None, &agent))
                .await
                .unwrap(),
        );
    }
    let announced_count = outcomes
        .iter()
        .filter(|o| **o == HitOutcome::Announced)
        .count();
    assert_eq!(announced_count as i64, MAX_ANNOUNCED_HITS_PER_HOUR);
    assert_eq!(&outcomes[outcomes.len() - 5..], [HitOutcome::Counted; 5]);
    let seen = announced(&store).await;
    assert_eq!(seen.len() as i64, MAX_ANNOUNCED_HITS_PER_HOUR);
    // `recents` stays short however many hits there were.
    assert_eq!(
        seen.last().unwrap().1["recents"].as_array().unwrap().len(),
        10
    );

    // Old hits are purged; the counts stay.
    let purged = store
        .purge_tracking_hits(mailroom_model::time::unix_now() + 1)
        .await
        .unwrap();
    assert_eq!(purged as i64, MAX_ANNOUNCED_HITS_PER_HOUR);
    assert_eq!(
        store
            .record_tracking_hit(&hit(&token, None, "After/1"))
            .await
            .unwrap(),
        HitOutcome::Announced,
        "the hour's share is free again once its hits are gone"
    );
    let after = announced(&store).await;
    assert_eq!(
        after[0].1["message_data"]["count"],
        MAX_ANNOUNCED_HITS_PER_HOUR + 6
    );
    assert_eq!(after[0].1["recents"].as_array().unwrap().len(), 1);

    // The grant goes, and its tracking with it.
    assert!(store.delete_grant(&app.id, &grant).await.unwrap());
    assert_eq!(store.tracked_link(&token, 0).await.unwrap(), None);
    let outcome = store
        .record_tracking_hit(&hit(&token, None, "Mail/1"))
        .await
        .unwrap();
    assert_eq!(outcome, HitOutcome::Unknown);
    store.close().await;
    clean_up(place).await;
}

async fn one_client_s_hits_at_once_count_once(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (_, grant) = grant(&store).await;
    let token = track(&store, &grant, true, &[]).await;
    let hits = (0..8).map(|_| {
        let (store, token) = (store.clone(), token.clone());
        tokio::spawn(async move {
            store
                .record_tracking_hit(&hit(&token, None, "Mail/1"))
                .await
                .unwrap()
        })
    });
    let mut outcomes = Vec::new();
    for hit in hits.collect::<Vec<_>>() {
        outcomes.push(hit.await.unwrap());
    }
    outcomes.sort_by_key(|o| *o != HitOutcome::Announced);
    let mut expected = vec![HitOutcome::Repeat; 8];
    expected[0] = HitOutcome::Announced;
    assert_eq!(outcomes, expected);
    let seen = announced(&store).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].1["message_data"]["count"], 1,
        "the repeats were rolled back"
    );
    store.close().await;
    clean_up(place).await;
}

on_both_engines!(
    one_client_s_hits_at_once_count_once,
    hits_are_counted_once_per_client_and_announced,
    what_was_not_asked_for_is_not_counted,
    a_flood_is_counted_but_announced_at_most_the_hourly_share,
);
