//! List filters of the message and thread lists hold at most 100 values: an absurd list
//! gets a clear 400 instead of a statement past the database's parameter limit. Hostile
//! filter values (a NUL, a huge subject, an unknown thread) get a clear answer.

use crate::support::{Mailroom, connect_grant};

const USER: u32 = 63;

#[tokio::test]
async fn an_absurd_address_list_is_refused_and_a_long_one_works() {
    let server = Mailroom::start();
    let (api, grant) = connect_grant(&server, USER).await;
    let addresses = |n: usize| {
        (0..n)
            .map(|i| format!("p{i}@x.test"))
            .collect::<Vec<_>>()
            .join(",")
    };
    for list in ["messages", "threads"] {
        let reply = api
            .get(&format!(
                "/v3/grants/{grant}/{list}?any_email={}",
                addresses(100)
            ))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let reply = api
            .get(&format!(
                "/v3/grants/{grant}/{list}?any_email={}",
                addresses(3_000)
            ))
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert!(
            reply.error_message().contains("any_email"),
            "{}",
            reply.text
        );
    }
}

#[tokio::test]
async fn hostile_filter_values_get_a_clear_answer() {
    let server = Mailroom::start();
    let (api, grant) = connect_grant(&server, USER).await;
    for list in ["messages", "threads"] {
        let reply = api
            .get(&format!("/v3/grants/{grant}/{list}?subject=a%00b"))
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert!(reply.error_message().contains("NUL"), "{}", reply.text);

        let huge = "report%20".repeat(2_000);
        let reply = api
            .get(&format!("/v3/grants/{grant}/{list}?subject={huge}"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["data"], serde_json::json!([]), "{}", reply.text);

        let reply = api
            .get(&format!(
                "/v3/grants/{grant}/{list}?thread_id=01a2433d310f70c6a9612188f44f1db8"
            ))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["data"], serde_json::json!([]), "{}", reply.text);
    }
}
