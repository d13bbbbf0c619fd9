//! Connects the API to the sync engine.

use std::sync::Arc;

use mailroom_api::{
    BoxFuture, ChangeFailure, FetchFailure, Mailboxes, MessageUpdate, OutgoingMail, SendReceipt,
};
use mailroom_imap::ImapError;
use mailroom_model::GrantId;
use mailroom_smtp::SmtpError;
use mailroom_store::ClusterEvent;
use mailroom_sync::{MessageChange, Ownership, Submission, SyncEngine, SyncError};
use tokio::sync::Notify;

pub struct SyncBridge {
    pub engine: SyncEngine,
    /// Tells the node that syncs a grant of its creation, re-authentication and
    /// deletion.
    pub ownership: Ownership,
    /// Wakes the scheduled-send task.
    pub scheduled: Arc<Notify>,
    pub schedule_quota: mailroom_store::ScheduleQuota,
}

fn failure(e: SyncError) -> FetchFailure {
    match e {
        SyncError::MessageGone | SyncError::GrantGone => FetchFailure::Gone,
        SyncError::TooLarge(reason) => FetchFailure::TooLarge(reason),
        SyncError::Imap(ImapError::InvalidSearch(reason)) => FetchFailure::Invalid(reason),
        SyncError::Store(e) => FetchFailure::Database(e),
        other => FetchFailure::Provider(other.to_string()),
    }
}

fn change_failure(e: SyncError) -> ChangeFailure {
    match e {
        SyncError::MessageGone | SyncError::GrantGone => ChangeFailure::Gone,
        SyncError::Invalid(reason) => ChangeFailure::Invalid(reason),
        SyncError::Imap(ImapError::Refused(words)) => ChangeFailure::Refused(words),
        SyncError::Smtp(e @ SmtpError::Refused { .. }) => ChangeFailure::SendRefused(e.to_string()),
        SyncError::Smtp(SmtpError::InvalidEnvelope(reason)) => ChangeFailure::Invalid(reason),
        SyncError::Smtp(e @ SmtpError::Unconfirmed(_)) => {
            ChangeFailure::SendUnconfirmed(e.to_string())
        }
        SyncError::Store(e) => ChangeFailure::Database(e),
        other => ChangeFailure::Provider(other.to_string()),
    }
}

impl Mailboxes for SyncBridge {
    fn grant_connected(&self, grant_id: &GrantId) {
        let (ownership, event) = (
            self.ownership.clone(),
            ClusterEvent::Restart(grant_id.clone()),
        );
        tokio::spawn(async move { ownership.tell(event).await });
    }

    fn grant_removed(&self, grant_id: &GrantId) {
        // Stopped here at once, whichever node runs it; the others hear of it.
        self.engine.stop_grant(grant_id);
        let (ownership, event) = (self.ownership.clone(), ClusterEvent::Stop(grant_id.clone()));
        tokio::spawn(async move { ownership.tell(event).await });
    }

    fn fetch_raw_message<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, FetchFailure>> {
        Box::pin(async move {
            mailroom_sync::fetch_message_body(
                self.engine.store(),
                self.engine.policy(),
                grant_id,
                message_id,
            )
            .await
            .map_err(failure)
        })
    }

    fn fetch_raw_messages<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
        total_bytes: u64,
    ) -> BoxFuture<'a, Result<mailroom_api::RawMessages, FetchFailure>> {
        Box::pin(async move {
            mailroom_sync::fetch_message_bodies(
                self.engine.store(),
                self.engine.policy(),
                grant_id,
                message_ids,
                total_bytes,
            )
            .await
            .map_err(failure)
        })
    }

    fn load_bodies<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), FetchFailure>> {
        Box::pin(async move {
            mailroom_sync::load_message_bodies(
                self.engine.store(),
                self.engine.policy(),
                grant_id,
                message_ids,
            )
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
            mailroom_sync::search_native(self.engine.store(), self.engine.policy(), grant_id, query)
                .await
                .map_err(failure)
        })
    }

    fn update_messages<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
        update: &'a MessageUpdate,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        Box::pin(async move {
            let change = MessageChange {
                unread: update.unread,
                starred: update.starred,
                folders: update.folders.clone(),
            };
            self.engine
                .change_messages(grant_id, message_ids, &change)
                .await
                .map_err(change_failure)
        })
    }

    fn delete_messages<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        Box::pin(async move {
            self.engine
                .delete_messages(grant_id, message_ids)
                .await
                .map_err(change_failure)
        })
    }

    fn discard_drafts<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        Box::pin(async move {
            self.engine
                .discard_drafts(grant_id, message_ids)
                .await
                .map_err(change_failure)
        })
    }

    fn create_folder<'a>(
        &'a self,
        grant_id: &'a GrantId,
        name: &'a str,
        parent_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ChangeFailure>> {
        Box::pin(async move {
            self.engine
                .create_folder(grant_id, name, parent_id)
                .await
                .map(|folder| folder.id)
                .map_err(change_failure)
        })
    }

    fn update_folder<'a>(
        &'a self,
        grant_id: &'a GrantId,
        folder_id: &'a str,
        name: Option<&'a str>,
        parent_id: Option<Option<&'a str>>,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        Box::pin(async move {
            self.engine
                .update_folder(grant_id, folder_id, name, parent_id)
                .await
                .map(|_| ())
                .map_err(change_failure)
        })
    }

    fn delete_folder<'a>(
        &'a self,
        grant_id: &'a GrantId,
        folder_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        Box::pin(async move {
            self.engine
                .delete_folder(grant_id, folder_id)
                .await
                .map_err(change_failure)
        })
    }

    fn save_draft<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message: &'a [u8],
        replaces: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ChangeFailure>> {
        Box::pin(async move {
            self.engine
                .save_draft(grant_id, message, replaces)
                .await
                .map_err(change_failure)
        })
    }

    fn send<'a>(
        &'a self,
        grant_id: &'a GrantId,
        mail: &'a OutgoingMail,
        answering: Option<&'a str>,
    ) -> BoxFuture<'a, Result<SendReceipt, ChangeFailure>> {
        Box::pin(async move {
            let submission = Submission {
                message: mail.message.clone(),
                envelope_from: mail.envelope_from.clone(),
                recipients: mail.recipients.clone(),
            };
            self.engine
                .send_message(grant_id, &submission, answering)
                .await
                .map(|sent| SendReceipt {
                    message_id: sent.message_id,
                    sent_copy_error: sent.sent_copy_error,
                })
                .map_err(change_failure)
        })
    }

    fn schedule_changed(&self) {
        self.scheduled.notify_one();
    }

    fn schedule_quota(&self) -> mailroom_store::ScheduleQuota {
        self.schedule_quota
    }
}
