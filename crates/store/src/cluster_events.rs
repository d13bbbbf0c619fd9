//! Word between the nodes of a cluster, through PostgreSQL's LISTEN/NOTIFY: a node that
//! changed a grant tells the node that syncs it. The channel is named after the
//! database schema, so deployments (and tests) sharing one database hear only their
//! own. A notification is a hint to act sooner: each node also finds everything out on
//! its own rounds (`grant_leases`), so one lost while a connection was down costs time,
//! never correctness.

use mailroom_model::GrantId;
use sqlx::postgres::PgListener;

use crate::{
    error::StoreError,
    open::{Engine, Store},
};

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// The grant's mailbox was changed through the API: its owner runs a pass now.
    Nudge(GrantId),
    /// The grant was created, re-authenticated or its settings changed: its owner
    /// starts its actor again, and a grant nobody holds is taken now.
    Restart(GrantId),
    /// The grant was deleted or can no longer sync: whoever runs it stops.
    Stop(GrantId),
    /// Nodes came, went or released grants: every node reconsiders what it holds.
    Rebalance,
}

impl ClusterEvent {
    fn payload(&self) -> String {
        match self {
            ClusterEvent::Nudge(id) => format!("nudge {id}"),
            ClusterEvent::Restart(id) => format!("restart {id}"),
            ClusterEvent::Stop(id) => format!("stop {id}"),
            ClusterEvent::Rebalance => "rebalance".to_owned(),
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = match payload.split_once(' ') {
            Some((kind, id)) => (kind, GrantId::parse(id).ok()),
            None => (payload, None),
        };
        match (kind, id) {
            ("nudge", Some(id)) => Some(ClusterEvent::Nudge(id)),
            ("restart", Some(id)) => Some(ClusterEvent::Restart(id)),
            ("stop", Some(id)) => Some(ClusterEvent::Stop(id)),
            ("rebalance", None) => Some(ClusterEvent::Rebalance),
            _ => None,
        }
    }
}

/// The channel's name: `mailroom_` and the schema, within PostgreSQL's 63 bytes.
const CHANNEL_SQL: &str = "'mailroom_' || LEFT(current_schema(), 54)";

impl Store {
    /// Whether other processes may serve this database (PostgreSQL), so that changes
    /// must be told through it; an SQLite database has one `mailroom serve`.
    pub fn is_shared(&self) -> bool {
        self.engine == Engine::Postgres
    }

    /// Tells every node, this one included, of `event`. Nothing on SQLite.
    pub async fn publish(&self, event: &ClusterEvent) -> Result<(), StoreError> {
        if self.engine != Engine::Postgres {
            return Ok(());
        }
        sqlx::query(&format!("SELECT pg_notify({CHANNEL_SQL}, $1)"))
            .bind(event.payload())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Starts listening for cluster events (PostgreSQL only: None on SQLite).
    pub async fn listen_for_events(&self) -> Result<Option<ClusterListener>, StoreError> {
        if self.engine != Engine::Postgres {
            return Ok(None);
        }
        let channel: String = sqlx::query_scalar(&format!("SELECT {CHANNEL_SQL}"))
            .fetch_one(&self.pool)
            .await?;
        let mut listener = PgListener::connect(&self.database_url).await?;
        listener.listen(&channel).await?;
        Ok(Some(ClusterListener { listener }))
    }
}

/// A connection listening for cluster events.
pub struct ClusterListener {
    listener: PgListener,
}

/// What the listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Event(ClusterEvent),
    /// The connection was lost; the next call reconnects. Events sent meanwhile are
    /// lost: the caller looks at everything afresh.
    Reconnecting,
}

impl ClusterListener {
    /// The next event; unknown payloads (a newer node's) are passed over.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        loop {
            match self.listener.try_recv().await? {
                None => return Ok(Heard::Reconnecting),
                Some(notification) => {
                    if let Some(event) = ClusterEvent::parse(notification.payload()) {
                        return Ok(Heard::Event(event));
                    }
                    tracing::debug!(payload = notification.payload(), "unknown cluster event");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_as_they_were_written() {
        let id = GrantId::parse("g-1").unwrap();
        for event in [
            ClusterEvent::Nudge(id.clone()),
            ClusterEvent::Restart(id.clone()),
            ClusterEvent::Stop(id),
            ClusterEvent::Rebalance,
        ] {
            assert_eq!(ClusterEvent::parse(&event.payload()), Some(event));
        }
        assert_eq!(ClusterEvent::parse("nudge"), None);
        assert_eq!(ClusterEvent::parse("nudge bad/id"), None);
        assert_eq!(ClusterEvent::parse("explode g-1"), None);
    }
}
