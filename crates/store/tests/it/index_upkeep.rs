//! What the writers keep beside the messages (thread rows, the folders of each thread,
//! folder counts, the participants index, thread addresses, location dates) stays equal to a recomputation
//! from the messages and their locations, through random sequences of what sync and the
//! API do: new mail, mail seen again, moves, expunges, flag changes, headers read again,
//! UIDVALIDITY resets, folders deleted, deletions settled. Thread lists agree with the
//! recomputed order. Every scenario runs on the embedded SQLite and on PostgreSQL.

use std::collections::HashMap;

use crate::support::{Engine, clean_up, new_grant, on_both_engines, open_store};
use mailroom_model::{GrantId, v3::EmailName};
use mailroom_store::{
    FolderListing, KEPT_MEMBERS, MemberList, MessageQuery, NewMessage, Store, ThreadPage,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

/// Operations per sequence, and sequences (seeds) per engine.
const STEPS: usize = 120;
const SEEDS: u64 = 3;

fn listing(names: &[&str]) -> Vec<FolderListing> {
    names
        .iter()
        .map(|name| FolderListing {
            imap_name: (*name).into(),
            name: (*name).into(),
            parent_imap_name: None,
            delimiter: Some("/".into()),
            attributes: vec![],
        })
        .collect()
}

fn person(rng: &mut StdRng) -> EmailName {
    EmailName {
        name: None,
        email: format!("P{}@Example.test", rng.gen_range(0..6)),
    }
}

/// A message drawn from a small pool of identities, so that the same message turns up
/// again (moved, copied, re-read) and replies link threads together.
fn random_message(rng: &mut StdRng, uid: i64) -> NewMessage {
    let n = rng.gen_range(0..40);
    let mut thread_keys = vec![format!("id:m{n}")];
    if rng.gen_bool(0.5) {
        thread_keys.push(format!("id:m{}", rng.gen_range(0..40)));
    }
    let mut flags = Vec::new();
    for flag in ["\\Seen", "\\Flagged", "\\Answered", "\\Draft"] {
        if rng.gen_bool(0.4) {
            flags.push(flag.to_owned());
        }
    }
    let people = |rng: &mut StdRng| (0..rng.gen_range(0..3)).map(|_| person(rng)).collect();
    NewMessage {
        uid,
        identity_key: format!("mid:m{n}"),
        message_id_header: Some(format!("m{n}")),
        thread_keys,
        subject: Some(format!("Subject {}", n % 7)),
        from: vec![person(rng)],
        to: people(rng),
        cc: people(rng),
        bcc: people(rng),
        reply_to: vec![],
        date: 1_700_000_000 + rng.gen_range(0..1000),
        sent_date: rng
            .gen_bool(0.7)
            .then(|| 1_700_000_000 + rng.gen_range(0..1000)),
        size: 100,
        flags,
        has_attachments: rng.gen_bool(0.3),
        in_reply_to: None,
        adopts_identity: None,
    }
}

async fn assert_consistent(store: &Store, grant: &GrantId, step: usize, what: &str) {
    let drift = store.index_drift(grant).await.unwrap();
    assert!(
        drift.is_empty(),
        "after step {step} ({what}):\n{}",
        drift.join("\n")
    );
    // The thread list is the recomputed threads, newest first.
    let query = MessageQuery {
        limit: 10_000,
        ..Default::default()
    };
    let listed = store.list_threads(grant, &query).await.unwrap();
    // A page's members, read trusting the rows' counts, are the located messages.
    let ids: Vec<String> = listed.iter().map(|(id, _)| id.clone()).collect();
    let rows = store.thread_page_rows(grant, &ids).await.unwrap();
    let counts: HashMap<String, i64> = rows
        .iter()
        .map(|(id, row)| (id.clone(), row.message_count))
        .collect();
    let as_tuples = |members: HashMap<String, Vec<mailroom_store::ThreadMember>>| {
        let mut tuples: Vec<(String, String, i64, bool)> = members
            .into_iter()
            .flat_map(|(thread, members)| {
                members
                    .into_iter()
                    .map(move |m| (thread.clone(), m.id, m.date, m.draft))
            })
            .collect();
        tuples.sort();
        tuples
    };
    let trusting = as_tuples(store.thread_members(grant, &ids, &counts).await.unwrap());
    let checked_by_thread = store
        .thread_members(grant, &ids, &HashMap::new())
        .await
        .unwrap();
    // What a page is built from: the members kept on the rows, or read when not kept.
    let pages = store.thread_pages(grant, &ids).await.unwrap();
    assert_eq!(
        pages.len(),
        checked_by_thread.len(),
        "after step {step} ({what})"
    );
    for (thread, members) in &checked_by_thread {
        let page = pages.get(thread);
        assert_eq!(
            page.map(|page| &page.members),
            Some(members),
            "after step {step} ({what}): members of {thread}"
        );
        assert_eq!(
            page.map(|page| &page.latest.id),
            members.last().map(|m| &m.id),
            "after step {step} ({what}): the latest of {thread}"
        );
    }
    // A listed page is the same as one asked for by id, in the list's order.
    let listed_pages = store.list_thread_pages(grant, &query).await.unwrap();
    let order: Vec<(String, i64)> = listed_pages
        .iter()
        .map(|(id, latest, _)| (id.clone(), *latest))
        .collect();
    let listed_now = store.list_threads(grant, &query).await.unwrap();
    assert_eq!(order, listed_now, "after step {step} ({what})");
    for (id, _, page) in &listed_pages {
        assert_eq!(
            page.as_ref()
                .map(|p| (&p.members, &p.latest.id, &p.first_subject)),
            pages
                .get(id)
                .map(|p| (&p.members, &p.latest.id, &p.first_subject)),
            "after step {step} ({what}): page of {id}"
        );
    }
    let checked = as_tuples(checked_by_thread);
    assert_eq!(trusting, checked, "after step {step} ({what})");
    let located = store.list_messages(grant, &query).await.unwrap();
    assert_eq!(trusting.len(), located.len(), "after step {step} ({what})");
    let mut expected: Vec<(String, i64)> = Vec::new();
    let mut after = None;
    loop {
        let page = MessageQuery {
            limit: 7,
            after: after.clone(),
            ..Default::default()
        };
        let threads = store.list_threads(grant, &page).await.unwrap();
        let Some(last) = threads.last() else { break };
        after = Some((last.1, last.0.clone()));
        expected.extend(threads);
    }
    assert_eq!(listed, expected, "pages of 7 read the same list");
    let messages = store
        .list_messages(
            grant,
            &MessageQuery {
                limit: 10_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut latest: std::collections::HashMap<&str, i64> = Default::default();
    for m in &messages {
        let entry = latest.entry(m.thread_id.as_str()).or_insert(m.date);
        *entry = (*entry).max(m.date);
    }
    let mut recomputed: Vec<(String, i64)> =
        latest.into_iter().map(|(t, d)| (t.to_owned(), d)).collect();
    recomputed.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    assert_eq!(listed, recomputed, "after step {step} ({what})");
}

async fn random_changes_keep_every_kept_structure_exact(engine: Engine) {
    for seed in 0..SEEDS {
        let (store, place) = open_store(engine).await;
        let app = store.create_application("t", &[]).await.unwrap();
        let grant = new_grant(&store, &app.application.id).await.id;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut names = vec!["INBOX", "Archive", "Sent", "Trash"];
        let mut next_uid = 1i64;
        for step in 0..STEPS {
            let folders = store
                .reconcile_folders(&grant, &listing(&names))
                .await
                .unwrap();
            let folder = folders.choose(&mut rng).unwrap().id.clone();
            let uids = store.folder_uids(&folder).await.unwrap();
            let what = match rng.gen_range(0..100) {
                0..=34 => {
                    let batch: Vec<NewMessage> = (0..rng.gen_range(1..8))
                        .map(|_| {
                            next_uid += 1;
                            random_message(&mut rng, next_uid)
                        })
                        .collect();
                    if rng.gen_bool(0.5) {
                        store
                            .add_folder_messages(&grant, &folder, &batch)
                            .await
                            .unwrap();
                    } else {
                        store
                            .add_arrived_messages(&grant, &folder, &batch)
                            .await
                            .unwrap();
                    }
                    "mail added"
                }
                35..=44 if !uids.is_empty() => {
                    // The same UIDs read again, with other flags.
                    let again: Vec<(i64, Vec<String>)> = uids
                        .choose_multiple(&mut rng, 3)
                        .map(|uid| {
                            let flags = if rng.gen_bool(0.5) {
                                vec!["\\Seen".to_owned()]
                            } else {
                                vec!["\\Flagged".to_owned()]
                            };
                            (*uid, flags)
                        })
                        .collect();
                    store.update_flags(&grant, &folder, &again).await.unwrap();
                    "flags changed"
                }
                45..=59 if !uids.is_empty() => {
                    let gone: Vec<i64> = uids.choose_multiple(&mut rng, 3).copied().collect();
                    store
                        .remove_locations(&grant, &folder, &gone)
                        .await
                        .unwrap();
                    "expunged"
                }
                60..=67 if !uids.is_empty() => {
                    // Moved (or copied) by mailroom: a new location for a known message.
                    let uid = *uids.choose(&mut rng).unwrap();
                    let at = store.messages_at_uids(&folder, &[uid]).await.unwrap();
                    let target = folders.choose(&mut rng).unwrap().id.clone();
                    next_uid += 1;
                    store
                        .add_message_location(&grant, &target, next_uid, &at[0].1)
                        .await
                        .unwrap();
                    if rng.gen_bool(0.5) {
                        store
                            .remove_locations(&grant, &folder, &[uid])
                            .await
                            .unwrap();
                    }
                    "moved"
                }
                68..=75 if !uids.is_empty() => {
                    let uid = *uids.choose(&mut rng).unwrap();
                    let at = store.messages_at_uids(&folder, &[uid]).await.unwrap();
                    store
                        .set_message_state(
                            &grant,
                            &at[0].1,
                            Some(rng.gen_bool(0.5)),
                            rng.gen_bool(0.5).then(|| rng.gen_bool(0.5)),
                        )
                        .await
                        .unwrap();
                    "state set through the API"
                }
                76..=81 if !uids.is_empty() => {
                    let uid = *uids.choose(&mut rng).unwrap();
                    let at = store.messages_at_uids(&folder, &[uid]).await.unwrap();
                    let fresh = random_message(&mut rng, uid);
                    store
                        .refresh_message_headers(&at[0].1, &fresh)
                        .await
                        .unwrap();
                    "headers read again"
                }
                82..=86 => {
                    // UIDVALIDITY reset: every location dropped, then the folder re-read
                    // under new UIDs.
                    let at = store.messages_at_uids(&folder, &uids).await.unwrap();
                    store.clear_folder_locations(&folder, 2).await.unwrap();
                    let mut again = Vec::new();
                    for (_, id) in at.iter().take(5) {
                        if let Some(m) = store.message(&grant, id).await.unwrap() {
                            next_uid += 1;
                            let mut fresh = random_message(&mut rng, next_uid);
                            fresh.identity_key =
                                format!("mid:{}", m.message_id_header.unwrap_or_default());
                            again.push(fresh);
                        }
                    }
                    store
                        .add_folder_messages(&grant, &folder, &again)
                        .await
                        .unwrap();
                    "UIDVALIDITY reset"
                }
                87..=91 => {
                    if names.len() > 2 && rng.gen_bool(0.5) {
                        names.pop();
                        "folder deleted"
                    } else {
                        names.push(["Work", "Later", "Receipts"][rng.gen_range(0..3)]);
                        names.sort();
                        names.dedup();
                        "folder created"
                    }
                }
                _ => {
                    store.settle_deletions(&grant, i64::MAX).await.unwrap();
                    "deletions settled"
                }
            };
            assert_consistent(&store, &grant, step, what).await;
        }
        clean_up(place).await;
    }
}

/// A filtered thread list is the recomputed list of threads with a matching message.
async fn filtered_thread_lists_match_their_messages(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(&grant, &listing(&["INBOX", "Archive"]))
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    for (index, folder) in folders.iter().enumerate() {
        let batch: Vec<NewMessage> = (0..60)
            .map(|n| random_message(&mut rng, (index * 100 + n + 1) as i64))
            .collect();
        store
            .add_folder_messages(&grant, &folder.id, &batch)
            .await
            .unwrap();
    }
    let everything = MessageQuery {
        limit: 10_000,
        ..Default::default()
    };
    let all = store.list_messages(&grant, &everything).await.unwrap();
    let threads = store.list_threads(&grant, &everything).await.unwrap();
    let queries = [
        MessageQuery {
            from: vec!["p1@example.test".into()],
            ..everything.clone()
        },
        MessageQuery {
            any_email: vec!["P2@example.test".into(), "p3@example.test".into()],
            ..everything.clone()
        },
        MessageQuery {
            to: vec!["p4@example.test".into()],
            has_attachment: Some(true),
            ..everything.clone()
        },
        MessageQuery {
            folder_ids: vec![folders[1].id.clone()],
            ..everything.clone()
        },
        MessageQuery {
            folder_ids: vec![folders[0].id.clone()],
            subject: Some("subject 3".into()),
            ..everything.clone()
        },
    ];
    for query in queries {
        let matching = store.list_messages(&grant, &query).await.unwrap();
        assert!(!matching.is_empty(), "{query:?} matches something");
        assert!(matching.len() < all.len(), "{query:?} narrows the list");
        // Newest first, no message twice.
        assert!(
            matching
                .windows(2)
                .all(|w| (w[0].date, &w[0].id) > (w[1].date, &w[1].id))
        );
        // A thread has attachments when any of its messages has (as its object says);
        // the other filters ask for one matching message.
        let by_messages = MessageQuery {
            has_attachment: None,
            ..query.clone()
        };
        let with_attachments: std::collections::HashSet<&str> = all
            .iter()
            .filter(|m| m.has_attachments)
            .map(|m| m.thread_id.as_str())
            .collect();
        let matching = store.list_messages(&grant, &by_messages).await.unwrap();
        let wanted: std::collections::HashSet<&str> = matching
            .iter()
            .map(|m| m.thread_id.as_str())
            .filter(|t| query.has_attachment.is_none() || with_attachments.contains(t))
            .collect();
        let expected: Vec<(String, i64)> = threads
            .iter()
            .filter(|(id, _)| wanted.contains(id.as_str()))
            .cloned()
            .collect();
        let listed = store.list_threads(&grant, &query).await.unwrap();
        assert_eq!(listed, expected, "{query:?}");
    }

    // Another application's grant sees none of it, even when it names the ids.
    let other_app = store.create_application("other", &[]).await.unwrap();
    let other = new_grant(&store, &other_app.application.id).await.id;
    let thread = threads[0].0.clone();
    let by_thread = MessageQuery {
        thread_id: Some(thread.clone()),
        ..everything.clone()
    };
    let from = MessageQuery {
        from: vec!["p1@example.test".into()],
        ..everything.clone()
    };
    assert!(
        store
            .list_messages(&other, &by_thread)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_messages(&other, &from).await.unwrap().is_empty());
    assert!(
        store
            .list_threads(&other, &everything)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_threads(&other, &from).await.unwrap().is_empty());
    let in_folder = MessageQuery {
        folder_ids: vec![folders[0].id.clone()],
        ..everything.clone()
    };
    assert!(
        store
            .list_messages(&other, &in_folder)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_threads(&other, &in_folder)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .thread_members(&other, std::slice::from_ref(&thread), &HashMap::new())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .thread_page_rows(&other, std::slice::from_ref(&thread))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .thread_pages(&other, std::slice::from_ref(&thread))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .messages_with_folders(&other, &[all[0].id.clone()])
            .await
            .unwrap()
            .is_empty()
    );
    // The grant itself sees them, with their folders.
    let rows = store
        .thread_page_rows(&grant, std::slice::from_ref(&thread))
        .await
        .unwrap();
    assert!(rows.get(&thread).is_some_and(|row| !row.folders.is_empty()));
    let own = store
        .messages_with_folders(&grant, &[all[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(own.len(), 1);
    assert!(!own[0].1.is_empty());
    clean_up(place).await;
}

/// A server that names one UID twice in one answer (hostile, or broken) gets the first
/// message there; the second is not located, and nothing kept beside the messages counts
/// it.
async fn a_uid_named_twice_in_one_batch_keeps_the_first(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(&grant, &listing(&["INBOX"]))
        .await
        .unwrap();
    let folder = folders[0].id.clone();
    let mut rng = StdRng::seed_from_u64(7);
    let mut first = random_message(&mut rng, 5);
    let mut second = random_message(&mut rng, 5);
    for (message, name) in [(&mut first, "first"), (&mut second, "second")] {
        message.identity_key = format!("mid:{name}");
        message.message_id_header = Some(name.to_owned());
        message.thread_keys = vec![format!("id:{name}")];
    }
    store
        .add_folder_messages(&grant, &folder, &[first, second])
        .await
        .unwrap();

    assert_eq!(store.folder_uids(&folder).await.unwrap(), vec![5]);
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
    let headers: Vec<Option<&str>> = listed
        .iter()
        .map(|m| m.message_id_header.as_deref())
        .collect();
    assert_eq!(headers, vec![Some("first")]);
    let threads = store
        .list_threads(
            &grant,
            &MessageQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_consistent(&store, &grant, 0, "a UID named twice").await;
    clean_up(place).await;
}

/// Thread lists filtered by an address with thousands of messages: read from the
/// threads' own addresses newest first, alone or probing each thread's messages for the
/// other conditions, page after page; equal to the threads of the matching messages.
async fn thread_lists_by_a_frequent_address_match_their_messages(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(&grant, &listing(&["INBOX", "Archive"]))
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let who = |email: &str| EmailName {
        name: None,
        email: email.into(),
    };
    // 6,000 messages in threads of about three: most from one busy sender, some to a
    // rare recipient, a few with a rare subject.
    for (index, folder) in folders.iter().enumerate() {
        let batch: Vec<NewMessage> = (0..3000)
            .map(|n| {
                let uid = (index * 3000 + n + 1) as i64;
                let thread = uid / 3;
                let from = if rng.gen_bool(0.9) {
                    "Busy@Example.test"
                } else {
                    "quiet@example.test"
                };
                let to = if rng.gen_bool(0.01) {
                    "rare@example.test"
                } else {
                    "me@example.test"
                };
                NewMessage {
                    uid,
                    identity_key: format!("mid:{uid}"),
                    message_id_header: Some(format!("{uid}")),
                    thread_keys: vec![format!("id:t{thread}")],
                    subject: Some(if uid % 997 == 0 {
                        "Rare news".into()
                    } else {
                        format!("News {thread}")
                    }),
                    from: vec![who(from)],
                    to: vec![who(to)],
                    cc: vec![],
                    bcc: vec![],
                    reply_to: vec![],
                    date: 1_700_000_000 + rng.gen_range(0..100_000),
                    sent_date: None,
                    size: 100,
                    flags: if rng.gen_bool(0.1) {
                        vec![]
                    } else {
                        vec!["\\Seen".into()]
                    },
                    has_attachments: false,
                    in_reply_to: None,
                    adopts_identity: None,
                }
            })
            .collect();
        store
            .add_folder_messages(&grant, &folder.id, &batch)
            .await
            .unwrap();
    }
    assert_consistent(&store, &grant, 0, "6,000 messages").await;
    let everything = MessageQuery {
        limit: 100_000,
        ..Default::default()
    };
    let threads = store.list_threads(&grant, &everything).await.unwrap();
    let busy = vec!["busy@example.test".to_owned()];
    let queries = [
        MessageQuery {
            from: busy.clone(),
            ..everything.clone()
        },
        MessageQuery {
            any_email: busy.clone(),
            ..everything.clone()
        },
        MessageQuery {
            from: busy.clone(),
            folder_ids: vec![folders[1].id.clone()],
            ..everything.clone()
        },
        MessageQuery {
            from: busy.clone(),
            unread: Some(true),
            ..everything.clone()
        },
        MessageQuery {
            from: busy.clone(),
            subject: Some("rare".into()),
            ..everything.clone()
        },
        MessageQuery {
            from: busy.clone(),
            to: vec!["rare@example.test".into()],
            ..everything.clone()
        },
        MessageQuery {
            to: busy.clone(),
            ..everything.clone()
        },
        MessageQuery {
            any_email: vec!["rare@example.test".into(), "QUIET@example.test".into()],
            ..everything.clone()
        },
        MessageQuery {
            folder_ids: vec![folders[0].id.clone()],
            unread: Some(true),
            ..everything.clone()
        },
    ];
    for query in queries {
        let matching = store.list_messages(&grant, &query).await.unwrap();
        let wanted: std::collections::HashSet<&str> =
            matching.iter().map(|m| m.thread_id.as_str()).collect();
        let expected: Vec<(String, i64)> = threads
            .iter()
            .filter(|(id, _)| wanted.contains(id.as_str()))
            .cloned()
            .collect();
        let listed = store.list_threads(&grant, &query).await.unwrap();
        assert_eq!(listed.len(), expected.len(), "{query:?}");
        assert_eq!(listed, expected, "{query:?}");
        // Page by page, with the cursor of each page's last thread.
        let mut paged = Vec::new();
        let mut page_query = MessageQuery {
            limit: 97,
            ..query.clone()
        };
        loop {
            let page = store.list_threads(&grant, &page_query).await.unwrap();
            let Some(last) = page.last().cloned() else {
                break;
            };
            paged.extend(page);
            page_query.after = Some((last.1, last.0));
        }
        assert_eq!(paged, expected, "paged {query:?}");
    }
    clean_up(place).await;
}

/// Every subject filter's lists equal a substring search over `all` (the grant's
/// messages) and their `threads`.
async fn check_subjects(
    store: &Store,
    grant: &GrantId,
    all: &[mailroom_store::MessageRecord],
    threads: &[(String, i64)],
) {
    let everything = MessageQuery {
        limit: 10_000,
        ..Default::default()
    };
    for wanted in [
        "quarterly",
        "REPORT",
        "über",
        "50%",
        "off_",
        "ab",
        "invoice 2024",
        "zzz",
        "2024-001",
        // Two characters: threads are walked, and each row's kept subjects asked.
        "rt",
        // What joins the subjects a row keeps: asked of the messages instead.
        "d\u{1}",
        "\u{1}",
    ] {
        let query = MessageQuery {
            subject: Some(wanted.into()),
            ..everything.clone()
        };
        let expected: Vec<&str> = all
            .iter()
            .filter(|m| {
                m.subject
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&wanted.to_lowercase())
            })
            .map(|m| m.id.as_str())
            .collect();
        let listed = store.list_messages(grant, &query).await.unwrap();
        let listed: Vec<&str> = listed.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(listed, expected, "{wanted}");
        assert_eq!(wanted == "zzz", expected.is_empty(), "{wanted:?}");
        let thread_ids: std::collections::HashSet<&str> = all
            .iter()
            .filter(|m| expected.contains(&m.id.as_str()))
            .map(|m| m.thread_id.as_str())
            .collect();
        let expected_threads: Vec<(String, i64)> = threads
            .iter()
            .filter(|(id, _)| thread_ids.contains(id.as_str()))
            .cloned()
            .collect();
        let listed = store.list_threads(grant, &query).await.unwrap();
        assert_eq!(listed, expected_threads, "threads {wanted}");
    }
}

/// `subject` is a case-insensitive substring, answered through the subject index where
/// it can be: the lists equal a substring search over every message, for long, short and
/// wildcard-holding subjects, after a subject changes, after another grant is deleted,
/// and (SQLite) after a `VACUUM`.
async fn subject_filters_match_substrings(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let other_app = store.create_application("other", &[]).await.unwrap();
    let other = new_grant(&store, &other_app.application.id).await.id;
    let subjects = [
        "Über Änderungen im Plan",
        "Re: Invoice 2024-001",
        "50% off_today",
        "Quarterly report",
        "QUARTERLY REPORT draft",
        "ab",
        "",
        "Odd\u{1}",
    ];
    let mut rng = StdRng::seed_from_u64(11);
    for grant in [&grant, &other] {
        let folders = store
            .reconcile_folders(grant, &listing(&["INBOX"]))
            .await
            .unwrap();
        let batch: Vec<NewMessage> = (1..=300)
            .map(|uid| NewMessage {
                identity_key: format!("mid:s{uid}"),
                message_id_header: Some(format!("s{uid}")),
                thread_keys: vec![format!("id:s{}", uid / 4)],
                subject: (uid % 9 != 0).then(|| subjects[rng.gen_range(0..subjects.len())].into()),
                ..random_message(&mut rng, uid)
            })
            .collect();
        store
            .add_folder_messages(grant, &folders[0].id, &batch)
            .await
            .unwrap();
    }
    let everything = MessageQuery {
        limit: 10_000,
        ..Default::default()
    };
    let all = store.list_messages(&grant, &everything).await.unwrap();
    let threads = store.list_threads(&grant, &everything).await.unwrap();
    check_subjects(&store, &grant, &all, &threads).await;

    // Hostile filters: a huge subject, one of wildcards only, a NUL (no stored subject
    // holds one), quotes. Each is an answer, not an error.
    for (hostile, matches_all) in [
        ("report ".repeat(10_000), false),
        ("%%%%".to_owned(), false),
        ("\u{0}\"' OR 1=1 --".to_owned(), false),
        ("\"' OR 1=1 --".to_owned(), false),
        ("e".to_owned(), true),
    ] {
        let query = MessageQuery {
            subject: Some(hostile.clone()),
            ..everything.clone()
        };
        let listed = store.list_messages(&grant, &query).await.unwrap();
        let expected = all
            .iter()
            .filter(|m| {
                m.subject
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&hostile)
            })
            .count();
        assert_eq!(listed.len(), expected, "{:.40}", hostile);
        assert_eq!(matches_all, expected > 0, "{:.40}", hostile);
        let thread_ids: std::collections::HashSet<&str> =
            listed.iter().map(|m| m.thread_id.as_str()).collect();
        let listed_threads = store.list_threads(&grant, &query).await.unwrap();
        assert_eq!(listed_threads.len(), thread_ids.len(), "{:.40}", hostile);
    }

    // A subject read again replaces the old one in the index.
    let renamed = all
        .iter()
        .find(|m| m.subject.as_deref() == Some("Quarterly report"))
        .unwrap();
    let mut message = random_message(&mut rng, 1);
    message.subject = Some("Renamed quarterly summary".into());
    message.date = renamed.date;
    store
        .refresh_message_headers(&renamed.id, &message)
        .await
        .unwrap();
    let found = store
        .list_messages(
            &grant,
            &MessageQuery {
                subject: Some("renamed quart".into()),
                ..everything.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec![renamed.id.as_str()]
    );

    // Another grant's messages leave the index with it.
    store
        .delete_grant(&app.application.id, &other)
        .await
        .unwrap();
    assert_consistent(&store, &grant, 0, "another grant deleted").await;
    let all = store.list_messages(&grant, &everything).await.unwrap();
    let threads = store.list_threads(&grant, &everything).await.unwrap();
    check_subjects(&store, &grant, &all, &threads).await;

    if let crate::support::Place::Dir(dir) = &place {
        use sqlx::{Connection, Executor};
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        conn.execute("VACUUM").await.unwrap();
        drop(conn);
        assert_consistent(&store, &grant, 0, "VACUUM").await;
        check_subjects(&store, &grant, &all, &threads).await;
    }
    clean_up(place).await;
}

/// A thread grown past the members a row keeps keeps none, and its page reads them from
/// the thread index; shrunk back under the bound, its row lists them again.
async fn a_thread_too_large_for_its_row_is_read_from_the_index(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(&grant, &listing(&["INBOX"]))
        .await
        .unwrap();
    let inbox = &folders[0].id;
    let large = KEPT_MEMBERS as i64 + 1;
    // Newest first, as a first sync reads: growth puts each batch before the last.
    let all: Vec<NewMessage> = (1..=large)
        .map(|uid| crate::support::message(uid, &format!("m{uid}@x"), &[], "Weekly report"))
        .collect();
    for batch in all.rchunks(200) {
        store
            .add_folder_messages(&grant, inbox, batch)
            .await
            .unwrap();
    }
    assert_eq!(
        store.index_drift(&grant).await.unwrap(),
        Vec::<String>::new()
    );
    let (kept, page) = only_thread(&store, &grant).await;
    assert_eq!(kept, None, "too large to keep");
    assert_eq!(page.members.len() as i64, large);
    assert_eq!(page.members[0].id.len(), page.members[1].id.len());
    assert!(
        page.members.windows(2).all(|w| w[0].date < w[1].date),
        "oldest first"
    );
    assert_eq!(page.first_subject.as_deref(), Some("Weekly report"));
    assert_eq!(page.latest.id, page.members[KEPT_MEMBERS].id);
    let everything = MessageQuery {
        limit: 10,
        ..Default::default()
    };
    let listed = store.list_thread_pages(&grant, &everything).await.unwrap();
    assert_eq!(listed.len(), 1);
    let listed_members = listed[0].2.as_ref().map(|p| p.members.clone());
    assert_eq!(
        listed_members,
        Some(page.members.clone()),
        "listed, read the same way"
    );

    store
        .remove_locations(&grant, inbox, &[large, 1])
        .await
        .unwrap();
    assert_eq!(
        store.index_drift(&grant).await.unwrap(),
        Vec::<String>::new()
    );
    let (kept, page) = only_thread(&store, &grant).await;
    let kept = kept.expect("kept again");
    assert_eq!(kept.members.len() as i64, large - 2);
    assert_eq!(kept.members, page.members);
    assert_eq!(page.members[0].date, 1_700_000_002, "the first is gone");
    clean_up(place).await;
}

/// The grant's one thread: the members its row keeps, and its page.
async fn only_thread(store: &Store, grant: &GrantId) -> (Option<MemberList>, ThreadPage) {
    let all = MessageQuery {
        limit: 10,
        ..Default::default()
    };
    let ids: Vec<String> = store
        .list_threads(grant, &all)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids.len(), 1, "one thread");
    let mut rows = store.thread_page_rows(grant, &ids).await.unwrap();
    let kept = rows.remove(&ids[0]).unwrap().members;
    let mut pages = store.thread_pages(grant, &ids).await.unwrap();
    (kept, pages.remove(&ids[0]).unwrap())
}

/// A list filtered by a folder and an address that never met in it answers at once
/// (`address_folders`), and still finds the message once one arrives there.
async fn an_address_absent_from_a_folder_lists_nothing_until_one_arrives(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store.create_application("t", &[]).await.unwrap();
    let grant = new_grant(&store, &app.application.id).await.id;
    let folders = store
        .reconcile_folders(&grant, &listing(&["INBOX", "Sent"]))
        .await
        .unwrap();
    let (inbox, sent) = (folders[0].id.clone(), folders[1].id.clone());
    let address = |email: &str| EmailName {
        name: None,
        email: email.into(),
    };
    let mut received = crate::support::message(1, "in@x", &[], "Hello");
    received.from = vec![address("Alice@Example.test")];
    received.to = vec![address("owner@example.test")];
    let mut reply = crate::support::message(1, "out@x", &["in@x"], "Re: Hello");
    reply.from = vec![address("owner@example.test")];
    reply.to = vec![address("alice@example.test")];
    store
        .add_folder_messages(&grant, &inbox, &[received])
        .await
        .unwrap();
    store
        .add_folder_messages(&grant, &sent, &[reply])
        .await
        .unwrap();
    let query = |from: &str, to: &str, folders: &[&String]| MessageQuery {
        limit: 50,
        from: [from]
            .iter()
            .filter(|e| !e.is_empty())
            .map(|e| e.to_string())
            .collect(),
        to: [to]
            .iter()
            .filter(|e| !e.is_empty())
            .map(|e| e.to_string())
            .collect(),
        folder_ids: folders.iter().map(|f| (*f).clone()).collect(),
        ..Default::default()
    };
    let counts = |query: MessageQuery| {
        let store = &store;
        let grant = &grant;
        async move {
            let messages = store.list_messages(grant, &query).await.unwrap();
            let threads = store.list_threads(grant, &query).await.unwrap();
            (messages.len(), threads.len())
        }
    };
    assert_eq!(
        counts(query("alice@example.test", "", &[&sent])).await,
        (0, 0)
    );
    assert_eq!(
        counts(query("", "ALICE@example.test", &[&sent])).await,
        (1, 1)
    );
    assert_eq!(
        counts(query("alice@example.test", "", &[&inbox, &sent])).await,
        (1, 1)
    );
    assert_eq!(
        counts(query("bob@example.test", "", &[&inbox])).await,
        (0, 0)
    );

    // Alice's message copied into Sent is found there.
    let alice = store
        .list_messages(&grant, &query("alice@example.test", "", &[&inbox]))
        .await
        .unwrap();
    store
        .add_message_location(&grant, &sent, 2, &alice[0].id)
        .await
        .unwrap();
    assert_eq!(
        counts(query("alice@example.test", "", &[&sent])).await,
        (1, 1)
    );
    // Gone again, the pair stays noted: the list walks and finds nothing.
    store.remove_locations(&grant, &sent, &[2]).await.unwrap();
    assert_eq!(
        counts(query("alice@example.test", "", &[&sent])).await,
        (0, 0)
    );
    assert_consistent(&store, &grant, 0, "after the copy left").await;
    clean_up(place).await;
}

on_both_engines!(
    an_address_absent_from_a_folder_lists_nothing_until_one_arrives,
    a_thread_too_large_for_its_row_is_read_from_the_index,
    random_changes_keep_every_kept_structure_exact,
    filtered_thread_lists_match_their_messages,
    a_uid_named_twice_in_one_batch_keeps_the_first,
    thread_lists_by_a_frequent_address_match_their_messages,
    subject_filters_match_substrings,
);
