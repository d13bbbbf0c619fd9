//! What the API asks of the sync engine, as a trait so the API does not depend on it:
//! start or stop a grant's actor, and fetch a message from the server when the index
//! does not hold what a request needs.

use std::{future::Future, pin::Pin};

use mailroom_model::GrantId;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failure to reach a message on the mail server.
#[derive(Debug)]
pub enum FetchFailure {
    /// The message is no longer on the server.
    Gone,
    /// The server could not be reached or refused.
    Provider(String),
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
    /// Ids of the indexed messages an IMAP SEARCH (the server's own syntax) finds.
    fn search_native<'a>(
        &'a self,
        grant_id: &'a GrantId,
        query: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, FetchFailure>>;
}

/// For a server without sync (tests of the foundation): nothing starts, nothing fetches.
pub struct NoMailboxes;

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
}
