//! From a composed request (send or draft) to the RFC 822 bytes and SMTP envelope:
//! sender from the grant, reply headers from the message replied to, custom headers,
//! attachments. Building itself is `mailroom_mime::build_message`.

use mailroom_mime::{BuiltMessage, ComposeError, OutgoingAttachment, OutgoingMessage};
use mailroom_model::{
    time::unix_now,
    v3::{ComposeRequest, EmailName},
};
use mailroom_store::MessageRecord;

use crate::clip::clip;
use crate::{
    error::ApiError,
    grant_access::GrantAccess,
    router::AppState,
    v3::messages::{find, with_body},
};

/// What becomes of the composed message. Both keep the Bcc header, for the author's
/// copy in Sent or Drafts; it is left out of what is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Submitted now or at `send_at`: at least one recipient.
    Send,
    /// Stored in Drafts: recipients optional.
    Draft,
}

/// Where a reply belongs: the message it answers and the headers that thread it.
#[derive(Debug, Clone, Default)]
pub struct ReplyContext {
    /// The mailroom id of the message replied to.
    pub answering: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ComposedMail {
    pub built: BuiltMessage,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub answering: Option<String>,
}

pub fn compose_error(e: ComposeError) -> ApiError {
    ApiError::invalid_payload(e.to_string())
}

/// Fields of a send or a draft that mailroom would otherwise accept and do nothing with:
/// refused with a clear 400 rather than ignored (docs/API.md §5.2). `tracking_options`
/// is read before composing (crate::v3::tracked_sends).
fn refuse_what_is_not_done(request: &ComposeRequest, purpose: Purpose) -> Result<(), ApiError> {
    if request.use_draft {
        return Err(ApiError::invalid_payload(
            "use_draft is not supported: create the draft (POST …/drafts) and send it \
             (POST …/drafts/{draft_id})",
        ));
    }
    if purpose == Purpose::Send && (request.starred.is_some() || request.unread.is_some()) {
        return Err(ApiError::invalid_payload(
            "starred and unread belong to drafts; a send takes neither",
        ));
    }
    Ok(())
}

/// Finds the message replied to by mailroom id, or by its Message-ID header (which is
/// what Nylas takes for IMAP), and the headers a reply to it carries.
pub async fn reply_context(
    state: &AppState,
    access: &GrantAccess,
    reply_to_message_id: Option<&str>,
) -> Result<ReplyContext, ApiError> {
    let Some(wanted) = reply_to_message_id.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(ReplyContext::default());
    };
    let by_id = state.store.message(&access.grant.id, wanted).await?;
    let record = match by_id {
        Some(record) => record,
        None => {
            let header = wanted.trim_start_matches('<').trim_end_matches('>');
            let id = state
                .store
                .message_id_by_identity(&access.grant.id, &format!("mid:{header}"))
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_payload(format!(
                        "reply_to_message_id '{}' is not a message of this grant",
                        clip(wanted, 128)
                    ))
                })?;
            find(state, access, &id).await?
        }
    };
    context_of(state, access, record).await
}

async fn context_of(
    state: &AppState,
    access: &GrantAccess,
    record: MessageRecord,
) -> Result<ReplyContext, ApiError> {
    let Some(own) = record.message_id_header.clone() else {
        return Ok(ReplyContext {
            answering: Some(record.id),
            ..ReplyContext::default()
        });
    };
    // The References of the original come with its full header list.
    let record = if record.headers.is_empty() {
        with_body(state, access, record).await?
    } else {
        record
    };
    let mut references: Vec<String> = record
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("references"))
        .flat_map(|(_, value)| value.split_whitespace())
        .map(|r| r.trim_start_matches('<').trim_end_matches('>').to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    if references.is_empty()
        && let Some(parent) = record
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("in-reply-to"))
    {
        references.extend(
            parent
                .1
                .split_whitespace()
                .map(|r| r.trim_start_matches('<').trim_end_matches('>').to_owned()),
        );
    }
    references.push(own.clone());
    Ok(ReplyContext {
        answering: Some(record.id),
        in_reply_to: Some(own),
        references,
    })
}

/// Builds the message for the grant.
pub fn compose(
    access: &GrantAccess,
    request: &ComposeRequest,
    attachments: &[OutgoingAttachment],
    reply: &ReplyContext,
    purpose: Purpose,
    message_id: Option<&str>,
) -> Result<ComposedMail, ApiError> {
    refuse_what_is_not_done(request, purpose)?;
    // Before anything is sent, scheduled or saved.
    if let Some(metadata) = &request.metadata {
        crate::v3::message_updates::check_metadata(metadata)?;
    }
    let grant_email = access.grant.email.as_str();
    let names = |list: &[EmailName]| -> Vec<mailroom_mime::EmailName> {
        list.iter()
            .map(|n| mailroom_mime::EmailName {
                name: n.name.clone(),
                email: n.email.clone(),
            })
            .collect()
    };
    let from = match request.from.first() {
        Some(given) => mailroom_mime::EmailName {
            name: given.name.clone(),
            email: given.email.clone(),
        },
        None => mailroom_mime::EmailName {
            name: access.grant.name.clone(),
            email: grant_email.to_owned(),
        },
    };
    let (to, cc, bcc, reply_to) = (
        names(&request.to),
        names(&request.cc),
        names(&request.bcc),
        names(&request.reply_to),
    );
    let custom_headers: Vec<(String, String)> = request
        .custom_headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    let outgoing = OutgoingMessage {
        from: &from,
        to: &to,
        cc: &cc,
        bcc: &bcc,
        reply_to: &reply_to,
        include_bcc: true,
        subject: request.subject.as_deref(),
        body: request.body.as_deref(),
        is_plaintext: request.is_plaintext,
        attachments,
        in_reply_to: reply.in_reply_to.as_deref(),
        references: &reply.references,
        custom_headers: &custom_headers,
        message_id,
        message_id_domain: access.grant.email.domain(),
        date: unix_now(),
    };
    let recipients = mailroom_mime::envelope_recipients(&outgoing);
    if purpose == Purpose::Send && recipients.is_empty() {
        return Err(ApiError::invalid_payload(
            "the message needs at least one recipient in 'to', 'cc' or 'bcc'",
        ));
    }
    let built = mailroom_mime::build_message(&outgoing).map_err(compose_error)?;
    Ok(ComposedMail {
        built,
        envelope_from: grant_email.to_owned(),
        recipients,
        answering: reply.answering.clone(),
    })
}

/// The attachments of a request as the builder takes them.
pub fn outgoing_attachments(
    attachments: Vec<crate::v3::compose_body::AttachmentData>,
) -> Vec<OutgoingAttachment> {
    attachments
        .into_iter()
        .map(|a| OutgoingAttachment {
            // Inline means referenced from the HTML by its Content-ID.
            inline: a.is_inline && a.content_id.is_some(),
            filename: a.filename,
            content_type: a.content_type,
            content: a.content,
            content_id: a.content_id,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(fields: serde_json::Value) -> ComposeRequest {
        serde_json::from_value(fields).expect("a compose request")
    }

    #[test]
    fn fields_this_server_would_ignore_are_refused_by_name() {
        for (fields, purpose, named) in [
            (json!({"use_draft": true}), Purpose::Send, "use_draft"),
            (json!({"starred": true}), Purpose::Send, "starred"),
        ] {
            let refused =
                refuse_what_is_not_done(&request(fields.clone()), purpose).expect_err("refused");
            assert_eq!(
                refused.status,
                axum::http::StatusCode::BAD_REQUEST,
                "{fields}"
            );
            assert!(
                refused.message.contains(named),
                "{fields}: {}",
                refused.message
            );
        }
    }

    #[test]
    fn what_the_sdks_send_when_unset_is_accepted() {
        for fields in [
            json!({}),
            json!({"tracking_options": null, "use_draft": null, "starred": null}),
            json!({"tracking_options": {"opens": false, "links": false, "thread_replies": false}}),
            json!({"tracking_options": {"thread_replies": true, "label": "follow-up"}}),
            // Opens and links are prepared before composing (crate::v3::tracked_sends).
            json!({"tracking_options": {"opens": true, "links": true}}),
        ] {
            assert!(
                refuse_what_is_not_done(&request(fields.clone()), Purpose::Send).is_ok(),
                "{fields}"
            );
        }
        // Drafts keep their flags, and their tracking for when they are sent.
        let draft = request(json!({"starred": true, "unread": false,
                                   "tracking_options": {"opens": true}}));
        assert!(refuse_what_is_not_done(&draft, Purpose::Draft).is_ok());
    }
}
