//! The v2 caller: an access token as `Authorization: Bearer TOKEN`, or as the user of
//! HTTP Basic (`TOKEN:`, as the v2 SDKs send it). Its account is the token's grant; its
//! scopes are the grant's narrowed to those the token was issued for, checked against
//! the route's entry in the one table of grant routes (`crate::grant_routes`), with
//! the 403 body of docs/API.md §11 when they fall short.

use axum::{
    extract::{FromRequestParts, MatchedPath},
    http::{StatusCode, request::Parts},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use mailroom_model::Scope;
use mailroom_store::GrantRecord;

use super::error::V2Error;
use crate::router::AppState;

pub struct V2Account {
    pub grant: GrantRecord,
    /// What the token may do with the grant (empty: every scope); `None` when the grant
    /// no longer holds any scope the token was issued for, so that it reaches nothing.
    pub scope: Option<Vec<Scope>>,
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
        crate::request_id::note_grant(grant.id.as_str());
        crate::grant_rate_limit::check(parts, &grant.id).map_err(V2Error::from_api)?;
        let scope = Scope::narrowed(&grant.scope, &record.scope);
        let account = V2Account { grant, scope };
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        match crate::grant_routes::find(&parts.method, &path) {
            Some(route) => account.require(route.any_of)?,
            // The account itself is not the mailbox: any token of it may read it.
            None if path == ACCOUNT_PATH => {}
            None => {
                return Err(V2Error::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    format!(
                        "{} {path} has no entry in the grant route table",
                        parts.method
                    ),
                ));
            }
        }
        Ok(account)
    }
}

/// The one v2 route of an account outside the grant route table.
pub const ACCOUNT_PATH: &str = "/account";

impl V2Account {
    /// Admits a call that any one of `any_of` allows; otherwise the 403 of v2.
    pub fn require(&self, any_of: &[Scope]) -> Result<(), V2Error> {
        match &self.scope {
            Some(scope) if Scope::allows(scope, any_of) => Ok(()),
            held => Err(out_of_scope(held.as_deref().unwrap_or_default(), any_of)),
        }
    }

    /// The account as v3's handlers' caller, for code shared with them. Only after
    /// [`V2Account::require`] admitted the call (an account whose token reaches no scope
    /// is stopped there).
    pub fn access(&self) -> crate::grant_access::GrantAccess {
        crate::grant_access::GrantAccess {
            grant: self.grant.clone(),
            scope: self.scope.clone().unwrap_or_default(),
        }
    }

    /// Whether bodies, snippets and attachment content may be seen (not with
    /// `email.metadata` alone).
    pub fn may_read_content(&self) -> bool {
        self.scope
            .as_ref()
            .is_some_and(|scope| Scope::allows(scope, crate::grant_routes::CONTENT_SCOPES))
    }
}

/// The scopes v2 named as sufficient: those that admit the call, without the umbrella
/// `email` that includes every email scope (a change needs `['email.modify']`, docs/API.md §11).
fn named_for(any_of: &[Scope]) -> Vec<Scope> {
    let sufficient = Scope::sufficient_for(any_of);
    let named: Vec<Scope> = sufficient
        .iter()
        .copied()
        .filter(|s| *s != Scope::Email)
        .collect();
    if named.is_empty() { sufficient } else { named }
}

/// v2's answer to a call outside the token's scopes, word for word as v2 gave it.
fn out_of_scope(held: &[Scope], any_of: &[Scope]) -> V2Error {
    let list = |scopes: &[Scope]| {
        let names: Vec<String> = scopes.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("[{}]", names.join(", "))
    };
    V2Error::new(
        axum::http::StatusCode::FORBIDDEN,
        "api_error",
        format!(
            "You do not have access to the required scopes. You provided a token which has the following scopes: {}. You would need a token with at least one of the following scopes: {}",
            list(held),
            list(&named_for(any_of))
        ),
    )
}
