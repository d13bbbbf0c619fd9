//! Templates in the store: an application's and a grant's kept apart, paged in creation
//! order, changed in part, found for a send (the grant's own or its application's), and
//! gone with their grant — on both engines.

use crate::support::{Engine, clean_up, execute_raw, new_grant, on_both_engines, open_store};
use mailroom_model::{ApplicationId, TemplateId, v3::TemplateEngine};
use mailroom_store::{
    NewTemplate, Store, TemplateChange, TemplateCreation, TemplateOwner, TemplateRecord,
};

async fn application(store: &Store, name: &str) -> ApplicationId {
    store
        .create_application(name, &[])
        .await
        .unwrap()
        .application
        .id
}

async fn add(store: &Store, owner: &TemplateOwner, name: &str) -> TemplateRecord {
    let new = NewTemplate {
        name,
        subject: "Hello {{name}}",
        body: "<p>Hi {{name}}</p>",
        engine: TemplateEngine::Handlebars,
    };
    match store.create_template(owner, &new).await.unwrap() {
        TemplateCreation::Created(record) => record,
        TemplateCreation::OverQuota(reason) => panic!("refused: {reason}"),
    }
}

async fn names(store: &Store, owner: &TemplateOwner) -> Vec<String> {
    let listed = store.list_templates(owner, None, 100).await.unwrap();
    listed.into_iter().map(|t| t.name).collect()
}

async fn owners_see_only_their_own(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = application(&store, "t").await;
    let other_app = application(&store, "u").await;
    let grant = new_grant(&store, &app).await;
    let app_owner = TemplateOwner::Application(app.clone());
    let grant_owner = TemplateOwner::Grant {
        application_id: app.clone(),
        grant_id: grant.id.clone(),
    };
    let foreign_owner = TemplateOwner::Application(other_app.clone());

    let app_template = add(&store, &app_owner, "app welcome").await;
    let grant_template = add(&store, &grant_owner, "grant welcome").await;
    assert_eq!(app_template.grant_id, None);
    assert_eq!(grant_template.grant_id.as_ref(), Some(&grant.id));
    assert_eq!(grant_template.application_id, app);

    assert_eq!(names(&store, &app_owner).await, ["app welcome"]);
    assert_eq!(names(&store, &grant_owner).await, ["grant welcome"]);
    assert!(names(&store, &foreign_owner).await.is_empty());

    let read = store
        .template(&app_owner, &app_template.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, app_template);
    for (owner, id) in [
        (&grant_owner, &app_template.id),
        (&app_owner, &grant_template.id),
        (&foreign_owner, &app_template.id),
    ] {
        assert!(store.template(owner, id).await.unwrap().is_none());
        assert!(!store.delete_template(owner, id).await.unwrap());
        let change = TemplateChange {
            name: Some("taken".into()),
            ..Default::default()
        };
        assert!(
            store
                .update_template(owner, id, &change)
                .await
                .unwrap()
                .is_none()
        );
    }

    // A send finds the grant's own template and its application's, not another's.
    for id in [&app_template.id, &grant_template.id] {
        let found = store.template_for_send(&app, &grant.id, id).await.unwrap();
        assert_eq!(found.map(|t| t.id), Some(id.clone()));
    }
    let foreign = add(&store, &foreign_owner, "foreign").await;
    assert!(
        store
            .template_for_send(&app, &grant.id, &foreign.id)
            .await
            .unwrap()
            .is_none()
    );
    let second_grant = TemplateOwner::Grant {
        application_id: other_app.clone(),
        grant_id: new_grant(&store, &other_app).await.id,
    };
    let TemplateOwner::Grant { grant_id, .. } = &second_grant else {
        unreachable!()
    };
    assert!(
        store
            .template_for_send(&other_app, grant_id, &grant_template.id)
            .await
            .unwrap()
            .is_none(),
        "another grant's template"
    );

    // Deleting the grant deletes its templates, not the application's.
    assert!(store.delete_grant(&app, &grant.id).await.unwrap());
    assert!(
        store
            .template(&grant_owner, &grant_template.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(names(&store, &app_owner).await, ["app welcome"]);
    clean_up(place).await;
}

async fn pages_follow_creation_order_and_updates_are_partial(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = application(&store, "t").await;
    let owner = TemplateOwner::Application(app);
    for n in 0..5 {
        add(&store, &owner, &format!("t{n}")).await;
    }
    let first = store.list_templates(&owner, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["t0", "t1"]
    );
    let rest = store
        .list_templates(&owner, Some(&first[1].id), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["t2", "t3", "t4"]
    );
    let unknown = TemplateId::generate_time_ordered();
    assert!(
        store
            .list_templates(&owner, Some(&unknown), 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was made after a fresh id"
    );

    let change = TemplateChange {
        subject: Some("{{ greeting }}".into()),
        engine: Some(TemplateEngine::Nunjucks),
        ..Default::default()
    };
    let updated = store
        .update_template(&owner, &first[0].id, &change)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "t0", "kept");
    assert_eq!(updated.body, "<p>Hi {{name}}</p>", "kept");
    assert_eq!(updated.subject, "{{ greeting }}");
    assert_eq!(updated.engine, TemplateEngine::Nunjucks);
    assert!(updated.updated_at >= updated.created_at);
    assert!(store.delete_template(&owner, &first[0].id).await.unwrap());
    assert!(!store.delete_template(&owner, &first[0].id).await.unwrap());
    assert_eq!(names(&store, &owner).await, ["t1", "t2", "t3", "t4"]);
    clean_up(place).await;
}

async fn an_owner_holds_a_bounded_number(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = application(&store, "t").await;
    let grant = new_grant(&store, &app).await;
    let owner = TemplateOwner::Grant {
        application_id: app.clone(),
        grant_id: grant.id,
    };
    // Filled directly: a thousand creates one by one would only slow the test.
    let values: Vec<String> = (0..mailroom_store::MAX_TEMPLATES_PER_OWNER)
        .map(|_| {
            format!(
                "('{}', '{}', '{}', 'n', 's', 'b', 'mustache', 0, 0)",
                TemplateId::generate_time_ordered(),
                app,
                owner_grant(&owner),
            )
        })
        .collect();
    execute_raw(
        &place,
        &format!(
            "INSERT INTO templates (id, application_id, grant_id, name, subject, body, engine, \
             created_at, updated_at) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
    let new = NewTemplate {
        name: "one too many",
        subject: "s",
        body: "b",
        engine: TemplateEngine::Mustache,
    };
    let refused = store.create_template(&owner, &new).await.unwrap();
    assert!(
        matches!(&refused, TemplateCreation::OverQuota(reason) if reason.contains("1000 templates")),
        "{refused:?}"
    );
    // The application's own count is its own.
    add(&store, &TemplateOwner::Application(app), "app's").await;
    clean_up(place).await;
}

fn owner_grant(owner: &TemplateOwner) -> String {
    match owner {
        TemplateOwner::Grant { grant_id, .. } => grant_id.to_string(),
        TemplateOwner::Application(_) => String::new(),
    }
}

on_both_engines!(
    owners_see_only_their_own,
    pages_follow_creation_order_and_updates_are_partial,
    an_owner_holds_a_bounded_number,
);
