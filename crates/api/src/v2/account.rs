//! `GET /account`: the account of the access token, in v2's shape.

use axum::Json;
use mailroom_store::GrantRecord;
use serde_json::{Value, json};

use super::{account_auth::V2Account, error::V2Error};

pub async fn account(account: V2Account) -> Result<Json<Value>, V2Error> {
    Ok(Json(account_json(&account.grant)))
}

/// A grant as v2's account object. IMAP mailboxes organize mail in folders.
pub fn account_json(grant: &GrantRecord) -> Value {
    let sync_state = match grant.status {
        mailroom_model::v3::GrantStatus::Valid => "running",
        _ => "invalid",
    };
    json!({
        "id": grant.id.as_str(),
        "object": "account",
        "account_id": grant.id.as_str(),
        "name": grant.name.clone().unwrap_or_default(),
        "email_address": grant.email.as_str(),
        "provider": grant.provider.as_str(),
        "organization_unit": "folder",
        "sync_state": sync_state,
        "linked_at": grant.created_at,
        "billing_state": "paid",
    })
}
