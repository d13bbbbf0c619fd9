//! Proving a mailbox's settings work before anything is stored: log in to the IMAP
//! server and authenticate to the SMTP server, concurrently, each bounded in time, with
//! the passwords, or with an OAuth access token (XOAUTH2, or OAUTHBEARER where offered).

use axum::http::StatusCode;
use mailroom_imap::{ImapAuth, ImapError, ImapServer, ImapSession};
use mailroom_model::{MailCredentials, MailServerSettings, ServerEndpoint};
use mailroom_net::{NetError, OutboundPolicy};
use mailroom_smtp::{SmtpAuth, SmtpError, SmtpServer};
use serde_json::json;

use crate::error::ApiError;

/// Which of the two servers a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRole {
    Imap,
    Smtp,
}

impl ServerRole {
    pub fn label(self) -> &'static str {
        match self {
            ServerRole::Imap => "IMAP",
            ServerRole::Smtp => "SMTP",
        }
    }
}

/// Why the settings did not work.
#[derive(Debug)]
pub enum CheckFailure {
    /// The server answered and refused the credentials.
    Authentication { role: ServerRole, response: String },
    /// The server's name does not resolve: a typo or a wrong guess.
    UnknownHost { role: ServerRole, reason: String },
    /// The server could not be reached or did not answer in time.
    Unreachable { role: ServerRole, reason: String },
    /// mailroom's policy forbids the connection (plaintext, private address).
    Policy { role: ServerRole, reason: String },
    /// TLS or protocol trouble.
    Failed { role: ServerRole, reason: String },
}

pub async fn verify_mailbox(
    policy: &OutboundPolicy,
    settings: &MailServerSettings,
    credentials: &MailCredentials,
) -> Result<(), CheckFailure> {
    let imap = verify_imap(
        policy,
        settings.imap(),
        ImapAuth::Password(&credentials.imap_password),
    );
    let smtp = verify_smtp(
        policy,
        settings.smtp(),
        SmtpAuth::Password(&credentials.smtp_password),
    );
    let (imap, smtp) = tokio::join!(imap, smtp);
    imap.and(smtp)
}

/// As [`verify_mailbox`], with an OAuth access token on both servers.
pub async fn verify_token_mailbox(
    policy: &OutboundPolicy,
    settings: &MailServerSettings,
    access_token: &str,
) -> Result<(), CheckFailure> {
    let imap = verify_imap(policy, settings.imap(), ImapAuth::Bearer(access_token));
    let smtp = verify_smtp(policy, settings.smtp(), SmtpAuth::Bearer(access_token));
    let (imap, smtp) = tokio::join!(imap, smtp);
    imap.and(smtp)
}

async fn verify_imap(
    policy: &OutboundPolicy,
    endpoint: ServerEndpoint<'_>,
    auth: ImapAuth<'_>,
) -> Result<(), CheckFailure> {
    let server = ImapServer {
        host: endpoint.host,
        port: endpoint.port,
        tls: endpoint.security.into(),
        username: endpoint.username,
    };
    let session = ImapSession::connect_with(policy, server, auth)
        .await
        .map_err(imap_failure)?;
    session.logout().await;
    Ok(())
}

async fn verify_smtp(
    policy: &OutboundPolicy,
    endpoint: ServerEndpoint<'_>,
    auth: SmtpAuth<'_>,
) -> Result<(), CheckFailure> {
    let server = SmtpServer {
        host: endpoint.host,
        port: endpoint.port,
        tls: endpoint.security.into(),
        username: endpoint.username,
    };
    mailroom_smtp::verify_login_with(policy, server, auth)
        .await
        .map_err(smtp_failure)
}

fn imap_failure(e: ImapError) -> CheckFailure {
    let role = ServerRole::Imap;
    match e {
        ImapError::AuthenticationFailed(response) => {
            CheckFailure::Authentication { role, response }
        }
        ImapError::Net(net) => net_failure(role, net),
        ImapError::Closed => CheckFailure::Unreachable {
            role,
            reason: "the server closed the connection".into(),
        },
        other => CheckFailure::Failed {
            role,
            reason: other.to_string(),
        },
    }
}

fn smtp_failure(e: SmtpError) -> CheckFailure {
    let role = ServerRole::Smtp;
    match e {
        SmtpError::AuthenticationFailed(response) => {
            CheckFailure::Authentication { role, response }
        }
        SmtpError::Net(net) => net_failure(role, net),
        other => CheckFailure::Failed {
            role,
            reason: other.to_string(),
        },
    }
}

fn net_failure(role: ServerRole, e: NetError) -> CheckFailure {
    if matches!(e, NetError::Resolve { .. }) {
        CheckFailure::UnknownHost {
            role,
            reason: e.to_string(),
        }
    } else if e.is_policy() {
        CheckFailure::Policy {
            role,
            reason: e.to_string(),
        }
    } else if e.is_unreachable() {
        CheckFailure::Unreachable {
            role,
            reason: e.to_string(),
        }
    } else {
        CheckFailure::Failed {
            role,
            reason: e.to_string(),
        }
    }
}

impl CheckFailure {
    pub fn role(&self) -> ServerRole {
        match self {
            CheckFailure::Authentication { role, .. }
            | CheckFailure::UnknownHost { role, .. }
            | CheckFailure::Unreachable { role, .. }
            | CheckFailure::Policy { role, .. }
            | CheckFailure::Failed { role, .. } => *role,
        }
    }

    /// The API error for this failure, naming the server that caused it.
    pub fn to_api_error(&self, settings: &MailServerSettings) -> ApiError {
        let role = self.role();
        let endpoint = match role {
            ServerRole::Imap => settings.imap(),
            ServerRole::Smtp => settings.smtp(),
        };
        let server = format!("{}:{}", endpoint.host, endpoint.port);
        let label = role.label();
        let (status, kind, message, detail) = match self {
            CheckFailure::Authentication { response, .. } => (
                StatusCode::UNAUTHORIZED,
                "api.authentication_error",
                format!(
                    "the {label} server {server} refused the login for '{}': {response}",
                    endpoint.username
                ),
                response.clone(),
            ),
            CheckFailure::UnknownHost { reason, .. } => (
                StatusCode::GATEWAY_TIMEOUT,
                "api.provider_error",
                format!("the {label} server {server} could not be found: {reason}"),
                reason.clone(),
            ),
            CheckFailure::Unreachable { reason, .. } => (
                StatusCode::GATEWAY_TIMEOUT,
                "api.provider_error",
                format!("the {label} server {server} is not responding: {reason}"),
                reason.clone(),
            ),
            CheckFailure::Policy { reason, .. } => (
                StatusCode::BAD_REQUEST,
                "api.invalid_request_error",
                format!("mailroom will not connect to the {label} server {server}: {reason}"),
                reason.clone(),
            ),
            CheckFailure::Failed { reason, .. } => (
                StatusCode::BAD_GATEWAY,
                "api.provider_error",
                format!("the {label} server {server} could not be used: {reason}"),
                reason.clone(),
            ),
        };
        ApiError::new(status, kind, message).with_provider_error(json!({
            "server": label.to_ascii_lowercase(),
            "host": endpoint.host,
            "port": endpoint.port,
            "error": detail,
        }))
    }
}
