//! Connecting a Google, Microsoft or Yahoo mailbox with OAuth 2.0, for the hosted flow
//! (an authorization code) and custom auth (a refresh token) alike: the application's
//! client at the provider (its connector), who the user is (the provider's ID token,
//! verified against its published keys, else its userinfo endpoint, else the email the
//! caller names, which the mail servers' XOAUTH2 login then proves), a login to the
//! IMAP server and the SMTP server with the access token, and then the grant: created,
//! or the existing one for that email re-authenticated. Nothing is stored until both
//! servers accepted the token.

use std::time::Duration;

use mailroom_model::{
    ApplicationId, EmailAddress, GrantSecret, MailServerSettings, OAuthEndpoints, OAuthProvider,
    OAuthTokens, Provider, time::unix_now,
};
use mailroom_net::{
    ClientAuth, TokenEndpoint, TokenError, TokenResponse, WebhookUrl, verify_id_token,
    webhook_get_with,
};
use mailroom_store::{GrantRefused, GrantScope, GrantWrite, StoreError};
use serde::Deserialize;

use crate::clip::clip;
use crate::{
    connect_grant::{ConnectError, Connected},
    provider_check::verify_token_mailbox,
    router::AppState,
    v3::client_info::ClientInfo,
};

/// How long an access token lives when the provider does not say.
const DEFAULT_TOKEN_SECS: i64 = 3600;
/// The most of a userinfo answer read.
const MAX_USERINFO_BYTES: usize = 64 * 1024;

/// The application's OAuth client at one provider, from its connector.
pub struct ProviderClient {
    pub provider: OAuthProvider,
    pub client_id: String,
    client_secret: String,
    pub scope: Vec<String>,
    pub endpoints: OAuthEndpoints,
}

/// Why an OAuth mailbox did not connect.
#[derive(Debug)]
pub enum OAuthConnectError {
    /// The application has no connector for the provider, or it lacks its client.
    NoConnector(Provider),
    /// The provider refused the code or refresh token, or could not be asked.
    Token(TokenError),
    /// Who signed in could not be learnt, or the ID token did not hold.
    Identity(String),
    /// The provider gave no refresh token and the grant has none to keep.
    NoRefreshToken,
    Connect(Box<ConnectError>),
}

impl From<StoreError> for OAuthConnectError {
    fn from(e: StoreError) -> Self {
        OAuthConnectError::Connect(Box::new(ConnectError::Store(e)))
    }
}

impl ProviderClient {
    /// The client of the application's connector for `provider`; `None` if it has no
    /// connector or the connector lacks a client id or secret.
    pub async fn load(
        state: &AppState,
        application_id: &ApplicationId,
        provider: OAuthProvider,
    ) -> Result<Option<Self>, StoreError> {
        let kind = Provider::from(provider);
        let Some(connector) = state.store.connector(application_id, kind).await? else {
            return Ok(None);
        };
        let setting = |key: &str| {
            connector
                .settings
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let Some(client_id) = setting("client_id") else {
            return Ok(None);
        };
        let Some(client_secret) = state
            .store
            .connector_client_secret(application_id, kind)
            .await?
        else {
            return Ok(None);
        };
        let tenant = setting("tenant").unwrap_or_else(|| "common".into());
        Ok(Some(Self {
            provider,
            client_id,
            client_secret,
            scope: connector.scope,
            endpoints: state.providers.endpoints(provider, &tenant),
        }))
    }

    pub fn token_endpoint(&self) -> Result<TokenEndpoint, OAuthConnectError> {
        let url = WebhookUrl::parse(&self.endpoints.token)
            .map_err(|e| OAuthConnectError::Token(TokenError::Http(e)))?;
        Ok(TokenEndpoint {
            url,
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            client_auth: if self.provider.client_auth_basic() {
                ClientAuth::Basic
            } else {
                ClientAuth::Post
            },
        })
    }
}

/// Who signed in. `nonce`: what the ID token must carry (the hosted flow sent one);
/// `claimed`: the email the caller names, used when the provider says nothing.
pub async fn identify(
    state: &AppState,
    client: &ProviderClient,
    answer: &TokenResponse,
    nonce: Option<&str>,
    claimed: Option<&str>,
) -> Result<EmailAddress, OAuthConnectError> {
    let timeout = state.policy.timeout();
    let identity_error = |message: String| OAuthConnectError::Identity(message);
    if let Some(id_token) = &answer.id_token {
        let jwks =
            WebhookUrl::parse(&client.endpoints.jwks).map_err(|e| identity_error(e.to_string()))?;
        let identity = verify_id_token(
            &state.policy,
            &jwks,
            id_token,
            &client.client_id,
            unix_now(),
            timeout,
        )
        .await
        .map_err(|e| identity_error(e.to_string()))?;
        let tenant_id = identity.tenant_id.as_deref().unwrap_or("common");
        let expected = state.providers.issuer(client.provider, tenant_id);
        let google_short = client.provider == OAuthProvider::Google
            && !state.providers.is_moved()
            && identity.issuer == "accounts.google.com";
        if identity.issuer != expected && !google_short {
            return Err(identity_error(format!(
                "the ID token was issued by '{}', not by {}",
                clip(&identity.issuer, 200),
                client.provider
            )));
        }
        if let Some(nonce) = nonce
            && identity.nonce.as_deref() != Some(nonce)
        {
            return Err(identity_error(
                "the ID token does not carry this sign-in's nonce".into(),
            ));
        }
        if identity.email_verified == Some(false) {
            return Err(identity_error(
                "the provider has not verified this account's email address".into(),
            ));
        }
        if let Some(email) = identity.email {
            return EmailAddress::parse(&email)
                .map_err(|e| identity_error(format!("the ID token's email: {e}")));
        }
    }
    if let Some(userinfo) = &client.endpoints.userinfo
        && let Some(email) = userinfo_email(state, userinfo, &answer.access_token, timeout).await
    {
        return EmailAddress::parse(&email)
            .map_err(|e| identity_error(format!("the provider's userinfo email: {e}")));
    }
    match claimed {
        Some(email) => {
            EmailAddress::parse(email).map_err(|e| identity_error(format!("settings.email: {e}")))
        }
        None => Err(identity_error(format!(
            "{} said neither in an ID token nor at its userinfo endpoint which email signed in; ask for the 'openid' and 'email' scopes, or name it in settings.email",
            client.provider
        ))),
    }
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
}

/// The email at the provider's userinfo endpoint (OpenID Connect Core, section 5.3),
/// if it answers with a verified one.
async fn userinfo_email(
    state: &AppState,
    url: &str,
    access_token: &str,
    timeout: Duration,
) -> Option<String> {
    let url = WebhookUrl::parse(url).ok()?;
    let authorization = format!("Bearer {access_token}");
    let reply = webhook_get_with(
        &state.policy,
        &url,
        &[
            ("Authorization", authorization.as_str()),
            ("Accept", "application/json"),
        ],
        timeout,
        MAX_USERINFO_BYTES,
    )
    .await
    .ok()?;
    if reply.status != 200 {
        return None;
    }
    let info: UserInfo = serde_json::from_slice(&reply.body).ok()?;
    let unverified = matches!(info.email_verified, Some(serde_json::Value::Bool(false)))
        || matches!(&info.email_verified, Some(serde_json::Value::String(s)) if s == "false");
    if unverified {
        return None;
    }
    info.email
}

/// One OAuth sign-in to turn into a grant.
pub struct OAuthGrantRequest<'a> {
    pub application_id: &'a ApplicationId,
    pub client: &'a ProviderClient,
    pub answer: TokenResponse,
    /// The refresh token the caller traded (custom auth), kept when the provider does
    /// not rotate it.
    pub refresh_token: Option<String>,
    pub email: EmailAddress,
    pub scope: GrantScope<'a>,
    pub name: Option<&'a str>,
    pub state: Option<&'a str>,
    pub client_info: &'a ClientInfo,
}

/// Proves the token on both mail servers, then creates or re-authenticates the grant.
pub async fn connect_oauth_grant(
    state: &AppState,
    request: OAuthGrantRequest<'_>,
) -> Result<Connected, OAuthConnectError> {
    let provider = request.client.provider;
    let imap = state.providers.imap(provider);
    let smtp = state.providers.smtp(provider);
    let servers = MailServerSettings {
        imap_username: request.email.to_string(),
        imap_host: imap.host,
        imap_port: imap.port,
        imap_security: imap.security,
        smtp_username: request.email.to_string(),
        smtp_host: smtp.host,
        smtp_port: smtp.port,
        smtp_security: smtp.security,
    };
    let existing = state
        .store
        .grant_by_email(request.application_id, &request.email)
        .await?;
    // Google sends a refresh token only at the first consent: a re-authentication
    // without one keeps the grant's.
    let kept = match &existing {
        Some(grant) => match state.store.grant_secret(&grant.id).await? {
            GrantSecret::OAuth(tokens) => Some(tokens.refresh_token),
            GrantSecret::Password(_) => None,
        },
        None => None,
    };
    let answer = request.answer;
    let refresh_token = answer
        .refresh_token
        .clone()
        .or(request.refresh_token)
        .or(kept)
        .ok_or(OAuthConnectError::NoRefreshToken)?;

    if let Err(failure) = verify_token_mailbox(&state.policy, &servers, &answer.access_token).await
    {
        tracing::info!(
            application_id = %request.application_id,
            %provider,
            ?failure,
            "OAuth sign-in: the mail servers did not accept the access token"
        );
        return Err(OAuthConnectError::Connect(Box::new(ConnectError::Check {
            failure,
            servers,
        })));
    }
    let lifetime = answer.expires_in.map_or(DEFAULT_TOKEN_SECS, |secs| {
        i64::try_from(secs).unwrap_or(i64::MAX)
    });
    let secret = GrantSecret::OAuth(OAuthTokens {
        refresh_token,
        access_token: answer.access_token,
        access_expires_at: unix_now().saturating_add(lifetime),
        token_url: request.client.endpoints.token.clone(),
    });
    let written = state
        .store
        .upsert_grant(GrantWrite {
            application_id: request.application_id,
            provider: Provider::from(provider),
            email: &request.email,
            name: request.name,
            scope: request.scope,
            settings: &servers,
            credentials: &secret,
            // The provider signed the user in as this address.
            email_verified: true,
            max_grants: state.sign_in.settings.max_grants_per_application,
            state: request.state,
            ip: request.client_info.ip.as_deref(),
            user_agent: request.client_info.user_agent.as_deref(),
        })
        .await?;
    let (grant, outcome) = match written {
        Ok(written) => written,
        Err(GrantRefused::ServersDiffer { grant_id }) => {
            return Err(OAuthConnectError::Connect(Box::new(
                ConnectError::ServersDiffer {
                    grant_id: grant_id.to_string(),
                },
            )));
        }
        Err(GrantRefused::TooManyGrants { limit }) => {
            return Err(OAuthConnectError::Connect(Box::new(
                ConnectError::TooManyGrants { limit },
            )));
        }
    };
    tracing::info!(grant_id = %grant.id, %provider, ?outcome, "OAuth grant authenticated");
    state.mailboxes.grant_connected(&grant.id);
    Ok(Connected { grant, outcome })
}
