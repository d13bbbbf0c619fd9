//! A real HTTP receiver for webhook notifications on 127.0.0.1: it answers the
//! `?challenge=` handshake, records every POST (body, signature header, raw bytes), and
//! can be told to refuse deliveries with 503 for a while.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use serde_json::Value;

/// One notification as it arrived.
#[derive(Debug, Clone)]
pub struct Post {
    pub body: Value,
    pub signature: String,
    pub raw: Vec<u8>,
}

#[derive(Default)]
struct Received {
    posts: Vec<Post>,
    down: bool,
    refused: usize,
}

type Shared = Arc<Mutex<Received>>;

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

async fn challenge(Query(query): Query<HashMap<String, String>>) -> String {
    query.get("challenge").cloned().unwrap_or_default()
}

async fn notification(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Ok(mut received) = shared.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    if received.down {
        received.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let signature = headers
        .get("x-nylas-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    received.posts.push(Post {
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signature,
        raw: body.to_vec(),
    });
    StatusCode::OK
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new()
            .route("/hook", get(challenge).post(notification))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{address}/hook"),
            shared,
        }
    }

    /// While down, every delivery is answered 503.
    pub fn set_down(&self, down: bool) {
        self.shared.lock().expect("receiver lock").down = down;
    }

    pub fn refused(&self) -> usize {
        self.shared.lock().map(|r| r.refused).unwrap_or(0)
    }

    pub fn posts(&self) -> Vec<Post> {
        self.shared
            .lock()
            .map(|r| r.posts.clone())
            .unwrap_or_default()
    }

    /// The notifications of one trigger type received so far.
    pub fn of_type(&self, trigger: &str) -> Vec<Post> {
        self.posts()
            .into_iter()
            .filter(|p| p.body["type"] == trigger)
            .collect()
    }

    /// Waits (deadline 60 s, generous for busy CI machines) until a notification of
    /// `trigger` satisfies `check`, and returns it.
    pub async fn wait_for(&self, trigger: &str, check: impl Fn(&Value) -> bool) -> Post {
        self.wait_for_within(trigger, Duration::from_secs(60), check)
            .await
    }

    /// As [`Receiver::wait_for`], with a deadline of `within`.
    pub async fn wait_for_within(
        &self,
        trigger: &str,
        within: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Post {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(post) = self
                .of_type(trigger)
                .into_iter()
                .find(|p| check(&p.body["data"]["object"]))
            {
                return post;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {trigger} notification arrived in time; received: {:?}",
                self.posts()
                    .iter()
                    .map(|p| p.body["type"].clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (deadline 60 s) until `check` holds.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !check(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
