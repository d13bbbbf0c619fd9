//! Opening an authenticated IMAP session.

use std::future::Future;

use async_imap::{Client, Session, types::Capability};
use mailroom_net::OutboundPolicy;

use crate::{error::ImapError, stream::ImapStream};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapTls {
    /// TLS from the first byte (IMAPS).
    Implicit,
    /// Plain greeting, then STARTTLS, which must succeed.
    StartTls,
    /// No TLS at all; only where the policy allows plaintext.
    Plain,
}

/// Where to connect and as whom.
#[derive(Debug, Clone, Copy)]
pub struct ImapServer<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: ImapTls,
    pub username: &'a str,
}

/// A logged-in session with the capabilities the server announced after login.
pub struct ImapSession {
    pub(crate) session: Session<ImapStream>,
    pub(crate) capabilities: Vec<String>,
    /// Whether `ENABLE QRESYNC` succeeded on this session.
    pub(crate) qresync: bool,
}

impl ImapSession {
    /// Connects, secures the connection as asked, and logs in. Every wait on the server is
    /// bounded by the policy's timeout.
    pub async fn connect(
        policy: &OutboundPolicy,
        server: ImapServer<'_>,
        password: &str,
    ) -> Result<Self, ImapError> {
        policy.check_transport(server.tls != ImapTls::Plain)?;
        let tcp = policy.connect(server.host, server.port).await?;
        let stream = match server.tls {
            ImapTls::Implicit => ImapStream::Tls(Box::new(
                policy.tls_handshake(server.host, server.port, tcp).await?,
            )),
            ImapTls::StartTls | ImapTls::Plain => ImapStream::Plain(tcp),
        };
        let mut client = Client::new(stream);
        bounded(policy, &server, read_greeting(&mut client)).await?;

        if server.tls == ImapTls::StartTls {
            bounded(policy, &server, async {
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|_| ImapError::StartTlsUnavailable)
            })
            .await?;
            let ImapStream::Plain(tcp) = client.into_inner() else {
                return Err(ImapError::Protocol("STARTTLS on a TLS stream".into()));
            };
            let tls = policy.tls_handshake(server.host, server.port, tcp).await?;
            client = Client::new(ImapStream::Tls(Box::new(tls)));
        }

        let mut session = bounded(policy, &server, async {
            client
                .login(server.username, password)
                .await
                .map_err(|(e, _)| match e {
                    async_imap::error::Error::No(message) => {
                        ImapError::AuthenticationFailed(crate::error::server_text(&message))
                    }
                    other => ImapError::from(other),
                })
        })
        .await?;
        // Servers announce more after login than in their greeting: read them again.
        let capabilities = bounded(policy, &server, async {
            let caps = session.capabilities().await?;
            Ok(caps
                .iter()
                .map(|c| match c {
                    Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
                    Capability::Auth(mechanism) => format!("AUTH={mechanism}"),
                    Capability::Atom(atom) => atom.clone(),
                })
                .collect::<Vec<_>>())
        })
        .await?;
        Ok(Self {
            session,
            capabilities,
            qresync: false,
        })
    }

    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Acts as if the server had not announced these capabilities.
    pub fn ignore_capabilities(&mut self, names: &[String]) {
        self.capabilities
            .retain(|c| !names.iter().any(|n| n.eq_ignore_ascii_case(c)));
    }

    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Checks that the server still answers (and collects what it has to say).
    pub async fn noop(&mut self) -> Result<(), ImapError> {
        self.session.noop().await?;
        Ok(())
    }

    /// Ends the session politely; errors are of no interest at this point.
    pub async fn logout(mut self) {
        let _ = self.session.logout().await;
    }
}

async fn read_greeting(client: &mut Client<ImapStream>) -> Result<(), ImapError> {
    use async_imap::imap_proto::{Response, Status};
    let greeting = client
        .read_response()
        .await
        .map_err(|e| ImapError::Protocol(format!("reading the greeting: {e}")))?
        .ok_or(ImapError::Closed)?;
    match greeting.parsed() {
        Response::Data {
            status: Status::Bye,
            information,
            ..
        } => Err(ImapError::Bye(
            information.as_deref().unwrap_or_default().to_owned(),
        )),
        Response::Data { .. } => Ok(()),
        _ => Err(ImapError::Protocol("unexpected greeting".into())),
    }
}

/// Runs one exchange with the server under the policy's timeout.
async fn bounded<T>(
    policy: &OutboundPolicy,
    server: &ImapServer<'_>,
    step: impl Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(policy.timeout(), step)
        .await
        .map_err(|_| ImapError::Net(policy.timeout_error(server.host, server.port)))?
}
