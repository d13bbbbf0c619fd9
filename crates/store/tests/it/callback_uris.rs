//! Redirect URIs in the store: each URL once per application, kept in creation order,
//! updated and deleted only through their own application — on both engines.

use crate::support::{Engine, clean_up, on_both_engines, open_store};
use mailroom_model::{
    ApplicationId, CallbackUriId, RedirectPlatform, RedirectUrl, v3::RedirectUriSettings,
};
use mailroom_store::{CallbackUriRecord, CallbackUriUpdate, Store};

fn web(url: &str) -> RedirectUrl {
    RedirectUrl::parse(url, RedirectPlatform::Web).unwrap()
}

async fn urls(store: &Store, app: &ApplicationId) -> Vec<String> {
    let records = store.list_callback_uris(app).await.unwrap();
    records.into_iter().map(|r| r.url).collect()
}

async fn add_web(store: &Store, app: &ApplicationId, url: &str) -> Option<CallbackUriRecord> {
    store
        .create_callback_uri(app, &web(url), &Default::default())
        .await
        .unwrap()
}

/// Gives a redirect URI another web URL, without settings.
async fn move_to(
    store: &Store,
    app: &ApplicationId,
    id: &CallbackUriId,
    url: &str,
) -> CallbackUriUpdate {
    store
        .update_callback_uri(app, id, &web(url), &Default::default())
        .await
        .unwrap()
}

async fn each_url_once_per_application_in_creation_order(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let first = web("https://example.com/a");
    let app = store
        .create_application("t", &[first.clone(), web("https://example.com/b"), first])
        .await
        .unwrap()
        .application
        .id;
    let settings = RedirectUriSettings {
        bundle_id: Some("com.example.app".into()),
        ..Default::default()
    };
    let ios = RedirectUrl::parse("com.example.app://cb", RedirectPlatform::Ios).unwrap();
    let added = store
        .create_callback_uri(&app, &ios, &settings)
        .await
        .unwrap()
        .expect("a new URL");
    assert!(
        add_web(&store, &app, "https://example.com/b")
            .await
            .is_none(),
        "a URL the application has"
    );
    assert_eq!(
        urls(&store, &app).await,
        [
            "https://example.com/a",
            "https://example.com/b",
            "com.example.app://cb"
        ]
    );
    let read = store.callback_uri(&app, &added.id).await.unwrap().unwrap();
    assert_eq!(read.platform, RedirectPlatform::Ios);
    assert_eq!(read.settings, settings);

    let other = store
        .create_application("u", &[])
        .await
        .unwrap()
        .application
        .id;
    assert!(
        add_web(&store, &other, "https://example.com/b")
            .await
            .is_some(),
        "another application may have the same URL"
    );
    clean_up(place).await;
}

async fn updates_refuse_duplicates_and_other_applications(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = store
        .create_application(
            "t",
            &[web("https://example.com/a"), web("https://example.com/b")],
        )
        .await
        .unwrap()
        .application
        .id;
    let other = store
        .create_application("u", &[])
        .await
        .unwrap()
        .application
        .id;
    let listed = store.list_callback_uris(&app).await.unwrap();
    let (a, b) = (&listed[0].id, &listed[1].id);

    let onto_b = move_to(&store, &app, a, "https://example.com/b").await;
    assert!(
        matches!(onto_b, CallbackUriUpdate::DuplicateUrl),
        "{onto_b:?}"
    );
    let foreign = move_to(&store, &other, a, "https://example.com/c").await;
    assert!(
        matches!(foreign, CallbackUriUpdate::NotFound),
        "{foreign:?}"
    );
    let unknown = CallbackUriId::generate();
    let missing = move_to(&store, &app, &unknown, "https://example.com/c").await;
    assert!(
        matches!(missing, CallbackUriUpdate::NotFound),
        "{missing:?}"
    );

    let js = RedirectUrl::parse("https://example.com/c", RedirectPlatform::Js).unwrap();
    let settings = RedirectUriSettings {
        origin: Some("https://example.com".into()),
        ..Default::default()
    };
    let CallbackUriUpdate::Updated(updated) = store
        .update_callback_uri(&app, a, &js, &settings)
        .await
        .unwrap()
    else {
        panic!("the update should succeed");
    };
    assert_eq!(updated.url, "https://example.com/c");
    let read = store.callback_uri(&app, a).await.unwrap().unwrap();
    assert_eq!(
        (read.url.as_str(), read.platform),
        ("https://example.com/c", RedirectPlatform::Js)
    );
    assert_eq!(read.settings, settings);

    assert!(store.callback_uri(&other, b).await.unwrap().is_none());
    assert!(!store.delete_callback_uri(&other, b).await.unwrap());
    assert!(store.delete_callback_uri(&app, b).await.unwrap());
    assert!(!store.delete_callback_uri(&app, b).await.unwrap());
    assert_eq!(urls(&store, &app).await, ["https://example.com/c"]);
    clean_up(place).await;
}

on_both_engines!(
    each_url_once_per_application_in_creation_order,
    updates_refuse_duplicates_and_other_applications,
);
