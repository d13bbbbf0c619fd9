//! `/v3/webhooks`: an application's webhook destinations. A destination becomes active
//! only after its URL answered the `?challenge=` handshake; its secret is shown on
//! create and on rotation only.

use axum::extract::{Path, State};
use mailroom_model::{
    EmailAddress, WebhookId,
    time::unix_now,
    v3::{
        CreateWebhookRequest, MockPayloadRequest, SendTestEventRequest, TriggerType,
        UnknownTriggerType, UpdateWebhookRequest, Webhook, WebhookIpAddresses, WebhookNotification,
        WebhookStatus,
    },
};
use mailroom_net::{
    ChallengeError, OutboundPolicy, SIGNATURE_HEADER, WebhookUrl, run_challenge, webhook_post,
    webhook_signature,
};
use mailroom_store::{NewWebhook, WebhookChange, WebhookRecord, WebhookWithSecret};
use serde_json::{Value, json};

use crate::clip::clip;
use crate::{
    auth::AppAuth,
    envelope::{Item, List},
    error::ApiError,
    extract::JsonBody,
    router::AppState,
};

const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Addresses one webhook's failure is reported to, at most.
const MAX_NOTIFICATION_ADDRESSES: usize = 10;

pub async fn create_webhook(
    State(state): State<AppState>,
    auth: AppAuth,
    JsonBody(input): JsonBody<CreateWebhookRequest>,
) -> Result<Item<Webhook>, ApiError> {
    let trigger_types = match input.trigger_types.as_deref() {
        Some(values) => parse_triggers(values)?,
        None => {
            return Err(ApiError::invalid_payload(
                "'trigger_types' is required, e.g. [\"message.created\"]",
            ));
        }
    };
    let url = input.webhook_url.as_deref().ok_or_else(|| {
        ApiError::invalid_payload("'webhook_url' is required: where notifications are POSTed")
    })?;
    let url = parse_url(url)?;
    let emails = parse_emails(
        &state,
        input.notification_email_addresses.as_deref().unwrap_or(&[]),
    )?;
    let description = check_description(input.description)?;
    challenge(&state.policy, &url).await?;
    let created = state
        .store
        .create_webhook(
            &auth.application_id,
            &NewWebhook {
                description: description.as_deref(),
                webhook_url: url.as_str(),
                trigger_types: &trigger_types,
                notification_email_addresses: &emails,
            },
        )
        .await?;
    Ok(Item::ok(with_secret(created)))
}

pub async fn list_webhooks(
    State(state): State<AppState>,
    auth: AppAuth,
) -> Result<List<Webhook>, ApiError> {
    let records = state.store.list_webhooks(&auth.application_id).await?;
    Ok(List(records.into_iter().map(to_v3).collect()))
}

pub async fn get_webhook(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
) -> Result<Item<Webhook>, ApiError> {
    let id = parse_id(&id)?;
    let record = state
        .store
        .webhook(&auth.application_id, &id)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn update_webhook(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateWebhookRequest>,
) -> Result<Item<Webhook>, ApiError> {
    let id = parse_id(&id)?;
    let current = state
        .store
        .webhook(&auth.application_id, &id)
        .await?
        .ok_or_else(|| missing(&id))?;
    let trigger_types = input
        .trigger_types
        .as_deref()
        .map(parse_triggers)
        .transpose()?;
    let url = input.webhook_url.as_deref().map(parse_url).transpose()?;
    let emails = input
        .notification_email_addresses
        .as_deref()
        .map(|values| parse_emails(&state, values))
        .transpose()?;
    let description = check_description(input.description)?;
    let status = input.status.as_deref().map(parse_status).transpose()?;

    // A new URL, or a destination switched back on, must prove again that it listens.
    let url_changes = url
        .as_ref()
        .is_some_and(|u| u.as_str() != current.webhook_url);
    let reactivated =
        status == Some(WebhookStatus::Active) && current.status != WebhookStatus::Active;
    if url_changes || reactivated {
        let target = match &url {
            Some(url) => url.clone(),
            None => parse_url(&current.webhook_url)?,
        };
        challenge(&state.policy, &target).await?;
    }
    let change = WebhookChange {
        description,
        webhook_url: url.map(|u| u.as_str().to_owned()),
        trigger_types,
        notification_email_addresses: emails,
        status,
    };
    let record = state
        .store
        .update_webhook(&auth.application_id, &id, &change)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
) -> Result<Item<Value>, ApiError> {
    let id = parse_id(&id)?;
    if state
        .store
        .delete_webhook(&auth.application_id, &id)
        .await?
    {
        Ok(Item::ok(json!({"status": "success"})))
    } else {
        Err(missing(&id))
    }
}

/// Both `PUT /v3/webhooks/{id}/rotate-secret` (Python) and
/// `POST /v3/webhooks/rotate-secret/{id}` (the spec, Node).
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(id): Path<String>,
) -> Result<Item<Webhook>, ApiError> {
    let id = parse_id(&id)?;
    let rotated = state
        .store
        .rotate_webhook_secret(&auth.application_id, &id)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(Item::ok(with_secret(rotated)))
}

/// The addresses notifications leave from: the configured outbound bind address, if any.
pub async fn ip_addresses(
    State(state): State<AppState>,
    _auth: AppAuth,
) -> Result<Item<WebhookIpAddresses>, ApiError> {
    let ip_addresses = state
        .policy
        .settings()
        .bind_address
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| ip.to_string())
        .into_iter()
        .collect();
    Ok(Item::ok(WebhookIpAddresses {
        ip_addresses,
        updated_at: unix_now(),
    }))
}

/// An example notification for a trigger type, shaped as a delivery would be.
pub async fn mock_payload(
    auth: AppAuth,
    JsonBody(input): JsonBody<MockPayloadRequest>,
) -> Result<Item<WebhookNotification>, ApiError> {
    let trigger = input.trigger_type.as_deref().ok_or_else(|| {
        ApiError::invalid_payload("'trigger_type' is required, e.g. \"message.created\"")
    })?;
    let trigger: TriggerType = trigger.parse().map_err(unknown_trigger)?;
    Ok(Item::ok(WebhookNotification::new(
        trigger,
        uuid::Uuid::new_v4().to_string(),
        unix_now(),
        auth.application_id.to_string(),
        mock_object(trigger),
    )))
}

/// POSTs an example notification of a trigger type to a URL, as a delivery would (signed
/// with the secret of the application's webhook at that URL, if it has one), once, and
/// says whether the receiver took it.
pub async fn send_test_event(
    State(state): State<AppState>,
    auth: AppAuth,
    JsonBody(input): JsonBody<SendTestEventRequest>,
) -> Result<Item<&'static str>, ApiError> {
    let trigger = input.trigger_type.as_deref().ok_or_else(|| {
        ApiError::invalid_payload("'trigger_type' is required, e.g. \"message.created\"")
    })?;
    let trigger: TriggerType = trigger.parse().map_err(unknown_trigger)?;
    let url = input.webhook_url.as_deref().ok_or_else(|| {
        ApiError::invalid_payload("'webhook_url' is required: where the test event is POSTed")
    })?;
    let url = parse_url(url)?;
    let notification = WebhookNotification::new(
        trigger,
        uuid::Uuid::new_v4().to_string(),
        unix_now(),
        auth.application_id.to_string(),
        mock_object(trigger),
    );
    let body = serde_json::to_vec(&notification).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut signature = None;
    for webhook in state.store.list_webhooks(&auth.application_id).await? {
        if webhook.webhook_url == url.as_str()
            && let Some(secret) = state.store.webhook_secret(&webhook.id).await?
        {
            signature = Some(webhook_signature(&secret, &body));
            break;
        }
    }
    let mut headers = vec![("content-type", "application/json")];
    if let Some(signature) = &signature {
        headers.push((SIGNATURE_HEADER, signature.as_str()));
    }
    let reply = webhook_post(
        &state.policy,
        &url,
        &headers,
        body.into(),
        TEST_EVENT_TIMEOUT,
        TEST_EVENT_ANSWER_BYTES,
    )
    .await
    .map_err(|e| ApiError::bad_request(format!("the test event could not be delivered: {e}")))?;
    if !(200..300).contains(&reply.status) {
        return Err(ApiError::bad_request(format!(
            "the test event was refused: the receiver answered {}",
            reply.status
        )));
    }
    Ok(Item::ok("success"))
}

const TEST_EVENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const TEST_EVENT_ANSWER_BYTES: usize = 64 * 1024;

/// A small but complete-looking object of the trigger's kind.
fn mock_object(trigger: TriggerType) -> Value {
    let grant_id = "mock-grant-id";
    let object = trigger.object_type();
    let id = format!("mock-{object}-id");
    if trigger.as_str().ends_with(".deleted") && object != "grant" {
        return json!({"id": id, "grant_id": grant_id, "object": object});
    }
    let now = unix_now();
    let tracked = |extra: Value| {
        let mut base = json!({
            "object": "message", "grant_id": grant_id, "message_id": "mock-message-id",
            "label": "mock label", "sender_app_id": "mock-application-id", "timestamp": now,
        });
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
            base.extend(extra);
        }
        base
    };
    match trigger {
        TriggerType::MessageOpened => {
            return tracked(json!({
                "message_data": {"count": 1, "timestamp": now},
                "recents": [{"opened_id": 1, "ip": "203.0.113.0", "user_agent": "Mozilla/5.0", "timestamp": now}],
            }));
        }
        TriggerType::MessageLinkClicked => {
            return tracked(json!({
                "link_data": [{"url": "https://example.com/", "count": 1}],
                "recents": [{"click_id": 1, "link_index": "0", "ip": "203.0.113.0", "user_agent": "Mozilla/5.0", "timestamp": now}],
            }));
        }
        _ => {}
    }
    match object {
        "grant" => json!({
            "grant_id": grant_id,
            "code": 25000,
            "integration_id": "mock-integration-id",
            "provider": "imap",
            "login_id": "mock-login-id",
        }),
        "message" | "thread" => json!({
            "id": id,
            "grant_id": grant_id,
            "object": "message",
            "thread_id": "mock-thread-id",
            "subject": "Hello from mailroom",
            "from": [{"name": "Ada", "email": "ada@example.com"}],
            "to": [{"name": "Grace", "email": "grace@example.com"}],
            "cc": [], "bcc": [], "reply_to": [],
            "date": unix_now(),
            "unread": true,
            "starred": false,
            "folders": ["INBOX"],
            "snippet": "A mock message",
            "body": "<p>A mock message</p>",
            "attachments": [],
        }),
        "folder" => json!({
            "id": id, "grant_id": grant_id, "object": "folder", "name": "Mock folder",
            "system_folder": false, "attributes": [],
        }),
        "contact" => json!({
            "id": id, "grant_id": grant_id, "object": "contact", "given_name": "Ada",
            "emails": [{"email": "ada@example.com", "type": "work"}],
        }),
        "calendar" => json!({
            "id": id, "grant_id": grant_id, "object": "calendar", "name": "Mock calendar",
            "read_only": false, "is_owned_by_user": true,
        }),
        _ => json!({
            "id": id, "grant_id": grant_id, "object": object, "calendar_id": "mock-calendar-id",
            "title": "Mock event", "busy": true, "participants": [],
            "when": {"object": "timespan", "start_time": unix_now(), "end_time": unix_now() + 3600},
        }),
    }
}

async fn challenge(policy: &OutboundPolicy, url: &WebhookUrl) -> Result<(), ApiError> {
    let value = uuid::Uuid::new_v4().simple().to_string();
    run_challenge(policy, url, &value).await.map_err(|e| match e {
        ChallengeError::Http(http) if http.is_refused_url() => {
            ApiError::bad_request(format!("webhook_url is refused: {http}"))
        }
        other => ApiError::bad_request(format!(
            "webhook_url did not pass the challenge (GET {}?challenge=… must answer 200 within 10 s with the challenge value as its body): {other}",
            url.as_str()
        )),
    })
}

fn parse_triggers(values: &[String]) -> Result<Vec<TriggerType>, ApiError> {
    if values.is_empty() {
        return Err(ApiError::invalid_payload(
            "'trigger_types' must name at least one trigger",
        ));
    }
    let mut triggers = Vec::with_capacity(values.len());
    for value in values {
        let trigger: TriggerType = value.parse().map_err(unknown_trigger)?;
        if !triggers.contains(&trigger) {
            triggers.push(trigger);
        }
    }
    Ok(triggers)
}

fn unknown_trigger(e: UnknownTriggerType) -> ApiError {
    ApiError::invalid_payload(e.to_string())
}

fn parse_url(value: &str) -> Result<WebhookUrl, ApiError> {
    WebhookUrl::parse(value).map_err(|e| ApiError::invalid_payload(e.to_string()))
}

/// The addresses a failed webhook is reported to (docs/API.md §6.3): each an email
/// address, at most [`MAX_NOTIFICATION_ADDRESSES`], and only where the operator configured
/// a notification mailer, since nothing would ever be sent to them otherwise.
fn parse_emails(state: &AppState, values: &[String]) -> Result<Vec<String>, ApiError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    if !state.notification_mailer {
        return Err(ApiError::bad_request(
            "notification_email_addresses needs the operator's notification mailer \
             (notification_smtp_url); leave it empty",
        ));
    }
    if values.len() > MAX_NOTIFICATION_ADDRESSES {
        return Err(ApiError::invalid_payload(format!(
            "notification_email_addresses holds at most {MAX_NOTIFICATION_ADDRESSES} addresses"
        )));
    }
    values
        .iter()
        .map(|v| {
            EmailAddress::parse(v.trim())
                .map(|e| e.as_str().to_owned())
                .map_err(|e| {
                    ApiError::invalid_payload(format!("notification_email_addresses: {e}"))
                })
        })
        .collect()
}

fn check_description(description: Option<String>) -> Result<Option<String>, ApiError> {
    match description {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(ApiError::invalid_payload(
            format!("'description' is longer than {MAX_DESCRIPTION_CHARS} characters"),
        )),
        other => Ok(other),
    }
}

/// Applications may pause and resume; `failing` and `failed` are set by delivery.
fn parse_status(value: &str) -> Result<WebhookStatus, ApiError> {
    match value.parse() {
        Ok(status @ (WebhookStatus::Active | WebhookStatus::Pause)) => Ok(status),
        _ => Err(ApiError::invalid_payload(format!(
            "'status' must be 'active' or 'pause', not '{}'",
            clip(value, 50)
        ))),
    }
}

fn parse_id(value: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(value).map_err(|_| ApiError::not_found("no webhook with that id"))
}

fn missing(id: &WebhookId) -> ApiError {
    ApiError::not_found(format!("no webhook with id '{id}' in this application"))
}

fn with_secret(created: WebhookWithSecret) -> Webhook {
    Webhook {
        webhook_secret: Some(created.secret),
        ..to_v3(created.webhook)
    }
}

fn to_v3(record: WebhookRecord) -> Webhook {
    Webhook {
        id: record.id.to_string(),
        description: record.description,
        trigger_types: record.trigger_types,
        webhook_url: record.webhook_url,
        status: record.status,
        notification_email_addresses: record.notification_email_addresses,
        status_updated_at: record.status_updated_at,
        created_at: record.created_at,
        updated_at: record.updated_at,
        webhook_secret: None,
    }
}
