//! Grants: one connected mailbox per email per application. Credentials are sealed with
//! the store's secret box before they are written and never leave it unsealed except
//! through `grant_credentials`.

use mailroom_model::{
    ApplicationId, EmailAddress, GrantId, MailCredentials, MailServerSettings, Provider, Scope,
    time::unix_now, v3::GrantStatus,
};
use sqlx::Row;

use mailroom_model::v3::webhook::TriggerType;
use serde_json::json;

use crate::{
    error::StoreError,
    grant_notices::record_grant_notice,
    open::Store,
    sql_filter::{Bind, SqlFilter},
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
    /// `None` keeps the scopes of an existing grant (a new one gets all: `[]`).
    pub scope: Option<&'a [Scope]>,
    pub settings: &'a MailServerSettings,
    pub credentials: &'a MailCredentials,
    pub state: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantUpsert {
    Created,
    Reauthenticated,
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

const COLUMNS: &str = "id, application_id, provider, email, name, grant_status, scope, settings, \
                       state, ip, user_agent, created_at, updated_at";

impl Store {
    /// Creates the grant for this email, or re-authenticates the existing one (same id,
    /// new credentials, valid again). One statement, so concurrent sign-ins of the same
    /// email cannot create two grants; `grant.created` or `grant.updated` is recorded with
    /// it.
    pub async fn upsert_grant(
        &self,
        write: GrantWrite<'_>,
    ) -> Result<(GrantRecord, GrantUpsert), StoreError> {
        let new_id = GrantId::generate();
        let now = unix_now();
        let scope = write.scope.map(scope_json).transpose()?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO grants (id, application_id, provider, email, name, grant_status, scope, \
                                 settings, credentials, state, ip, user_agent, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'valid', COALESCE($6, '[]'), $7, $8, $9, $10, $11, $12, $12) \
             ON CONFLICT (application_id, email) DO UPDATE SET \
                 provider = excluded.provider, \
                 name = COALESCE(excluded.name, grants.name), \
                 grant_status = 'valid', \
                 scope = COALESCE($6, grants.scope), \
                 settings = excluded.settings, \
                 credentials = excluded.credentials, \
                 state = COALESCE(excluded.state, grants.state), \
                 ip = COALESCE(excluded.ip, grants.ip), \
                 user_agent = COALESCE(excluded.user_agent, grants.user_agent), \
                 updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(new_id.as_str())
        .bind(write.application_id.as_str())
        .bind(write.provider.as_str())
        .bind(write.email.as_str())
        .bind(write.name)
        .bind(scope)
        .bind(settings_json(write.settings)?)
        .bind(self.seal_credentials(write.credentials)?)
        .bind(write.state)
        .bind(write.ip)
        .bind(write.user_agent)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id = GrantId::from_stored(row.try_get("id")?);
        let outcome = if id == new_id {
            GrantUpsert::Created
        } else {
            GrantUpsert::Reauthenticated
        };
        match outcome {
            GrantUpsert::Created => {
                let login = json!({"login_id": write.email.as_str()});
                record_grant_notice(&mut tx, &id, TriggerType::GrantCreated, login).await?
            }
            GrantUpsert::Reauthenticated => {
                let flag = json!({"reauthentication_flag": true});
                record_grant_notice(&mut tx, &id, TriggerType::GrantUpdated, flag).await?
            }
        }
        tx.commit().await?;
        let record = self
            .grant(write.application_id, &id)
            .await?
            .ok_or_else(|| StoreError::corrupt("grant vanished right after it was written"))?;
        Ok((record, outcome))
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
        let changed = sqlx::query(
            "UPDATE grants SET grant_status = $1, updated_at = $2 WHERE id = $3 AND grant_status <> $1",
        )
        .bind(GrantStatus::Invalid.as_str())
        .bind(unix_now())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() > 0 {
            record_grant_notice(&mut tx, id, TriggerType::GrantExpired, json!({})).await?;
        }
        tx.commit().await?;
        Ok(())
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

    pub async fn grant_credentials(&self, id: &GrantId) -> Result<MailCredentials, StoreError> {
        let row = sqlx::query("SELECT credentials FROM grants WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        let sealed: String = row.try_get("credentials")?;
        let plain = self.secrets.open(&sealed)?;
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
    /// also makes it valid again. `None` if there is no such grant.
    pub async fn update_grant(
        &self,
        application_id: &ApplicationId,
        id: &GrantId,
        update: GrantUpdate<'_>,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let settings = update.settings.map(settings_json).transpose()?;
        let credentials = update
            .credentials
            .map(|c| self.seal_credentials(c))
            .transpose()?;
        let scope = update.scope.map(scope_json).transpose()?;
        let status = update.status.map(GrantStatus::as_str);
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE grants SET settings = COALESCE($1, settings), credentials = COALESCE($2, credentials), \
                 scope = COALESCE($3, scope), name = COALESCE($4, name), \
                 grant_status = COALESCE($5, grant_status), updated_at = $6 \
             WHERE application_id = $7 AND id = $8",
        )
        .bind(settings)
        .bind(credentials)
        .bind(scope)
        .bind(update.name)
        .bind(status)
        .bind(unix_now())
        .bind(application_id.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() > 0 {
            let flag = json!({"reauthentication_flag": update.credentials.is_some()});
            record_grant_notice(&mut tx, id, TriggerType::GrantUpdated, flag).await?;
        }
        tx.commit().await?;
        self.grant(application_id, id).await
    }

    pub async fn delete_grant(
        &self,
        application_id: &ApplicationId,
        id: &GrantId,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
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

    fn seal_credentials(&self, credentials: &MailCredentials) -> Result<String, StoreError> {
        let plain = serde_json::to_vec(credentials).map_err(StoreError::corrupt)?;
        Ok(self.secrets.seal(&plain))
    }
}

/// The parts of a grant `update_grant` may change; `None` leaves a part as it is.
#[derive(Default)]
pub struct GrantUpdate<'a> {
    pub settings: Option<&'a MailServerSettings>,
    pub credentials: Option<&'a MailCredentials>,
    pub scope: Option<&'a [Scope]>,
    pub name: Option<&'a str>,
    pub status: Option<GrantStatus>,
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
        state: row.try_get("state")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
