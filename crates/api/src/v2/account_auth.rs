//! The v2 caller: an access token as `Authorization: Bearer TOKEN`, or as the user of
//! HTTP Basic (`TOKEN:`, as the v2 SDKs send it). Its account is the token's grant.

use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{Engine, engine::general_purpose::STANDARD};
use mailroom_store::GrantRecord;

use super::error::V2Error;
use crate::router::AppState;

pub struct V2Account {
    pub grant: GrantRecord,
}

/// The token of an `Authorization` header, Bearer or Basic.
pub fn presented_token(parts: &Parts) -> Option<String> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, value) = header.split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(value.to_owned()).filter(|t| !t.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(value).ok()?).ok()?;
        let user = decoded.split(':').next()?;
        return Some(user.to_owned()).filter(|t| !t.is_empty());
    }
    None
}

impl FromRequestParts<AppState> for V2Account {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V2Error> {
        let token = presented_token(parts).ok_or_else(V2Error::unauthorized)?;
        let record = state
            .store
            .access_token(&token)
            .await?
            .ok_or_else(V2Error::unauthorized)?;
        let grant = state
            .store
            .grant(&record.application_id, &record.grant_id)
            .await?
            .ok_or_else(V2Error::unauthorized)?;
        Ok(V2Account { grant })
    }
}
