//! mailroom's domain types and the JSON shapes of the Nylas-compatible API.
//!
//! Everything here is plain data: parsing at the edge (ids, email addresses, scopes,
//! providers, security modes) and serde types for requests and responses. No I/O.

pub mod email_address;
pub mod grant_secret;
pub mod ids;
pub mod known_providers;
pub mod mail_settings;
pub mod oauth_providers;
pub mod provider;
pub mod redirect_url;
pub mod scope;
pub mod security;
pub mod sync_state;
pub mod time;
pub mod v3;

pub use email_address::EmailAddress;
pub use grant_secret::{GrantSecret, OAuthTokens};
pub use ids::{ApiKeyId, ApplicationId, CallbackUriId, GrantId, TemplateId, WebhookId};
pub use mail_settings::{
    MailCredentials, MailServerSettings, ServerEndpoint, SettingsError, SettingsFields,
};
pub use oauth_providers::{
    MovedProviders, OAuthEndpoints, OAuthProvider, ProviderMailServer, ProviderTable,
};
pub use provider::Provider;
pub use redirect_url::{RedirectPlatform, RedirectUrl, RedirectUrlError};
pub use scope::{ALL_SCOPES, Scope};
pub use security::TransportSecurity;
pub use sync_state::SyncState;
