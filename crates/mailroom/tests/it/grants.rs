//! `/v3/grants`: listing with filters and paging, reading, updating with re-validation,
//! deleting. Against the real testbed.

use crate::support::{self, Api, Mailroom, Testbed, imap_app};
use serde_json::{Value, json};

/// Testbed users no other test signs in as (ARCHITECTURE.md, "Testbed users").
const USER: u32 = 95;
const SECOND_USER: u32 = 96;
const THIRD_USER: u32 = 97;
const DELETED_USER: u32 = 98;

async fn setup(server: &Mailroom) -> Api {
    imap_app(server, "grants").await.1
}

async fn connect(api: &Api, user: u32) -> Value {
    let reply = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": Testbed::get().settings(user)}),
        )
        .await;
    assert!(reply.status == 201 || reply.status == 200, "{}", reply.text);
    reply.body["data"].clone()
}

fn emails(reply: &support::Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn grants_list_filters_sorts_and_pages() {
    let server = Mailroom::start();
    let api = setup(&server).await;
    let first = connect(&api, USER).await;
    let second = connect(&api, SECOND_USER).await;
    let third = connect(&api, THIRD_USER).await;

    let all = api.get("/v3/grants").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["limit"], 10);
    assert_eq!(all.body["offset"], 0);
    assert_eq!(emails(&all).len(), 3);

    let asc = api.get("/v3/grants?sort_by=created_at&order_by=asc").await;
    let desc = api.get("/v3/grants?sort_by=created_at&order_by=desc").await;
    let mut reversed = emails(&desc);
    reversed.reverse();
    assert_eq!(emails(&asc), reversed);

    let page1 = api.get("/v3/grants?limit=2&offset=0&order_by=asc").await;
    let page2 = api.get("/v3/grants?limit=2&offset=2&order_by=asc").await;
    assert_eq!(emails(&page1).len(), 2);
    assert_eq!(emails(&page2).len(), 1);
    assert!(!emails(&page1).contains(&emails(&page2)[0]));
    assert_eq!(page2.body["offset"], 2);

    let by_email = api
        .get(&format!(
            "/v3/grants?email=USER{SECOND_USER}%40example.test"
        ))
        .await;
    assert_eq!(emails(&by_email), vec![Testbed::user(SECOND_USER).0]);
    assert_eq!(
        emails(&api.get("/v3/grants?grant_status=valid&provider=imap").await).len(),
        3
    );
    assert!(emails(&api.get("/v3/grants?grant_status=invalid").await).is_empty());
    assert!(emails(&api.get("/v3/grants?provider=google").await).is_empty());

    let created = first["created_at"].as_i64().unwrap();
    assert_eq!(
        emails(&api.get(&format!("/v3/grants?since={created}")).await).len(),
        3
    );
    assert!(emails(&api.get(&format!("/v3/grants?before={created}")).await).is_empty());
    assert!(
        emails(
            &api.get(&format!("/v3/grants?since={}", created + 3600))
                .await
        )
        .is_empty()
    );

    let ids = format!(
        "/v3/grants?account_ids={},{}",
        second["id"].as_str().unwrap(),
        third["id"].as_str().unwrap()
    );
    assert_eq!(emails(&api.get(&ids).await).len(), 2);

    for bad in [
        "/v3/grants?limit=500",
        "/v3/grants?sort_by=email",
        "/v3/grants?order_by=sideways",
        "/v3/grants?grant_status=maybe",
        "/v3/grants?since=yesterday",
    ] {
        assert_eq!(api.get(bad).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn grants_of_other_applications_are_invisible() {
    let server = Mailroom::start();
    let mine = setup(&server).await;
    let theirs = setup(&server).await;
    let grant = connect(&mine, USER).await;
    let id = grant["id"].as_str().unwrap();
    assert!(emails(&theirs.get("/v3/grants").await).is_empty());
    assert_eq!(theirs.get(&format!("/v3/grants/{id}")).await.status, 404);
    assert_eq!(theirs.delete(&format!("/v3/grants/{id}")).await.status, 404);
    assert_eq!(mine.get(&format!("/v3/grants/{id}")).await.status, 200);
}

#[tokio::test]
async fn patch_revalidates_new_settings_and_keeps_the_old_on_failure() {
    let testbed = Testbed::get();
    let server = Mailroom::start();
    let api = setup(&server).await;
    let grant = connect(&api, USER).await;
    let path = format!("/v3/grants/{}", grant["id"].as_str().unwrap());

    let wrong = api
        .send(
            "PATCH",
            &path,
            Some(json!({"settings": {"imap_password": "wrong"}})),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(wrong.error_message().contains("IMAP"));
    let unchanged = api.get(&path).await;
    assert_eq!(unchanged.body["data"]["settings"], grant["settings"]);
    assert_eq!(unchanged.body["data"]["grant_status"], "valid");

    // A stored password never follows the servers to a new port (or host, or security):
    // the move needs the password again, and without it nothing is tried.
    let move_to_tls = json!({
        "imap_port": testbed.imaps_port, "imap_security": "ssl",
        "smtp_port": testbed.smtps_port, "smtp_security": "ssl"});
    let no_password = api
        .send("PATCH", &path, Some(json!({"settings": move_to_tls})))
        .await;
    assert_eq!(no_password.status, 400, "{}", no_password.text);
    assert!(
        no_password
            .error_message()
            .contains("settings.imap_password is required"),
        "{}",
        no_password.text
    );
    let mut with_password = move_to_tls.clone();
    with_password["imap_password"] = json!(Testbed::user(USER).1);
    let moved = api
        .send("PATCH", &path, Some(json!({"settings": with_password})))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(
        moved.body["data"]["settings"]["imap_port"],
        testbed.imaps_port
    );
    assert_eq!(moved.body["data"]["id"], grant["id"]);

    // The stored password carries over to the same servers: re-validating without one
    // still works.
    let again = api
        .send(
            "PATCH",
            &path,
            Some(json!({"settings": {"imap_security": "ssl"}})),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);

    let (other_email, other_password) = Testbed::user(SECOND_USER);
    let other_mailbox = api
        .send(
            "PATCH",
            &path,
            Some(json!({"settings": {"imap_username": other_email, "imap_password": other_password}})),
        )
        .await;
    assert_eq!(other_mailbox.status, 400);
    assert!(other_mailbox.error_message().contains("cannot change"));

    let scoped = api
        .send(
            "PATCH",
            &path,
            Some(json!({"scope": ["email.read_only", "contacts"]})),
        )
        .await;
    assert_eq!(scoped.status, 200, "{}", scoped.text);
    assert_eq!(
        scoped.body["data"]["scope"],
        json!(["email.read_only", "contacts"])
    );
    let bad_scope = api
        .send("PATCH", &path, Some(json!({"scope": ["email.everything"]})))
        .await;
    assert_eq!(bad_scope.status, 400);
}

#[tokio::test]
async fn delete_removes_the_grant_and_answers_json() {
    let server = Mailroom::start();
    let api = setup(&server).await;
    let grant = connect(&api, DELETED_USER).await;
    let path = format!("/v3/grants/{}", grant["id"].as_str().unwrap());
    let deleted = api.delete(&path).await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body["request_id"].is_string());
    assert_eq!(api.get(&path).await.status, 404);
    assert_eq!(api.delete(&path).await.status, 404);
    assert!(emails(&api.get("/v3/grants").await).is_empty());
    // Connecting again makes a new grant.
    let again = connect(&api, DELETED_USER).await;
    assert_ne!(again["id"], grant["id"]);
}

#[tokio::test]
async fn me_and_malformed_ids_are_handled() {
    let server = Mailroom::start();
    let api = setup(&server).await;
    let me = api.get("/v3/grants/me").await;
    assert_eq!(me.status, 400);
    assert!(me.error_message().contains("access token"));
    let odd = api.get("/v3/grants/a%20b%2Fc").await;
    assert_eq!(odd.status, 404);
    assert_eq!(odd.error_type(), "api.not_found_error");
}
