//! Grants: a connected mailbox, and the requests that create or change one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::mail_settings::MailServerSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GrantStatus {
    Valid,
    Invalid,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Valid => "valid",
            GrantStatus::Invalid => "invalid",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "valid" => Some(GrantStatus::Valid),
            "invalid" => Some(GrantStatus::Invalid),
            _ => None,
        }
    }
}

/// The grant object. `settings` never holds a password.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Grant {
    pub id: String,
    pub provider: String,
    pub grant_status: GrantStatus,
    pub email: String,
    pub name: Option<String>,
    pub scope: Vec<String>,
    pub settings: MailServerSettings,
    pub state: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub provider_user_id: Option<String>,
    pub account_id: Option<String>,
    pub credential_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// mailroom's own: how far the local index of this mailbox is.
    pub sync_state: Option<String>,
    pub sync_progress: Option<SyncProgress>,
}

/// Initial-sync progress, shown on the grant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncProgress {
    pub folders_total: i64,
    pub folders_done: i64,
    pub messages_synced: i64,
    pub messages_total: i64,
    pub bodies_synced: i64,
}

/// `POST /v3/connect/custom`.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomAuthRequest {
    pub provider: String,
    pub settings: Map<String, Value>,
    pub state: Option<String>,
    pub scope: Option<Vec<String>>,
    pub name: Option<String>,
}

/// `PATCH /v3/grants/{id}`.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGrantRequest {
    pub settings: Option<Map<String, Value>>,
    pub scope: Option<Vec<String>>,
    pub name: Option<String>,
}

// The settings maps carry passwords: `Debug` names their keys only.
impl std::fmt::Debug for CustomAuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomAuthRequest")
            .field("provider", &self.provider)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .field("scope", &self.scope)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for UpdateGrantRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateGrantRequest")
            .field(
                "settings",
                &self.settings.as_ref().map(|s| s.keys().collect::<Vec<_>>()),
            )
            .field("scope", &self.scope)
            .field("name", &self.name)
            .finish()
    }
}
