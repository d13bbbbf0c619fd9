//! Connecting and authenticating to a submission server.

use lettre::transport::smtp::{
    authentication::{Credentials, Mechanism},
    client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters},
    extension::ClientId,
};
use mailroom_net::OutboundPolicy;

use crate::{
    error::SmtpError,
    open_sessions::OpenConnection,
    transport::{BoundedReplies, ImplicitTls},
};

/// How the connection is protected (one name with IMAP's).
pub use mailroom_net::ConnectionTls as SmtpTls;

#[derive(Debug, Clone, Copy)]
pub struct SmtpServer<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: &'a str,
}

/// How mailroom proves who it is to the submission server.
#[derive(Clone, Copy)]
pub enum SmtpAuth<'a> {
    /// AUTH PLAIN (or LOGIN) with a password.
    Password(&'a str),
    /// AUTH XOAUTH2 with an OAuth 2.0 access token, as Gmail, Outlook.com and Yahoo take.
    Bearer(&'a str),
    /// No AUTH at all: a relay that trusts the client by its address (an operator's own
    /// mail server, for the notices mailroom sends itself).
    None,
}

impl std::fmt::Debug for SmtpAuth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        f.write_str(match self {
            SmtpAuth::Password(_) => "Password(…)",
            SmtpAuth::Bearer(_) => "Bearer(…)",
            SmtpAuth::None => "None",
        })
    }
}

/// Connects, secures the connection as asked and authenticates, then quits. Proves the
/// credentials work before a grant is stored.
pub async fn verify_login(
    policy: &OutboundPolicy,
    server: SmtpServer<'_>,
    password: &str,
) -> Result<(), SmtpError> {
    verify_login_with(policy, server, SmtpAuth::Password(password)).await
}

/// As [`verify_login`], authenticating as `auth` says.
pub async fn verify_login_with(
    policy: &OutboundPolicy,
    server: SmtpServer<'_>,
    auth: SmtpAuth<'_>,
) -> Result<(), SmtpError> {
    let mut connection = authenticated_connection(policy, server, auth).await?;
    let _open = OpenConnection::count();
    let _ = tokio::time::timeout(policy.timeout(), connection.quit()).await;
    Ok(())
}

/// A connection secured as asked and logged in, ready for a mail transaction. The whole
/// of it (resolve, connect, greeting, TLS, login) is bounded by twice the policy timeout.
pub(crate) async fn authenticated_connection(
    policy: &OutboundPolicy,
    server: SmtpServer<'_>,
    auth: SmtpAuth<'_>,
) -> Result<AsyncSmtpConnection, SmtpError> {
    tokio::time::timeout(
        policy.timeout() * 2,
        connect_and_login(policy, server, auth),
    )
    .await
    .map_err(|_| SmtpError::Net(policy.timeout_error(server.host, server.port)))?
}

async fn connect_and_login(
    policy: &OutboundPolicy,
    server: SmtpServer<'_>,
    auth: SmtpAuth<'_>,
) -> Result<AsyncSmtpConnection, SmtpError> {
    policy.check_transport(server.tls != SmtpTls::Plain)?;
    let hello = ClientId::Domain("mailroom.localhost".into());
    let tls = tls_parameters(policy, server.host)?;
    let mut connection = connect(policy, &hello, server).await?;
    if server.tls == SmtpTls::StartTls {
        if !connection.can_starttls() {
            return Err(SmtpError::StartTlsUnavailable);
        }
        connection
            .starttls(tls, &hello)
            .await
            .map_err(|e| classify(e, server.host))?;
    }
    // lettre's XOAUTH2 takes the token where the other mechanisms take the password.
    let (secret, mechanisms): (&str, &[Mechanism]) = match auth {
        SmtpAuth::Password(password) => (password, &[Mechanism::Plain, Mechanism::Login]),
        SmtpAuth::Bearer(token) => (token, &[Mechanism::Xoauth2]),
        SmtpAuth::None => return Ok(connection),
    };
    let credentials = Credentials::new(server.username.to_owned(), secret.to_owned());
    match connection.auth(mechanisms, &credentials).await {
        Ok(_) => Ok(connection),
        Err(e) if e.is_permanent() || e.is_transient() => {
            Err(SmtpError::AuthenticationFailed(reply_text(&e)))
        }
        Err(e)
            if e.to_string()
                .contains("No compatible authentication mechanism") =>
        {
            Err(SmtpError::NoAuthMechanism)
        }
        // A server that refuses a token first answers 334 with its error (JSON), which
        // lettre's XOAUTH2 does not take: the token was refused all the same.
        Err(e)
            if matches!(auth, SmtpAuth::Bearer(_))
                && e.to_string().contains("does not expect a challenge") =>
        {
            Err(SmtpError::AuthenticationFailed(
                "the server refused the access token".into(),
            ))
        }
        Err(e) => Err(classify(e, server.host)),
    }
}

/// Connects under the policy (TLS first for SMTPS) and reads the greeting and EHLO.
async fn connect(
    policy: &OutboundPolicy,
    hello: &ClientId,
    server: SmtpServer<'_>,
) -> Result<AsyncSmtpConnection, SmtpError> {
    let tcp = policy.connect(server.host, server.port).await?;
    let stream: Box<dyn AsyncTokioStream> = match server.tls {
        SmtpTls::Implicit => Box::new(BoundedReplies::new(ImplicitTls(Box::new(
            policy.tls_handshake(server.host, server.port, tcp).await?,
        )))),
        SmtpTls::StartTls | SmtpTls::Plain => Box::new(BoundedReplies::new(tcp)),
    };
    match tokio::time::timeout(
        policy.timeout(),
        AsyncSmtpConnection::connect_with_transport(stream, hello),
    )
    .await
    {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) if e.is_permanent() || e.is_transient() || e.is_response() => {
            Err(SmtpError::Protocol(reply_text(&e)))
        }
        Ok(Err(e)) => Err(classify(e, server.host)),
        Err(_) => Err(SmtpError::Net(
            policy.timeout_error(server.host, server.port),
        )),
    }
}

fn tls_parameters(policy: &OutboundPolicy, host: &str) -> Result<TlsParameters, SmtpError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(pem) = policy.settings().extra_ca_pem.as_deref() {
        let cert = Certificate::from_pem(pem)
            .map_err(|e| SmtpError::Protocol(format!("extra CA file: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| SmtpError::Protocol(format!("TLS setup: {e}")))
}

pub(crate) fn classify(e: lettre::transport::smtp::Error, host: &str) -> SmtpError {
    if e.is_tls() {
        SmtpError::Net(mailroom_net::NetError::Tls {
            host: host.to_owned(),
            reason: source_chain(&e),
        })
    } else {
        SmtpError::Protocol(reply_text(&e))
    }
}

/// The server's reply (code and text) where there is one; lettre's message otherwise.
pub(crate) fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("{code} {}", source_chain(e)),
        None => source_chain(e),
    }
}

pub(crate) fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
