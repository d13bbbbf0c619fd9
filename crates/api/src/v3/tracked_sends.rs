//! `tracking_options` on a send or a draft (docs/API.md §5.2): with `opens` the HTML
//! body gets an image, with `links` its web links go through the redirector, both served
//! under the configured `public_url` (crate::v3::tracking). A send's body is rewritten
//! before it is composed; a draft is kept as written, and its HTML part is rewritten
//! when it is sent. `thread_replies` needs nothing in the message: replies are announced
//! as `thread.replied` whatever was asked. A plain-text body is left alone.

use mailroom_mime::{TrackingPlan, track_html, track_raw_message};
use mailroom_model::v3::ComposeRequest;
use mailroom_store::{DraftTracking, NewTrackedMessage};
use serde_json::Value;

use crate::{
    clip::clip,
    error::ApiError,
    grant_access::GrantAccess,
    mailboxes::{OutgoingMail, SendReceipt},
    router::AppState,
};

/// A label longer than this is refused.
const MAX_LABEL_CHARS: usize = 2048;

/// A send whose body was rewritten for tracking, to be recorded once the message is
/// built (its Message-ID known) and before it goes out.
#[derive(Debug, Clone)]
pub struct PreparedTracking {
    token: String,
    opens: bool,
    links_tracked: bool,
    links: Vec<String>,
    label: Option<String>,
}

impl PreparedTracking {
    /// The random token in the message's tracking URLs.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// What `tracking_options` asks for: (opens, links, label). Anything but booleans and a
/// string label is a 400, as is an unknown option.
fn options(tracking: &Value) -> Result<(bool, bool, Option<String>), ApiError> {
    let Some(fields) = tracking.as_object() else {
        return Err(ApiError::invalid_payload(
            "tracking_options must be an object: {\"opens\", \"links\", \"thread_replies\", \"label\"}",
        ));
    };
    let mut asked = (false, false, None);
    for (name, value) in fields {
        match (name.as_str(), value) {
            (_, Value::Null) => {}
            ("opens", Value::Bool(on)) => asked.0 = *on,
            ("links", Value::Bool(on)) => asked.1 = *on,
            ("thread_replies", Value::Bool(_)) => {}
            ("label", Value::String(label)) if label.chars().count() <= MAX_LABEL_CHARS => {
                asked.2 = Some(label.clone());
            }
            ("label", _) => {
                return Err(ApiError::invalid_payload(format!(
                    "tracking_options.label must be a string of at most {MAX_LABEL_CHARS} characters"
                )));
            }
            ("opens" | "links" | "thread_replies", _) => {
                return Err(ApiError::invalid_payload(format!(
                    "tracking_options.{name} must be true or false"
                )));
            }
            (other, _) => {
                return Err(ApiError::invalid_payload(format!(
                    "tracking_options has no option '{}' (opens, links, thread_replies, label)",
                    clip(other, 64)
                )));
            }
        }
    }
    Ok(asked)
}

/// The opens and links `request` asks to track, checked: `None` when it asks for neither;
/// a 400 for malformed options, or when the operator has set no `public_url`.
pub fn asked_tracking(
    state: &AppState,
    request: &ComposeRequest,
) -> Result<Option<DraftTracking>, ApiError> {
    let Some(tracking) = request.tracking_options.as_ref().filter(|t| !t.is_null()) else {
        return Ok(None);
    };
    let (opens, links, label) = options(tracking)?;
    if !opens && !links {
        return Ok(None);
    }
    if state.public_url.is_none() {
        return Err(ApiError::invalid_payload(
            "tracking_options: opens and links need the address recipients reach this server \
             at, and the operator has not set public_url (MAILROOM_PUBLIC_URL)",
        ));
    }
    Ok(Some(DraftTracking {
        opens,
        links,
        label,
    }))
}

/// A fresh token and what `rewrite` makes of the tracking plan under `public_url`.
fn with_plan<T>(
    state: &AppState,
    asked: &DraftTracking,
    rewrite: impl FnOnce(&TrackingPlan<'_>) -> Option<(T, Vec<String>)>,
) -> Option<(T, PreparedTracking)> {
    let public_url = state.public_url.as_deref()?;
    let token = mailroom_store::generate_tracking_token();
    let base = format!("{public_url}/v3/tracking/{token}");
    let pixel = format!("{base}/open.gif");
    let link_prefix = format!("{base}/links/");
    let plan = TrackingPlan {
        pixel_url: asked.opens.then_some(pixel.as_str()),
        link_prefix: asked.links.then_some(link_prefix.as_str()),
    };
    let (rewritten, links) = rewrite(&plan)?;
    Some((
        rewritten,
        PreparedTracking {
            token,
            opens: asked.opens,
            links_tracked: asked.links,
            links,
            label: asked.label.clone(),
        },
    ))
}

/// Rewrites `request.body` for the tracking it asks for. `None` when nothing is tracked
/// (no opens or links asked, or a plain-text or empty body).
pub fn prepare_tracking(
    state: &AppState,
    request: &mut ComposeRequest,
) -> Result<Option<PreparedTracking>, ApiError> {
    let Some(asked) = asked_tracking(state, request)? else {
        return Ok(None);
    };
    let body = match request.body.as_deref() {
        Some(body) if !request.is_plaintext && !body.trim().is_empty() => body,
        _ => return Ok(None),
    };
    let prepared = with_plan(state, &asked, |plan| {
        let tracked = track_html(body, plan, followable);
        Some((tracked.html, tracked.links))
    });
    Ok(prepared.map(|(html, prepared)| {
        request.body = Some(html);
        prepared
    }))
}

/// A saved draft about to be sent with the tracking it asked for: its HTML part
/// rewritten (the rest of the message as saved). `None` when it has no HTML body.
pub fn track_saved_draft(
    state: &AppState,
    asked: &DraftTracking,
    raw: &[u8],
) -> Option<(Vec<u8>, PreparedTracking)> {
    with_plan(state, asked, |plan| {
        track_raw_message(raw, plan, followable)
    })
}

/// A link the redirector can send a browser to: an absolute http(s) URL that parses.
fn followable(target: &str) -> bool {
    url::Url::parse(target).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

/// Records the tracked message (by its Message-ID, without angle brackets) before it
/// is sent or scheduled.
pub async fn record_tracking(
    state: &AppState,
    access: &GrantAccess,
    prepared: &PreparedTracking,
    message_id_header: &str,
) -> Result<(), ApiError> {
    state
        .store
        .track_message(&NewTrackedMessage {
            token: &prepared.token,
            grant_id: &access.grant.id,
            message_id_header,
            label: prepared.label.as_deref(),
            opens: prepared.opens,
            links: &prepared.links,
            links_tracked: prepared.links_tracked,
        })
        .await?;
    Ok(())
}

/// Sends `mail` (its tracking, if any, recorded already) and settles the tracking with
/// the outcome: the Sent copy's id is kept for the notifications, and a send that
/// certainly sent nothing forgets it.
pub async fn send_tracked(
    state: &AppState,
    access: &GrantAccess,
    mail: &OutgoingMail,
    answering: Option<&str>,
    tracking: Option<&PreparedTracking>,
) -> Result<SendReceipt, ApiError> {
    let sent = state
        .mailboxes
        .send(&access.grant.id, mail, answering)
        .await
        .map_err(ApiError::from);
    let Some(tracking) = tracking else {
        return sent;
    };
    match &sent {
        Ok(receipt) => {
            if let Some(id) = &receipt.message_id {
                state
                    .store
                    .set_tracked_message_id(tracking.token(), id)
                    .await?;
            }
        }
        Err(e) if !e.may_have_sent => {
            state.store.forget_tracked_message(tracking.token()).await?;
        }
        Err(_) => {}
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_read_and_anything_else_is_refused() {
        assert_eq!(
            options(&json!({"opens": true, "links": false, "thread_replies": true, "label": "q3"}))
                .ok(),
            Some((true, false, Some("q3".to_owned())))
        );
        assert_eq!(
            options(&json!({"opens": null, "links": true})).ok(),
            Some((false, true, None))
        );
        for bad in [
            json!("opens"),
            json!({"opens": "yes"}),
            json!({"label": 3}),
            json!({"label": "x".repeat(MAX_LABEL_CHARS + 1)}),
            json!({"pixels": true}),
        ] {
            assert!(options(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_absolute_web_urls_are_followed() {
        assert!(followable("https://example.com/a?b=c"));
        assert!(followable("HTTP://EXAMPLE.COM"));
        assert!(!followable("https://exa mple.com"));
        assert!(!followable("javascript:alert(1)"));
        assert!(!followable("https://"));
    }
}
