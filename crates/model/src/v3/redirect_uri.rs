//! `/v3/applications/redirect-uris`: the redirect (callback) URIs of an application, also
//! listed as `callback_uris` on `GET /v3/applications`.

use serde::{Deserialize, Serialize};

use crate::redirect_url::RedirectPlatform;

/// A registered redirect URI. `settings` is always an object (`{}` when empty).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RedirectUri {
    pub id: String,
    pub url: String,
    pub platform: RedirectPlatform,
    pub settings: RedirectUriSettings,
}

/// Platform details Nylas keeps beside the URL: `origin` for js, `bundle_id`,
/// `app_store_id` and `team_id` for ios, `package_name` and
/// `sha1_certificate_fingerprint` for android. Only the ones set are serialized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectUriSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_store_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1_certificate_fingerprint: Option<String>,
}

/// The body of `POST /v3/applications/redirect-uris` and of `PATCH …/redirect-uris/{id}`.
/// Nylas's schema also lists `id`; it is accepted on PATCH when it names the same URI.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectUriInput {
    pub id: Option<String>,
    pub url: Option<String>,
    pub platform: Option<String>,
    pub settings: Option<RedirectUriSettings>,
}
