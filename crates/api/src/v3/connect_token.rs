//! The OAuth endpoints of hosted authentication: `POST /v3/connect/token` (code exchange
//! and refresh; the response is bare), `GET /v3/connect/tokeninfo` and
//! `POST /v3/connect/revoke`. None needs an Authorization header (PKCE public clients send
//! none); every error takes the OAuth shape.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Uri, header::CONTENT_TYPE},
};
use mailroom_model::{
    ApplicationId, Scope,
    time::unix_now,
    v3::{GrantType, IdTokenClaims, TokenInfo, TokenRequest, TokenResponse, oauth::split_name},
};
use mailroom_store::{CodeExchange, GrantRecord, IssuedTokens};
use serde_json::{Value, json};

use crate::{
    envelope::Item,
    id_token::{self, ISSUER},
    oauth_error::OAuthError,
    request_id::current_request_id,
    router::AppState,
};

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenResponse>, OAuthError> {
    let request = token_request(&headers, &body)?;
    let grant_type = required(&request.grant_type, "grant_type")?;
    let grant_type = GrantType::parse(grant_type).ok_or_else(|| {
        OAuthError::unsupported_grant_type(
            "grant_type must be 'authorization_code' or 'refresh_token'",
        )
    })?;
    let application_id = client(&state, required(&request.client_id, "client_id")?).await?;
    // The Python SDK sends its API key as client_secret; some applications build the
    // client with the client id in that place (README.md, "Tokens"). A client id proves nothing, so such a
    // request is a public client: it may redeem a code (bound to the registered redirect
    // URI, single use, ten minutes), never refresh a token.
    let secret =
        non_empty(&request.client_secret).filter(|secret| *secret != application_id.as_str());
    let public_client = secret.is_none() && non_empty(&request.client_secret).is_some();
    let client_authenticated = match secret {
        Some(secret) => {
            authenticate_client(&state, &application_id, secret).await?;
            true
        }
        None => false,
    };
    let (issued, counted_as) = match grant_type {
        GrantType::AuthorizationCode => {
            let code_verifier = non_empty(&request.code_verifier);
            if !client_authenticated && !public_client && code_verifier.is_none() {
                return Err(OAuthError::invalid_client(
                    "client_secret (the application's client secret or one of its API keys) \
                     is required, unless the code is redeemed with a PKCE code_verifier",
                ));
            }
            let issued = state
                .store
                .redeem_authorization_code(CodeExchange {
                    application_id: &application_id,
                    code: required(&request.code, "code")?,
                    redirect_uri: required(&request.redirect_uri, "redirect_uri")?,
                    code_verifier,
                })
                .await?;
            (issued, "authorization_code")
        }
        GrantType::RefreshToken => {
            if !client_authenticated {
                return Err(OAuthError::invalid_client(
                    "client_secret (the application's client secret or one of its API keys) \
                     is required to refresh an access token",
                ));
            }
            let refresh_token = required(&request.refresh_token, "refresh_token")?;
            let issued = state
                .store
                .refresh_access_token(&application_id, refresh_token)
                .await?;
            (issued, "refresh_token")
        }
    };
    crate::auth_metrics::token_issued("v3", counted_as);
    let grant = state
        .store
        .grant(&issued.application_id, &issued.grant_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the grant of this authorization is gone"))?;
    Ok(Json(token_response(&state, &grant, issued)))
}

pub async fn token_info(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Item<TokenInfo>, OAuthError> {
    let info = match (
        query_param(&uri, "access_token"),
        query_param(&uri, "id_token"),
    ) {
        (Some(access_token), None) => {
            let invalid =
                || OAuthError::invalid_token("the access token is unknown, expired or revoked");
            let token = state
                .store
                .access_token(&access_token)
                .await?
                .ok_or_else(invalid)?;
            let grant = state
                .store
                .grant(&token.application_id, &token.grant_id)
                .await?
                .ok_or_else(invalid)?;
            TokenInfo {
                iss: ISSUER.to_owned(),
                aud: token.application_id.to_string(),
                iat: token.issued_at,
                exp: token.expires_at,
                sub: grant.id.to_string(),
                email: grant.email.to_string(),
                email_verified: grant.email_verified,
            }
        }
        (None, Some(id_token)) => {
            id_token::verify(&id_token, &state.store.id_token_key(), unix_now())
                .map_err(|e| OAuthError::invalid_token(e.to_string()))?
                .into()
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "give exactly one of the query parameters access_token and id_token",
            ));
        }
    };
    Ok(Item::ok(info))
}

/// Revokes the token and all issued from it, not the grant. An unknown or already
/// revoked token is answered like a known one (RFC 7009 §2.2): the outcome is the same.
pub async fn revoke(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let from_form = || {
        is_form(&headers)
            .then(|| {
                form_pairs(&body)
                    .find(|(k, _)| k == "token")
                    .map(|(_, v)| v)
            })
            .flatten()
    };
    let token = query_param(&uri, "token")
        .or_else(from_form)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            OAuthError::invalid_request("the token to revoke is missing: ?token=<access token>")
        })?;
    if state.store.revoke_token(&token).await? {
        tracing::info!("token revoked");
    }
    Ok(Json(json!({"request_id": current_request_id()})))
}

/// The body as JSON (what the SDKs send) or as a form (what generic OAuth clients send).
fn token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    if is_form(headers) {
        let fields: serde_json::Map<String, Value> = form_pairs(body)
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return serde_json::from_value(Value::Object(fields)).map_err(|e| {
            OAuthError::invalid_request(format!("the request body does not fit: {e}"))
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        OAuthError::invalid_request(format!("the request body is not the JSON expected: {e}"))
    })
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn form_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_pairs(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    non_empty(value).ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// The application a `client_id` names.
pub(crate) async fn client(state: &AppState, client_id: &str) -> Result<ApplicationId, OAuthError> {
    let unknown = || OAuthError::invalid_client("client_id names no application of this server");
    let id = ApplicationId::parse(client_id).map_err(|_| unknown())?;
    state.store.application(&id).await?.ok_or_else(unknown)?;
    Ok(id)
}

/// A confidential client proves itself with its client secret or one of its API keys
/// (the Nylas SDKs send the API key when no secret is given).
pub(crate) async fn authenticate_client(
    state: &AppState,
    application_id: &ApplicationId,
    secret: &str,
) -> Result<(), OAuthError> {
    if state
        .store
        .verify_client_secret(application_id, secret)
        .await?
        || state.store.application_for_api_key(secret).await?.as_ref() == Some(application_id)
    {
        Ok(())
    } else {
        Err(OAuthError::invalid_client(
            "client_secret is neither the application's client secret nor one of its API keys",
        ))
    }
}

fn token_response(state: &AppState, grant: &GrantRecord, issued: IssuedTokens) -> TokenResponse {
    // Scopes the grant no longer shares with the authorization leave nothing to name.
    let scope = Scope::narrowed(&grant.scope, &issued.scope)
        .unwrap_or_default()
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let (given_name, family_name) = split_name(grant.name.as_deref());
    let claims = IdTokenClaims {
        iss: ISSUER.to_owned(),
        aud: issued.application_id.to_string(),
        iat: issued.issued_at,
        exp: issued.expires_at,
        sub: grant.id.to_string(),
        email: grant.email.to_string(),
        name: grant.name.clone(),
        given_name,
        family_name,
        picture: None,
        provider: grant.provider.to_string(),
        // True only when the grant's servers belong to the email's domain: a password
        // that a server anyone can run accepts proves nothing about the address.
        email_verified: grant.email_verified,
    };
    TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_at - issued.issued_at,
        grant_id: grant.id.to_string(),
        email: grant.email.to_string(),
        scope,
        id_token: id_token::sign(&claims, &state.store.id_token_key()),
        refresh_token: issued.refresh_token,
        provider: grant.provider.to_string(),
    }
}
