//! Messages, folders and threads as the v3 API returns them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A participant: `{"name", "email"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailName {
    pub name: Option<String>,
    pub email: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: String,
    pub grant_id: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub content_id: Option<String>,
    pub content_disposition: Option<String>,
    pub is_inline: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: String,
    pub grant_id: String,
    pub object: &'static str,
    pub thread_id: String,
    pub subject: Option<String>,
    pub from: Vec<EmailName>,
    pub to: Vec<EmailName>,
    pub cc: Vec<EmailName>,
    pub bcc: Vec<EmailName>,
    pub reply_to: Vec<EmailName>,
    pub date: i64,
    pub unread: bool,
    pub starred: bool,
    pub snippet: String,
    pub body: Option<String>,
    pub attachments: Vec<Attachment>,
    pub folders: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<Header>>,
    pub created_at: i64,
    pub schedule_id: Option<String>,
    pub send_at: Option<i64>,
    pub metadata: Value,
    pub tracking_options: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    pub id: String,
    pub grant_id: String,
    pub object: &'static str,
    pub name: String,
    pub parent_id: Option<String>,
    pub system_folder: bool,
    pub attributes: Vec<String>,
    pub child_count: i64,
    pub unread_count: i64,
    pub total_count: i64,
    pub background_color: Option<String>,
    pub text_color: Option<String>,
}
