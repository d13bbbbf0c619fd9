//! Message templates (docs/API.md §5.10): an application's own, or one of its grants'.
//! Each is read, changed and deleted only through its owner: the application's through
//! the application, a grant's through that grant. A send may use either, the grant's
//! own or its application's.

use mailroom_model::{ApplicationId, GrantId, TemplateId, time::unix_now, v3::TemplateEngine};
use sqlx::{
    Any, Row,
    any::{AnyArguments, AnyRow},
    query::Query,
};

use crate::{error::StoreError, open::Store};

/// The most templates one owner (an application, or a grant) may hold.
pub const MAX_TEMPLATES_PER_OWNER: i64 = 1000;

/// Whose templates: the application's own, or one grant's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateOwner {
    Application(ApplicationId),
    Grant {
        application_id: ApplicationId,
        grant_id: GrantId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    pub id: TemplateId,
    pub application_id: ApplicationId,
    /// `None` for the application's own templates.
    pub grant_id: Option<GrantId>,
    pub name: String,
    pub subject: String,
    pub body: String,
    pub engine: TemplateEngine,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A template to create, already checked to compile in its engine.
#[derive(Debug, Clone, Copy)]
pub struct NewTemplate<'a> {
    pub name: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub engine: TemplateEngine,
}

/// A partial update: `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct TemplateChange {
    pub name: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub engine: Option<TemplateEngine>,
}

/// What creating a template came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateCreation {
    Created(TemplateRecord),
    /// The owner already holds [`MAX_TEMPLATES_PER_OWNER`].
    OverQuota(String),
}

const COLUMNS: &str =
    "id, application_id, grant_id, name, subject, body, engine, created_at, updated_at";

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

impl TemplateOwner {
    /// The condition that confines a query to this owner's templates, over `$1` and, for
    /// a grant, `$2`.
    fn condition(&self) -> &'static str {
        match self {
            TemplateOwner::Application(_) => "application_id = $1 AND grant_id IS NULL",
            TemplateOwner::Grant { .. } => "application_id = $1 AND grant_id = $2",
        }
    }

    /// The number of the first placeholder after [`TemplateOwner::condition`]'s.
    fn next_param(&self) -> usize {
        match self {
            TemplateOwner::Application(_) => 2,
            TemplateOwner::Grant { .. } => 3,
        }
    }

    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            TemplateOwner::Application(application_id) => query.bind(application_id.as_str()),
            TemplateOwner::Grant {
                application_id,
                grant_id,
            } => query.bind(application_id.as_str()).bind(grant_id.as_str()),
        }
    }

    fn application_id(&self) -> &ApplicationId {
        match self {
            TemplateOwner::Application(application_id) => application_id,
            TemplateOwner::Grant { application_id, .. } => application_id,
        }
    }

    fn grant_id(&self) -> Option<&GrantId> {
        match self {
            TemplateOwner::Application(_) => None,
            TemplateOwner::Grant { grant_id, .. } => Some(grant_id),
        }
    }
}

impl Store {
    /// Adds a template unless its owner already holds the most allowed; the count and
    /// the insert are one transaction.
    pub async fn create_template(
        &self,
        owner: &TemplateOwner,
        new: &NewTemplate<'_>,
    ) -> Result<TemplateCreation, StoreError> {
        // Time-ordered: the id is also the template's place in its owner's list.
        let id = TemplateId::generate_time_ordered();
        let now = unix_now();
        let mut tx = self.begin_write().await?;
        let count_sql = format!(
            "SELECT COUNT(*) AS n FROM templates WHERE {}",
            owner.condition()
        );
        let held: i64 = owner
            .bind(sqlx::query(&count_sql))
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if held >= MAX_TEMPLATES_PER_OWNER {
            return Ok(TemplateCreation::OverQuota(format!(
                "this {} already holds {held} templates, the most allowed; delete one first",
                match owner {
                    TemplateOwner::Application(_) => "application",
                    TemplateOwner::Grant { .. } => "grant",
                }
            )));
        }
        sqlx::query(
            "INSERT INTO templates (id, application_id, grant_id, name, subject, body, engine, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.as_str())
        .bind(owner.application_id().as_str())
        .bind(owner.grant_id().map(GrantId::as_str))
        .bind(new.name)
        .bind(new.subject)
        .bind(new.body)
        .bind(new.engine.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(TemplateCreation::Created(TemplateRecord {
            id,
            application_id: owner.application_id().clone(),
            grant_id: owner.grant_id().cloned(),
            name: new.name.to_owned(),
            subject: new.subject.to_owned(),
            body: new.body.to_owned(),
            engine: new.engine,
            created_at: now,
            updated_at: now,
        }))
    }

    /// Up to `limit` of the owner's templates, oldest first, after the one `after` names.
    pub async fn list_templates(
        &self,
        owner: &TemplateOwner,
        after: Option<&TemplateId>,
        limit: i64,
    ) -> Result<Vec<TemplateRecord>, StoreError> {
        let n = owner.next_param();
        let rows = match after {
            Some(after) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM templates WHERE {} AND id > ${n} ORDER BY id LIMIT ${}",
                    owner.condition(),
                    n + 1
                );
                owner
                    .bind(sqlx::query(&sql))
                    .bind(after.as_str())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM templates WHERE {} ORDER BY id LIMIT ${n}",
                    owner.condition()
                );
                owner
                    .bind(sqlx::query(&sql))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(template_from_row).collect()
    }

    /// The owner's template `id`; `None` if it is another owner's or unknown.
    pub async fn template(
        &self,
        owner: &TemplateOwner,
        id: &TemplateId,
    ) -> Result<Option<TemplateRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM templates WHERE {} AND id = ${}",
            owner.condition(),
            owner.next_param()
        );
        let row = owner
            .bind(sqlx::query(&sql))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(template_from_row).transpose()
    }

    /// The template a send of `grant_id` names: the grant's own, or else its
    /// application's.
    pub async fn template_for_send(
        &self,
        application_id: &ApplicationId,
        grant_id: &GrantId,
        id: &TemplateId,
    ) -> Result<Option<TemplateRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM templates WHERE id = $1 AND application_id = $2 \
             AND (grant_id = $3 OR grant_id IS NULL)"
        ))
        .bind(id.as_str())
        .bind(application_id.as_str())
        .bind(grant_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(template_from_row).transpose()
    }

    /// Applies `change`; `None` if the owner has no such template.
    pub async fn update_template(
        &self,
        owner: &TemplateOwner,
        id: &TemplateId,
        change: &TemplateChange,
    ) -> Result<Option<TemplateRecord>, StoreError> {
        let n = owner.next_param();
        let sql = format!(
            "UPDATE templates SET name = COALESCE(${n}, name), subject = COALESCE(${}, subject), \
             body = COALESCE(${}, body), engine = COALESCE(${}, engine), updated_at = ${} \
             WHERE {} AND id = ${}",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            owner.condition(),
            n + 5
        );
        let done = owner
            .bind(sqlx::query(&sql))
            .bind(change.name.as_deref())
            .bind(change.subject.as_deref())
            .bind(change.body.as_deref())
            .bind(change.engine.map(TemplateEngine::as_str))
            .bind(unix_now())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.template(owner, id).await
    }

    /// Removes a template; whether the owner had it.
    pub async fn delete_template(
        &self,
        owner: &TemplateOwner,
        id: &TemplateId,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "DELETE FROM templates WHERE {} AND id = ${}",
            owner.condition(),
            owner.next_param()
        );
        let done = owner
            .bind(sqlx::query(&sql))
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

fn template_from_row(row: &AnyRow) -> Result<TemplateRecord, StoreError> {
    let engine: String = row.try_get("engine")?;
    let grant_id: Option<String> = row.try_get("grant_id")?;
    Ok(TemplateRecord {
        id: TemplateId::from_stored(row.try_get("id")?),
        application_id: ApplicationId::from_stored(row.try_get("application_id")?),
        grant_id: grant_id.map(GrantId::from_stored),
        name: row.try_get("name")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        engine: engine.parse().map_err(StoreError::corrupt)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
