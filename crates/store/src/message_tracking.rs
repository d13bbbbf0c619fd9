//! Open and link tracking (docs/API.md §5.2 and §6.2): the messages sent with
//! `tracking_options`, their links, and the hits on them, announced as `message.opened`
//! and `message.link_clicked` in Nylas's shapes. A hit names its message by the token in
//! the URL, which the store keeps only as a hash.

use std::collections::HashMap;

use mailroom_model::{GrantId, time::unix_now, v3::TriggerType};
use serde_json::{Value, json};
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::Store,
    secret_hash::{generate_secret, hash_secret},
    sql_filter::{Bind, SqlFilter},
    webhook_outbox::record_notifications,
};

/// A repeat from the same client within this many seconds is not counted again (Nylas
/// counts an image loaded several times within a minute as one open).
pub const TRACKING_REPEAT_WINDOW_SECS: i64 = 60;
/// At most this many hits of one message are announced per hour; more are counted but
/// not announced, so a flood of requests on a leaked URL cannot flood the webhooks.
pub const MAX_ANNOUNCED_HITS_PER_HOUR: i64 = 120;
/// How long a hit is kept for `recents` (the counts are kept for good).
pub const TRACKING_HIT_RETENTION_SECS: i64 = 90 * 86_400;
/// How many of the latest hits a notification lists in `recents`.
const RECENTS: i64 = 10;

/// A fresh token for a tracked message's URLs: 256 random bits, URL-safe.
pub fn generate_tracking_token() -> String {
    generate_secret("")
}

/// A message about to be sent with tracking.
#[derive(Debug, Clone)]
pub struct NewTrackedMessage<'a> {
    pub token: &'a str,
    pub grant_id: &'a GrantId,
    /// Without angle brackets.
    pub message_id_header: &'a str,
    pub label: Option<&'a str>,
    pub opens: bool,
    /// The original addresses of the rewritten links, by index (empty when links are
    /// not tracked).
    pub links: &'a [String],
    pub links_tracked: bool,
}

/// What a draft asks to be tracked when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftTracking {
    pub opens: bool,
    pub links: bool,
    pub label: Option<String>,
}

impl DraftTracking {
    /// As a message or draft shows it: `{opens, links, thread_replies, label}` (replies
    /// are announced whatever was asked).
    pub fn options_json(&self) -> Value {
        json!({
            "opens": self.opens,
            "links": self.links,
            "thread_replies": true,
            "label": self.label,
        })
    }
}

/// A request on a tracking URL.
#[derive(Debug, Clone)]
pub struct TrackingHit<'a> {
    pub token: &'a str,
    /// `None` for the image (an open), the link's index for a click.
    pub link: Option<i64>,
    /// Already anonymised.
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// What became of a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitOutcome {
    /// Counted and announced.
    Announced,
    /// Counted; not announced, the message's hourly share being used up.
    Counted,
    /// The same client within the repeat window: neither counted nor announced.
    Repeat,
    /// No tracked message (or link) has this token, or this kind is not tracked.
    Unknown,
}

impl Store {
    /// Records a message that is about to be sent with tracking.
    pub async fn track_message(&self, new: &NewTrackedMessage<'_>) -> Result<(), StoreError> {
        let token_hash = hash_secret(new.token);
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tracked_messages (token_hash, grant_id, message_id_header, label, \
                 opens, links, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token_hash)
        .bind(new.grant_id.as_str())
        .bind(new.message_id_header)
        .bind(new.label)
        .bind(i64::from(new.opens))
        .bind(i64::from(new.links_tracked))
        .bind(unix_now())
        .execute(&mut *tx)
        .await?;
        for (index, url) in new.links.iter().enumerate() {
            sqlx::query(
                "INSERT INTO tracked_links (token_hash, link_index, url) VALUES ($1, $2, $3)",
            )
            .bind(&token_hash)
            .bind(index as i64)
            .bind(url)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Keeps (or, with `None`, forgets) the tracking a draft asks for, by its Message-ID.
    pub async fn set_draft_tracking(
        &self,
        grant_id: &GrantId,
        message_id_header: &str,
        tracking: Option<&DraftTracking>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM draft_tracking WHERE grant_id = $1 AND message_id_header = $2")
            .bind(grant_id.as_str())
            .bind(message_id_header)
            .execute(&mut *tx)
            .await?;
        if let Some(tracking) = tracking {
            sqlx::query(
                "INSERT INTO draft_tracking (grant_id, message_id_header, opens, links, label, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(grant_id.as_str())
            .bind(message_id_header)
            .bind(i64::from(tracking.opens))
            .bind(i64::from(tracking.links))
            .bind(tracking.label.as_deref())
            .bind(unix_now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tracking a draft asks for, if any.
    pub async fn draft_tracking(
        &self,
        grant_id: &GrantId,
        message_id_header: &str,
    ) -> Result<Option<DraftTracking>, StoreError> {
        let row = sqlx::query(
            "SELECT opens, links, label FROM draft_tracking \
             WHERE grant_id = $1 AND message_id_header = $2",
        )
        .bind(grant_id.as_str())
        .bind(message_id_header)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(tracking_from_row(&row)?))
    }

    /// Forgets hits recorded before `before`; returns how many.
    pub async fn purge_tracking_hits(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM tracking_hits WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Forgets a tracked message whose send failed.
    pub async fn forget_tracked_message(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tracked_messages WHERE token_hash = $1")
            .bind(hash_secret(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The index id of a tracked message's copy in Sent, once the send knows it.
    pub async fn set_tracked_message_id(
        &self,
        token: &str,
        message_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tracked_messages SET message_id = $1 WHERE token_hash = $2")
            .bind(message_id)
            .bind(hash_secret(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Where tracked link `index` of the message with `token` leads.
    pub async fn tracked_link(
        &self,
        token: &str,
        index: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT l.url AS url FROM tracked_links l \
             JOIN tracked_messages t ON t.token_hash = l.token_hash \
             WHERE l.token_hash = $1 AND l.link_index = $2 AND t.links = 1",
        )
        .bind(hash_secret(token))
        .bind(index)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| row.try_get("url"))
            .transpose()
            .map_err(Into::into)
    }

    /// The tracking options a message was sent with, by its Message-ID header:
    /// `{opens, links, thread_replies, label}`, for `fields=include_tracking_options`.
    pub async fn tracking_options(
        &self,
        grant_id: &GrantId,
        message_id_header: &str,
    ) -> Result<Option<Value>, StoreError> {
        let row = sqlx::query(
            "SELECT opens, links, label FROM tracked_messages \
             WHERE grant_id = $1 AND message_id_header = $2 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(grant_id.as_str())
        .bind(message_id_header)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(tracking_from_row(&row)?.options_json()))
    }

    /// As [`Store::tracking_options`], for many messages at once (a page of a list):
    /// the options by Message-ID header, for those sent with tracking.
    pub async fn tracking_options_by_header(
        &self,
        grant_id: &GrantId,
        message_id_headers: &[&str],
    ) -> Result<HashMap<String, Value>, StoreError> {
        let mut options = HashMap::new();
        for chunk in message_id_headers.chunks(500) {
            let mut filter = SqlFilter::default();
            filter.compare("grant_id", "=", Bind::Text(grant_id.as_str().to_owned()));
            filter.one_of(
                "message_id_header",
                chunk.iter().map(|h| Bind::Text((*h).to_owned())),
            );
            // Oldest first: a Message-ID sent twice shows its latest options.
            let sql = format!(
                "SELECT message_id_header, opens, links, label FROM tracked_messages{} \
                 ORDER BY created_at",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                options.insert(
                    row.try_get("message_id_header")?,
                    tracking_from_row(&row)?.options_json(),
                );
            }
        }
        Ok(options)
    }

    /// Counts a hit and announces it, unless it repeats one from the same client within
    /// [`TRACKING_REPEAT_WINDOW_SECS`].
    pub async fn record_tracking_hit(
        &self,
        hit: &TrackingHit<'_>,
    ) -> Result<HitOutcome, StoreError> {
        let token_hash = hash_secret(hit.token);
        let Some(tracked) = sqlx::query(
            "SELECT grant_id, opens, links FROM tracked_messages WHERE token_hash = $1",
        )
        .bind(&token_hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(HitOutcome::Unknown);
        };
        let grant_id = GrantId::from_stored(tracked.try_get("grant_id")?);
        let kind_tracked: i64 =
            tracked.try_get(if hit.link.is_some() { "links" } else { "opens" })?;
        if kind_tracked != 1 {
            return Ok(HitOutcome::Unknown);
        }
        let (kind, link_index) = match hit.link {
            Some(index) => ("click", index),
            None => ("open", -1),
        };
        let client_key = hash_secret(&format!(
            "{}\n{}",
            hit.ip.unwrap_or_default(),
            hit.user_agent.unwrap_or_default()
        ));
        let now = unix_now();
        let counter = if hit.link.is_some() {
            "click_count"
        } else {
            "open_count"
        };
        let mut tx = self.begin_write().await?;
        // The count goes up first: on PostgreSQL that update holds the message's row
        // until commit, so a second hit of the same client at once waits here and then
        // sees the first in the repeat check (a repeat rolls the count back).
        sqlx::query(&format!(
            "UPDATE tracked_messages SET {counter} = {counter} + 1 WHERE token_hash = $1"
        ))
        .bind(&token_hash)
        .execute(&mut *tx)
        .await?;
        let repeat = sqlx::query(
            "SELECT 1 AS x FROM tracking_hits WHERE token_hash = $1 AND kind = $2 \
             AND link_index = $3 AND client_key = $4 AND at > $5 LIMIT 1",
        )
        .bind(&token_hash)
        .bind(kind)
        .bind(link_index)
        .bind(&client_key)
        .bind(now - TRACKING_REPEAT_WINDOW_SECS)
        .fetch_optional(&mut *tx)
        .await?;
        if repeat.is_some() {
            return Ok(HitOutcome::Repeat);
        }
        if let Some(index) = hit.link {
            let counted = sqlx::query(
                "UPDATE tracked_links SET click_count = click_count + 1 \
                 WHERE token_hash = $1 AND link_index = $2",
            )
            .bind(&token_hash)
            .bind(index)
            .execute(&mut *tx)
            .await?;
            if counted.rows_affected() == 0 {
                return Ok(HitOutcome::Unknown);
            }
        }
        let within_hour: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM tracking_hits WHERE token_hash = $1 AND at > $2",
        )
        .bind(&token_hash)
        .bind(now - 3600)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if within_hour >= MAX_ANNOUNCED_HITS_PER_HOUR {
            tx.commit().await?;
            return Ok(HitOutcome::Counted);
        }
        let message = sqlx::query(&format!(
            "SELECT message_id_header, message_id, label, {counter} AS seq \
             FROM tracked_messages WHERE token_hash = $1"
        ))
        .bind(&token_hash)
        .fetch_one(&mut *tx)
        .await?;
        let seq: i64 = message.try_get("seq")?;
        sqlx::query(
            "INSERT INTO tracking_hits (token_hash, kind, seq, link_index, client_key, ip, \
                 user_agent, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&token_hash)
        .bind(kind)
        .bind(seq)
        .bind(link_index)
        .bind(&client_key)
        .bind(hit.ip)
        .bind(hit.user_agent)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let header: String = message.try_get("message_id_header")?;
        let known_id: Option<String> = message.try_get("message_id")?;
        let message_id = match known_id {
            Some(id) => id,
            None => indexed_copy(&mut tx, &grant_id, &header)
                .await?
                .unwrap_or(header),
        };
        let label: Option<String> = message.try_get("label")?;
        let sender_app_id: String = sqlx::query("SELECT application_id FROM grants WHERE id = $1")
            .bind(grant_id.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get("application_id")?;
        let recents = recent_hits(&mut tx, &token_hash, kind).await?;
        let mut object = json!({
            "object": "message",
            "grant_id": grant_id.as_str(),
            "message_id": message_id,
            "label": label,
            "recents": recents,
            "sender_app_id": sender_app_id,
            "timestamp": now,
        });
        let trigger = match hit.link {
            None => {
                object["message_data"] = json!({"count": seq, "timestamp": now});
                TriggerType::MessageOpened
            }
            Some(_) => {
                object["link_data"] = link_data(&mut tx, &token_hash).await?;
                TriggerType::MessageLinkClicked
            }
        };
        record_notifications(
            &mut tx,
            &grant_id,
            trigger,
            &[(message_id, Some(object.to_string()))],
        )
        .await?;
        tx.commit().await?;
        Ok(HitOutcome::Announced)
    }
}

/// The `opens`, `links` and `label` columns of a row.
fn tracking_from_row(row: &sqlx::any::AnyRow) -> Result<DraftTracking, StoreError> {
    Ok(DraftTracking {
        opens: row.try_get::<i64, _>("opens")? == 1,
        links: row.try_get::<i64, _>("links")? == 1,
        label: row.try_get("label")?,
    })
}

/// The index id of the sent copy with this Message-ID, once sync or the send filed it.
async fn indexed_copy(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    header: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT id FROM messages WHERE grant_id = $1 AND identity_key = $2")
        .bind(grant_id.as_str())
        .bind(format!("mid:{header}"))
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|row| row.try_get("id"))
        .transpose()
        .map_err(Into::into)
}

/// The latest hits of a kind, oldest first, as `recents` lists them.
async fn recent_hits(
    tx: &mut Transaction<'_, Any>,
    token_hash: &str,
    kind: &str,
) -> Result<Vec<Value>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, link_index, ip, user_agent, at FROM tracking_hits \
         WHERE token_hash = $1 AND kind = $2 ORDER BY seq DESC LIMIT $3",
    )
    .bind(token_hash)
    .bind(kind)
    .bind(RECENTS)
    .fetch_all(&mut **tx)
    .await?;
    let mut recents = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        let seq: i64 = row.try_get("seq")?;
        let ip: Option<String> = row.try_get("ip")?;
        let user_agent: Option<String> = row.try_get("user_agent")?;
        let at: i64 = row.try_get("at")?;
        recents.push(if kind == "click" {
            let index: i64 = row.try_get("link_index")?;
            json!({"click_id": seq, "link_index": index.to_string(), "ip": ip,
                   "user_agent": user_agent, "timestamp": at})
        } else {
            json!({"opened_id": seq, "ip": ip, "user_agent": user_agent, "timestamp": at})
        });
    }
    Ok(recents)
}

/// Every tracked link of the message with its click count, by index.
async fn link_data(tx: &mut Transaction<'_, Any>, token_hash: &str) -> Result<Value, StoreError> {
    let rows = sqlx::query(
        "SELECT url, click_count FROM tracked_links WHERE token_hash = $1 ORDER BY link_index",
    )
    .bind(token_hash)
    .fetch_all(&mut **tx)
    .await?;
    let mut links = Vec::with_capacity(rows.len());
    for row in &rows {
        let url: String = row.try_get("url")?;
        let count: i64 = row.try_get("click_count")?;
        links.push(json!({"url": url, "count": count}));
    }
    Ok(Value::Array(links))
}
