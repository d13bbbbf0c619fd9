//! The store's integration tests, one binary: each module a part of the store on the
//! embedded SQLite and on PostgreSQL (`support`), so the support code is compiled and
//! linked once and the scenarios of all parts run side by side.

mod support;

mod bounces;
mod callback_uris;
mod cancelled_writes;
mod change_notifications;
mod concurrent_writes;
mod contacts_events;
mod copy_flags;
mod expunged_uids;
mod fair_work;
mod gmail_identities;
mod grant_leases;
mod idempotency_keys;
mod index_upkeep;
mod message_tracking;
mod oauth_tokens;
mod secret_key;
mod table_statistics;
mod templates;
mod threading;
mod upgrade;
mod uploads;
mod webhooks;
