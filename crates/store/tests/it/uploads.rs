//! Files uploaded through Nylas v2: kept byte for byte for their grant alone, bounded per
//! grant, dropped past their day. Every scenario runs on the embedded SQLite and on
//! PostgreSQL.

use crate::support::{
    Engine, clean_up, execute_raw, grant_with_inbox, on_both_engines, open_store,
};
use mailroom_store::{UPLOAD_LIFETIME_SECS, UploadQuota, UploadRefused};

async fn uploads_belong_to_their_grant(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (mine, _) = grant_with_inbox(&store).await;
    let (theirs, _) = grant_with_inbox(&store).await;
    let content: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let upload = store
        .store_upload(
            &mine,
            "report.pdf",
            "application/pdf",
            &content,
            &UploadQuota::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(upload.size, 10_000);
    assert_eq!(upload.grant_id, mine);
    assert_eq!(
        store.upload(&mine, &upload.id).await.unwrap(),
        Some(upload.clone())
    );
    assert_eq!(
        store.uploaded_file(&mine, &upload.id).await.unwrap(),
        Some((
            "report.pdf".to_owned(),
            "application/pdf".to_owned(),
            content
        ))
    );
    // Another grant's id finds nothing, nor deletes it.
    assert_eq!(store.upload(&theirs, &upload.id).await.unwrap(), None);
    assert_eq!(
        store.uploaded_file(&theirs, &upload.id).await.unwrap(),
        None
    );
    assert!(!store.delete_upload(&theirs, &upload.id).await.unwrap());
    assert!(store.delete_upload(&mine, &upload.id).await.unwrap());
    assert_eq!(store.uploaded_file(&mine, &upload.id).await.unwrap(), None);
    store.close().await;
    clean_up(place).await;
}

async fn uploads_are_bounded_and_dropped_past_their_day(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, _) = grant_with_inbox(&store).await;
    let quota = UploadQuota {
        files: 3,
        bytes: 100,
    };
    let half = vec![0u8; 50];
    let first = store
        .store_upload(&grant, "a.bin", "application/octet-stream", &half, &quota)
        .await
        .unwrap()
        .unwrap();
    store
        .store_upload(&grant, "b.bin", "application/octet-stream", &half, &quota)
        .await
        .unwrap()
        .unwrap();
    let refused = store
        .store_upload(&grant, "c.bin", "application/octet-stream", b"x", &quota)
        .await
        .unwrap();
    assert!(
        matches!(&refused, Err(UploadRefused::OverQuota(reason)) if reason.contains("bytes")),
        "{refused:?}"
    );
    // A day on, the first no longer counts, and is pruned.
    execute_raw(
        &place,
        &format!(
            "UPDATE v2_uploads SET created_at = created_at - {} WHERE id = '{}'",
            UPLOAD_LIFETIME_SECS + 1,
            first.id
        ),
    )
    .await;
    store
        .store_upload(&grant, "c.bin", "application/octet-stream", b"x", &quota)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.upload(&grant, &first.id).await.unwrap(), None);
    // So many files are refused, whatever their size.
    store
        .store_upload(&grant, "d.bin", "application/octet-stream", b"", &quota)
        .await
        .unwrap()
        .unwrap();
    let refused = store
        .store_upload(&grant, "e.bin", "application/octet-stream", b"", &quota)
        .await
        .unwrap();
    assert!(
        matches!(&refused, Err(UploadRefused::OverQuota(reason)) if reason.contains("files")),
        "{refused:?}"
    );
    let cutoff = mailroom_model::time::unix_now() + 1;
    assert_eq!(store.purge_uploads(cutoff).await.unwrap(), 3);
    store.close().await;
    clean_up(place).await;
}

on_both_engines!(
    uploads_belong_to_their_grant,
    uploads_are_bounded_and_dropped_past_their_day,
);
