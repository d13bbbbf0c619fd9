//! The dashboard's one page, and its one action: retrying a webhook's failing
//! deliveries now.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
};
use mailroom_model::ApplicationId;
use mailroom_store::StoreError;
use serde::Deserialize;

use super::{
    session::{csrf_token, open_session, see_other},
    utc,
};
use crate::{extract::QueryParams, router::AppState, v3::hosted_auth::nonce};

/// Grants shown per application; `mailroom grants status` lists them all.
const GRANTS_SHOWN: usize = 100;
/// Scheduled sends shown per application, the soonest.
const SENDS_SHOWN: i64 = 50;

#[derive(Template)]
#[template(path = "dashboard_login.html")]
struct LoginPage<'a> {
    nonce: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    nonce: &'a str,
    csrf: &'a str,
    notice: Option<&'a str>,
    applications: Vec<ApplicationView>,
}

struct ApplicationView {
    id: String,
    name: String,
    grant_count: usize,
    grants: Vec<GrantView>,
    grants_hidden: usize,
    webhooks: Vec<WebhookView>,
    scheduled: Vec<SendView>,
}

struct GrantView {
    email: String,
    status: &'static str,
    sync_state: &'static str,
    messages: String,
    last_error: Option<String>,
}

struct WebhookView {
    id: String,
    url: String,
    status: String,
    failing: i64,
    last_error: Option<String>,
}

struct SendView {
    id: String,
    grant_id: String,
    send_at: String,
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let Some(session) = open_session(&state, &headers).await else {
        return login_page(StatusCode::OK, None);
    };
    // What the last action did, told after its redirect (so a reload repeats nothing).
    let notice = match (query.get("retried"), query.get("outcome")) {
        (Some(moved), _) => match moved.parse::<u64>() {
            Ok(0) => Some("Nothing was waiting: the deliveries are under way or done.".to_owned()),
            Ok(moved) => Some(format!("{moved} deliveries will be tried again now.")),
            Err(_) => None,
        },
        (None, Some("stale")) => {
            Some("That form was stale: nothing was done. Try again.".to_owned())
        }
        (None, Some("failed")) => {
            Some("mailroom could not write its database. Try again shortly.".to_owned())
        }
        _ => None,
    };
    dashboard(&state, &session, notice.as_deref()).await
}

#[derive(Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    application: String,
}

pub async fn retry_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(webhook_id): Path<String>,
    Form(form): Form<RetryForm>,
) -> Response {
    let Some(session) = open_session(&state, &headers).await else {
        return see_other("/admin", None);
    };
    if form.csrf != csrf_token(&session) {
        return see_other("/admin?outcome=stale", None);
    }
    let Ok(application) = ApplicationId::parse(&form.application) else {
        return see_other("/admin?outcome=stale", None);
    };
    match state
        .store
        .retry_deliveries_now(&application, &webhook_id)
        .await
    {
        Ok(moved) => {
            tracing::info!(webhook_id = %webhook_id, moved, "webhook deliveries retried from the dashboard");
            see_other(&format!("/admin?retried={moved}"), None)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not retry webhook deliveries");
            see_other("/admin?outcome=failed", None)
        }
    }
}

pub fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    let nonce = nonce();
    let page = LoginPage {
        nonce: &nonce,
        error,
    };
    html(status, page.render(), &nonce)
}

async fn dashboard(state: &AppState, session: &str, notice: Option<&str>) -> Response {
    let applications = match applications(state).await {
        Ok(applications) => applications,
        Err(e) => {
            tracing::error!(error = %e, "could not read the dashboard");
            return login_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("mailroom could not read its database. Try again shortly."),
            );
        }
    };
    let nonce = nonce();
    let csrf = csrf_token(session);
    let page = DashboardPage {
        nonce: &nonce,
        csrf: &csrf,
        notice,
        applications,
    };
    html(StatusCode::OK, page.render(), &nonce)
}

async fn applications(state: &AppState) -> Result<Vec<ApplicationView>, StoreError> {
    let store = &state.store;
    let all_grants = store.all_grants().await?;
    let failing = store.failing_deliveries().await?;
    let mut views = Vec::new();
    for application in store.list_applications().await? {
        let grants: Vec<_> = all_grants
            .iter()
            .filter(|g| g.application_id == application.id)
            .collect();
        let mut grant_views = Vec::new();
        for grant in grants.iter().take(GRANTS_SHOWN) {
            let status = store.sync_status(&grant.id).await?.unwrap_or_default();
            grant_views.push(GrantView {
                email: grant.email.to_string(),
                status: grant.status.as_str(),
                sync_state: status.state.map_or("pending", |s| s.as_str()),
                messages: format!(
                    "{} of {}",
                    status.messages_synced,
                    status.messages_total.max(status.messages_synced)
                ),
                last_error: status.last_error.clone(),
            });
        }
        let webhooks = store
            .list_webhooks(&application.id)
            .await?
            .into_iter()
            .map(|hook| {
                let id = hook.id.to_string();
                let problems = failing.iter().find(|f| f.webhook_id == id);
                WebhookView {
                    url: hook.webhook_url,
                    status: hook.status.as_str().to_owned(),
                    failing: problems.map_or(0, |p| p.pending),
                    last_error: problems.and_then(|p| p.last_error.clone()),
                    id,
                }
            })
            .collect();
        let scheduled = store
            .pending_sends(&application.id, SENDS_SHOWN)
            .await?
            .into_iter()
            .map(|send| SendView {
                id: send.id,
                grant_id: send.grant_id.to_string(),
                send_at: utc::format(send.send_at),
            })
            .collect();
        views.push(ApplicationView {
            id: application.id.to_string(),
            name: application.name,
            grant_count: grants.len(),
            grants_hidden: grants.len().saturating_sub(GRANTS_SHOWN),
            grants: grant_views,
            webhooks,
            scheduled,
        });
    }
    Ok(views)
}

/// A page of the dashboard: no script, styles by nonce, forms to itself only.
fn html(status: StatusCode, body: Result<String, askama::Error>, nonce: &str) -> Response {
    let Ok(body) = body else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be rendered",
        )
            .into_response();
    };
    let policy = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    response
}
