//! Contacts derived from indexed messages and events from the invitations in their
//! bodies: best names, idempotent re-derivation, version order of invitation updates
//! whatever order bodies are read in, and the list filters. Every scenario runs on the
//! embedded SQLite and on PostgreSQL.

use crate::support::{
    Engine, Place, clean_up, execute_raw, new_grant, on_both_engines, open_store,
};
use mailroom_model::{
    GrantId,
    v3::{EmailName, EventStatus, ParticipantStatus, When},
};
use mailroom_store::{
    ContactQuery, EventQuery, FolderListing, MessageBody, MessageQuery, NewMessage, Store,
};

async fn store_with_grant(engine: Engine) -> (Store, GrantId, String, Place) {
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

fn person(name: Option<&str>, email: &str) -> EmailName {
    EmailName {
        name: name.map(str::to_owned),
        email: email.to_owned(),
    }
}

struct Mail {
    uid: i64,
    date: i64,
    from: Vec<EmailName>,
    to: Vec<EmailName>,
    cc: Vec<EmailName>,
    reply_to: Vec<EmailName>,
}

impl Mail {
    fn new(uid: i64, date: i64) -> Self {
        Mail {
            uid,
            date,
            from: vec![],
            to: vec![],
            cc: vec![],
            reply_to: vec![],
        }
    }

    fn into_message(self) -> NewMessage {
        let id = format!("m{}@x", self.uid);
        NewMessage {
            uid: self.uid,
            identity_key: format!("mid:{id}"),
            message_id_header: Some(id.clone()),
            thread_keys: vec![format!("id:{id}")],
            subject: Some(format!("Subject {}", self.uid)),
            from: self.from,
            to: self.to,
            cc: self.cc,
            bcc: vec![],
            reply_to: self.reply_to,
            date: self.date,
            sent_date: None,
            size: 100,
            flags: vec![],
            has_attachments: false,
            in_reply_to: None,
            adopts_identity: None,
        }
    }
}

async fn add(store: &Store, grant: &GrantId, folder: &str, mails: Vec<Mail>) {
    let batch: Vec<NewMessage> = mails.into_iter().map(Mail::into_message).collect();
    store
        .add_folder_messages(grant, folder, &batch)
        .await
        .unwrap();
}

fn names(changes: &[mailroom_store::ContactChange]) -> Vec<(String, Option<String>, bool)> {
    let mut named: Vec<_> = changes
        .iter()
        .map(|c| {
            (
                c.contact.email_key.clone(),
                c.contact.display_name.clone(),
                c.created,
            )
        })
        .collect();
    named.sort();
    named
}

async fn all_contacts(store: &Store, grant: &GrantId) -> Vec<(String, Option<String>)> {
    store
        .list_contacts(
            grant,
            &ContactQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.email, c.display_name))
        .collect()
}

async fn contacts_keep_the_best_name_and_leave_out_the_grant(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    let mut first = Mail::new(1, 100);
    first.from = vec![person(Some("Bob Stone"), "bob@example.org")];
    first.to = vec![
        person(Some("Me Myself"), "A@Example.Test"),
        person(Some("Carol Client"), "carol@example.org"),
    ];
    first.cc = vec![person(Some("robert"), "BOB@example.org")];
    // Newer, but only a name others give Bob.
    let mut second = Mail::new(2, 200);
    second.from = vec![person(None, "a@example.test")];
    second.to = vec![
        person(Some("Bobby"), "bob@example.org"),
        person(None, "dave@example.org"),
    ];
    // Bob's own name, but older.
    let mut third = Mail::new(3, 50);
    third.from = vec![person(Some("Robert S."), "bob@example.org")];
    third.reply_to = vec![person(Some("Support Desk"), "help@example.org")];
    add(&store, &grant, &folder, vec![first, second, third]).await;

    let changes = store.derive_contacts(&grant).await.unwrap();
    assert_eq!(
        names(&changes),
        vec![
            ("bob@example.org".into(), Some("Bob Stone".into()), true),
            (
                "carol@example.org".into(),
                Some("Carol Client".into()),
                true
            ),
            ("dave@example.org".into(), None, true),
            ("help@example.org".into(), Some("Support Desk".into()), true),
        ]
    );
    // Nothing new: nothing changes, and reading everything again changes nothing either.
    assert!(store.derive_contacts(&grant).await.unwrap().is_empty());
    execute_raw(&place, "UPDATE contact_derivation SET next_message_id = ''").await;
    assert!(store.derive_contacts(&grant).await.unwrap().is_empty());

    // Carol's newer name from others replaces the older one of the same rank; Bob's own
    // newer name replaces his older one.
    let mut fourth = Mail::new(4, 300);
    fourth.from = vec![person(Some("Bob Builder"), "Bob@Example.org")];
    fourth.cc = vec![person(Some("Carol C."), "carol@example.org")];
    add(&store, &grant, &folder, vec![fourth]).await;
    let changes = store.derive_contacts(&grant).await.unwrap();
    assert_eq!(
        names(&changes),
        vec![
            ("bob@example.org".into(), Some("Bob Builder".into()), false),
            ("carol@example.org".into(), Some("Carol C.".into()), false),
        ]
    );
    assert_eq!(
        all_contacts(&store, &grant).await,
        vec![
            ("Bob@Example.org".into(), Some("Bob Builder".into())),
            ("carol@example.org".into(), Some("Carol C.".into())),
            ("dave@example.org".into(), None),
            ("help@example.org".into(), Some("Support Desk".into())),
        ]
    );
    clean_up(place).await;
}

async fn contacts_page_filter_and_keep_their_ids(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    let mut mail = Mail::new(1, 100);
    mail.from = vec![person(Some("Zed"), "zed@example.org")];
    mail.to = vec![
        person(None, "amy@example.org"),
        person(None, "kim@example.org"),
    ];
    add(&store, &grant, &folder, vec![mail]).await;
    store.derive_contacts(&grant).await.unwrap();
    let page = |after: Option<String>| ContactQuery {
        limit: 2,
        after,
        email: None,
    };
    let first = store.list_contacts(&grant, &page(None)).await.unwrap();
    let emails: Vec<&str> = first.iter().map(|c| c.email.as_str()).collect();
    assert_eq!(emails, ["amy@example.org", "kim@example.org"]);
    let second = store
        .list_contacts(&grant, &page(Some(first[1].email_key.clone())))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].email, "zed@example.org");
    let found = store
        .list_contacts(
            &grant,
            &ContactQuery {
                limit: 10,
                after: None,
                email: Some(" ZED@example.ORG ".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let by_id = store.contact(&grant, &found[0].id).await.unwrap().unwrap();
    assert_eq!(by_id, found[0]);
    assert!(store.contact(&grant, "nope").await.unwrap().is_none());

    // Wiped and derived again, a contact keeps its id.
    execute_raw(&place, "DELETE FROM contacts").await;
    execute_raw(&place, "DELETE FROM contact_derivation").await;
    store.derive_contacts(&grant).await.unwrap();
    let again = store.contact(&grant, &found[0].id).await.unwrap();
    assert_eq!(again.map(|c| c.email), Some("zed@example.org".into()));
    clean_up(place).await;
}

/// Invitations of one meeting, as the organizer's calendar would send them.
fn invitation(method: &str, sequence: i64, dtstamp: &str, title: &str, start: &str) -> String {
    let times = if start.is_empty() {
        String::new()
    } else {
        format!("DTSTART:{start}\nDTEND:{}\n", later_by_an_hour(start))
    };
    let status = if method == "CANCEL" {
        "STATUS:CANCELLED\n"
    } else {
        ""
    };
    format!(
        "BEGIN:VCALENDAR\nMETHOD:{method}\nBEGIN:VEVENT\nUID:plan-42@example.org\nSEQUENCE:{sequence}\n\
         DTSTAMP:{dtstamp}\n{times}{status}SUMMARY:{title}\n\
         ORGANIZER;CN=Ada:mailto:ada@example.org\n\
         ATTENDEE;PARTSTAT=ACCEPTED;CN=Ada:mailto:ada@example.org\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@example.test\nEND:VEVENT\nEND:VCALENDAR\n"
    )
}

/// "20240315T100000Z" → "20240315T110000Z" (hours below 23 only).
fn later_by_an_hour(start: &str) -> String {
    let hour: u32 = start[9..11].parse().unwrap();
    format!("{}{:02}{}", &start[..9], hour + 1, &start[11..])
}

async fn message_ids(store: &Store, grant: &GrantId) -> Vec<String> {
    let mut listed = store
        .list_messages(
            grant,
            &MessageQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    listed.sort_by_key(|m| m.date);
    listed.into_iter().map(|m| m.id).collect()
}

fn body(id: &str, ics: &[String]) -> MessageBody {
    let parts: Vec<Vec<u8>> = ics.iter().map(|t| t.clone().into_bytes()).collect();
    MessageBody {
        id: id.to_owned(),
        body_html: String::new(),
        snippet: String::new(),
        attachments: serde_json::json!([]),
        headers: vec![],
        calendar: mailroom_mime::calendar_events(&parts),
        bounce: None,
    }
}

fn all_events(show_cancelled: bool) -> EventQuery {
    EventQuery {
        limit: 100,
        show_cancelled,
        ..Default::default()
    }
}

async fn invitations_follow_their_versions_in_any_order(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    add(
        &store,
        &grant,
        &folder,
        (1..=5)
            .map(|uid| {
                let mut mail = Mail::new(uid, 100 * uid);
                // The organizer sends the invitations; the fifth comes from an outsider.
                let sender = if uid == 5 {
                    "outsider@example.net"
                } else {
                    "Ada@Example.org"
                };
                mail.from = vec![person(Some("Ada"), sender)];
                mail
            })
            .collect(),
    )
    .await;
    let ids = message_ids(&store, &grant).await;
    let request = invitation("REQUEST", 0, "20240301T120000Z", "Plan", "20240315T100000Z");
    let moved = invitation(
        "REQUEST",
        1,
        "20240302T120000Z",
        "Plan (moved)",
        "20240316T100000Z",
    );
    let same_sequence_later = invitation(
        "REQUEST",
        1,
        "20240303T120000Z",
        "Plan (room)",
        "20240316T100000Z",
    );
    let cancel = invitation("CANCEL", 2, "20240304T120000Z", "Plan", "");

    // In order: created, updated, updated again on a later DTSTAMP.
    let created = store
        .store_message_bodies(&grant, &[body(&ids[0], std::slice::from_ref(&request))])
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    assert!(created[0].created);
    let event_id = created[0].id.clone();
    let updated = store
        .store_message_bodies(&grant, &[body(&ids[1], std::slice::from_ref(&moved))])
        .await
        .unwrap();
    assert_eq!(updated.len(), 1);
    assert!(!updated[0].created);
    assert_eq!(updated[0].id, event_id);
    store
        .store_message_bodies(
            &grant,
            &[body(&ids[2], std::slice::from_ref(&same_sequence_later))],
        )
        .await
        .unwrap();
    // An older version, or the same one read again (as an inline part and an .ics file
    // of one message), changes nothing.
    for (id, ics) in [(&ids[0], &request), (&ids[2], &same_sequence_later)] {
        let again = store
            .store_message_bodies(&grant, &[body(id, &[ics.clone(), ics.clone()])])
            .await
            .unwrap();
        assert!(again.is_empty());
    }
    let event = store.event(&grant, &event_id).await.unwrap().unwrap();
    assert_eq!(event.title.as_deref(), Some("Plan (room)"));
    assert_eq!(event.status, EventStatus::Confirmed);
    assert_eq!(
        event.when,
        When::Timespan {
            start_time: 1_710_583_200,
            end_time: 1_710_586_800,
            start_timezone: Some("UTC".into()),
            end_timezone: Some("UTC".into()),
        }
    );
    assert_eq!(event.participants.len(), 2);
    assert_eq!(event.participants[0].status, ParticipantStatus::Yes);
    assert_eq!(event.participants[1].status, ParticipantStatus::Noreply);
    assert_eq!(
        event.organizer.as_ref().map(|o| o.email.as_str()),
        Some("ada@example.org")
    );
    // RFC 6047 §3: a CANCEL or REQUEST from someone other than the organizer, however
    // high its SEQUENCE, changes nothing.
    let spoofed_cancel = invitation("CANCEL", i64::MAX, "20240305T120000Z", "Plan", "");
    let spoofed_request = invitation(
        "REQUEST",
        999,
        "20240305T120000Z",
        "Spoofed",
        "20240320T100000Z",
    );
    let spoofed = store
        .store_message_bodies(&grant, &[body(&ids[4], &[spoofed_cancel, spoofed_request])])
        .await
        .unwrap();
    assert!(spoofed.is_empty(), "{spoofed:?}");
    let event = store.event(&grant, &event_id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Confirmed);
    assert_eq!(event.title.as_deref(), Some("Plan (room)"));
    // A cancellation (without times) keeps what was known and hides the event.
    let cancelled = store
        .store_message_bodies(&grant, &[body(&ids[3], std::slice::from_ref(&cancel))])
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 1);
    let event = store.event(&grant, &event_id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Cancelled);
    assert_eq!(event.title.as_deref(), Some("Plan (room)"));
    assert!(
        store
            .list_events(&grant, &all_events(false))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_events(&grant, &all_events(true))
            .await
            .unwrap()
            .len(),
        1
    );

    // Newest first, as the body reader goes: the cancellation alone knows no times; the
    // older full version fills them in and leaves it cancelled; older ones change nothing.
    execute_raw(&place, "DELETE FROM events").await;
    let first = store
        .store_message_bodies(&grant, &[body(&ids[3], std::slice::from_ref(&cancel))])
        .await
        .unwrap();
    assert!(first[0].created);
    let bare = store.event(&grant, &event_id).await.unwrap().unwrap();
    assert_eq!(bare.status, EventStatus::Cancelled);
    let filled = store
        .store_message_bodies(
            &grant,
            &[body(&ids[2], std::slice::from_ref(&same_sequence_later))],
        )
        .await
        .unwrap();
    assert_eq!(filled.len(), 1);
    assert!(
        store
            .store_message_bodies(&grant, &[body(&ids[0], std::slice::from_ref(&request))])
            .await
            .unwrap()
            .is_empty()
    );
    let event = store.event(&grant, &event_id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Cancelled);
    assert_eq!(event.title.as_deref(), Some("Plan (room)"));
    assert!(matches!(
        event.when,
        When::Timespan {
            start_time: 1_710_583_200,
            ..
        }
    ));
    clean_up(place).await;
}

async fn events_filter_by_time_title_and_uid_and_page(engine: Engine) {
    let (store, grant, folder, place) = store_with_grant(engine).await;
    add(&store, &grant, &folder, vec![Mail::new(1, 100)]).await;
    let ids = message_ids(&store, &grant).await;
    let event = |uid: &str, title: &str, times: &str| {
        format!(
            "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20240101T000000Z\n\
             {times}SUMMARY:{title}\nEND:VEVENT\nEND:VCALENDAR\n"
        )
    };
    let parts = vec![
        // 2024-05-01, one day.
        event(
            "holiday",
            "Labour Day",
            "DTSTART;VALUE=DATE:20240501\nDTEND;VALUE=DATE:20240502\n",
        ),
        // 2024-05-06 to 2024-05-08 inclusive.
        event(
            "offsite",
            "Team Offsite",
            "DTSTART;VALUE=DATE:20240506\nDTEND;VALUE=DATE:20240509\n",
        ),
        // 2024-05-02 09:00-10:00 UTC.
        event(
            "standup",
            "Daily STANDUP",
            "DTSTART:20240502T090000Z\nDTEND:20240502T100000Z\n",
        ),
        // 2024-05-03 12:00 UTC, no length.
        event("deadline", "Report due", "DTSTART:20240503T120000Z\n"),
    ];
    let changes = store
        .store_message_bodies(&grant, &[body(&ids[0], &parts)])
        .await
        .unwrap();
    assert_eq!(changes.len(), 4);
    let titles = |events: Vec<mailroom_store::EventRecord>| -> Vec<String> {
        events.into_iter().filter_map(|e| e.title).collect()
    };
    let all = store.list_events(&grant, &all_events(false)).await.unwrap();
    let whens: Vec<&When> = all.iter().map(|e| &e.when).collect();
    assert_eq!(
        whens,
        vec![
            &When::Date {
                date: "2024-05-01".into()
            },
            &When::Timespan {
                start_time: 1_714_640_400,
                end_time: 1_714_644_000,
                start_timezone: Some("UTC".into()),
                end_timezone: Some("UTC".into()),
            },
            &When::Time {
                time: 1_714_737_600,
                timezone: Some("UTC".into()),
            },
            &When::Datespan {
                start_date: "2024-05-06".into(),
                end_date: "2024-05-08".into(),
            },
        ]
    );
    // Overlap with 2024-05-02 09:30 .. 2024-05-03 12:00 (exclusive end).
    let window = EventQuery {
        start: Some(1_714_642_200),
        end: Some(1_714_737_600),
        ..all_events(false)
    };
    assert_eq!(
        titles(store.list_events(&grant, &window).await.unwrap()),
        ["Daily STANDUP"]
    );
    // An instant at the window's start counts; the offsite's last day overlaps.
    let window = EventQuery {
        start: Some(1_714_737_600),
        end: Some(1_715_000_000),
        ..all_events(false)
    };
    assert_eq!(
        titles(store.list_events(&grant, &window).await.unwrap()),
        ["Report due", "Team Offsite"]
    );
    let by_title = EventQuery {
        title: Some("standup".into()),
        ..all_events(false)
    };
    assert_eq!(
        titles(store.list_events(&grant, &by_title).await.unwrap()),
        ["Daily STANDUP"]
    );
    let by_title = EventQuery {
        title: Some("%".into()),
        ..all_events(false)
    };
    assert!(
        store
            .list_events(&grant, &by_title)
            .await
            .unwrap()
            .is_empty()
    );
    let by_uid = EventQuery {
        ical_uid: Some("offsite".into()),
        ..all_events(false)
    };
    assert_eq!(
        titles(store.list_events(&grant, &by_uid).await.unwrap()),
        ["Team Offsite"]
    );
    // Pages of two by start.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_events(
                &grant,
                &EventQuery {
                    limit: 2,
                    after: after.clone(),
                    ..all_events(false)
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|e| (e.start_time, e.id.clone()));
        seen.extend(titles(page));
    }
    assert_eq!(
        seen,
        ["Labour Day", "Daily STANDUP", "Report due", "Team Offsite"]
    );
    clean_up(place).await;
}

on_both_engines!(
    contacts_keep_the_best_name_and_leave_out_the_grant,
    contacts_page_filter_and_keep_their_ids,
    invitations_follow_their_versions_in_any_order,
    events_filter_by_time_title_and_uid_and_page,
);
