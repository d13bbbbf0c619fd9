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

/// The v3 Message object of an indexed message, as webhook notifications carry it.
pub fn message_object(
    record: &mailroom_store::MessageRecord,
    folders: Vec<String>,
) -> serde_json::Value {
    let message = v3::message_json::to_message(record, folders, v3::message_json::Fields::Standard);
    serde_json::to_value(message).unwrap_or(serde_json::Value::Null)
}
