//! Grants: one connected mailbox per email per application. Credentials are sealed with
//! the store's secret box before they are written and never leave it unsealed except
//! through `grant_secret`.

use mailroom_model::{
    ApplicationId, EmailAddress, GrantId, GrantSecret, MailServerSettings, OAuthTokens, Provider,
    Scope,
    time::{unix_millis, unix_now},
    v3::GrantStatus,
};
use sqlx::{Any, Row, Transaction};

use mailroom_model::v3::webhook::TriggerType;
use serde_json::json;

use crate::{
    error::StoreError,
    grant_notices::record_grant_notice,
    grant_reset::{empty_grant_index, revoke_grant_tokens},
    open::{Engine, Store},
    secret_hash::hash_secret,
    sql_filter::{Bind, SqlFilter},
    sync_status::UPSERT_SYNC_STATUS,
};

#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub id: GrantId,
    pub application_id: ApplicationId,
    pub provider: Provider,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub status: GrantStatus,
    pub scope: Vec<Scope>,
    pub settings: MailServerSettings,
    /// Whether the servers belong to the email's domain, so that signing in to them
    /// proved the address.
    pub email_verified: bool,
    pub state: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating or re-authenticating a grant writes.
pub struct GrantWrite<'a> {
    pub application_id: &'a ApplicationId,
    pub provider: Provider,
    pub email: &'a EmailAddress,
    pub name: Option<&'a str>,
    pub scope: GrantScope<'a>,
    pub settings: &'a MailServerSettings,
    pub credentials: &'a GrantSecret,
    /// Whether the servers belong to the email's domain.
    pub email_verified: bool,
    /// The most grants the application may have; a new grant beyond it is refused.
    pub max_grants: i64,
    pub state: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The scopes a grant write asks for.
#[derive(Debug, Clone, Copy)]
pub enum GrantScope<'a> {
    /// A new grant gets every scope (`[]`); an existing one keeps its own.
    Unchanged,
    /// Exactly these (the application's own choice, made with its API key).
    Set(&'a [Scope]),
    /// A sign-in link's: a new grant gets them; an existing one keeps only what it
    /// already had among them, so that a link never widens a grant.
    AtMost(&'a [Scope]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantUpsert {
    Created,
    /// The existing grant, with the credentials just proven. `credentials_changed` says
    /// whether they (password or username) differ from the stored ones (its tokens were
    /// then revoked).
    Reauthenticated {
        credentials_changed: bool,
    },
}

/// Why a grant write was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefused {
    /// The email already has a grant on other servers: re-authentication never moves a
    /// mailbox (an application moves one with `update_grant` and the new password).
    ServersDiffer { grant_id: GrantId },
    /// The application has as many grants as it may.
    TooManyGrants { limit: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantOrder {
    Asc,
    Desc,
}

/// Filters and paging of `GET /v3/grants`.
#[derive(Debug, Clone)]
pub struct GrantListQuery {
    pub limit: i64,
    pub offset: i64,
    pub email: Option<String>,
    pub status: Option<GrantStatus>,
    pub provider: Option<Provider>,
    pub ip: Option<String>,
    pub ids: Vec<GrantId>,
    pub created_since: Option<i64>,
    pub created_before: Option<i64>,
    pub sort_by: SortField,
    pub order: GrantOrder,
}

/// What grant credentials are sealed as (with the grant's id), see [`SecretBox::seal_bound`].
///
/// [`SecretBox::seal_bound`]: crate::SecretBox::seal_bound
pub(crate) const GRANT_CREDENTIALS_PURPOSE: &str = "grant credentials";

const COLUMNS: &str = "id, application_id, provider, email, name, grant_status, scope, settings, \
                       email_verified, state, ip, user_agent, created_at, updated_at";

impl Store {
    /// Creates the grant for this email, or re-authenticates the existing one (same id,
    /// same servers, the usernames and passwords just proven, valid again), with `grant.created` or
    /// `grant.updated` recorded in the same transaction. Credentials that differ from the
    /// stored ones revoke every token of the grant.
    pub async fn upsert_grant(
        &self,
        write: GrantWrite<'_>,
    ) -> Result<Result<(GrantRecord, GrantUpsert), GrantRefused>, StoreError> {
        let now = unix_now();
        let settings = settings_json(write.settings)?;
        let mut tx = self.begin_write().await?;
        // Grant writes of one application queue on its row in PostgreSQL, so that two
        // sign-ins of one email cannot both create, nor two creations both pass the
        // count (SQLite's single write lock does the same).
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT id FROM applications WHERE id = $1 FOR UPDATE")
                .bind(write.application_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        }
        let existing = sqlx::query(
            "SELECT id, scope, settings, credentials FROM grants \
             WHERE application_id = $1 AND email = $2",
        )
        .bind(write.application_id.as_str())
        .bind(write.email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let (id, outcome) = match existing {
            None => {
                let count: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM grants WHERE application_id = $1")
                        .bind(write.application_id.as_str())
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                if count >= write.max_grants {
                    return Ok(Err(GrantRefused::TooManyGrants {
                        limit: write.max_grants,
                    }));
                }
                let scope = match write.scope {
                    GrantScope::Unchanged => Vec::new(),
                    GrantScope::Set(scope) | GrantScope::AtMost(scope) => scope.to_vec(),
                };
                let id = GrantId::generate();
                let sealed = self.seal_credentials(&id, write.credentials)?;
                sqlx::query(
                    "INSERT INTO grants (id, application_id, provider, email, name, grant_status, \
                         scope, settings, credentials, email_verified, state, ip, user_agent, \
                         created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'valid', $6, $7, $8, $9, $10, $11, $12, $13, $13)",
                )
                .bind(id.as_str())
                .bind(write.application_id.as_str())
                .bind(write.provider.as_str())
                .bind(write.email.as_str())
                .bind(write.name)
                .bind(scope_json(&scope)?)
                .bind(&settings)
                .bind(&sealed)
                .bind(i64::from(write.email_verified))
                .bind(write.state)
                .bind(write.ip)
                .bind(write.user_agent)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let login = json!({"login_id": write.email.as_str()});
                record_grant_notice(&mut tx, &id, TriggerType::GrantCreated, login).await?;
                (id, GrantUpsert::Created)
            }
            Some(row) => {
                let id = GrantId::from_stored(row.try_get("id")?);
                let stored: MailServerSettings =
                    serde_json::from_str(&row.try_get::<String, _>("settings")?)
                        .map_err(StoreError::corrupt)?;
                if !stored.same_servers(write.settings) {
                    return Ok(Err(GrantRefused::ServersDiffer { grant_id: id }));
                }
                let stored_scope: Vec<Scope> =
                    serde_json::from_str(&row.try_get::<String, _>("scope")?)
                        .map_err(StoreError::corrupt)?;
                let scope = match write.scope {
                    GrantScope::Unchanged => stored_scope,
                    GrantScope::Set(scope) => scope.to_vec(),
                    // Nothing in common keeps the grant as it was: the link cannot empty
                    // it either ([] would mean every scope).
                    GrantScope::AtMost(scope) => {
                        Scope::narrowed(&stored_scope, scope).unwrap_or(stored_scope)
                    }
                };
                // A new username is a new login as much as a new password.
                let sealed = self.seal_credentials(&id, write.credentials)?;
                let credentials_changed = stored != *write.settings
                    || self
                        .open_credentials(&id, &row.try_get::<String, _>("credentials")?)
                        .map(|stored| !stored.same_login(write.credentials))
                        .unwrap_or(true);
                sqlx::query(
                    "UPDATE grants SET provider = $1, name = COALESCE($2, name), \
                         grant_status = 'valid', scope = $3, credentials = $4, \
                         email_verified = $5, state = COALESCE($6, state), ip = COALESCE($7, ip), \
                         user_agent = COALESCE($8, user_agent), updated_at = $9, settings = $11, \
                         token_refresh_until = 0 \
                     WHERE id = $10",
                )
                .bind(write.provider.as_str())
                .bind(write.name)
                .bind(scope_json(&scope)?)
                .bind(&sealed)
                .bind(i64::from(write.email_verified))
                .bind(write.state)
                .bind(write.ip)
                .bind(write.user_agent)
                .bind(now)
                .bind(id.as_str())
                .bind(&settings)
                .execute(&mut *tx)
                .await?;
                if credentials_changed {
                    revoke_grant_tokens(&mut tx, &id).await?;
                }
                let flag = json!({"reauthentication_flag": true});
                record_grant_notice(&mut tx, &id, TriggerType::GrantUpdated, flag).await?;
                (
                    id,
                    GrantUpsert::Reauthenticated {
                        credentials_changed,
                    },
                )
            }
        };
        tx.commit().await?;
        let record = self
            .grant(write.application_id, &id)
            .await?
            .ok_or_else(|| StoreError::corrupt("grant vanished right after it was written"))?;
        Ok(Ok((record, outcome)))
    }

    /// A grant of this application.
    pub async fn grant(
        &self,
        application_id: &ApplicationId,
        id: &GrantId,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grants WHERE application_id = $1 AND id = $2"
        ))
        .bind(application_id.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// The grant with this id of the application whose live API key this is, in one
    /// round trip: what most requests of an application start with. `None` when the key
    /// is unknown or revoked or the grant is not the key's application's (the caller
    /// then tells which, by [`Store::application_for_api_key`] and [`Store::grant`]).
    pub async fn grant_for_api_key(
        &self,
        key: &str,
        id: &GrantId,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grants WHERE id = $1 AND application_id = \
             (SELECT application_id FROM api_keys WHERE key_hash = $2 AND revoked_at IS NULL)"
        ))
        .bind(id.as_str())
        .bind(hash_secret(key))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// The application's grant for an email address, if it has one.
    pub async fn grant_by_email(
        &self,
        application_id: &ApplicationId,
        email: &EmailAddress,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grants WHERE application_id = $1 AND email = $2"
        ))
        .bind(application_id.as_str())
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// A grant by id alone, for the sync engine.
    pub async fn grant_by_id(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM grants WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Marks a valid grant invalid because its server refused the credentials, with a
    /// `grant.expired` notification; an already invalid grant is left as it is.
    pub async fn expire_grant(&self, id: &GrantId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        mark_invalid(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The mail server refused the grant's credentials: the grant becomes `invalid`
    /// (firing `grant.expired` once) and so does its sync state, in one write, so that
    /// no reader sees one without the other.
    pub async fn invalidate_grant(&self, id: &GrantId, error: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        mark_invalid(&mut tx, id).await?;
        sqlx::query(UPSERT_SYNC_STATUS)
            .bind(id.as_str())
            .bind(mailroom_model::SyncState::Invalid.as_str())
            .bind(0_i64)
            .bind(0_i64)
            .bind(0_i64)
            .bind(error)
            .bind(unix_now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims the refresh of the grant's access token for `hold_millis`, unless another
    /// caller (in this process or another node) holds the claim: of many callers that
    /// find the token stale, one asks the provider and the others wait for its result.
    pub async fn claim_token_refresh(
        &self,
        id: &GrantId,
        hold_millis: i64,
    ) -> Result<bool, StoreError> {
        let now = unix_millis();
        let claimed = sqlx::query(
            "UPDATE grants SET token_refresh_until = $1 WHERE id = $2 AND token_refresh_until < $3",
        )
        .bind(now + hold_millis)
        .bind(id.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() > 0)
    }

    /// Ends a refresh claim, storing the tokens it obtained if it did, so that the
    /// callers waiting on it find them. Writing under the grant's lock keeps a token
    /// from a refresh that began before a re-authentication from overwriting the
    /// re-authentication's (whose write resets the claim).
    pub async fn finish_token_refresh(
        &self,
        id: &GrantId,
        refreshed: Option<&OAuthTokens>,
    ) -> Result<(), StoreError> {
        let sealed = refreshed
            .map(|tokens| self.seal_credentials(id, &GrantSecret::OAuth(tokens.clone())))
            .transpose()?;
        // Not fenced by a sync actor's lease: the tokens are the grant's credentials,
        // not its index, and a refresh that happened must be kept whoever syncs the
        // grant now (the provider may have rotated the refresh token it replaced).
        let mut unfenced = self.clone();
        unfenced.fence = None;
        let mut tx = unfenced.begin_grant_write(id).await?;
        sqlx::query(
            "UPDATE grants SET credentials = COALESCE($1, credentials), token_refresh_until = 0 \
             WHERE id = $2 AND token_refresh_until > 0",
        )
        .bind(sealed)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes every code and token of the grant (v2's `revoke-all`); returns how many.
    pub async fn revoke_all_grant_tokens(&self, id: &GrantId) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let revoked = revoke_grant_tokens(&mut tx, id).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Every grant of every application, for the operator's CLI.
    pub async fn all_grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grants ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Every valid grant, for the sync engine to start on boot.
    pub async fn valid_grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grants WHERE grant_status = 'valid' ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Every valid grant's id and `updated_at`, oldest first: what the sync engine's
    /// ownership rounds need, without the rest of each row.
    pub async fn valid_grant_versions(&self) -> Result<Vec<(GrantId, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, updated_at FROM grants WHERE grant_status = 'valid' ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    GrantId::from_stored(row.try_get("id")?),
                    row.try_get("updated_at")?,
                ))
            })
            .collect()
    }

    pub async fn grant_secret(&self, id: &GrantId) -> Result<GrantSecret, StoreError> {
        let row = sqlx::query("SELECT credentials FROM grants WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        self.open_credentials(id, &row.try_get::<String, _>("credentials")?)
    }

    /// Opens a grant's credentials, sealed for that grant alone (or in the first format,
    /// bound to no grant, until a key rotation seals them again).
    fn open_credentials(&self, id: &GrantId, sealed: &str) -> Result<GrantSecret, StoreError> {
        let plain = self
            .secrets
            .open_bound(GRANT_CREDENTIALS_PURPOSE, id.as_str(), sealed)?;
        serde_json::from_slice(&plain).map_err(StoreError::corrupt)
    }

    pub async fn list_grants(
        &self,
        application_id: &ApplicationId,
        query: &GrantListQuery,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let mut filter = SqlFilter::default();
        filter.compare(
            "application_id",
            "=",
            Bind::Text(application_id.to_string()),
        );
        if let Some(email) = &query.email {
            filter.compare("email", "=", Bind::Text(email.trim().to_lowercase()));
        }
        if let Some(status) = query.status {
            filter.compare("grant_status", "=", Bind::Text(status.as_str().into()));
        }
        if let Some(provider) = query.provider {
            filter.compare("provider", "=", Bind::Text(provider.as_str().into()));
        }
        if let Some(ip) = &query.ip {
            filter.compare("ip", "=", Bind::Text(ip.clone()));
        }
        if let Some(since) = query.created_since {
            filter.compare("created_at", ">=", Bind::Int(since));
        }
        if let Some(before) = query.created_before {
            filter.compare("created_at", "<", Bind::Int(before));
        }
        if !query.ids.is_empty() {
            let placeholders: Vec<String> = query
                .ids
                .iter()
                .map(|id| filter.placeholder(Bind::Text(id.to_string())))
                .collect();
            filter.clause(format!("id IN ({})", placeholders.join(", ")));
        }
        let column = match query.sort_by {
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
        };
        let order = match query.order {
            GrantOrder::Asc => "ASC",
            GrantOrder::Desc => "DESC",
        };
        let where_sql = filter.where_sql();
        let limit = filter.placeholder(Bind::Int(query.limit));
        let offset = filter.placeholder(Bind::Int(query.offset));
        let sql = format!(
            "SELECT {COLUMNS} FROM grants{where_sql} ORDER BY {column} {order}, id {order} \
             LIMIT {limit} OFFSET {offset}"
        );
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Changes a grant's settings, credentials, scopes or name; a change of credentials
    /// also makes it valid again. New credentials revoke every token of the grant; new
    /// servers also empty its index, for the next sync to start afresh (the caller stops
    /// the grant's sync first). `None` if there is no such grant.
    pub async fn update_grant(
        &self,
        application_id: &ApplicationId,
        id: &GrantId,
        update: GrantUpdate<'_>,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let settings = update.settings.map(settings_json).transpose()?;
        let credentials = update
            .credentials
            .map(|c| self.seal_credentials(id, c))
            .transpose()?;
        let scope = update.scope.map(scope_json).transpose()?;
        let status = update.status.map(GrantStatus::as_str);
        let mut tx = self.begin_grant_write(id).await?;
        let current = sqlx::query(
            "SELECT settings, credentials FROM grants WHERE application_id = $1 AND id = $2",
        )
        .bind(application_id.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            return Ok(None);
        };
        // (settings changed at all, servers changed)
        let (settings_changed, servers_changed) = match update.settings {
            Some(new) => {
                let stored: MailServerSettings =
                    serde_json::from_str(&current.try_get::<String, _>("settings")?)
                        .map_err(StoreError::corrupt)?;
                (stored != *new, !stored.same_servers(new))
            }
            None => (false, false),
        };
        let credentials_changed = match update.credentials {
            Some(new) => self
                .open_credentials(id, &current.try_get::<String, _>("credentials")?)
                .map(|stored| !stored.same_login(new))
                .unwrap_or(true),
            None => false,
        };
        sqlx::query(
            "UPDATE grants SET settings = COALESCE($1, settings), credentials = COALESCE($2, credentials), \
                 scope = COALESCE($3, scope), name = COALESCE($4, name), \
                 grant_status = COALESCE($5, grant_status), \
                 email_verified = COALESCE($6, email_verified), updated_at = $7 \
             WHERE application_id = $8 AND id = $9",
        )
        .bind(settings)
        .bind(credentials)
        .bind(scope)
        .bind(update.name)
        .bind(status)
        .bind(update.email_verified.map(i64::from))
        .bind(unix_now())
        .bind(application_id.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if settings_changed || credentials_changed {
            revoke_grant_tokens(&mut tx, id).await?;
        }
        if servers_changed {
            empty_grant_index(&mut tx, id).await?;
            // Fences off the old mailbox's sync wherever it runs: its writes check the
            // epoch (`grant_leases`), so none lands in the emptied index.
            sqlx::query("UPDATE grant_leases SET epoch = epoch + 1 WHERE grant_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let flag = json!({"reauthentication_flag": update.credentials.is_some()});
        record_grant_notice(&mut tx, id, TriggerType::GrantUpdated, flag).await?;
        tx.commit().await?;
        self.grant(application_id, id).await
    }

    pub async fn delete_grant(
        &self,
        application_id: &ApplicationId,
        id: &GrantId,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_grant_write(id).await?;
        let owned =
            sqlx::query("SELECT 1 AS one FROM grants WHERE application_id = $1 AND id = $2")
                .bind(application_id.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            return Ok(false);
        }
        // Recorded first: the notice reads the grant, which the deletion removes.
        record_grant_notice(&mut tx, id, TriggerType::GrantDeleted, json!({})).await?;
        let result = sqlx::query("DELETE FROM grants WHERE application_id = $1 AND id = $2")
            .bind(application_id.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(result.rows_affected() > 0)
    }

    /// Seals credentials for this grant alone: copied into another grant's row, they do
    /// not open.
    fn seal_credentials(
        &self,
        id: &GrantId,
        credentials: &GrantSecret,
    ) -> Result<String, StoreError> {
        let plain = serde_json::to_vec(credentials).map_err(StoreError::corrupt)?;
        Ok(self
            .secrets
            .seal_bound(GRANT_CREDENTIALS_PURPOSE, id.as_str(), &plain))
    }
}

/// The parts of a grant `update_grant` may change; `None` leaves a part as it is.
#[derive(Default)]
pub struct GrantUpdate<'a> {
    pub settings: Option<&'a MailServerSettings>,
    pub credentials: Option<&'a GrantSecret>,
    pub scope: Option<&'a [Scope]>,
    pub name: Option<&'a str>,
    pub status: Option<GrantStatus>,
    pub email_verified: Option<bool>,
}

fn settings_json(settings: &MailServerSettings) -> Result<String, StoreError> {
    serde_json::to_string(settings).map_err(StoreError::corrupt)
}

fn scope_json(scope: &[Scope]) -> Result<String, StoreError> {
    serde_json::to_string(scope).map_err(StoreError::corrupt)
}

fn grant_from_row(row: &sqlx::any::AnyRow) -> Result<GrantRecord, StoreError> {
    let provider: String = row.try_get("provider")?;
    let status: String = row.try_get("grant_status")?;
    let scope: String = row.try_get("scope")?;
    let settings: String = row.try_get("settings")?;
    Ok(GrantRecord {
        id: GrantId::from_stored(row.try_get("id")?),
        application_id: ApplicationId::from_stored(row.try_get("application_id")?),
        provider: provider.parse().map_err(StoreError::corrupt)?,
        email: EmailAddress::from_stored(row.try_get("email")?),
        name: row.try_get("name")?,
        status: GrantStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt(format!("grant status '{status}'")))?,
        scope: serde_json::from_str(&scope).map_err(StoreError::corrupt)?,
        settings: serde_json::from_str(&settings).map_err(StoreError::corrupt)?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        state: row.try_get("state")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Makes the grant `invalid`, firing `grant.expired` when it was not already.
async fn mark_invalid(tx: &mut Transaction<'_, Any>, id: &GrantId) -> Result<(), StoreError> {
    let changed = sqlx::query(
        "UPDATE grants SET grant_status = $1, updated_at = $2 WHERE id = $3 AND grant_status <> $1",
    )
    .bind(GrantStatus::Invalid.as_str())
    .bind(unix_now())
    .bind(id.as_str())
    .execute(&mut **tx)
    .await?;
    if changed.rows_affected() > 0 {
        record_grant_notice(tx, id, TriggerType::GrantExpired, json!({})).await?;
    }
    Ok(())
}
