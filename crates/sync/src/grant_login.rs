//! What a grant signs in to its servers with: its passwords, or for an OAuth mailbox an
//! access token that is fresh. A token that expires within a minute, or that a server
//! has just refused, is refreshed at the provider's token endpoint with the grant's
//! refresh token and the application's client at that provider (its connector); a
//! rotated refresh token replaces the stored one. One caller refreshes at a time, on
//! every node (`Store::claim_token_refresh`); the others wait for its result. A refresh
//! token the provider no longer accepts (`invalid_grant`) is an authentication failure:
//! the grant needs its user to sign in again.

use std::time::{Duration, Instant};

use mailroom_model::{GrantSecret, MailCredentials, OAuthTokens, time::unix_now};
use mailroom_net::{
    ClientAuth, OutboundPolicy, TokenEndpoint, TokenGrant, WebhookUrl, request_token,
};
use mailroom_store::{GrantRecord, Store};

use crate::error::SyncError;

/// An access token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN_SECS: i64 = 60;

/// How long an access token lives when the provider does not say (RFC 6749, section
/// 5.1 makes `expires_in` optional; the providers all grant an hour).
const DEFAULT_TOKEN_SECS: i64 = 3600;

/// How often a caller waiting on another's refresh looks for its result.
const REFRESH_WAIT_STEP: Duration = Duration::from_millis(100);

/// How a grant signs in.
pub(crate) enum Login {
    Password(MailCredentials),
    Bearer(String),
}

impl Login {
    pub(crate) fn imap(&self) -> mailroom_imap::ImapAuth<'_> {
        match self {
            Login::Password(c) => mailroom_imap::ImapAuth::Password(&c.imap_password),
            Login::Bearer(token) => mailroom_imap::ImapAuth::Bearer(token),
        }
    }

    pub(crate) fn smtp(&self) -> mailroom_smtp::SmtpAuth<'_> {
        match self {
            Login::Password(c) => mailroom_smtp::SmtpAuth::Password(&c.smtp_password),
            Login::Bearer(token) => mailroom_smtp::SmtpAuth::Bearer(token),
        }
    }

    /// The token to name as refused when a server refused this login, so that the next
    /// one is refreshed; passwords cannot be.
    pub(crate) fn refusable_token(&self) -> Option<&str> {
        match self {
            Login::Password(_) => None,
            Login::Bearer(token) => Some(token),
        }
    }
}

/// The grant's login. `refused`: an access token a server has just refused, which is
/// then not used again.
pub(crate) async fn grant_login(
    store: &Store,
    policy: &OutboundPolicy,
    grant: &GrantRecord,
    refused: Option<&str>,
) -> Result<Login, SyncError> {
    let tokens = match store.grant_secret(&grant.id).await? {
        GrantSecret::Password(credentials) => return Ok(Login::Password(credentials)),
        GrantSecret::OAuth(tokens) => tokens,
    };
    if usable(&tokens, refused) {
        return Ok(Login::Bearer(tokens.access_token));
    }
    // Held past the token request's own timeout, so that a claim outlives its refresh.
    let hold = policy.timeout() * 2 + Duration::from_secs(5);
    let deadline = Instant::now() + hold;
    loop {
        if store
            .claim_token_refresh(&grant.id, hold.as_millis() as i64)
            .await?
        {
            return refresh_claimed(store, policy, grant, refused).await;
        }
        if Instant::now() >= deadline {
            return Err(SyncError::Token(
                "another refresh of the grant's access token did not finish in time".into(),
            ));
        }
        tokio::time::sleep(REFRESH_WAIT_STEP).await;
        if let GrantSecret::OAuth(tokens) = store.grant_secret(&grant.id).await?
            && usable(&tokens, refused)
        {
            return Ok(Login::Bearer(tokens.access_token));
        }
    }
}

/// Refreshes under a claim this caller holds, and ends the claim whatever happens.
async fn refresh_claimed(
    store: &Store,
    policy: &OutboundPolicy,
    grant: &GrantRecord,
    refused: Option<&str>,
) -> Result<Login, SyncError> {
    // A refresh that ended just before the claim may have left a usable token.
    let current = match store.grant_secret(&grant.id).await {
        Ok(GrantSecret::OAuth(tokens)) => tokens,
        Ok(GrantSecret::Password(credentials)) => {
            store.finish_token_refresh(&grant.id, None).await?;
            return Ok(Login::Password(credentials));
        }
        Err(e) => {
            let _ = store.finish_token_refresh(&grant.id, None).await;
            return Err(e.into());
        }
    };
    if usable(&current, refused) {
        store.finish_token_refresh(&grant.id, None).await?;
        return Ok(Login::Bearer(current.access_token));
    }
    match refresh(store, policy, grant, &current).await {
        Ok(tokens) => {
            store.finish_token_refresh(&grant.id, Some(&tokens)).await?;
            tracing::debug!(grant_id = %grant.id, "access token refreshed");
            Ok(Login::Bearer(tokens.access_token))
        }
        Err(e) => {
            store.finish_token_refresh(&grant.id, None).await?;
            if let SyncError::TokenRevoked(reason) = &e {
                // Whoever asked (the sync, a send, a read for the API), the grant is
                // done until its user signs in again: `grant.expired`, once.
                tracing::warn!(grant_id = %grant.id, %reason, "the provider refused the grant's refresh token");
                store.invalidate_grant(&grant.id, &e.to_string()).await?;
            }
            Err(e)
        }
    }
}

fn usable(tokens: &OAuthTokens, refused: Option<&str>) -> bool {
    !tokens.access_token.is_empty()
        && refused != Some(tokens.access_token.as_str())
        && tokens.access_expires_at > unix_now() + EXPIRY_MARGIN_SECS
}

/// Asks the provider for a new access token.
async fn refresh(
    store: &Store,
    policy: &OutboundPolicy,
    grant: &GrantRecord,
    current: &OAuthTokens,
) -> Result<OAuthTokens, SyncError> {
    let endpoint = token_endpoint(store, grant, &current.token_url).await?;
    let answer = request_token(
        policy,
        &endpoint,
        TokenGrant::RefreshToken(&current.refresh_token),
        policy.timeout(),
    )
    .await
    .map_err(|e| {
        if e.is_revoked() {
            SyncError::TokenRevoked(e.to_string())
        } else {
            SyncError::Token(e.to_string())
        }
    })?;
    let lifetime = answer.expires_in.map_or(DEFAULT_TOKEN_SECS, |secs| {
        i64::try_from(secs).unwrap_or(i64::MAX)
    });
    Ok(OAuthTokens {
        // Providers that rotate send a new one; the others keep the old one valid.
        refresh_token: answer
            .refresh_token
            .unwrap_or_else(|| current.refresh_token.clone()),
        access_token: answer.access_token,
        access_expires_at: unix_now().saturating_add(lifetime),
        token_url: current.token_url.clone(),
    })
}

/// The application's client at the grant's provider, at the token endpoint that issued
/// the grant's refresh token.
pub(crate) async fn token_endpoint(
    store: &Store,
    grant: &GrantRecord,
    token_url: &str,
) -> Result<TokenEndpoint, SyncError> {
    let provider = grant.provider;
    let missing = || {
        SyncError::TokenRevoked(format!(
            "the application has no usable '{provider}' connector (its client id and secret) to refresh the grant's token with"
        ))
    };
    let oauth = provider.oauth().ok_or_else(missing)?;
    let connector = store
        .connector(&grant.application_id, provider)
        .await?
        .ok_or_else(missing)?;
    let client_id = connector
        .settings
        .get("client_id")
        .and_then(|v| v.as_str())
        .ok_or_else(missing)?
        .to_owned();
    let client_secret = store
        .connector_client_secret(&grant.application_id, provider)
        .await?
        .ok_or_else(missing)?;
    let url = WebhookUrl::parse(token_url).map_err(|e| SyncError::Token(e.to_string()))?;
    Ok(TokenEndpoint {
        url,
        client_id,
        client_secret,
        client_auth: if oauth.client_auth_basic() {
            ClientAuth::Basic
        } else {
            ClientAuth::Post
        },
    })
}
