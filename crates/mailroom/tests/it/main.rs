//! mailroom's integration tests, one binary: each module tests a part of the server
//! through real `mailroom serve` processes (`support`) against the testbed's Dovecot and
//! Postfix. One binary, so the support code is compiled and linked once. Its tests run
//! side by side on one testbed, so each module signs in only as testbed users that no
//! other module or suite uses (testbed/README.md lists them).

mod support;

mod api_conventions;
mod cli_and_config;
mod cluster;
mod connectors;
mod contacts_events;
mod custom_auth;
mod deleted_mail;
mod gmail;
mod grants;
mod hosted_auth;
mod hostile_servers;
mod http_limits;
mod https;
mod keys_and_files;
mod list_limits;
mod mail_changes;
mod metrics;
mod oauth_hosted;
mod oauth_hostile;
mod oauth_mailboxes;
mod oauth_sign_in;
mod oauth_tokens;
mod outgoing;
mod redirect_uris;
mod scheduled_fairness;
mod scopes;
mod sending;
mod sync;
mod sync_scope;
mod takeover;
mod v2_auth;
mod v2_mail;
mod v2_resources;
mod webhook_delivery;
mod webhook_fairness;
mod webhook_triggers;
mod webhooks;
