//! Filters of message and thread lists (docs/API.md §5.1, §5.4, §1.3) against the varied
//! mailbox: each filter finds exactly the mail `support::mailbox::MAIL` says it should,
//! in both query dialects; `in` takes folder ids only; `search_query_native` needs the
//! server, which is not reachable here.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{
    App, MAIL, Mail, assert_v3_error_type,
    mailbox::{T0, involves},
    newest_first,
};

/// The names of the messages `query` lists, in order.
async fn listed(app: &App, query: &str) -> Vec<&'static str> {
    let path = app.grant_path(&format!("/messages?limit=200&{query}"));
    let reply = app.call(Method::GET, &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    app.mailbox.names(&reply.ids())
}

/// Asserts that `query` lists exactly the mail `keep` holds for, newest first, and that
/// this is neither nothing nor everything (so the filter decides something).
async fn finds(app: &App, query: &str, keep: impl Fn(&Mail) -> bool) {
    let expected = newest_first(keep);
    assert!(
        !expected.is_empty() && expected.len() < MAIL.len(),
        "{query}: the fixture must make this filter choose"
    );
    assert_eq!(listed(app, query).await, expected, "{query}");
}

#[tokio::test]
async fn filters_narrow_the_three_message_inbox() {
    let app = App::new().await;
    let cases = [
        ("/messages?unread=true", 2),
        ("/messages?unread=false", 1),
        ("/messages?subject=Subject%202", 1),
        ("/messages?received_after=1700000002", 1),
        ("/threads", 3),
        ("/folders", 1),
    ];
    for (query, count) in cases {
        let reply = app.call(Method::GET, &app.grant_path(query), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
        assert_eq!(
            reply.body["data"].as_array().map(Vec::len),
            Some(count),
            "{query}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn with_no_filter_every_message_is_listed_newest_first() {
    let app = App::with_mailbox().await;
    assert_eq!(listed(&app, "").await, newest_first(|_| true));
}

#[tokio::test]
async fn subject_is_a_case_insensitive_substring() {
    let app = App::with_mailbox().await;
    for query in [
        "subject=quarterly",
        "subject=QUARTERLY%20REPORT",
        "subject=Quarterly+report",
    ] {
        finds(&app, query, |m| {
            m.subject.to_lowercase().contains("quarterly report")
        })
        .await;
    }
    finds(&app, "subject=42", |m| m.subject.contains("42")).await;
    assert_eq!(
        listed(&app, "subject=no-such-words").await,
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn from_matches_the_sender() {
    let app = App::with_mailbox().await;
    finds(&app, "from=alice@example.test", |m| {
        m.from.1 == "alice@example.test"
    })
    .await;
    finds(&app, "from=ann@example.test", |m| {
        m.from.1 == "ann@example.test"
    })
    .await;
}

#[tokio::test]
async fn to_cc_and_bcc_match_their_own_field() {
    let app = App::with_mailbox().await;
    finds(&app, "to=dave@example.test", |m| {
        m.to.contains(&"dave@example.test")
    })
    .await;
    finds(&app, "cc=carol@example.test", |m| {
        m.cc.contains(&"carol@example.test")
    })
    .await;
    finds(&app, "cc=bob@example.test", |m| {
        m.cc.contains(&"bob@example.test")
    })
    .await;
    finds(&app, "bcc=erin@example.test", |m| {
        m.bcc.contains(&"erin@example.test")
    })
    .await;
    // Bob sent mail but was copied on other mail: `to` does not find him there.
    assert_eq!(
        listed(&app, "to=bob@example.test").await,
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn any_email_matches_any_participant() {
    let app = App::with_mailbox().await;
    for address in [
        "bob@example.test",
        "erin@example.test",
        "alice@example.test",
    ] {
        finds(&app, &format!("any_email={address}"), |m| {
            involves(m, address)
        })
        .await;
    }
}

#[tokio::test]
async fn list_filters_take_repeated_keys_or_one_comma_list() {
    let app = App::with_mailbox().await;
    let senders = ["alice@example.test", "bob@example.test"];
    let keep = |m: &Mail| senders.contains(&m.from.1);
    finds(&app, "from=alice@example.test&from=bob@example.test", keep).await;
    finds(&app, "from=alice@example.test,bob@example.test", keep).await;
    finds(&app, "from=alice@example.test%2Cbob@example.test", keep).await;
}

#[tokio::test]
async fn in_takes_a_folder_id() {
    let app = App::with_mailbox().await;
    for folder in ["INBOX", "Projects", "Projects/2024", "Sent", "Trash"] {
        let id = app.mailbox.folder(folder);
        finds(&app, &format!("in={id}"), |m| m.folder == folder).await;
    }
    let two = format!(
        "in={},{}",
        app.mailbox.folder("Sent"),
        app.mailbox.folder("Trash")
    );
    finds(&app, &two, |m| m.folder == "Sent" || m.folder == "Trash").await;
}

#[tokio::test]
async fn in_refuses_folder_names_and_keywords() {
    let app = App::with_mailbox().await;
    for value in ["INBOX", "inbox", "Sent", "Projects", "\\Inbox", "nope"] {
        let query = format!("/messages?in={}", value.replace('\\', "%5C"));
        let reply = app.call(Method::GET, &app.grant_path(&query), None).await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            &query,
        );
        let threads = app
            .call(
                Method::GET,
                &app.grant_path(&query.replace("/messages", "/threads")),
                None,
            )
            .await;
        assert_eq!(threads.status, StatusCode::BAD_REQUEST, "threads {value}");
    }
}

#[tokio::test]
async fn unread_and_starred_read_both_boolean_dialects() {
    let app = App::with_mailbox().await;
    for value in ["true", "True", "TRUE", "1"] {
        finds(&app, &format!("unread={value}"), |m| m.unread).await;
        finds(&app, &format!("starred={value}"), |m| m.starred).await;
    }
    for value in ["false", "False", "0"] {
        finds(&app, &format!("unread={value}"), |m| !m.unread).await;
        finds(&app, &format!("starred={value}"), |m| !m.starred).await;
    }
    for bad in ["unread=maybe", "starred=yes", "has_attachment=2"] {
        let reply = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/messages?{bad}")),
                None,
            )
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            bad,
        );
    }
}

#[tokio::test]
async fn received_before_and_after_bound_the_date() {
    let app = App::with_mailbox().await;
    let middle = T0 + 4500;
    finds(&app, &format!("received_after={middle}"), |m| {
        m.date > middle
    })
    .await;
    finds(&app, &format!("received_before={middle}"), |m| {
        m.date < middle
    })
    .await;
    let (from, to) = (T0 + 1500, T0 + 6500);
    finds(
        &app,
        &format!("received_after={from}&received_before={to}"),
        |m| m.date > from && m.date < to,
    )
    .await;
    for bad in ["received_after=yesterday", "received_before=1.5"] {
        let reply = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/messages?{bad}")),
                None,
            )
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            bad,
        );
    }
}

#[tokio::test]
async fn has_attachment_tells_mail_with_files_from_mail_without() {
    let app = App::with_mailbox().await;
    finds(&app, "has_attachment=true", Mail::has_attachments).await;
    finds(&app, "has_attachment=false", |m| !m.has_attachments()).await;
}

#[tokio::test]
async fn thread_id_lists_the_messages_of_one_thread() {
    let app = App::with_mailbox().await;
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id("report-reply"))),
            None,
        )
        .await;
    let thread = reply.body["data"]["thread_id"]
        .as_str()
        .expect("a thread")
        .to_owned();
    finds(&app, &format!("thread_id={thread}"), |m| {
        m.name == "report" || m.replies_to == Some("report")
    })
    .await;
    assert_eq!(
        listed(&app, "thread_id=no-such-thread").await,
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn metadata_pair_matches_the_message_s_metadata() {
    let app = App::with_mailbox().await;
    app.store
        .set_message_metadata(
            &app.grant_id,
            &app.mailbox.id("lunch"),
            &json!({"project": "apollo"}),
        )
        .await
        .expect("kept");
    app.store
        .set_message_metadata(
            &app.grant_id,
            &app.mailbox.id("plan"),
            &json!({"project": "gemini"}),
        )
        .await
        .expect("kept");
    finds(&app, "metadata_pair=project:apollo", |m| m.name == "lunch").await;
    finds(&app, "metadata_pair=project:gemini", |m| m.name == "plan").await;
    assert_eq!(
        listed(&app, "metadata_pair=project:mercury").await,
        Vec::<&str>::new()
    );
    for bad in ["metadata_pair=no-colon", "metadata_pair=:value"] {
        let reply = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/messages?{bad}")),
                None,
            )
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            bad,
        );
    }
}

#[tokio::test]
async fn filters_combine_as_and() {
    let app = App::with_mailbox().await;
    finds(&app, "from=alice@example.test&unread=true", |m| {
        m.from.1 == "alice@example.test" && m.unread
    })
    .await;
    let inbox = app.mailbox.folder("INBOX");
    finds(&app, &format!("in={inbox}&starred=true"), |m| {
        m.folder == "INBOX" && m.starred
    })
    .await;
}

#[tokio::test]
async fn a_query_value_holding_nul_or_too_many_values_is_refused() {
    let app = App::with_mailbox().await;
    let many = (0..101)
        .map(|i| format!("x{i}@example.test"))
        .collect::<Vec<_>>()
        .join(",");
    for query in [
        "subject=a%00b".to_owned(),
        format!("any_email={many}"),
        format!("from={many}"),
    ] {
        let path = app.grant_path(&format!("/messages?{query}"));
        let reply = app.call(Method::GET, &path, None).await;
        assert_v3_error_type(
            &reply,
            StatusCode::BAD_REQUEST,
            "api.invalid_request_error",
            &query.chars().take(24).collect::<String>(),
        );
    }
}

#[tokio::test]
async fn native_search_needs_the_server_and_says_it_cannot_be_reached() {
    let app = App::with_mailbox().await;
    for list in ["/messages", "/threads"] {
        let path = app.grant_path(&format!("{list}?search_query_native=TEXT%20numbers"));
        let reply = app.call(Method::GET, &path, None).await;
        assert_v3_error_type(
            &reply,
            StatusCode::GATEWAY_TIMEOUT,
            "api.provider_error",
            list,
        );
    }
}

/// The names of the messages of the threads `query` lists.
async fn threads_of(app: &App, query: &str) -> Vec<Vec<&'static str>> {
    let path = app.grant_path(&format!("/threads?limit=200&{query}"));
    let reply = app.call(Method::GET, &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    reply
        .data()
        .iter()
        .map(|thread| {
            let ids: Vec<String> = thread["message_ids"]
                .as_array()
                .expect("message_ids")
                .iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect();
            app.mailbox.names(&ids)
        })
        .collect()
}

#[tokio::test]
async fn thread_filters_describe_the_whole_thread() {
    let app = App::with_mailbox().await;
    // The report and its reply are one thread, unread because the reply is.
    let unread = threads_of(&app, "unread=true").await;
    assert!(
        unread.contains(&vec!["report", "report-reply"]),
        "{unread:?}"
    );
    assert!(
        !unread.iter().flatten().any(|n| *n == "kickoff"),
        "{unread:?}"
    );
    let read = threads_of(&app, "unread=false").await;
    assert!(!read.iter().flatten().any(|n| *n == "report"), "{read:?}");
    let from_alice = threads_of(&app, "from=alice@example.test").await;
    assert_eq!(from_alice, [vec!["report", "report-reply"]]);
    let projects = threads_of(&app, &format!("in={}", app.mailbox.folder("Projects"))).await;
    assert_eq!(projects, [vec!["kickoff"]]);
}

#[tokio::test]
async fn thread_lists_are_bounded_by_their_latest_message() {
    let app = App::with_mailbox().await;
    // The report's thread ends with the reply at T0 + 3000.
    let after = threads_of(&app, &format!("latest_message_after={}", T0 + 2500)).await;
    assert!(after.contains(&vec!["report", "report-reply"]), "{after:?}");
    assert!(!after.iter().flatten().any(|n| *n == "lunch"), "{after:?}");
    let before = threads_of(&app, &format!("latest_message_before={}", T0 + 2500)).await;
    assert!(before.iter().flatten().any(|n| *n == "lunch"), "{before:?}");
    assert!(
        !before.iter().flatten().any(|n| *n == "report"),
        "{before:?}"
    );
}

#[tokio::test]
async fn select_keeps_the_named_fields_and_the_ids() {
    let app = App::with_mailbox().await;
    let reply = app
        .call(
            Method::GET,
            &app.grant_path("/messages?select=subject,unread"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    for message in reply.data() {
        assert_eq!(
            crate::support::keys(&message),
            ["grant_id", "id", "object", "subject", "unread"],
            "{message}"
        );
    }
    let thread = app
        .call(
            Method::GET,
            &app.grant_path("/threads?select=subject"),
            None,
        )
        .await;
    for thread in thread.data() {
        assert_eq!(
            crate::support::keys(&thread),
            ["grant_id", "id", "object", "subject"]
        );
    }
}

#[tokio::test]
async fn fields_takes_only_the_documented_values() {
    let app = App::with_mailbox().await;
    let sent = app.mailbox.folder("Sent");
    let headers = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?in={sent}&fields=include_headers")),
            None,
        )
        .await;
    assert_eq!(headers.status, StatusCode::OK, "{}", headers.body);
    let names: Vec<String> = headers.data()[0]["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter_map(|h| h["name"].as_str().map(str::to_lowercase))
        .collect();
    assert!(names.contains(&"message-id".to_owned()), "{names:?}");
    let standard = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages?in={sent}")),
            None,
        )
        .await;
    assert!(standard.data()[0].get("headers").is_none());
    let bogus = app
        .call(
            Method::GET,
            &app.grant_path("/messages?fields=everything"),
            None,
        )
        .await;
    assert_v3_error_type(
        &bogus,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "fields",
    );
}
