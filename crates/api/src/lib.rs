//! mailroom's HTTP API (docs/API.md): the Nylas v3 routes (`v3/`, hosted sign-in in
//! `v3/hosted_auth/`) and the Nylas v2 routes (`v2/`, v2 accounts being v3 grants), their
//! envelopes and errors, and authentication. `router` assembles the surface;
//! `grant_routes` is the one table of mailbox routes, v3's and v2's, with their scopes.
//! Handlers translate between the wire shapes and the store; what they need of a mail
//! server they ask through [`Mailboxes`], which the binary implements over the sync
//! engine (only `provider_check` opens IMAP and SMTP sessions itself).

mod auth;
mod auth_metrics;
mod clip;
mod connect_grant;
mod cors;
mod cursor;
mod dashboard;
mod envelope;
mod error;
mod extract;
mod grant_access;
mod grant_rate_limit;
mod grant_routes;
mod http_limits;
mod http_metrics;
mod id_token;
mod idempotency;
mod mailboxes;
mod oauth_error;
mod oauth_mailbox;
pub mod openapi;
mod provider_check;
mod request_id;
mod router;
mod schedule_metrics;
mod server_origin;
mod sign_in_limits;
mod template_engines;
mod v2;
mod v3;

pub use auth_metrics::describe_auth_metrics;
pub use error::ApiError;
pub use grant_rate_limit::GrantRateLimit;
pub use http_metrics::describe_http_metrics;
pub use mailboxes::{
    BoxFuture, ChangeFailure, FetchFailure, Mailboxes, MessageUpdate, NoMailboxes, OutgoingMail,
    RawMessages, SendReceipt,
};
pub use router::{AppState, HttpLimits, router};
pub use schedule_metrics::{describe_schedule_metrics, observe_scheduled_sends};
pub use sign_in_limits::{SignInLimits, SignInSettings};
pub use v3::client_info::TrustedProxies;

/// The v3 Message object of an indexed message, as webhook notifications carry it.
pub fn message_object(
    record: &mailroom_store::MessageRecord,
    folders: Vec<String>,
) -> serde_json::Value {
    let message = v3::message_json::to_message(record, folders, v3::message_json::Fields::Standard);
    serde_json::to_value(message).unwrap_or(serde_json::Value::Null)
}

/// The v3 Folder object, as `folder.*` notifications carry it.
pub fn folder_object(folder: &mailroom_store::FolderWithCounts) -> serde_json::Value {
    serde_json::to_value(v3::folders::to_v3(folder)).unwrap_or(serde_json::Value::Null)
}

/// The v3 Contact object, as `contact.updated` notifications carry it.
pub fn contact_object(contact: &mailroom_store::ContactRecord) -> serde_json::Value {
    serde_json::to_value(v3::contacts::to_v3(contact)).unwrap_or(serde_json::Value::Null)
}

/// The v3 Event object, on the grant's one calendar, as `event.*` notifications carry it.
pub fn event_object(
    event: &mailroom_store::EventRecord,
    grant: &mailroom_store::GrantRecord,
) -> serde_json::Value {
    let calendar_id = v3::calendars::calendar_id(grant);
    serde_json::to_value(v3::events::to_v3(event, &calendar_id)).unwrap_or(serde_json::Value::Null)
}
