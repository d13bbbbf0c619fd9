//! Outbound connections to mail servers, under one policy: which addresses may be
//! reached, which local address connections leave from, how long they may take, and
//! which certificates are trusted. TLS is always verified. And where a domain says its
//! mail servers are (DNS SRV). And the OAuth 2.0 token endpoints of mail providers.

mod address_policy;
mod autoconfig;
mod connection_tls;
mod discovery;
mod oauth_token;
mod outbound;
mod provider_id_token;
mod tls;
pub mod webhook_http;

pub use address_policy::is_public_address;
pub use autoconfig::{fetch_autoconfig, parse_autoconfig};
pub use connection_tls::ConnectionTls;
pub use discovery::{
    AnnouncedServers, DiscoveredServer, DiscoveredServers, DiscoveredTls, MailDiscovery,
};
pub use oauth_token::{
    ClientAuth, TokenEndpoint, TokenError, TokenGrant, TokenResponse, request_token,
};
pub use outbound::{DEFAULT_MAX_MESSAGE_BYTES, NetError, OutboundPolicy, PolicySettings};
pub use provider_id_token::{IdTokenError, ProviderIdentity, verify_id_token};
pub use webhook_http::{
    ChallengeError, HttpReply, SIGNATURE_HEADER, WEBHOOK_TIMEOUT, WebhookHttpError, WebhookUrl,
    run_challenge, webhook_get, webhook_get_with, webhook_post, webhook_signature,
};
