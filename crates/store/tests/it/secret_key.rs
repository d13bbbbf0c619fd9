//! The secret key and the database, on both engines: another key is refused at open,
//! and `reseal_all` moves every sealed secret to a new key in one go.

use crate::support::{
    Engine, Place, clean_up, execute_raw, new_grant, on_both_engines, open_store,
};
use mailroom_model::{Provider, v3::TriggerType};
use mailroom_store::{ConnectorWrite, Migrations, NewWebhook, SecretBox, Store, StoreError};

/// The URL of the store `open_store` made, to open it again with another key.
fn url_of(place: &Place) -> String {
    match place {
        Place::Dir(dir) => format!("sqlite://{}", dir.path().join("t.db").display()),
        Place::Schema(schema) => {
            let base = std::env::var("MAILROOM_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}options=-c%20search_path%3D{schema}")
        }
    }
}

async fn another_key_is_refused_and_rotation_moves_every_secret(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store
        .create_application("keys", &[])
        .await
        .unwrap()
        .application
        .id;
    let grant = new_grant(&store, &app).await;
    let hook = store
        .create_webhook(
            &app,
            &NewWebhook {
                description: None,
                webhook_url: "https://hooks.example/x",
                trigger_types: &[TriggerType::MessageCreated],
                notification_email_addresses: &[],
            },
        )
        .await
        .unwrap();
    let connector_settings = serde_json::Map::from_iter([(
        "client_id".to_owned(),
        serde_json::Value::String("client".into()),
    )]);
    store
        .create_connector(
            &app,
            Provider::Google,
            ConnectorWrite {
                settings: Some(&connector_settings),
                client_secret: Some("client-secret"),
                ..ConnectorWrite::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    let url = url_of(&place);
    let old_key = SecretBox::new(&[7; 32]);
    let new_key = SecretBox::new(&[9; 32]);

    let refused = Store::open_with(&url, new_key.clone(), Migrations::RequireCurrent).await;
    assert!(matches!(refused, Err(StoreError::WrongSecretKey)));

    let report = store.reseal_all(&new_key).await.unwrap();
    assert_eq!(
        (
            report.grant_credentials,
            report.webhook_secrets,
            report.connector_secrets
        ),
        (1, 1, 1)
    );
    store.close().await;

    let refused = Store::open_with(&url, old_key, Migrations::RequireCurrent).await;
    assert!(matches!(refused, Err(StoreError::WrongSecretKey)));
    let reopened = Store::open_with(&url, new_key, Migrations::RequireCurrent)
        .await
        .unwrap();
    let secret = reopened.grant_secret(&grant.id).await.unwrap();
    assert_eq!(secret.passwords().unwrap().imap_password, "p");
    assert_eq!(
        reopened
            .connector_client_secret(&app, Provider::Google)
            .await
            .unwrap()
            .as_deref(),
        Some("client-secret")
    );
    assert_eq!(
        reopened
            .webhook_secret(&hook.webhook.id)
            .await
            .unwrap()
            .as_deref(),
        Some(hook.secret.as_str())
    );
    reopened.close().await;
    clean_up(place).await;
}

/// A webhook secret is sealed for its own row: copied into another webhook's row (by
/// someone who can write the database but has no key), it does not open there.
async fn a_sealed_webhook_secret_opens_only_in_its_own_row(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store
        .create_application("bound", &[])
        .await
        .unwrap()
        .application
        .id;
    let new = |url| NewWebhook {
        description: None,
        webhook_url: url,
        trigger_types: &[TriggerType::MessageCreated],
        notification_email_addresses: &[],
    };
    let first = store
        .create_webhook(&app, &new("https://hooks.example/1"))
        .await
        .unwrap();
    let second = store
        .create_webhook(&app, &new("https://hooks.example/2"))
        .await
        .unwrap();
    execute_raw(
        &place,
        &format!(
            "UPDATE webhooks SET secret_sealed = \
             (SELECT secret_sealed FROM webhooks WHERE id = '{}') WHERE id = '{}'",
            first.webhook.id, second.webhook.id
        ),
    )
    .await;
    assert!(matches!(
        store.webhook_secret(&second.webhook.id).await,
        Err(StoreError::Secret(_))
    ));
    assert_eq!(
        store
            .webhook_secret(&first.webhook.id)
            .await
            .unwrap()
            .as_deref(),
        Some(first.secret.as_str())
    );
    clean_up(place).await;
}

/// Mailbox credentials are sealed for their own grant: copied into another grant's row,
/// they do not open there (so a database writer without the key cannot make one grant's
/// password serve another grant's servers).
async fn sealed_credentials_open_only_in_their_own_grant(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let mut grants = Vec::new();
    for name in ["one", "two"] {
        let app = store
            .create_application(name, &[])
            .await
            .unwrap()
            .application
            .id;
        grants.push(new_grant(&store, &app).await.id);
    }
    execute_raw(
        &place,
        &format!(
            "UPDATE grants SET credentials = \
             (SELECT credentials FROM grants WHERE id = '{}') WHERE id = '{}'",
            grants[0], grants[1]
        ),
    )
    .await;
    assert!(matches!(
        store.grant_secret(&grants[1]).await,
        Err(StoreError::Secret(_))
    ));
    assert_eq!(
        store
            .grant_secret(&grants[0])
            .await
            .unwrap()
            .passwords()
            .unwrap()
            .imap_password,
        "p"
    );
    clean_up(place).await;
}

on_both_engines!(
    another_key_is_refused_and_rotation_moves_every_secret,
    a_sealed_webhook_secret_opens_only_in_its_own_row,
    sealed_credentials_open_only_in_their_own_grant
);
