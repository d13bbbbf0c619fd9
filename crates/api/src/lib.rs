//! mailroom's HTTP API: the Nylas v3 routes, their envelopes and errors, and
//! authentication. Handlers translate between the wire shapes of `mailroom-model` and
//! the store; they hold no state of their own.

mod auth;
mod cursor;
mod envelope;
mod error;
mod extract;
mod grant_access;
mod id_token;
mod mailboxes;
mod oauth_error;
mod provider_check;
mod request_id;
mod router;
mod v3;

pub use error::ApiError;
pub use mailboxes::{
    BoxFuture, ChangeFailure, FetchFailure, Mailboxes, MessageUpdate, NoMailboxes, OutgoingMail,
    SendReceipt,
};
pub use router::{AppState, router};
