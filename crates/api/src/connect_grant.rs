//! Connecting a mailbox as a grant, for custom auth and the hosted sign-in page alike:
//! resolve the settings, keep an existing grant on the servers it has, keep hosted
//! sign-in on servers of the email's domain (unless the application allows others),
//! throttle, prove the password on both servers, then create or re-authenticate the
//! grant and start its sync. Nothing is stored, and no password is sent anywhere, until
//! every check before it passed.

use mailroom_model::{
    ApplicationId, EmailAddress, GrantSecret, MailServerSettings, Provider, SettingsError,
    mail_settings::{ResolvedSettings, SettingsFields, SettingsInput},
};
use mailroom_store::{GrantRecord, GrantRefused, GrantScope, GrantUpsert, GrantWrite, StoreError};

use crate::{
    provider_check::{CheckFailure, verify_mailbox},
    router::AppState,
    server_origin::DomainServers,
    sign_in_limits::Throttled,
    v3::client_info::ClientInfo,
};

/// Where a sign-in comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOrigin {
    /// `POST /v3/connect/custom`, with the application's API key.
    CustomAuth,
    /// The hosted sign-in page, typed by whoever opened it.
    HostedPage { allow_custom_servers: bool },
}

/// One sign-in to attempt.
pub struct ConnectRequest<'a> {
    pub application_id: &'a ApplicationId,
    pub provider: Provider,
    pub fields: SettingsFields,
    /// On the hosted page: the servers the page suggested for this email, so that an
    /// untouched form re-authenticates an existing grant on its own servers.
    pub suggested: Option<MailServerSettings>,
    /// What the caller already looked up about the email's domain (the hosted page does,
    /// for its suggestion), so that it is not asked again.
    pub domain: Option<DomainServers>,
    pub origin: SignInOrigin,
    pub scope: GrantScope<'a>,
    pub name: Option<&'a str>,
    pub state: Option<&'a str>,
    pub client: &'a ClientInfo,
}

/// Why a sign-in did not connect a grant.
#[derive(Debug)]
pub enum ConnectError {
    Settings(SettingsError),
    /// The email already has a grant on other servers.
    ServersDiffer {
        grant_id: String,
    },
    /// Hosted sign-in named servers that do not belong to the email's domain.
    ForeignServers,
    Throttled(Throttled),
    /// Too many password checks for this email address within the lockout window.
    AttemptsExhausted,
    /// A server refused the password or could not be used.
    Check {
        failure: CheckFailure,
        servers: MailServerSettings,
    },
    TooManyGrants {
        limit: i64,
    },
    Store(StoreError),
}

impl From<StoreError> for ConnectError {
    fn from(e: StoreError) -> Self {
        ConnectError::Store(e)
    }
}

/// A connected grant.
pub struct Connected {
    pub grant: GrantRecord,
    pub outcome: GrantUpsert,
}

pub async fn connect_grant(
    state: &AppState,
    request: ConnectRequest<'_>,
) -> Result<Connected, ConnectError> {
    let origin = request.origin;
    let result = check_and_connect(state, request).await;
    crate::auth_metrics::sign_in_finished(origin, &result);
    result
}

async fn check_and_connect(
    state: &AppState,
    request: ConnectRequest<'_>,
) -> Result<Connected, ConnectError> {
    let claimed = claimed_email(&request.fields);
    let existing = match &claimed {
        Some(email) => {
            state
                .store
                .grant_by_email(request.application_id, email)
                .await?
        }
        None => None,
    };
    let resolved = resolve(state, &request, existing.as_ref()).await?;
    let hosted_ip = match request.origin {
        SignInOrigin::HostedPage { .. } => request.client.ip.as_deref(),
        SignInOrigin::CustomAuth => None,
    };
    // Counted before anything goes out (DNS, autoconfiguration, the mail servers).
    let account = format!("{}/{}", request.application_id, resolved.email);
    state
        .sign_in
        .attempt(
            hosted_ip,
            &account,
            &[
                resolved.servers.imap_host.as_str(),
                resolved.servers.smtp_host.as_str(),
            ],
        )
        .map_err(ConnectError::Throttled)?;
    if let Some(grant) = &existing
        && !grant.settings.same_servers(&resolved.servers)
    {
        return Err(ConnectError::ServersDiffer {
            grant_id: grant.id.to_string(),
        });
    }

    let mut domain = match request.domain {
        Some(domain) if domain.is_for(&resolved.email) => domain,
        _ => DomainServers::look_up(state, &resolved.email).await,
    };
    let email_verified = domain.vouch(state, &resolved.servers).await;
    if let SignInOrigin::HostedPage {
        allow_custom_servers,
    } = request.origin
    {
        // An existing grant's servers were accepted when it was made.
        if !email_verified && !allow_custom_servers && existing.is_none() {
            return Err(ConnectError::ForeignServers);
        }
        let limits = &state.sign_in.settings;
        let attempts = state
            .store
            .count_sign_in_attempt(&resolved.email, limits.lockout_secs)
            .await?;
        if attempts > limits.max_attempts {
            return Err(ConnectError::AttemptsExhausted);
        }
    }

    if let Err(failure) =
        verify_mailbox(&state.policy, &resolved.servers, &resolved.credentials).await
    {
        tracing::info!(
            application_id = %request.application_id,
            imap_host = %resolved.servers.imap_host,
            smtp_host = %resolved.servers.smtp_host,
            ?failure,
            "sign-in: the mail servers did not accept the mailbox"
        );
        return Err(ConnectError::Check {
            failure,
            servers: resolved.servers,
        });
    }
    state.store.clear_sign_in_attempts(&resolved.email).await?;

    let written = state
        .store
        .upsert_grant(GrantWrite {
            application_id: request.application_id,
            provider: request.provider,
            email: &resolved.email,
            name: request.name,
            scope: request.scope,
            settings: &resolved.servers,
            credentials: &GrantSecret::Password(resolved.credentials.clone()),
            email_verified,
            max_grants: state.sign_in.settings.max_grants_per_application,
            state: request.state,
            ip: request.client.ip.as_deref(),
            user_agent: request.client.user_agent.as_deref(),
        })
        .await?;
    let (grant, outcome) = match written {
        Ok(written) => written,
        Err(GrantRefused::ServersDiffer { grant_id }) => {
            return Err(ConnectError::ServersDiffer {
                grant_id: grant_id.to_string(),
            });
        }
        Err(GrantRefused::TooManyGrants { limit }) => {
            return Err(ConnectError::TooManyGrants { limit });
        }
    };
    tracing::info!(grant_id = %grant.id, ?outcome, email_verified, "grant authenticated");
    state.mailboxes.grant_connected(&grant.id);
    Ok(Connected { grant, outcome })
}

/// The settings to prove. Custom auth fills what it leaves out from the existing grant;
/// the hosted page's untouched suggestion stands for the existing grant's own servers.
async fn resolve(
    state: &AppState,
    request: &ConnectRequest<'_>,
    existing: Option<&GrantRecord>,
) -> Result<ResolvedSettings, ConnectError> {
    match request.origin {
        SignInOrigin::CustomAuth => {
            let previous = match existing {
                // Only passwords fill in for what is left out: a grant that signs in
                // with tokens has none to lend.
                Some(grant) => state
                    .store
                    .grant_secret(&grant.id)
                    .await?
                    .passwords()
                    .cloned()
                    .map(|credentials| (&grant.settings, credentials)),
                None => None,
            };
            SettingsInput {
                fields: &request.fields,
                previous: previous.as_ref().map(|(s, c)| (*s, c)),
            }
            .resolve()
            .map_err(ConnectError::Settings)
        }
        SignInOrigin::HostedPage { .. } => {
            let resolved = SettingsInput {
                fields: &request.fields,
                previous: None,
            }
            .resolve()
            .map_err(ConnectError::Settings)?;
            Ok(match existing {
                Some(grant)
                    if !grant.settings.same_servers(&resolved.servers)
                        && request
                            .suggested
                            .as_ref()
                            .is_some_and(|s| s.same_servers(&resolved.servers)) =>
                {
                    let servers = MailServerSettings {
                        imap_username: resolved.servers.imap_username.clone(),
                        smtp_username: resolved.servers.smtp_username.clone(),
                        ..grant.settings.clone()
                    };
                    ResolvedSettings {
                        servers,
                        ..resolved
                    }
                }
                _ => resolved,
            })
        }
    }
}

/// The email a sign-in is for, if it names one plainly.
fn claimed_email(fields: &SettingsFields) -> Option<EmailAddress> {
    [&fields.email, &fields.imap_username]
        .into_iter()
        .flatten()
        .find_map(|value| EmailAddress::parse(value).ok())
}
