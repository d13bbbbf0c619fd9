//! Reading folders (docs/API.md §5.5): ids, not IMAP names; Inbox and special-use folders
//! are system folders; counts come from the index; `parent_id` and `single_level` pick
//! parts of the tree.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{
    App, MAIL,
    app::add_grant,
    assert_v3_error_type,
    mailbox::{FOLDERS, index_mailbox},
};

async fn folders(app: &App, query: &str) -> Vec<Value> {
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/folders{query}")),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    reply.data()
}

fn named<'a>(folders: &'a [Value], name: &str) -> &'a Value {
    folders
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no folder named {name}"))
}

#[tokio::test]
async fn every_folder_is_listed_with_its_id_and_name() {
    let app = App::with_mailbox().await;
    let listed = folders(&app, "").await;
    let mut names: Vec<&str> = listed.iter().filter_map(|f| f["name"].as_str()).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = FOLDERS.iter().map(|(_, name, ..)| *name).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for (imap_name, name, ..) in FOLDERS {
        let folder = named(&listed, name);
        assert_eq!(folder["id"], app.mailbox.folder(imap_name).as_str());
        assert_ne!(folder["id"], *imap_name, "an IMAP name is never an id");
        assert_eq!(folder["grant_id"], app.grant_id.as_str());
    }
}

#[tokio::test]
async fn inbox_and_special_use_folders_are_system_folders() {
    let app = App::with_mailbox().await;
    let listed = folders(&app, "").await;
    for (name, system) in [
        ("INBOX", true),
        ("Sent", true),
        ("Drafts", true),
        ("Trash", true),
        ("Projects", false),
        ("2024", false),
    ] {
        assert_eq!(named(&listed, name)["system_folder"], system, "{name}");
    }
    let inbox = named(&listed, "INBOX");
    assert!(
        inbox["attributes"]
            .as_array()
            .is_some_and(|a| a.contains(&Value::from("\\Inbox"))),
        "{inbox}"
    );
    assert!(
        named(&listed, "Sent")["attributes"]
            .as_array()
            .is_some_and(|a| a.contains(&Value::from("\\Sent")))
    );
}

#[tokio::test]
async fn folder_counts_are_the_index_s() {
    let app = App::with_mailbox().await;
    let listed = folders(&app, "").await;
    for (imap_name, name, ..) in FOLDERS {
        let folder = named(&listed, name);
        let held: Vec<_> = MAIL.iter().filter(|m| m.folder == *imap_name).collect();
        assert_eq!(folder["total_count"], held.len(), "{name}");
        assert_eq!(
            folder["unread_count"],
            held.iter().filter(|m| m.unread).count(),
            "{name}"
        );
    }
    assert_eq!(named(&listed, "Projects")["child_count"], 1);
    assert_eq!(named(&listed, "INBOX")["child_count"], 0);
}

#[tokio::test]
async fn a_child_names_its_parent_and_the_tree_can_be_read_by_level() {
    let app = App::with_mailbox().await;
    let projects = app.mailbox.folder("Projects");
    let listed = folders(&app, "").await;
    assert_eq!(named(&listed, "2024")["parent_id"], projects.as_str());
    assert!(named(&listed, "Projects")["parent_id"].is_null());
    let children = folders(&app, &format!("?parent_id={projects}")).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0]["name"], "2024");
    let top = folders(&app, "?single_level=true").await;
    assert_eq!(top.len(), FOLDERS.len() - 1);
    assert!(top.iter().all(|f| f["parent_id"].is_null()));
}

#[tokio::test]
async fn one_folder_is_read_by_id_and_a_name_is_not_an_id() {
    let app = App::with_mailbox().await;
    let id = app.mailbox.folder("Projects");
    let one = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/folders/{id}")),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["data"]["name"], "Projects");
    assert_eq!(one.body["data"]["object"], "folder");
    for name in ["INBOX", "Projects", "inbox"] {
        let reply = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/folders/{name}")),
                None,
            )
            .await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", name);
    }
}

#[tokio::test]
async fn another_grant_s_folder_is_not_found() {
    let app = App::with_mailbox().await;
    let sibling = add_grant(&app.store, &app.application(), "bob@example.test", "Bob").await;
    let theirs = index_mailbox(&app.store, &sibling).await;
    let foreign = theirs.folder("Projects");
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/folders/{foreign}")),
            None,
        )
        .await;
    assert_v3_error_type(
        &reply,
        StatusCode::NOT_FOUND,
        "api.not_found_error",
        "foreign",
    );
}
