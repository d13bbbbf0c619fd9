//! What hosted authentication hands out after the sign-in page: the one-time
//! authorization code is redeemed for an access token (a Bearer credential confined to
//! one grant) and, for `access_type=offline`, a refresh token, which rotates on each use.
//! Only SHA-256 hashes of these secrets are stored.
//!
//! Every token records what it was issued from (`parent_hash`: a code or a refresh
//! token). Revoking a token revokes all that descends from it, and a code or refresh
//! token presented a second time revokes what its first use issued: a replayed
//! credential has leaked (RFC 6749 §4.1.2, RFC 9700 §4.14.2).

use mailroom_model::{ApplicationId, GrantId, Scope, time::unix_now};
use sqlx::Row;

use crate::{
    error::StoreError,
    open::Store,
    pkce::PkceMethod,
    secret_hash::{generate_secret, hash_secret},
};

pub const ACCESS_TOKEN_PREFIX: &str = "mrat_";
pub const REFRESH_TOKEN_PREFIX: &str = "mrrt_";
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 60 * 60;
/// How long a refresh token stays usable; each use replaces it with a new one.
pub const REFRESH_TOKEN_LIFETIME_SECS: i64 = 90 * 24 * 60 * 60;
/// How long a Nylas v2 access token lives: v2 tokens lasted until revoked, so ten years.
pub const V2_ACCESS_TOKEN_LIFETIME_SECS: i64 = 10 * 365 * 24 * 60 * 60;
/// What the id_token signing key is derived for, from the server's secret key.
const ID_TOKEN_KEY_PURPOSE: &str = "mailroom id_token v1";

/// A code presented at `POST /v3/connect/token`, by a client already authenticated or
/// (with a `code_verifier`) public.
#[derive(Clone, Copy)]
pub struct CodeExchange<'a> {
    pub application_id: &'a ApplicationId,
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: Option<&'a str>,
}

/// Tokens just issued; the secrets are shown this once.
#[derive(Clone)]
pub struct IssuedTokens {
    pub application_id: ApplicationId,
    pub grant_id: GrantId,
    /// The scopes the authorization asked for (empty: all that the grant holds).
    pub scope: Vec<Scope>,
    pub access_token: String,
    /// Only when the authorization asked for `access_type=offline`.
    pub refresh_token: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// A live access token: whose it is and what it may do.
#[derive(Debug, Clone)]
pub struct AccessTokenRecord {
    pub application_id: ApplicationId,
    pub grant_id: GrantId,
    /// The scopes it was issued for (empty: all that the grant holds).
    pub scope: Vec<Scope>,
    pub issued_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The code or refresh token yields nothing: OAuth's `invalid_grant`.
    #[error("{0}")]
    InvalidGrant(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        TokenError::Store(e.into())
    }
}

fn invalid(message: impl Into<String>) -> TokenError {
    TokenError::InvalidGrant(message.into())
}

/// The two things that are redeemed for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spendable {
    Code,
    RefreshToken,
}

impl Spendable {
    /// The `kind` column.
    fn kind(self) -> &'static str {
        match self {
            Spendable::Code => "code",
            Spendable::RefreshToken => "refresh",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Spendable::Code => "authorization code",
            Spendable::RefreshToken => "refresh token",
        }
    }
}

/// A code or refresh token, as redeeming it needs it.
struct Redeemable {
    spendable: Spendable,
    hash: String,
    application_id: ApplicationId,
    grant_id: GrantId,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    access_type: String,
    scope: String,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl Store {
    /// The key id_tokens are signed with, derived from the server's secret key.
    pub fn id_token_key(&self) -> [u8; 32] {
        self.secrets.derive_key(ID_TOKEN_KEY_PURPOSE)
    }

    /// Redeems an authorization code, once: it must be live, issued to this client for
    /// this exact redirect URI, and pass PKCE if the authorization carried a challenge.
    pub async fn redeem_authorization_code(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<IssuedTokens, TokenError> {
        let code = self
            .redeemable(Spendable::Code, exchange.code)
            .await?
            .ok_or_else(|| invalid("the authorization code is unknown"))?;
        self.refuse_spent(&code).await?;
        if code.application_id != *exchange.application_id {
            return Err(invalid(
                "the authorization code was issued to another client_id",
            ));
        }
        if code.redirect_uri.as_deref() != Some(exchange.redirect_uri) {
            return Err(invalid(
                "redirect_uri differs from the one of the authorization request",
            ));
        }
        match (&code.code_challenge, exchange.code_verifier) {
            (Some(challenge), Some(verifier)) => {
                let method =
                    PkceMethod::parse(code.code_challenge_method.as_deref()).ok_or_else(|| {
                        invalid("the authorization request named an unknown code_challenge_method")
                    })?;
                if !method.verifies(challenge, verifier) {
                    return Err(invalid("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => {
                return Err(invalid(
                    "code_verifier is required: the authorization request carried a code_challenge",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "code_verifier was given, but the authorization request carried no code_challenge",
                ));
            }
            (None, None) => {}
        }
        let offline = code.access_type == "offline";
        self.spend_and_issue(&code, offline, ACCESS_TOKEN_LIFETIME_SECS)
            .await
    }

    /// Redeems a refresh token, once: a new access token and a new refresh token in its
    /// place.
    pub async fn refresh_access_token(
        &self,
        application_id: &ApplicationId,
        refresh_token: &str,
    ) -> Result<IssuedTokens, TokenError> {
        let refresh = self
            .redeemable(Spendable::RefreshToken, refresh_token)
            .await?
            .ok_or_else(|| invalid("the refresh token is unknown"))?;
        self.refuse_spent(&refresh).await?;
        if refresh.application_id != *application_id {
            return Err(invalid("the refresh token was issued to another client_id"));
        }
        self.spend_and_issue(&refresh, true, ACCESS_TOKEN_LIFETIME_SECS)
            .await
    }

    /// Redeems an authorization code at Nylas v2's `/oauth/token` or `/connect/token`,
    /// once, for a client that proved itself with its secret: v2 names no redirect URI
    /// and has no PKCE there. The access token lasts until revoked (ten years), with no
    /// refresh token, as v2's did.
    pub async fn redeem_v2_code(
        &self,
        application_id: &ApplicationId,
        code: &str,
    ) -> Result<IssuedTokens, TokenError> {
        let code = self
            .redeemable(Spendable::Code, code)
            .await?
            .ok_or_else(|| invalid("the authorization code is unknown"))?;
        self.refuse_spent(&code).await?;
        if code.application_id != *application_id {
            return Err(invalid(
                "the authorization code was issued to another client_id",
            ));
        }
        self.spend_and_issue(&code, false, V2_ACCESS_TOKEN_LIFETIME_SECS)
            .await
    }

    /// A code for a grant that native authentication (v2's `/connect/authorize`) just
    /// proved, for the application to trade at `/connect/token`. Returns the code.
    pub async fn issue_native_code(
        &self,
        application_id: &ApplicationId,
        grant_id: &GrantId,
        scope: &[Scope],
    ) -> Result<String, StoreError> {
        let code = generate_secret("code_");
        let now = unix_now();
        let scope = serde_json::to_string(scope).map_err(StoreError::corrupt)?;
        sqlx::query(
            "INSERT INTO oauth_tokens (token_hash, kind, application_id, grant_id, access_type, \
                 scope, created_at, expires_at) \
             VALUES ($1, 'code', $2, $3, 'online', $4, $5, $6)",
        )
        .bind(hash_secret(&code))
        .bind(application_id.as_str())
        .bind(grant_id.as_str())
        .bind(scope)
        .bind(now)
        .bind(now + crate::auth_flows::CODE_LIFETIME_SECS)
        .execute(&self.pool)
        .await?;
        Ok(code)
    }

    /// A live access token.
    pub async fn access_token(&self, token: &str) -> Result<Option<AccessTokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT application_id, grant_id, scope, created_at, expires_at FROM oauth_tokens \
             WHERE token_hash = $1 AND kind = 'access' AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(hash_secret(token))
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(AccessTokenRecord {
            application_id: ApplicationId::from_stored(row.try_get("application_id")?),
            grant_id: GrantId::from_stored(row.try_get("grant_id")?),
            scope: parse_scope(&row.try_get::<String, _>("scope")?)?,
            issued_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Revokes a token (access or refresh token, or code) and every token issued from
    /// it; the grant stays. False if there is no such token.
    pub async fn revoke_token(&self, token: &str) -> Result<bool, StoreError> {
        let hash = hash_secret(token);
        let known = sqlx::query("SELECT 1 FROM oauth_tokens WHERE token_hash = $1")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        if known {
            self.revoke_chain(&hash).await?;
        }
        Ok(known)
    }

    async fn redeemable(
        &self,
        spendable: Spendable,
        secret: &str,
    ) -> Result<Option<Redeemable>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, application_id, grant_id, redirect_uri, code_challenge, \
                 code_challenge_method, access_type, scope, expires_at, used_at, revoked_at \
             FROM oauth_tokens WHERE token_hash = $1 AND kind = $2",
        )
        .bind(hash_secret(secret))
        .bind(spendable.kind())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Redeemable {
            spendable,
            hash: row.try_get("token_hash")?,
            application_id: ApplicationId::from_stored(row.try_get("application_id")?),
            grant_id: GrantId::from_stored(row.try_get("grant_id")?),
            redirect_uri: row.try_get("redirect_uri")?,
            code_challenge: row.try_get("code_challenge")?,
            code_challenge_method: row.try_get("code_challenge_method")?,
            access_type: row.try_get("access_type")?,
            scope: row.try_get("scope")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            revoked_at: row.try_get("revoked_at")?,
        }))
    }

    /// Refuses a code or refresh token that was revoked, has expired or was used. One
    /// that was used is being replayed: what its use issued is revoked.
    async fn refuse_spent(&self, token: &Redeemable) -> Result<(), TokenError> {
        let what = token.spendable.name();
        if token.revoked_at.is_some() {
            return Err(invalid(format!("the {what} has been revoked")));
        }
        if token.used_at.is_some() {
            return Err(self.replayed(token).await);
        }
        if token.expires_at <= unix_now() {
            return Err(invalid(format!("the {what} has expired")));
        }
        Ok(())
    }

    async fn replayed(&self, token: &Redeemable) -> TokenError {
        let what = token.spendable.name();
        tracing::warn!(
            grant_id = %token.grant_id,
            "a used {what} was presented again; revoking the tokens issued for it"
        );
        if let Err(e) = self.revoke_chain(&token.hash).await {
            return e.into();
        }
        invalid(format!(
            "the {what} was already used; the tokens issued for it are revoked"
        ))
    }

    /// Marks `parent` used and issues what it yields, in one transaction; if another
    /// request spent it first, this one is a replay.
    async fn spend_and_issue(
        &self,
        parent: &Redeemable,
        with_refresh_token: bool,
        access_lifetime_secs: i64,
    ) -> Result<IssuedTokens, TokenError> {
        let now = unix_now();
        let mut tx = self.begin_write().await?;
        let spent = sqlx::query(
            "UPDATE oauth_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&parent.hash)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(self.replayed(parent).await);
        }
        let access_token = generate_secret(ACCESS_TOKEN_PREFIX);
        let expires_at = now + access_lifetime_secs;
        insert_child(&mut tx, parent, "access", &access_token, now, expires_at).await?;
        let refresh_token = if with_refresh_token {
            let token = generate_secret(REFRESH_TOKEN_PREFIX);
            let refresh_expires_at = now + REFRESH_TOKEN_LIFETIME_SECS;
            insert_child(&mut tx, parent, "refresh", &token, now, refresh_expires_at).await?;
            Some(token)
        } else {
            None
        };
        tx.commit().await?;
        Ok(IssuedTokens {
            application_id: parent.application_id.clone(),
            grant_id: parent.grant_id.clone(),
            scope: parse_scope(&parent.scope)?,
            access_token,
            refresh_token,
            issued_at: now,
            expires_at,
        })
    }

    /// Revokes the token with this hash and, transitively, every token issued from it.
    async fn revoke_chain(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $1 \
             WHERE revoked_at IS NULL AND token_hash IN ( \
                 WITH RECURSIVE chain(h) AS ( \
                     SELECT CAST($2 AS TEXT) \
                     UNION SELECT t.token_hash FROM oauth_tokens t JOIN chain ON t.parent_hash = chain.h \
                 ) SELECT h FROM chain)",
        )
        .bind(unix_now())
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A token issued from `parent`, for the same client, grant, scopes and access type.
async fn insert_child(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    parent: &Redeemable,
    kind: &str,
    secret: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oauth_tokens (token_hash, kind, application_id, grant_id, access_type, \
             scope, parent_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(hash_secret(secret))
    .bind(kind)
    .bind(parent.application_id.as_str())
    .bind(parent.grant_id.as_str())
    .bind(&parent.access_type)
    .bind(&parent.scope)
    .bind(&parent.hash)
    .bind(created_at)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn parse_scope(json: &str) -> Result<Vec<Scope>, StoreError> {
    serde_json::from_str(json).map_err(StoreError::corrupt)
}

// Codes, verifiers and tokens stay out of `Debug`, so that no log line can carry them.
impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("application_id", &self.application_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("application_id", &self.application_id)
            .field("grant_id", &self.grant_id)
            .field("scope", &self.scope)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
