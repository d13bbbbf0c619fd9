//! What `grant.*` notifications carry: the grant's id, provider and address with the
//! notification code receivers know from Nylas, read inside the transaction of the
//! change so the notice describes the grant as that change left it.

use mailroom_model::{GrantId, v3::webhook::TriggerType};
use serde_json::{Value, json};
use sqlx::{Any, Row, Transaction};

use crate::{error::StoreError, webhook_outbox::record_notifications};

/// The notification code of each grant trigger.
fn code(trigger: TriggerType) -> i64 {
    match trigger {
        TriggerType::GrantCreated => 25012,
        TriggerType::GrantDeleted => 25013,
        TriggerType::GrantUpdated => 25014,
        _ => 25009,
    }
}

/// Records a `grant.*` notification for this grant; `extra` fields join the object.
/// Must run before a deletion, while the grant still exists.
pub(crate) async fn record_grant_notice(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    trigger: TriggerType,
    extra: Value,
) -> Result<(), StoreError> {
    let Some(row) =
        sqlx::query("SELECT provider, email, application_id, updated_at FROM grants WHERE id = $1")
            .bind(grant_id.as_str())
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(());
    };
    let provider: String = row.try_get("provider")?;
    let application_id: String = row.try_get("application_id")?;
    let mut object = json!({
        "code": code(trigger),
        "grant_id": grant_id.as_str(),
        // The application's connector for the provider: mailroom has one per provider.
        "integration_id": format!("{application_id}:{provider}"),
        "provider": provider,
        "email": row.try_get::<String, _>("email")?,
    });
    if trigger == TriggerType::GrantExpired {
        object["grant_updated_at"] = json!(row.try_get::<i64, _>("updated_at")?);
    }
    if let (Some(target), Value::Object(fields)) = (object.as_object_mut(), extra) {
        target.extend(fields);
    }
    record_notifications(
        tx,
        grant_id,
        trigger,
        &[(grant_id.to_string(), Some(object.to_string()))],
    )
    .await?;
    Ok(())
}
