//! v2's paging over mailroom's newest-first lists: `limit` (default 100, at most 1,000)
//! and `offset`, and `view=count|ids|expanded`. The index pages by position (date, id); an offset
//! is reached by walking pages of it, which bounds offsets to [`MAX_OFFSET`].

use mailroom_model::GrantId;
use mailroom_store::{MessageQuery, MessageRecord, Store};

/// A message with its folders' ids.
pub type Listed = (MessageRecord, Vec<String>);

use super::error::V2Error;
use crate::clip::clip;
use crate::extract::QueryParams;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// The deepest offset served; deeper pages are found with `received_before`.
pub const MAX_OFFSET: i64 = 100_000;
/// Rows read per step of a walk.
const STEP: i64 = 1000;

/// What a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Objects,
    /// The objects with more of themselves: a message's threading headers, a
    /// thread's messages.
    Expanded,
    Count,
    Ids,
}

pub struct Paging {
    pub limit: i64,
    pub offset: i64,
    pub view: View,
}

impl Paging {
    pub fn from_query(query: &QueryParams) -> Result<Self, V2Error> {
        let limit = query
            .bounded("limit", DEFAULT_LIMIT, 0, i64::MAX)
            .map_err(V2Error::from_api)?
            .min(MAX_LIMIT);
        let offset = query
            .bounded("offset", 0, 0, MAX_OFFSET)
            .map_err(V2Error::from_api)?;
        let view = match query.get("view") {
            None => View::Objects,
            Some("count") => View::Count,
            Some("ids") => View::Ids,
            Some("expanded") => View::Expanded,
            Some(other) => {
                return Err(V2Error::invalid_request(format!(
                    "view must be 'count', 'ids' or 'expanded', not '{}'",
                    clip(other, 32)
                )));
            }
        };
        Ok(Self {
            limit,
            offset,
            view,
        })
    }
}

/// The messages matching `filter`, newest first: those from `offset` on, at most
/// `limit` (`None`: all of them, for a count).
pub async fn walk_messages(
    store: &Store,
    grant_id: &GrantId,
    filter: &MessageQuery,
    offset: i64,
    limit: Option<i64>,
) -> Result<Vec<Listed>, V2Error> {
    let mut query = filter.clone();
    let mut skipped = 0;
    let mut taken = Vec::new();
    loop {
        query.limit = STEP;
        let page = store
            .list_messages_with_folders(grant_id, &query, false)
            .await?;
        let last = page.last().map(|(m, _)| (m.date, m.id.clone()));
        let full = page.len() as i64 == STEP;
        for record in page {
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if limit.is_some_and(|limit| taken.len() as i64 >= limit) {
                return Ok(taken);
            }
            taken.push(record);
        }
        match last {
            Some(after) if full => query.after = Some(after),
            _ => return Ok(taken),
        }
    }
}
