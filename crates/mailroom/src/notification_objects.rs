//! What a webhook notification carries, read from the index when it goes out: the
//! message, folder, contact or event as the API shows it (a message's body read from
//! the server first if sync has not read it yet).

use std::{future::Future, pin::Pin};

use mailroom_model::GrantId;
use mailroom_sync::SyncEngine;
use mailroom_webhooks::ObjectRenderer;
use serde_json::Value;

pub struct NotificationObjects(pub SyncEngine);

impl ObjectRenderer for NotificationObjects {
    fn render<'a>(
        &'a self,
        grant_id: &'a str,
        trigger: &'a str,
        object_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Value>> + Send + 'a>> {
        Box::pin(async move {
            let store = self.0.store();
            let grant = GrantId::from_stored(grant_id.to_owned());
            if trigger == "message.send_success" {
                return self.sent(&grant, object_id).await;
            }
            match trigger.split('.').next().unwrap_or_default() {
                "message" => self.message(&grant, object_id).await,
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
            }
        })
    }
}

impl NotificationObjects {
    /// A scheduled send that went out: the copy filed in Sent (or, before sync has
    /// indexed it, the message as scheduled), with its schedule id, under `object`.
    async fn sent(&self, grant: &GrantId, schedule_id: &str) -> Option<Value> {
        let schedule = self
            .0
            .store()
            .scheduled_send(grant, schedule_id)
            .await
            .ok()??;
        let indexed = match &schedule.sent_message_id {
            Some(id) => self.message(grant, id).await,
            None => None,
        };
        let mut message = indexed.unwrap_or_else(|| {
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
        Some(serde_json::json!({"grant_id": grant.as_str(), "object": message}))
    }

    async fn message(&self, grant: &GrantId, object_id: &str) -> Option<Value> {
        let store = self.0.store();
        let mut record = store.message(grant, object_id).await.ok()??;
        if record.body_html.is_none()
            && mailroom_sync::fetch_message_body(store, self.0.policy(), grant, object_id)
                .await
                .is_ok()
        {
            record = store.message(grant, object_id).await.ok()??;
        }
        let folders = store
            .message_folders(std::slice::from_ref(&record.id))
            .await
            .ok()?
            .remove(&record.id)
            .unwrap_or_default();
        Some(mailroom_api::message_object(&record, folders))
    }
}
