//! What a webhook notification carries, read from the index when it goes out: the
//! message, folder, contact or event as the API shows it (a message's body read from
//! the server first if sync has not read it yet).

use std::{future::Future, pin::Pin};

use mailroom_model::GrantId;
use mailroom_sync::SyncEngine;
use mailroom_webhooks::{ObjectRenderer, RenderedObject};
use tokio::time::Instant;

pub struct NotificationObjects(pub SyncEngine);

impl ObjectRenderer for NotificationObjects {
    fn render<'a>(
        &'a self,
        grant_id: &'a str,
        trigger: &'a str,
        object_id: &'a str,
        body_by: Instant,
    ) -> Pin<Box<dyn Future<Output = Option<RenderedObject>> + Send + 'a>> {
        Box::pin(async move {
            let store = self.0.store();
            let grant = GrantId::from_stored(grant_id.to_owned());
            if trigger == "message.send_success" {
                return self.sent(&grant, object_id, body_by).await;
            }
            let whole = match trigger.split('.').next().unwrap_or_default() {
                "message" => return self.message(&grant, object_id, body_by).await,
                "folder" => {
                    let folders = store.folders_with_counts(&grant).await.ok()?;
                    let folder = folders.iter().find(|f| f.folder.id == object_id)?;
                    Some(mailroom_api::folder_object(folder))
                }
                "contact" => {
                    let contact = store.contact(&grant, object_id).await.ok()??;
                    Some(mailroom_api::contact_object(&contact))
                }
                "event" => {
                    let record = store.grant_by_id(&grant).await.ok()??;
                    let event = store.event(&grant, object_id).await.ok()??;
                    Some(mailroom_api::event_object(&event, &record))
                }
                _ => None,
            };
            whole.map(RenderedObject::whole)
        })
    }
}

impl NotificationObjects {
    /// A scheduled send that went out: the copy filed in Sent (or, before sync has
    /// indexed it, the message as scheduled), with its schedule id, under `object`.
    async fn sent(
        &self,
        grant: &GrantId,
        schedule_id: &str,
        body_by: Instant,
    ) -> Option<RenderedObject> {
        let schedule = self
            .0
            .store()
            .scheduled_send(grant, schedule_id)
            .await
            .ok()??;
        let indexed = match &schedule.sent_message_id {
            Some(id) => self.message(grant, id, body_by).await,
            None => None,
        };
        let body_left_out = indexed.as_ref().is_some_and(|i| i.body_left_out);
        let mut message = indexed.map(|i| i.object).unwrap_or_else(|| {
            mailroom_store::scheduled_message(
                &schedule.message.to_string(),
                schedule_id,
                grant,
                schedule.send_at,
            )
        });
        if let Some(fields) = message.as_object_mut() {
            fields.insert("schedule_id".into(), schedule_id.into());
            fields.insert("send_at".into(), schedule.send_at.into());
        }
        Some(RenderedObject {
            object: serde_json::json!({"grant_id": grant.as_str(), "object": message}),
            body_left_out,
        })
    }

    /// The message, its body read from the server first if sync has not read it yet and
    /// that can be done by `body_by`; otherwise without its body, marked as left out.
    async fn message(
        &self,
        grant: &GrantId,
        object_id: &str,
        body_by: Instant,
    ) -> Option<RenderedObject> {
        let store = self.0.store();
        let mut record = store.message(grant, object_id).await.ok()??;
        let mut body_left_out = false;
        if record.body_html.is_none() {
            let fetch = mailroom_sync::fetch_message_body(store, self.0.policy(), grant, object_id);
            // A body that could not be read in time, or at all (a server that went
            // silent fails the read before the deadline), is left out: the notification
            // says so with its `.truncated` type.
            match tokio::time::timeout_at(body_by, fetch).await {
                Ok(Ok(_)) => record = store.message(grant, object_id).await.ok()??,
                Ok(Err(_)) | Err(_) => body_left_out = true,
            }
        }
        let folders = store
            .message_folders(grant, std::slice::from_ref(&record.id))
            .await
            .ok()?
            .remove(&record.id)
            .unwrap_or_default();
        Some(RenderedObject {
            object: mailroom_api::message_object(&record, folders),
            body_left_out,
        })
    }
}
