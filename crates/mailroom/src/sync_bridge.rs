//! Connects the API to the sync engine.

use mailroom_api::{BoxFuture, FetchFailure, Mailboxes};
use mailroom_model::GrantId;
use mailroom_sync::{SyncEngine, SyncError};

pub struct SyncBridge(pub SyncEngine);

fn failure(e: SyncError) -> FetchFailure {
    match e {
        SyncError::MessageGone | SyncError::GrantGone => FetchFailure::Gone,
        other => FetchFailure::Provider(other.to_string()),
    }
}

impl Mailboxes for SyncBridge {
    fn grant_connected(&self, grant_id: &GrantId) {
        self.0.start_grant(grant_id);
    }

    fn grant_removed(&self, grant_id: &GrantId) {
        self.0.stop_grant(grant_id);
    }

    fn fetch_raw_message<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, FetchFailure>> {
        Box::pin(async move {
            mailroom_sync::fetch_message_body(self.0.store(), self.0.policy(), grant_id, message_id)
                .await
                .map_err(failure)
        })
    }

    fn search_native<'a>(
        &'a self,
        grant_id: &'a GrantId,
        query: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, FetchFailure>> {
        Box::pin(async move {
            mailroom_sync::search_native(self.0.store(), self.0.policy(), grant_id, query)
                .await
                .map_err(failure)
        })
    }
}
