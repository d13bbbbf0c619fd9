//! The server under test: the whole router on a temporary SQLite database holding one
//! application with one IMAP grant (ann@example.test), and what its tests need to call it
//! as that application, as the grant's tokens, or as another application.

use axum::{
    Router,
    http::{Method, StatusCode},
};
use mailroom_api::{AppState, HttpLimits, NoMailboxes, SignInLimits, SignInSettings};
use mailroom_model::{
    ApplicationId, EmailAddress, GrantId, MailCredentials, MailServerSettings, Provider,
    ProviderTable, Scope, TransportSecurity,
};
use mailroom_store::{
    FolderListing, GrantScope, GrantWrite, Migrations, NewMessage, SecretBox, Store,
};
use serde_json::json;
use std::sync::OnceLock;

use super::mailbox::{Mailbox, index_mailbox};

pub struct App {
    pub router: Router,
    pub store: Store,
    pub api_key: String,
    pub client_secret: String,
    pub application_id: String,
    pub grant_id: GrantId,
    /// `App::new`: the ids of the Inbox's three messages, newest first.
    pub message_ids: Vec<String>,
    /// `App::with_mailbox`: the varied mailbox's messages and folders, by name.
    pub mailbox: Mailbox,
    _dir: tempfile::TempDir,
}

/// The grant's address.
pub const ANN: &str = "ann@example.test";

impl App {
    /// The application with its grant, whose Inbox holds three indexed messages
    /// ("Subject 1" to "Subject 3", dated a second apart; the first one read).
    pub async fn new() -> App {
        App::with_limits(HttpLimits::default()).await
    }

    /// As [`App::new`], under other request limits.
    pub async fn with_limits(limits: HttpLimits) -> App {
        App::from_seed(Contents::ThreeMessages, limits, None, false).await
    }

    /// As [`App::new`], with `public_url` configured (what open and link tracking need).
    pub async fn with_public_url(public_url: &str) -> App {
        App::from_seed(
            Contents::ThreeMessages,
            HttpLimits::default(),
            Some(public_url.to_owned()),
            false,
        )
        .await
    }

    /// As [`App::new`], on a server whose operator configured a notification mailer
    /// (`notification_smtp_url`), so webhooks take `notification_email_addresses`.
    pub async fn with_notification_mailer() -> App {
        App::from_seed(Contents::ThreeMessages, HttpLimits::default(), None, true).await
    }

    /// The application with its grant, whose mailbox is the varied one of
    /// `support::mailbox` (senders, flags, dates, folders, attachments, a thread, an
    /// invitation) instead of the three messages.
    pub async fn with_mailbox() -> App {
        App::from_seed(Contents::VariedMailbox, HttpLimits::default(), None, false).await
    }

    /// A database of its own, copied from the seed, under the whole router.
    async fn from_seed(
        contents: Contents,
        limits: HttpLimits,
        public_url: Option<String>,
        notification_mailer: bool,
    ) -> App {
        let seed = seed(contents);
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, bytes) in &seed.files {
            std::fs::write(dir.path().join(name), bytes).expect("the database is copied");
        }
        let url = format!("sqlite://{}", dir.path().join(DATABASE).display());
        // The copy is migrated already: nothing to apply.
        let store = Store::open_with(&url, secrets(), Migrations::RequireCurrent)
            .await
            .expect("the store opens");
        let state = AppState {
            store: store.clone(),
            policy: mailroom_net::OutboundPolicy::new(Default::default()).expect("a policy"),
            mailboxes: std::sync::Arc::new(NoMailboxes),
            discovery: mailroom_net::MailDiscovery::new(None).expect("discovery"),
            sign_in: std::sync::Arc::new(SignInLimits::new(SignInSettings::default())),
            providers: ProviderTable::real(),
            public_url,
            notification_mailer,
            trusted_proxies: Default::default(),
        };
        App {
            router: mailroom_api::router(state, limits),
            store,
            api_key: seed.api_key.clone(),
            client_secret: seed.client_secret.clone(),
            application_id: seed.application_id.clone(),
            grant_id: seed.grant_id.clone(),
            message_ids: seed.message_ids.clone(),
            mailbox: seed.mailbox.clone(),
            _dir: dir,
        }
    }

    pub fn application(&self) -> ApplicationId {
        ApplicationId::parse(&self.application_id).expect("the application's id")
    }

    /// `/v3/grants/{the grant}{rest}`.
    pub fn grant_path(&self, rest: &str) -> String {
        format!("/v3/grants/{}{rest}", self.grant_id)
    }

    /// The `Authorization` value of the application's API key.
    pub fn api_key_header(&self) -> String {
        format!("Bearer {}", self.api_key)
    }

    /// An access token for the grant (v3 and v2 alike), issued for `scopes` (empty: all of
    /// the grant's).
    pub async fn token(&self, scopes: &[Scope]) -> String {
        let code = self
            .store
            .issue_native_code(&self.application(), &self.grant_id, scopes)
            .await
            .expect("a code");
        self.store
            .redeem_v2_code(&self.application(), &code)
            .await
            .expect("a token")
            .access_token
    }

    /// Sets the grant's scopes over the API (`PATCH /v3/grants/{id}`); empty: all.
    pub async fn set_scopes(&self, scopes: &[Scope]) {
        let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let reply = self
            .call(
                Method::PATCH,
                &format!("/v3/grants/{}", self.grant_id),
                Some(json!({"scope": names})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// Another application of the same server, with a grant of its own.
    pub async fn other_application(&self) -> OtherApplication {
        let created = self
            .store
            .create_application("another", &[])
            .await
            .expect("an application");
        let grant_id = add_grant(
            &self.store,
            &created.application.id,
            "zoe@example.test",
            "Zoe",
        )
        .await;
        OtherApplication {
            api_key: created.api_key,
            application_id: created.application.id,
            grant_id,
        }
    }
}

pub struct OtherApplication {
    pub api_key: String,
    pub application_id: ApplicationId,
    pub grant_id: GrantId,
}

/// The database file's name.
const DATABASE: &str = "mailroom.db";

fn secrets() -> SecretBox {
    SecretBox::new(&[9; 32])
}

/// What a fixture's database holds.
#[derive(Clone, Copy)]
enum Contents {
    ThreeMessages,
    VariedMailbox,
}

/// A fixture's database as files, and what its tests need to know of it.
struct Seed {
    files: Vec<(String, Vec<u8>)>,
    api_key: String,
    client_secret: String,
    application_id: String,
    grant_id: GrantId,
    message_ids: Vec<String>,
    mailbox: Mailbox,
}

/// Each fixture's database is made once per test binary (migrated, the application, its
/// grant and its mail written), and each test starts from a copy of its files: making it
/// again would take most of a test's time.
fn seed(contents: Contents) -> &'static Seed {
    static THREE_MESSAGES: OnceLock<Seed> = OnceLock::new();
    static VARIED_MAILBOX: OnceLock<Seed> = OnceLock::new();
    let cell = match contents {
        Contents::ThreeMessages => &THREE_MESSAGES,
        Contents::VariedMailbox => &VARIED_MAILBOX,
    };
    // Made on a thread of its own: the caller is inside a test's runtime.
    cell.get_or_init(|| {
        std::thread::spawn(move || make_seed(contents))
            .join()
            .expect("the seed database is made")
    })
}

fn make_seed(contents: Contents) -> Seed {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join(DATABASE).display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (created, grant_id, message_ids, mailbox) = runtime.block_on(async {
        let store = Store::open(&url, secrets()).await.expect("the store opens");
        let created = store
            .create_application("in-process", &[])
            .await
            .expect("an application");
        let grant_id = add_grant(&store, &created.application.id, ANN, "Ann").await;
        let (message_ids, mailbox) = match contents {
            Contents::ThreeMessages => (
                index_three_messages(&store, &grant_id).await,
                Mailbox::default(),
            ),
            Contents::VariedMailbox => (Vec::new(), index_mailbox(&store, &grant_id).await),
        };
        store.close().await;
        (created, grant_id, message_ids, mailbox)
    });
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
        .expect("the directory is read")
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).expect("the file is read"))
        })
        .collect();
    files.sort();
    assert!(files.iter().any(|(name, _)| name == DATABASE));
    Seed {
        files,
        api_key: created.api_key,
        client_secret: created.client_secret,
        application_id: created.application.id.as_str().to_owned(),
        grant_id,
        message_ids,
        mailbox,
    }
}

/// Indexes "Subject 1" to "Subject 3" in an Inbox; their ids, newest first.
async fn index_three_messages(store: &Store, grant_id: &GrantId) -> Vec<String> {
    let folders = store
        .reconcile_folders(
            grant_id,
            &[FolderListing {
                imap_name: "INBOX".into(),
                name: "INBOX".into(),
                parent_imap_name: None,
                delimiter: Some("/".into()),
                attributes: vec![],
            }],
        )
        .await
        .expect("the folders are written");
    let messages: Vec<NewMessage> = (1..=3).map(numbered_message).collect();
    store
        .add_folder_messages(grant_id, &folders[0].id, &messages)
        .await
        .expect("the messages are indexed");
    let mut ids = Vec::new();
    for message in messages.iter().rev() {
        let id = store
            .message_id_by_identity(grant_id, &message.identity_key)
            .await
            .expect("the index is read")
            .expect("the message is indexed");
        ids.push(id);
    }
    ids
}

/// An IMAP grant of `application` for `email`, with every scope.
pub async fn add_grant(
    store: &Store,
    application: &ApplicationId,
    email: &str,
    name: &str,
) -> GrantId {
    let address = EmailAddress::parse(email).expect("an address");
    let settings = MailServerSettings {
        imap_username: email.into(),
        imap_host: "imap.example.test".into(),
        imap_port: 993,
        imap_security: TransportSecurity::Ssl,
        smtp_username: email.into(),
        smtp_host: "smtp.example.test".into(),
        smtp_port: 465,
        smtp_security: TransportSecurity::Ssl,
    };
    let credentials = MailCredentials {
        imap_password: "secret".into(),
        smtp_password: "secret".into(),
    };
    let (grant, _) = store
        .upsert_grant(GrantWrite {
            application_id: application,
            provider: Provider::Imap,
            email: &address,
            name: Some(name),
            scope: GrantScope::Unchanged,
            settings: &settings,
            credentials: &credentials.into(),
            email_verified: true,
            max_grants: 10,
            state: None,
            ip: None,
            user_agent: None,
        })
        .await
        .expect("the grant is written")
        .expect("the grant is admitted");
    grant.id
}

/// "Subject {uid}", dated `uid` seconds after 1700000000; the first one read.
fn numbered_message(uid: i64) -> NewMessage {
    NewMessage {
        uid,
        identity_key: format!("mid:m{uid}@example.test"),
        message_id_header: Some(format!("m{uid}@example.test")),
        thread_keys: vec![format!("id:m{uid}@example.test")],
        subject: Some(format!("Subject {uid}")),
        from: vec![],
        to: vec![],
        cc: vec![],
        bcc: vec![],
        reply_to: vec![],
        date: 1_700_000_000 + uid,
        sent_date: None,
        size: 100,
        flags: if uid == 1 {
            vec!["\\Seen".into()]
        } else {
            vec![]
        },
        has_attachments: false,
        in_reply_to: None,
        adopts_identity: None,
    }
}
