//! `GET /v3/grants/{grant_id}/contacts[/{contact_id}]` and `…/contacts/groups`: the
//! people a mailbox exchanges mail with (`source: "inbox"`), derived from the
//! participants of its indexed messages. There are no address books or groups.

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use mailroom_model::{
    Scope,
    v3::{Contact, ContactEmail, ContactGroup, ContactSource, NameParts},
};
use mailroom_store::{ContactQuery, ContactRecord};
use serde_json::{Map, Value, json};

use crate::clip::clip;
use crate::{
    cursor,
    envelope::Item,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    request_id::current_request_id,
    router::AppState,
    v3::{
        message_json::apply_select,
        messages::{DEFAULT_LIMIT, MAX_LIMIT},
    },
};

/// docs/API.md §11: an IMAP grant's contacts exist only as derived from its mail, so only
/// where a scope that reads mail (participants are metadata) comes with the contacts
/// scope. Without one the call is allowed — the contacts scope admits it — and finds
/// nothing: an empty list, a 404 for an id.
fn contacts_exist(access: &GrantAccess) -> bool {
    Scope::allows(&access.scope, &[Scope::EmailMetadata])
}

pub async fn list_contacts(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let limit = query
        .bounded("limit", DEFAULT_LIMIT, 1, i64::MAX)?
        .min(MAX_LIMIT);
    let after = query
        .get("page_token")
        .map(cursor::decode)
        .transpose()?
        .map(|(_, email_key)| email_key);
    let source = query
        .get("source")
        .map(|value| {
            ContactSource::parse(value).ok_or_else(|| {
                ApiError::bad_request("'source' must be one of address_book, inbox, domain")
            })
        })
        .transpose()?;
    // Derived contacts have no phone numbers, groups or metadata to match.
    let unmatchable = ["phone_number", "group", "metadata_pair"]
        .iter()
        .any(|key| query.get(key).is_some());
    let mut body = json!({"request_id": current_request_id(), "data": []});
    if !contacts_exist(&access) || unmatchable || source.is_some_and(|s| s != ContactSource::Inbox)
    {
        return Ok(Json(body).into_response());
    }
    state.store.derive_contacts(&access.grant.id).await?;
    let filter = ContactQuery {
        // One more than asked tells whether another page exists.
        limit: limit + 1,
        after,
        email: query.get("email").map(str::to_owned),
    };
    let mut records = state.store.list_contacts(&access.grant.id, &filter).await?;
    let more = records.len() as i64 > limit;
    records.truncate(limit as usize);
    body["data"] = records
        .iter()
        .map(|r| apply_select(contact_json(r), &query))
        .collect();
    if let (true, Some(last)) = (more, records.last()) {
        body["next_cursor"] = Value::String(cursor::encode(0, &last.email_key));
    }
    Ok(Json(body).into_response())
}

pub async fn get_contact(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, contact_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let not_found =
        || ApiError::not_found(format!("no contact with id '{}'", clip(&contact_id, 128)));
    if !contacts_exist(&access) {
        return Err(not_found());
    }
    let grant_id = &access.grant.id;
    let record = match state.store.contact(grant_id, &contact_id).await? {
        Some(record) => record,
        // Perhaps from mail indexed since the last derivation.
        None => {
            state.store.derive_contacts(grant_id).await?;
            state
                .store
                .contact(grant_id, &contact_id)
                .await?
                .ok_or_else(not_found)?
        }
    };
    let data = apply_select(contact_json(&record), &query);
    Ok(Item::ok(data).into_response())
}

/// No contact groups: derived contacts belong to none.
pub async fn list_contact_groups(
    _access: GrantAccess,
    query: QueryParams,
) -> Result<Response, ApiError> {
    query.bounded("limit", DEFAULT_LIMIT, 1, i64::MAX)?;
    let data: Vec<ContactGroup> = Vec::new();
    Ok(Item::ok(data).into_response())
}

fn contact_json(record: &ContactRecord) -> Value {
    serde_json::to_value(to_v3(record)).unwrap_or(Value::Null)
}

pub fn to_v3(record: &ContactRecord) -> Contact {
    let names = record
        .display_name
        .as_deref()
        .map(NameParts::split)
        .unwrap_or_default();
    Contact {
        id: record.id.clone(),
        grant_id: record.grant_id.to_string(),
        object: "contact",
        source: ContactSource::Inbox,
        display_name: record.display_name.clone(),
        given_name: names.given_name,
        middle_name: names.middle_name,
        surname: names.surname,
        suffix: names.suffix,
        nickname: None,
        birthday: None,
        company_name: None,
        job_title: None,
        manager_name: None,
        office_location: None,
        notes: None,
        picture_url: None,
        picture: None,
        emails: vec![ContactEmail {
            email: record.email.clone(),
            kind: None,
        }],
        im_addresses: Vec::new(),
        phone_numbers: Vec::new(),
        physical_addresses: Vec::new(),
        web_pages: Vec::new(),
        groups: Vec::new(),
        metadata: Map::new(),
    }
}
