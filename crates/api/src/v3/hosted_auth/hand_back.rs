//! The end of a sign-in that connected a grant: the user goes back to the application's
//! redirect URI with a code (RFC 6749, section 4.1.2), or, for Nylas v2's
//! `response_type=token`, with a long-lived access token in the fragment (section 4.2.2)
//! and v2's account fields, so that it never reaches a server's logs.

use axum::{
    http::{
        HeaderValue, StatusCode,
        header::{CACHE_CONTROL, LOCATION},
    },
    response::{IntoResponse, Response},
};
use mailroom_store::AuthFlowRecord;

use super::page::{error_page, redirect_with};
use crate::router::AppState;

const DATABASE_TROUBLE: &str = "mailroom could not read or write its database. Try again shortly.";

/// Sends the user back with `code`, or with what it buys when the flow asked for a token.
pub async fn hand_back(state: &AppState, flow: &AuthFlowRecord, code: &str) -> Response {
    if flow.response_type != "token" {
        let mut params = vec![("code", code)];
        params.extend(flow.state.as_deref().map(|state| ("state", state)));
        return redirect_with(&flow.redirect_uri, &params);
    }
    let Ok(issued) = state.store.redeem_v2_code(&flow.application_id, code).await else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE);
    };
    crate::auth_metrics::token_issued("v2", "implicit");
    let Ok(Some(grant)) = state
        .store
        .grant(&flow.application_id, &issued.grant_id)
        .await
    else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE);
    };
    let Ok(mut url) = url::Url::parse(&flow.redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not a valid URL.",
        );
    };
    let mut fragment = url::form_urlencoded::Serializer::new(String::new());
    fragment
        .append_pair("access_token", &issued.access_token)
        .append_pair("account_id", grant.id.as_str())
        .append_pair("email_address", grant.email.as_str())
        .append_pair("provider", grant.provider.as_str())
        .append_pair("token_type", "bearer");
    if let Some(flow_state) = &flow.state {
        fragment.append_pair("state", flow_state);
    }
    url.set_fragment(Some(&fragment.finish()));
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
