//! The in-process tier: the whole router on a temporary SQLite database, driven without
//! a socket, a mail server, root or PostgreSQL (`cargo test -p mailroom-api`).
//!
//! What it is: the API as an application sees it, decided by mailroom alone. Mail comes
//! from the index, written as sync writes it (`support::mailbox`); the mailboxes answer
//! that no server is reachable (`NoMailboxes`). So it covers the contract of
//! docs/API.md that needs no server: envelopes and error shapes of v3, v2 and the OAuth
//! endpoints, authentication, scopes for every route of the grant route table, paging,
//! filters, validation (a clear 400, nothing made), body and rate limits, the
//! application's own resources, scheduled sends, CORS, the dashboard and the OpenAPI
//! document against the routes served.
//!
//! What it is not: a test of IMAP or SMTP. Sending, moving, saving drafts and reading
//! bodies not yet indexed are tested here only as far as the API goes before it asks
//! the server (`unreachable_server`); what the servers do with them is the business of
//! the testbed suites in `crates/mailroom/tests`. Webhook URLs are challenged over the
//! network, so webhooks are made through the store here. `/readyz` and `/metrics` are
//! the binary's, not the router's.

mod support;

mod application_validation;
mod applications;
mod authentication;
mod contacts_and_calendars;
mod cors;
mod dashboard;
mod drafts;
mod envelopes;
mod error_shapes;
mod filters;
mod folders;
mod grants;
mod health;
mod idempotency;
mod limits;
mod mail_validation;
mod message_cleaning;
mod messages;
mod oauth_endpoints;
mod openapi;
mod paging;
mod schedules;
mod scopes;
mod threads;
mod tracking;
mod unreachable_server;
mod v2_delta;
mod v2_resources;
mod webhooks;
