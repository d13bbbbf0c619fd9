//! `PUT /v3/grants/{grant_id}/messages/clean` (docs/API.md §5.1): up to 20 messages, each
//! with `conversation`, its body without quoted earlier messages, signatures and
//! boilerplate, as Nylas's "clean messages" returns it. The cleaning is
//! `mailroom_mime::clean_conversation`; a body the index lacks is read from the server
//! first, as for `GET …/messages/{id}`.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use mailroom_mime::{CleanOptions, clean_conversation};
use mailroom_model::v3::CleanedMessage;
use serde::Deserialize;

use crate::{
    envelope::List,
    error::ApiError,
    extract::JsonBody,
    grant_access::GrantAccess,
    router::AppState,
    v3::{
        message_json::{Fields, to_message},
        messages::{find, with_body},
    },
};

/// The most messages one request cleans, as Nylas allows.
const MAX_MESSAGES: usize = 20;

/// The request: which messages, and Nylas's options (each defaulting as Nylas does).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CleanRequest {
    #[serde(default)]
    pub message_id: Vec<String>,
    pub ignore_links: Option<bool>,
    pub ignore_images: Option<bool>,
    pub images_as_markdown: Option<bool>,
    pub ignore_tables: Option<bool>,
    pub remove_conclusion_phrases: Option<bool>,
    pub html_as_markdown: Option<bool>,
}

impl CleanRequest {
    fn options(&self) -> Result<CleanOptions, ApiError> {
        let defaults = CleanOptions::default();
        let options = CleanOptions {
            ignore_links: self.ignore_links.unwrap_or(defaults.ignore_links),
            ignore_images: self.ignore_images.unwrap_or(defaults.ignore_images),
            images_as_markdown: self
                .images_as_markdown
                .unwrap_or(defaults.images_as_markdown),
            ignore_tables: self.ignore_tables.unwrap_or(defaults.ignore_tables),
            remove_conclusion_phrases: self
                .remove_conclusion_phrases
                .unwrap_or(defaults.remove_conclusion_phrases),
            html_as_markdown: self.html_as_markdown.unwrap_or(defaults.html_as_markdown),
        };
        if options.html_as_markdown && self.images_as_markdown == Some(false) {
            return Err(ApiError::invalid_payload(
                "images_as_markdown cannot be false when html_as_markdown is true",
            ));
        }
        Ok(options)
    }
}

pub async fn clean_messages(
    State(state): State<AppState>,
    access: GrantAccess,
    JsonBody(request): JsonBody<CleanRequest>,
) -> Result<Response, ApiError> {
    if request.message_id.is_empty() || request.message_id.len() > MAX_MESSAGES {
        return Err(ApiError::invalid_payload(format!(
            "message_id must list 1 to {MAX_MESSAGES} message ids"
        )));
    }
    let options = request.options()?;
    let mut cleaned = Vec::with_capacity(request.message_id.len());
    for id in &request.message_id {
        let record = with_body(&state, &access, find(&state, &access, id).await?).await?;
        let folders = state
            .store
            .message_folders(&access.grant.id, std::slice::from_ref(&record.id))
            .await?
            .remove(&record.id)
            .unwrap_or_default();
        let body = record.body_html.clone().unwrap_or_default();
        // Cleaning a large body is CPU work: off the runtime's threads.
        let conversation =
            tokio::task::spawn_blocking(move || clean_conversation(&body, true, &options))
                .await
                .map_err(|e| ApiError::internal(format!("cleaning stopped unexpectedly: {e}")))?;
        cleaned.push(CleanedMessage {
            message: to_message(&record, folders, Fields::Standard),
            conversation,
        });
    }
    Ok(List(cleaned).into_response())
}
