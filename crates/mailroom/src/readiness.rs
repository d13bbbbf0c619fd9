//! `GET /readyz` (README.md, "Monitoring"): whether this node can do its work, for a
//! load balancer or an orchestrator. 200 `{"database":"ok","sync":"running"}` when a
//! trivial query of the database answers and the sync engine's ownership rounds reach
//! the database; otherwise 503, each field saying what is wrong. `GET /healthz`, which
//! asks nothing of either, says only that the process answers.

use std::time::Duration;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use mailroom_store::Store;
use mailroom_sync::Ownership;
use serde_json::json;

/// The database must answer within this; a probe must not hang on a stuck pool.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Readiness {
    pub store: Store,
    pub ownership: Ownership,
}

impl Readiness {
    pub fn routes(self) -> Router {
        Router::new().route("/readyz", get(readyz)).with_state(self)
    }
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    let database =
        match tokio::time::timeout(DATABASE_TIMEOUT, readiness.store.check_reachable()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => format!("no answer within {} s", DATABASE_TIMEOUT.as_secs()),
        };
    let sync = sync_state(&readiness.ownership);
    let status = if database == "ok" && sync == "running" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"database": database, "sync": sync}))).into_response()
}

/// `running`; `stopping` once the node has begun to leave; `stalled` when its rounds have
/// not reached the database for a lease time.
fn sync_state(ownership: &Ownership) -> &'static str {
    if ownership.is_running() {
        "running"
    } else if ownership.is_leaving() {
        "stopping"
    } else {
        "stalled"
    }
}
