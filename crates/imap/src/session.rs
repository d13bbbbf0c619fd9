//! Opening an authenticated IMAP session.

use std::{borrow::Cow, future::Future};

use async_imap::{Client, Session, types::Capability};
use mailroom_net::OutboundPolicy;

use crate::{
    capabilities::Capabilities,
    error::ImapError,
    notify::HeardUnasked,
    open_sessions::OpenSession,
    stream::{ImapStream, Transport},
};

/// Room above the largest message for the literal that carries it (a FETCH of a whole
/// message is one literal of RFC822.SIZE bytes).
const LITERAL_SLACK: u64 = 1024 * 1024;

/// How the connection is protected (one name with SMTP's).
pub use mailroom_net::ConnectionTls as ImapTls;

/// Where to connect and as whom.
#[derive(Debug, Clone, Copy)]
pub struct ImapServer<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: ImapTls,
    pub username: &'a str,
}

/// How mailroom proves who it is to the server.
#[derive(Clone, Copy)]
pub enum ImapAuth<'a> {
    /// LOGIN with a password.
    Password(&'a str),
    /// AUTHENTICATE XOAUTH2 with an OAuth 2.0 access token (`oauth_sasl`).
    Bearer(&'a str),
}

impl std::fmt::Debug for ImapAuth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        f.write_str(match self {
            ImapAuth::Password(_) => "Password(…)",
            ImapAuth::Bearer(_) => "Bearer(…)",
        })
    }
}

/// A logged-in session with the capabilities the server announced after login.
pub struct ImapSession {
    pub(crate) session: Session<ImapStream>,
    pub(crate) capabilities: Capabilities,
    /// Whether `ENABLE QRESYNC` succeeded on this session.
    pub(crate) qresync: bool,
    /// How long the server may stay silent while mailroom waits for it.
    pub(crate) timeout: std::time::Duration,
    /// The largest message read whole.
    pub(crate) max_message_bytes: u64,
    /// Counts the session among those open while it lives.
    pub(crate) open: OpenSession,
    /// What the server reported unasked and nobody has taken yet.
    pub(crate) heard: HeardUnasked,
}

impl ImapSession {
    /// Connects, secures the connection as asked, and logs in with a password. Every
    /// wait on the server is bounded by the policy's timeout.
    pub async fn connect(
        policy: &OutboundPolicy,
        server: ImapServer<'_>,
        password: &str,
    ) -> Result<Self, ImapError> {
        Self::connect_with(policy, server, ImapAuth::Password(password)).await
    }

    /// As [`ImapSession::connect`], signing in as `auth` says.
    pub async fn connect_with(
        policy: &OutboundPolicy,
        server: ImapServer<'_>,
        auth: ImapAuth<'_>,
    ) -> Result<Self, ImapError> {
        policy.check_transport(server.tls != ImapTls::Plain)?;
        let tcp = policy.connect(server.host, server.port).await?;
        let max_literal = policy.max_message_bytes().saturating_add(LITERAL_SLACK);
        let stream = |transport| ImapStream::new(transport, policy.timeout(), max_literal);
        let stream = stream(match server.tls {
            ImapTls::Implicit => Transport::Tls(Box::new(
                policy.tls_handshake(server.host, server.port, tcp).await?,
            )),
            ImapTls::StartTls | ImapTls::Plain => Transport::Plain(tcp),
        });
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
            let Transport::Plain(tcp) = client.into_inner().into_transport() else {
                return Err(ImapError::Protocol("STARTTLS on a TLS stream".into()));
            };
            let tls = policy.tls_handshake(server.host, server.port, tcp).await?;
            client = Client::new(ImapStream::new(
                Transport::Tls(Box::new(tls)),
                policy.timeout(),
                max_literal,
            ));
        }

        let mut session = bounded(policy, &server, async {
            let signed_in = match auth {
                ImapAuth::Password(password) => client.login(server.username, password).await,
                ImapAuth::Bearer(token) => {
                    // OAUTHBEARER where offered (Yahoo takes nothing else), else XOAUTH2.
                    let (mechanism, response) = if offers_oauthbearer(&mut client).await? {
                        let response = crate::oauth_sasl::oauthbearer_response(
                            server.username,
                            server.host,
                            server.port,
                            token,
                        );
                        ("OAUTHBEARER", response)
                    } else {
                        let response = crate::oauth_sasl::xoauth2_response(server.username, token);
                        ("XOAUTH2", response)
                    };
                    client
                        .authenticate(
                            mechanism,
                            crate::oauth_sasl::BearerAuthenticator::new(response),
                        )
                        .await
                }
            };
            signed_in.map_err(|(e, _)| match e {
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
            Ok(Capabilities::new(caps.iter().map(|c| match c {
                Capability::Imap4rev1 => Cow::Borrowed("IMAP4rev1"),
                Capability::Auth(mechanism) => Cow::Owned(format!("AUTH={mechanism}")),
                Capability::Atom(atom) => Cow::Borrowed(atom.as_str()),
            })))
        })
        .await?;
        Ok(Self {
            session,
            capabilities,
            qresync: false,
            timeout: policy.timeout(),
            max_message_bytes: policy.max_message_bytes(),
            open: OpenSession::count(),
            heard: HeardUnasked::default(),
        })
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Acts as if the server had not announced these capabilities.
    pub fn ignore_capabilities(&mut self, names: &[String]) {
        self.capabilities.remove(names);
    }

    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.has(name)
    }

    /// Whether the server has said something since the last command, or closed the
    /// connection: a session kept idle should then be checked with NOOP before reuse.
    pub fn server_has_spoken(&self) -> bool {
        self.session.get_ref().peer_has_spoken()
    }

    /// Checks that the server still answers (and collects what it has to say).
    pub async fn noop(&mut self) -> Result<(), ImapError> {
        self.session.noop().await?;
        Ok(())
    }

    /// The largest message this session reads whole.
    pub fn max_message_bytes(&self) -> u64 {
        self.max_message_bytes
    }

    /// How long the server may stay silent while mailroom waits for it.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// Ends the session politely, within the timeout; errors are of no interest at this
    /// point.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(self.timeout, self.session.logout()).await;
    }
}

/// Whether the server offers OAUTHBEARER before login (after STARTTLS, where that
/// changes what it offers). Asked with a tag of mailroom's own, apart from async-imap's
/// numbering, since async-imap asks nothing before login. A server that answers with
/// more than a few lines is not answering CAPABILITY, and is refused.
async fn offers_oauthbearer(client: &mut Client<ImapStream>) -> Result<bool, ImapError> {
    use async_imap::imap_proto::{Capability as Announced, Response, Status};
    use tokio::io::AsyncWriteExt;
    const TAG: &str = "mrcap";
    const MAX_LINES: usize = 64;
    let stream = client.get_mut();
    stream
        .write_all(format!("{TAG} CAPABILITY\r\n").as_bytes())
        .await?;
    stream.flush().await?;
    let mut offered = false;
    for _ in 0..MAX_LINES {
        let response = client.read_response().await?.ok_or(ImapError::Closed)?;
        match response.parsed() {
            Response::Capabilities(capabilities) => {
                offered |= capabilities.iter().any(
                    |c| matches!(c, Announced::Auth(m) if m.eq_ignore_ascii_case("OAUTHBEARER")),
                );
            }
            Response::Done { tag, status, .. } if tag.0 == TAG => {
                return match status {
                    Status::Ok => Ok(offered),
                    _ => Err(ImapError::Protocol(
                        "CAPABILITY was refused before login".into(),
                    )),
                };
            }
            _ => {}
        }
    }
    Err(ImapError::Protocol(format!(
        "no end to the answer to CAPABILITY after {MAX_LINES} lines"
    )))
}

async fn read_greeting(client: &mut Client<ImapStream>) -> Result<(), ImapError> {
    use async_imap::imap_proto::{Response, Status};
    let greeting = client
        .read_response()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => ImapError::from(e),
            _ => ImapError::Protocol(format!("reading the greeting: {e}")),
        })?
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
    let timed_out = || ImapError::Net(policy.timeout_error(server.host, server.port));
    match tokio::time::timeout(policy.timeout(), step).await {
        // The stream's own silence deadline is the same wait running out.
        Ok(Err(ImapError::Timeout(_))) | Err(_) => Err(timed_out()),
        Ok(result) => result,
    }
}
