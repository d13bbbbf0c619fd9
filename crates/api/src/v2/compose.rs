//! v2's message body for `/send` and `/drafts`, read into v3's composition request.
//! The v2 SDKs save a draft by sending the whole object back, read-only fields and
//! all: those are accepted and left alone; a field neither written nor shown is refused.

use mailroom_model::v3::ComposeRequest;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::V2Error;
use crate::clip::clip;

/// Fields the v2 objects show but a client cannot set; a body may carry them back.
const READ_ONLY: &[&str] = &[
    "id",
    "object",
    "account_id",
    "thread_id",
    "date",
    "snippet",
    "files",
    "folder",
    "labels",
    "events",
    "job_status_id",
    "last_modified_at",
    "headers",
];

#[derive(Debug, Default, Deserialize)]
pub struct V2Compose {
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub to: Option<Value>,
    #[serde(default)]
    pub cc: Option<Value>,
    #[serde(default)]
    pub bcc: Option<Value>,
    #[serde(default)]
    pub from: Option<Value>,
    #[serde(default)]
    pub reply_to: Option<Value>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub reply_to_message_id: Option<String>,
    #[serde(default)]
    pub file_ids: Option<Vec<String>>,
    #[serde(default)]
    pub tracking: Option<Value>,
    #[serde(default)]
    pub unread: Option<bool>,
    #[serde(default)]
    pub starred: Option<bool>,
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The draft's version the client last read (drafts and sending a draft).
    #[serde(default)]
    pub version: Option<i64>,
    /// `/send` of a saved draft.
    #[serde(default)]
    pub draft_id: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl V2Compose {
    pub fn parse(body: &[u8]) -> Result<Self, V2Error> {
        let parsed: Self = serde_json::from_slice(body)
            .map_err(|e| V2Error::invalid_request(format!("the body does not fit: {e}")))?;
        if let Some(unknown) = parsed
            .rest
            .keys()
            .find(|k| !READ_ONLY.contains(&k.as_str()))
        {
            return Err(V2Error::invalid_request(format!(
                "unknown field '{}'",
                clip(unknown, 64)
            )));
        }
        if parsed.tracking.as_ref().is_some_and(|t| !t.is_null()) {
            return Err(V2Error::invalid_request(
                "tracking is not supported by this server",
            ));
        }
        Ok(parsed)
    }

    /// The ids of uploaded files to attach (none when absent).
    pub fn file_ids(&self) -> &[String] {
        self.file_ids.as_deref().unwrap_or_default()
    }

    /// v3's composition request for the same message.
    pub fn compose_request(&self) -> Result<ComposeRequest, V2Error> {
        let list = |v: &Option<Value>| v.clone().filter(|v| !v.is_null()).unwrap_or(json!([]));
        serde_json::from_value(json!({
            "subject": self.subject,
            "to": list(&self.to),
            "cc": list(&self.cc),
            "bcc": list(&self.bcc),
            "from": list(&self.from),
            "reply_to": list(&self.reply_to),
            "body": self.body,
            "reply_to_message_id": self.reply_to_message_id,
            "unread": self.unread,
            "starred": self.starred,
            "metadata": self.metadata.clone().filter(|m| !m.is_null()),
        }))
        .map_err(|e| V2Error::invalid_request(format!("the body does not fit: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_fields_are_accepted_and_unknown_ones_refused() {
        let saved = br#"{"id":"d1","object":"draft","account_id":"a","subject":"Hi","to":[{"email":"x@example.test"}],"files":[],"version":2}"#;
        let parsed = V2Compose::parse(saved).unwrap();
        assert_eq!(parsed.version, Some(2));
        assert_eq!(
            parsed.compose_request().unwrap().subject.as_deref(),
            Some("Hi")
        );
        let error = V2Compose::parse(br#"{"subject":"Hi","send_later":true}"#).unwrap_err();
        assert!(error.message.contains("send_later"));
        assert!(V2Compose::parse(br#"{"tracking":{"opens":true}}"#).is_err());
        assert!(V2Compose::parse(b"not json").is_err());
    }
}
