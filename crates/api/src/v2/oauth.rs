//! v2's hosted authentication: `GET /oauth/authorize` (the same sign-in page as v3's
//! link, read from v2's parameters), `POST /oauth/token` (the code traded, with the
//! client secret, for a long-lived access token in v2's body) and `POST /oauth/revoke`
//! (the token presented as itself).

use axum::{
    Json,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE, request::Parts},
    response::Response,
};
use mailroom_store::TokenError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{account_auth::presented_token, error::V2Error};
use crate::{
    extract::QueryParams,
    router::AppState,
    v3::{
        client_info::ClientInfo,
        connect_token::{authenticate_client, client},
        hosted_auth::{SignInQuery, open_sign_in},
    },
};

/// `GET /oauth/authorize`, as v2 had it.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    response_type: Option<String>,
    redirect_uri: Option<String>,
    login_hint: Option<String>,
    state: Option<String>,
    /// Comma-separated, e.g. `email.read_only,email.send`.
    scopes: Option<String>,
    provider: Option<String>,
    /// v2 redirected errors only when asked; mailroom always does once the redirect URI
    /// is known to be the application's, and shows them on a page before.
    #[allow(dead_code)]
    redirect_on_error: Option<String>,
}

pub async fn authorize(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> Response {
    // Seed 004's curl sends the parameters as a form body on a GET (`curl --request GET
    // -d …`); a query, as browsers and the SDKs send, comes first.
    let fields = match raw_query.as_deref().filter(|q| !q.is_empty()) {
        Some(query) => query.as_bytes(),
        None => &body[..],
    };
    let fields: serde_json::Map<String, Value> = url::form_urlencoded::parse(fields)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    // Every field is an optional string: any map of strings reads.
    let query: AuthorizeQuery = serde_json::from_value(Value::Object(fields)).unwrap_or_default();
    let link = SignInQuery {
        client_id: query.client_id,
        redirect_uri: query.redirect_uri,
        response_type: query.response_type,
        provider: query.provider,
        login_hint: query.login_hint,
        state: query.state,
        scope: query.scopes.map(|s| s.replace(',', " ")),
        implicit_allowed: true,
        ..SignInQuery::default()
    };
    open_sign_in(&state, &client_info, &headers, &link).await
}

/// The fields of `/oauth/token`: in the query (the v2 Node SDK sends a GET with them
/// there), a form or a JSON body; a body's fields win.
#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    code: Option<String>,
}

impl TokenRequest {
    fn or(self, other: Self) -> Self {
        Self {
            client_id: self.client_id.or(other.client_id),
            client_secret: self.client_secret.or(other.client_secret),
            grant_type: self.grant_type.or(other.grant_type),
            code: self.code.or(other.code),
        }
    }
}

pub async fn token(
    State(state): State<AppState>,
    query: QueryParams,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let in_body: TokenRequest = read_body(&headers, &body)?;
    let field = |key: &str| query.get(key).map(str::to_owned);
    let request = in_body.or(TokenRequest {
        client_id: field("client_id"),
        client_secret: field("client_secret"),
        grant_type: field("grant_type"),
        code: field("code"),
    });
    if request.grant_type.as_deref() != Some("authorization_code") {
        return Err(V2Error::invalid_request(
            "grant_type must be 'authorization_code'",
        ));
    }
    let code = required(&request.code, "code")?;
    let (grant, access_token) =
        redeem(&state, &request.client_id, &request.client_secret, code).await?;
    Ok(Json(json!({
        "access_token": access_token,
        "account_id": grant.id.as_str(),
        "email_address": grant.email.as_str(),
        "provider": grant.provider.as_str(),
        "token_type": "bearer",
    })))
}

/// Authenticates the client with its secret and trades the code; the grant and the
/// access token.
pub(super) async fn redeem(
    state: &AppState,
    client_id: &Option<String>,
    client_secret: &Option<String>,
    code: &str,
) -> Result<(mailroom_store::GrantRecord, String), V2Error> {
    let client_id = required(client_id, "client_id")?;
    let secret = required(client_secret, "client_secret")?;
    let application_id = client(state, client_id)
        .await
        .map_err(|_| V2Error::unauthorized())?;
    authenticate_client(state, &application_id, secret)
        .await
        .map_err(|_| V2Error::unauthorized())?;
    let issued = state
        .store
        .redeem_v2_code(&application_id, code)
        .await
        .map_err(|e| match e {
            // v2 answered a used, expired or unknown code with a 400.
            TokenError::InvalidGrant(message) => V2Error::new(
                StatusCode::BAD_REQUEST,
                "api_error",
                format!("Invalid code: {message}"),
            ),
            TokenError::Store(e) => e.into(),
        })?;
    crate::auth_metrics::token_issued("v2", "authorization_code");
    let grant = state
        .store
        .grant(&application_id, &issued.grant_id)
        .await?
        .ok_or_else(V2Error::unauthorized)?;
    Ok((grant, issued.access_token))
}

pub async fn revoke(State(state): State<AppState>, parts: Parts) -> Result<Json<Value>, V2Error> {
    let token = presented_token(&parts).ok_or_else(V2Error::unauthorized)?;
    // Only an access token revokes itself here; codes are not presented as credentials.
    if state.store.access_token(&token).await?.is_none() {
        return Err(V2Error::unauthorized());
    }
    state.store.revoke_token(&token).await?;
    Ok(Json(json!({"success": true})))
}

/// A form or JSON body. A JSON object sent as a form is read as JSON: `curl -d '{…}'`,
/// as v2's own examples write their requests, labels JSON that way.
pub(super) fn read_body<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, V2Error> {
    let looks_like_json = body.trim_ascii_start().starts_with(b"{");
    let form = !looks_like_json
        && headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        let fields: serde_json::Map<String, Value> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return serde_json::from_value(Value::Object(fields))
            .map_err(|e| V2Error::invalid_request(format!("the request body does not fit: {e}")));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        V2Error::invalid_request(format!("the request body is not the JSON expected: {e}"))
    })
}

pub(super) fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, V2Error> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| V2Error::invalid_request(format!("'{name}' is required")))
}
