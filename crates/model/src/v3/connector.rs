//! Connectors: one per provider per application. For IMAP it carries only a name.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Connector {
    pub provider: String,
    pub name: Option<String>,
    pub settings: Map<String, Value>,
    pub scope: Vec<String>,
    pub active_credential_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The body of `POST /v3/connectors` and of `PATCH`/`PUT /v3/connectors/{provider}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorInput {
    pub provider: Option<String>,
    pub name: Option<String>,
    pub settings: Option<Map<String, Value>>,
    pub scope: Option<Vec<String>>,
    pub active_credential_id: Option<String>,
}
