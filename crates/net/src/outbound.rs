//! Resolving, checking and connecting to a mail server.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::{TlsConnector, client::TlsStream};

use crate::{address_policy::is_public_address, tls::client_config};

/// The knobs an operator sets.
#[derive(Debug, Clone)]
pub struct PolicySettings {
    pub allow_private_hosts: bool,
    pub allow_insecure_transport: bool,
    pub bind_address: Option<IpAddr>,
    /// Bounds each step that waits on a remote server (connect, greeting, TLS, login).
    pub timeout: Duration,
    pub extra_ca_pem: Option<Vec<u8>>,
    /// The largest message mailroom reads whole from a mail server; larger ones are
    /// indexed from their headers only.
    pub max_message_bytes: u64,
}

/// `max_message_bytes` unless configured: 50 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 50 * 1024 * 1024;
/// Idle time before the first TCP keepalive probe, and between probes: a peer that
/// vanished without a FIN is noticed in minutes, not hours.
const KEEPALIVE_TIME: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            allow_private_hosts: false,
            allow_insecure_transport: false,
            bind_address: None,
            timeout: Duration::from_secs(15),
            extra_ca_pem: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("could not resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("{host} has no address mailroom may connect to{reason}")]
    NoUsableAddress { host: String, reason: String },
    #[error(
        "{host} resolves to {address}, a loopback or private address; set allow_private_hosts (MAILROOM_ALLOW_PRIVATE_HOSTS=true) to allow it"
    )]
    PrivateAddress { host: String, address: IpAddr },
    #[error("could not connect to {address}: {reason}")]
    Connect { address: SocketAddr, reason: String },
    #[error("{host}:{port} did not respond within {seconds} s")]
    Timeout {
        host: String,
        port: u16,
        seconds: u64,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error(
        "plaintext connections are refused; use ssl or starttls, or set allow_insecure_transport (MAILROOM_ALLOW_INSECURE_TRANSPORT=true)"
    )]
    InsecureTransport,
    #[error("{0}")]
    Config(String),
}

impl NetError {
    /// Whether the remote side was unreachable or silent (as opposed to refusing us).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            NetError::Resolve { .. } | NetError::Connect { .. } | NetError::Timeout { .. }
        )
    }

    /// Whether the request itself is not allowed by policy.
    pub fn is_policy(&self) -> bool {
        matches!(
            self,
            NetError::PrivateAddress { .. }
                | NetError::InsecureTransport
                | NetError::NoUsableAddress { .. }
        )
    }
}

/// The operator's policy, ready to use. Cheap to clone.
#[derive(Clone)]
pub struct OutboundPolicy {
    settings: Arc<PolicySettings>,
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for OutboundPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundPolicy")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OutboundPolicy {
    pub fn new(settings: PolicySettings) -> Result<Self, NetError> {
        let tls = client_config(settings.extra_ca_pem.as_deref())?;
        Ok(Self {
            settings: Arc::new(settings),
            tls,
        })
    }

    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    pub fn max_message_bytes(&self) -> u64 {
        self.settings.max_message_bytes
    }

    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    pub fn tls_config(&self) -> Arc<ClientConfig> {
        self.tls.clone()
    }

    /// Refuses plaintext unless the operator allowed it.
    pub fn check_transport(&self, encrypted: bool) -> Result<(), NetError> {
        if encrypted || self.settings.allow_insecure_transport {
            Ok(())
        } else {
            Err(NetError::InsecureTransport)
        }
    }

    /// Resolves `host` and keeps the addresses mailroom may connect to: public ones (or
    /// any, if allowed), of the bind address's family when one is set. Connecting to the
    /// checked addresses, not re-resolving, keeps DNS from changing the answer in between.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
        let lookup =
            tokio::time::timeout(self.settings.timeout, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| self.timeout_error(host, port))?
                .map_err(|e| NetError::Resolve {
                    host: host.to_owned(),
                    reason: e.to_string(),
                })?;
        let mut addresses = Vec::new();
        for address in lookup {
            if !self.settings.allow_private_hosts && !is_public_address(address.ip()) {
                return Err(NetError::PrivateAddress {
                    host: host.to_owned(),
                    address: address.ip(),
                });
            }
            let family_ok = match self.settings.bind_address {
                Some(bind) => bind.is_ipv4() == address.is_ipv4(),
                None => true,
            };
            if family_ok && !addresses.contains(&address) {
                addresses.push(address);
            }
        }
        if addresses.is_empty() {
            let reason = match self.settings.bind_address {
                Some(bind) => format!(" from the outbound bind address {bind}"),
                None => String::new(),
            };
            return Err(NetError::NoUsableAddress {
                host: host.to_owned(),
                reason,
            });
        }
        Ok(addresses)
    }

    /// Connects to the first address of `host` that answers, within the timeout.
    pub async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, NetError> {
        let addresses = self.resolve(host, port).await?;
        let mut last_error = None;
        for address in addresses {
            match tokio::time::timeout(self.settings.timeout, self.connect_one(address)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => last_error = Some(e),
                Err(_) => last_error = Some(self.timeout_error(host, port)),
            }
        }
        Err(last_error.unwrap_or_else(|| self.timeout_error(host, port)))
    }

    async fn connect_one(&self, address: SocketAddr) -> Result<TcpStream, NetError> {
        let connect_error = |e: std::io::Error| NetError::Connect {
            address,
            reason: e.to_string(),
        };
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(connect_error)?;
        if let Some(bind) = self.settings.bind_address {
            socket
                .bind(SocketAddr::new(bind, 0))
                .map_err(|e| NetError::Config(format!("cannot bind to {bind}: {e}")))?;
        }
        let stream = socket.connect(address).await.map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(KEEPALIVE_TIME)
            .with_interval(KEEPALIVE_INTERVAL);
        socket2::SockRef::from(&stream)
            .set_tcp_keepalive(&keepalive)
            .map_err(connect_error)?;
        Ok(stream)
    }

    /// Runs the TLS handshake over `stream`, verifying the certificate for `host`.
    pub async fn tls_handshake(
        &self,
        host: &str,
        port: u16,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, NetError> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| NetError::Tls {
            host: host.to_owned(),
            reason: e.to_string(),
        })?;
        let connector = TlsConnector::from(self.tls.clone());
        tokio::time::timeout(self.settings.timeout, connector.connect(name, stream))
            .await
            .map_err(|_| self.timeout_error(host, port))?
            .map_err(|e| NetError::Tls {
                host: host.to_owned(),
                reason: e.to_string(),
            })
    }

    pub fn timeout_error(&self, host: &str, port: u16) -> NetError {
        NetError::Timeout {
            host: host.to_owned(),
            port,
            seconds: self.settings.timeout.as_secs(),
        }
    }
}
