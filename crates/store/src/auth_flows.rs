//! Hosted sign-in flows in progress: what the application asked for (redirect URI, state,
//! scopes, PKCE challenge), the CSRF token of the page, and how many passwords failed.
//! A flow ends by issuing a one-time authorization code for the grant it created.
//!
//! A flow for a Google, Microsoft or Yahoo mailbox passes through the provider: it
//! keeps the hash of the `state` mailroom sent there (by which the provider's answer
//! finds it) and the redirect URI it named; its PKCE verifier towards the provider is
//! derived from the secret key and the flow's id, so it is stored nowhere.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use mailroom_model::{ApplicationId, GrantId, Provider, Scope, time::unix_now};
use sha2::Sha256;
use sqlx::Row;

use crate::{
    error::StoreError,
    open::Store,
    secret_hash::{generate_secret, hash_secret},
};

/// How long a sign-in page stays usable.
pub const FLOW_LIFETIME_SECS: i64 = 30 * 60;
/// How long an authorization code may wait for its exchange.
pub const CODE_LIFETIME_SECS: i64 = 10 * 60;

#[derive(Debug, Clone)]
pub struct NewAuthFlow<'a> {
    pub application_id: &'a ApplicationId,
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
    pub scope: &'a [Scope],
    /// `online` or `offline` (only offline yields a refresh token).
    pub access_type: &'a str,
    pub login_hint: Option<&'a str>,
    pub smtp_required: bool,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    /// `Imap`: mailroom's own sign-in page; otherwise the provider signs the user in.
    pub provider: Provider,
    /// The `state` sent to the provider (stored hashed).
    pub provider_state: Option<&'a str>,
    /// The redirect URI named to the provider: mailroom's `/v3/connect/callback`.
    pub provider_redirect_uri: Option<&'a str>,
    /// `code`, or `token` for v2's implicit flow.
    pub response_type: &'a str,
}

#[derive(Debug, Clone)]
pub struct AuthFlowRecord {
    pub id: String,
    pub application_id: ApplicationId,
    pub csrf_hash: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: Vec<Scope>,
    pub access_type: String,
    pub login_hint: Option<String>,
    pub smtp_required: bool,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub failed_attempts: i64,
    pub provider: Provider,
    pub provider_redirect_uri: Option<String>,
    /// `code`, or `token` for v2's implicit flow.
    pub response_type: String,
}

impl AuthFlowRecord {
    /// Whether `csrf` is the token this flow's page was given.
    pub fn csrf_matches(&self, csrf: &str) -> bool {
        hash_secret(csrf) == self.csrf_hash
    }
}

impl Store {
    /// Starts a flow. Returns it and the plaintext CSRF token for its page (stored hashed).
    pub async fn create_auth_flow(
        &self,
        flow: NewAuthFlow<'_>,
    ) -> Result<(AuthFlowRecord, String), StoreError> {
        let id = generate_secret("flow_");
        let csrf = generate_secret("csrf_");
        let now = unix_now();
        let scope = serde_json::to_string(flow.scope).map_err(StoreError::corrupt)?;
        sqlx::query(
            "INSERT INTO auth_flows (id, application_id, csrf_hash, redirect_uri, state, scope, \
                 access_type, login_hint, smtp_required, code_challenge, code_challenge_method, \
                 failed_attempts, created_at, expires_at, provider, provider_state_hash, \
                 provider_redirect_uri, response_type) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $15, $16, $17)",
        )
        .bind(&id)
        .bind(flow.application_id.as_str())
        .bind(hash_secret(&csrf))
        .bind(flow.redirect_uri)
        .bind(flow.state)
        .bind(scope)
        .bind(flow.access_type)
        .bind(flow.login_hint)
        .bind(i64::from(flow.smtp_required))
        .bind(flow.code_challenge)
        .bind(flow.code_challenge_method)
        .bind(now)
        .bind(now + FLOW_LIFETIME_SECS)
        .bind(flow.provider.as_str())
        .bind(flow.provider_state.map(hash_secret))
        .bind(flow.provider_redirect_uri)
        .bind(flow.response_type)
        .execute(&self.pool)
        .await?;
        let record = self
            .auth_flow(&id)
            .await?
            .ok_or_else(|| StoreError::corrupt("a new auth flow vanished"))?;
        Ok((record, csrf))
    }

    /// A flow that is neither finished nor expired.
    pub async fn auth_flow(&self, id: &str) -> Result<Option<AuthFlowRecord>, StoreError> {
        self.find_auth_flow("id", id).await
    }

    /// The open flow that sent the provider this `state`.
    pub async fn auth_flow_by_provider_state(
        &self,
        provider_state: &str,
    ) -> Result<Option<AuthFlowRecord>, StoreError> {
        self.find_auth_flow("provider_state_hash", &hash_secret(provider_state))
            .await
    }

    /// The PKCE verifier (RFC 7636, section 4.1) of a flow towards its provider: 43
    /// base64url characters, HMAC-SHA256 of the flow's id under a key derived from the
    /// secret key.
    pub fn provider_code_verifier(&self, flow_id: &str) -> String {
        let key = self.secrets.derive_key("provider pkce verifier");
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(flow_id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    async fn find_auth_flow(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<AuthFlowRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT id, application_id, csrf_hash, redirect_uri, state, scope, access_type, \
                 login_hint, smtp_required, code_challenge, code_challenge_method, failed_attempts, \
                 provider, provider_redirect_uri, response_type \
             FROM auth_flows WHERE {column} = $1 AND finished_at IS NULL AND expires_at > $2"
        ))
        .bind(value)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let provider: String = row.try_get("provider")?;
        let scope: String = row.try_get("scope")?;
        let smtp_required: i64 = row.try_get("smtp_required")?;
        Ok(Some(AuthFlowRecord {
            id: row.try_get("id")?,
            application_id: ApplicationId::from_stored(row.try_get("application_id")?),
            csrf_hash: row.try_get("csrf_hash")?,
            redirect_uri: row.try_get("redirect_uri")?,
            state: row.try_get("state")?,
            scope: serde_json::from_str(&scope).map_err(StoreError::corrupt)?,
            access_type: row.try_get("access_type")?,
            login_hint: row.try_get("login_hint")?,
            smtp_required: smtp_required != 0,
            code_challenge: row.try_get("code_challenge")?,
            code_challenge_method: row.try_get("code_challenge_method")?,
            failed_attempts: row.try_get("failed_attempts")?,
            provider: provider.parse().map_err(StoreError::corrupt)?,
            provider_redirect_uri: row.try_get("provider_redirect_uri")?,
            response_type: row.try_get("response_type")?,
        }))
    }

    /// Counts an attempt of the flow's page to sign in (before its password is tried);
    /// returns how many the flow has seen.
    pub async fn count_flow_attempt(&self, id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "UPDATE auth_flows SET failed_attempts = failed_attempts + 1 WHERE id = $1 \
             RETURNING failed_attempts",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(row.try_get("failed_attempts")?),
            None => Err(StoreError::corrupt("no such auth flow")),
        }
    }

    /// Ends a flow: its page can no longer be submitted.
    pub async fn finish_auth_flow(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE auth_flows SET finished_at = $1 WHERE id = $2")
            .bind(unix_now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a flow successfully: a one-time authorization code for `grant_id`, carrying
    /// the flow's redirect URI, PKCE challenge, access type and scopes. Returns the code
    /// (stored hashed), valid for [`CODE_LIFETIME_SECS`]; `None` if the flow had already
    /// ended.
    pub async fn issue_authorization_code(
        &self,
        flow: &AuthFlowRecord,
        grant_id: &GrantId,
    ) -> Result<Option<String>, StoreError> {
        let code = generate_secret("code_");
        let now = unix_now();
        let scope = serde_json::to_string(&flow.scope).map_err(StoreError::corrupt)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO oauth_tokens (token_hash, kind, application_id, grant_id, redirect_uri, \
                 code_challenge, code_challenge_method, access_type, scope, created_at, expires_at) \
             VALUES ($1, 'code', $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(hash_secret(&code))
        .bind(flow.application_id.as_str())
        .bind(grant_id.as_str())
        .bind(&flow.redirect_uri)
        .bind(flow.code_challenge.as_deref())
        .bind(flow.code_challenge_method.as_deref())
        .bind(&flow.access_type)
        .bind(scope)
        .bind(now)
        .bind(now + CODE_LIFETIME_SECS)
        .execute(&mut *tx)
        .await?;
        // Only a flow still open yields a code: of parallel submissions, the one that
        // comes after the flow ended (its limit reached, or another one done) gets none.
        let ended = sqlx::query(
            "UPDATE auth_flows SET finished_at = $1 WHERE id = $2 AND finished_at IS NULL",
        )
        .bind(now)
        .bind(&flow.id)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(code))
    }

    /// Deletes what can no longer matter: sign-in flows a day past their end, and codes
    /// and tokens a day past the longest life of anything issued from them (so that a
    /// replayed code can still revoke its children while they live). Returns the rows
    /// deleted.
    pub async fn purge_expired_auth(&self) -> Result<u64, StoreError> {
        const DAY: i64 = 24 * 60 * 60;
        let now = unix_now();
        let flows = sqlx::query("DELETE FROM auth_flows WHERE expires_at < $1")
            .bind(now - DAY)
            .execute(&self.pool)
            .await?;
        let tokens = sqlx::query("DELETE FROM oauth_tokens WHERE expires_at < $1")
            .bind(now - crate::oauth_tokens::REFRESH_TOKEN_LIFETIME_SECS - DAY)
            .execute(&self.pool)
            .await?;
        let attempts = self.purge_sign_in_attempts(now - DAY).await?;
        Ok(flows.rows_affected() + tokens.rows_affected() + attempts)
    }
}
