//! `GET /contacts[/{id}]` in v2's shape: the people the mailbox exchanges mail with, the
//! same contacts v3's routes derive from its indexed messages (`source: "inbox"`), by
//! address, with the `email` filter, paging and views.

use axum::{
    Json,
    extract::{Path, State},
};
use mailroom_model::{Scope, v3::NameParts};
use mailroom_store::{ContactQuery, ContactRecord};
use serde_json::{Value, json};

use super::{
    account_auth::V2Account,
    error::V2Error,
    folders::not_found,
    listing::{Paging, View},
};
use crate::{extract::QueryParams, router::AppState};

/// Contacts read per step of a walk.
const STEP: i64 = 1000;

/// docs/API.md §11: contacts exist only as derived from mail, so only where a scope that
/// reads mail comes with the contacts scope; otherwise the call finds none.
pub(super) fn contacts_exist(account: &V2Account) -> bool {
    account
        .scope
        .as_ref()
        .is_some_and(|scope| Scope::allows(scope, &[Scope::EmailMetadata]))
}

pub async fn list_contacts(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let paging = Paging::from_query(&query)?;
    let contacts = if contacts_exist(&account) {
        state.store.derive_contacts(&account.grant.id).await?;
        let (offset, limit) = match paging.view {
            View::Count => (0, None),
            _ => (paging.offset, Some(paging.limit)),
        };
        walk_contacts(&state, &account, query.get("email"), offset, limit).await?
    } else {
        Vec::new()
    };
    Ok(Json(match paging.view {
        View::Count => json!({"count": contacts.len()}),
        View::Ids => contacts.into_iter().map(|c| Value::String(c.id)).collect(),
        View::Objects | View::Expanded => contacts.iter().map(contact_json).collect(),
    }))
}

pub async fn get_contact(
    State(state): State<AppState>,
    account: V2Account,
    Path(contact_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    if !contacts_exist(&account) {
        return Err(not_found("contact", &contact_id));
    }
    let grant_id = &account.grant.id;
    let record = match state.store.contact(grant_id, &contact_id).await? {
        Some(record) => record,
        // Perhaps from mail indexed since the last derivation.
        None => {
            state.store.derive_contacts(grant_id).await?;
            state
                .store
                .contact(grant_id, &contact_id)
                .await?
                .ok_or_else(|| not_found("contact", &contact_id))?
        }
    };
    Ok(Json(contact_json(&record)))
}

/// Contacts by address from `offset`, at most `limit` (`None`: all, for a count).
async fn walk_contacts(
    state: &AppState,
    account: &V2Account,
    email: Option<&str>,
    offset: i64,
    limit: Option<i64>,
) -> Result<Vec<ContactRecord>, V2Error> {
    let mut query = ContactQuery {
        limit: STEP,
        after: None,
        email: email.map(str::to_owned),
    };
    let mut skipped = 0;
    let mut taken = Vec::new();
    loop {
        let page = state.store.list_contacts(&account.grant.id, &query).await?;
        let full = page.len() as i64 == STEP;
        query.after = page.last().map(|c| c.email_key.clone());
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
        if !full {
            return Ok(taken);
        }
    }
}

/// A contact as v2 showed it: every field present, empty where mail says nothing.
pub(super) fn contact_json(record: &ContactRecord) -> Value {
    let names = record
        .display_name
        .as_deref()
        .map(NameParts::split)
        .unwrap_or_default();
    json!({
        "id": record.id,
        "object": "contact",
        "account_id": record.grant_id.as_str(),
        "given_name": names.given_name,
        "middle_name": names.middle_name,
        "surname": names.surname,
        "suffix": names.suffix,
        "nickname": null,
        "birthday": null,
        "company_name": null,
        "job_title": null,
        "manager_name": null,
        "office_location": null,
        "notes": null,
        "picture_url": null,
        "emails": [{"type": null, "email": record.email}],
        "im_addresses": [],
        "phone_numbers": [],
        "physical_addresses": [],
        "web_pages": [],
        "groups": [],
        "source": "inbox",
    })
}
