//! `GET /v3/applications`: the caller's application.

use serde::Serialize;
use serde_json::Value;

use super::RedirectUri;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Application {
    pub application_id: String,
    pub organization_id: String,
    pub region: String,
    pub environment: String,
    pub branding: Branding,
    pub domain: Option<String>,
    pub hosted_authentication: Value,
    pub callback_uris: Vec<RedirectUri>,
    pub created_at: i64,
    pub updated_at: i64,
    pub blocked: bool,
    /// mailroom's own: whether hosted sign-in accepts servers outside the email's domain.
    pub allow_custom_servers: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Branding {
    pub name: String,
    pub icon_url: Option<String>,
    pub website_url: Option<String>,
    pub description: Option<String>,
}
