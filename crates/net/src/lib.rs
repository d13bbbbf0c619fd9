//! Outbound connections to mail servers, under one policy: which addresses may be
//! reached, which local address connections leave from, how long they may take, and
//! which certificates are trusted. TLS is always verified.

mod address_policy;
mod outbound;
mod tls;

pub use address_policy::is_public_address;
pub use outbound::{NetError, OutboundPolicy, PolicySettings};
