//! What the API asks of the sync engine, as a trait so the API does not depend on it:
//! start or stop a grant's actor, fetch a message the index does not hold in full, and
//! change the mailbox (flags, moves, deletions, folders, drafts, sending). Changes go to
//! the mail server first; the engine records them in the index before answering.

use std::{future::Future, pin::Pin};

use mailroom_model::GrantId;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Raw messages by id, in the order asked.
pub type RawMessages = Vec<(String, Vec<u8>)>;

/// A failure to reach a message on the mail server.
#[derive(Debug)]
pub enum FetchFailure {
    /// The message is no longer on the server.
    Gone,
    /// The server could not be reached or refused.
    Provider(String),
    /// More than mailroom reads whole (`max_message_bytes`, or a request's total).
    TooLarge(String),
    /// The request cannot be passed to the server as asked (e.g. search criteria).
    Invalid(String),
    /// mailroom's own database failed: answered as an internal error, the detail logged.
    Database(mailroom_store::StoreError),
}

/// Why a change could not be made. Nothing was changed unless said otherwise.
#[derive(Debug)]
pub enum ChangeFailure {
    /// A message or folder named is no longer there.
    Gone,
    /// The request cannot be carried out as asked (unknown folder, special folder…).
    Invalid(String),
    /// The mail server declined the change, in its words.
    Refused(String),
    /// The SMTP server refused the message: it was not sent.
    SendRefused(String),
    /// The SMTP server never confirmed the message: it may or may not have been sent.
    SendUnconfirmed(String),
    /// The mail server could not be reached or failed.
    Provider(String),
    /// mailroom's own database failed: answered as an internal error, the detail logged.
    Database(mailroom_store::StoreError),
}

/// `PUT …/messages/{id}` and `PUT …/threads/{id}`.
#[derive(Debug, Clone, Default)]
pub struct MessageUpdate {
    pub unread: Option<bool>,
    pub starred: Option<bool>,
    /// Folder ids replacing the message's current set.
    pub folders: Option<Vec<String>>,
}

/// A message ready to submit and its SMTP envelope.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// As filed in Sent, with any Bcc header: the engine submits it without.
    pub message: Vec<u8>,
    pub envelope_from: String,
    pub recipients: Vec<String>,
}

/// A message that was sent.
#[derive(Debug, Clone)]
pub struct SendReceipt {
    /// Its id in the index (the copy in Sent), when it could be filed there.
    pub message_id: Option<String>,
    /// Why it could not be filed in Sent, if so; the send itself succeeded.
    pub sent_copy_error: Option<String>,
}

pub trait Mailboxes: Send + Sync {
    /// A grant was created or re-authenticated: (re)start its sync.
    fn grant_connected(&self, grant_id: &GrantId);
    /// A grant was deleted: stop its sync.
    fn grant_removed(&self, grant_id: &GrantId);
    /// The raw RFC 822 bytes of a message; its body is stored in the index on the way.
    fn fetch_raw_message<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, FetchFailure>>;
    /// The raw messages `message_ids` over one session, refused when their indexed sizes
    /// add up to more than `total_bytes`.
    fn fetch_raw_messages<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
        total_bytes: u64,
    ) -> BoxFuture<'a, Result<RawMessages, FetchFailure>> {
        let _ = total_bytes;
        Box::pin(async move {
            let mut raws = Vec::with_capacity(message_ids.len());
            for id in message_ids {
                raws.push((id.clone(), self.fetch_raw_message(grant_id, id).await?));
            }
            Ok(raws)
        })
    }
    /// Reads and stores the bodies of `message_ids` over one session, keeping none.
    fn load_bodies<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), FetchFailure>> {
        Box::pin(async move {
            for id in message_ids {
                self.fetch_raw_message(grant_id, id).await?;
            }
            Ok(())
        })
    }
    /// Ids of the indexed messages an IMAP SEARCH (the server's own syntax) finds.
    fn search_native<'a>(
        &'a self,
        grant_id: &'a GrantId,
        query: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, FetchFailure>>;
    /// Changes flags and folders of messages.
    fn update_messages<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
        update: &'a MessageUpdate,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>>;
    /// Moves messages to Trash, or removes them for good from Trash.
    fn delete_messages<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), ChangeFailure>>;
    /// Removes drafts for good from the Drafts folder (a sent draft's copy in Sent stays).
    fn discard_drafts<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message_ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), ChangeFailure>>;
    /// Creates a folder; returns its id.
    fn create_folder<'a>(
        &'a self,
        grant_id: &'a GrantId,
        name: &'a str,
        parent_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ChangeFailure>>;
    /// Renames or moves a folder (`parent_id: Some(None)` = to the top level).
    fn update_folder<'a>(
        &'a self,
        grant_id: &'a GrantId,
        folder_id: &'a str,
        name: Option<&'a str>,
        parent_id: Option<Option<&'a str>>,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>>;
    fn delete_folder<'a>(
        &'a self,
        grant_id: &'a GrantId,
        folder_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>>;
    /// Stores a draft in the Drafts folder, replacing `replaces`; returns its id.
    fn save_draft<'a>(
        &'a self,
        grant_id: &'a GrantId,
        message: &'a [u8],
        replaces: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ChangeFailure>>;
    /// Sends a message and files it in Sent; `answering` is marked answered.
    fn send<'a>(
        &'a self,
        grant_id: &'a GrantId,
        mail: &'a OutgoingMail,
        answering: Option<&'a str>,
    ) -> BoxFuture<'a, Result<SendReceipt, ChangeFailure>>;
    /// A send was scheduled or cancelled: the scheduler should look again.
    fn schedule_changed(&self);
    /// How much one grant may have waiting to be sent.
    fn schedule_quota(&self) -> mailroom_store::ScheduleQuota {
        mailroom_store::ScheduleQuota::default()
    }
}

/// For a server without sync (tests of the foundation): nothing starts, nothing fetches,
/// nothing changes.
pub struct NoMailboxes;

fn not_running<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, ChangeFailure>> {
    Box::pin(async { Err(ChangeFailure::Provider("sync is not running".into())) })
}

impl Mailboxes for NoMailboxes {
    fn grant_connected(&self, _: &GrantId) {}
    fn grant_removed(&self, _: &GrantId) {}
    fn fetch_raw_message<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, FetchFailure>> {
        Box::pin(async { Err(FetchFailure::Provider("sync is not running".into())) })
    }
    fn search_native<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, FetchFailure>> {
        Box::pin(async { Err(FetchFailure::Provider("sync is not running".into())) })
    }
    fn update_messages<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a [String],
        _: &'a MessageUpdate,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        not_running()
    }
    fn delete_messages<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        not_running()
    }
    fn discard_drafts<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        not_running()
    }
    fn create_folder<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a str,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ChangeFailure>> {
        not_running()
    }
    fn update_folder<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a str,
        _: Option<&'a str>,
        _: Option<Option<&'a str>>,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        not_running()
    }
    fn delete_folder<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), ChangeFailure>> {
        not_running()
    }
    fn save_draft<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a [u8],
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ChangeFailure>> {
        not_running()
    }
    fn send<'a>(
        &'a self,
        _: &'a GrantId,
        _: &'a OutgoingMail,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<SendReceipt, ChangeFailure>> {
        not_running()
    }
    fn schedule_changed(&self) {}
}
