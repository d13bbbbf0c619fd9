//! `mailroom bench-fill` (hidden): fills the store with a large, realistic mailbox through
//! the store's own batch writer (`Store::add_folder_messages`, what an initial sync calls),
//! for `bench/list_latency.py`. A mailbox of a million messages is ~37 GB of mail, too
//! much to seed through IMAP on one machine; its index is not.
//!
//! The mailbox: conversations that grow over fifteen years (most of one message, some
//! long), automated mail that threads by subject, an owner writing to and hearing from
//! 5,000 correspondents of very unequal frequency, an Inbox, an Archive, Sent and twenty
//! labels, some mail in two folders, few unread and starred messages, some attachments.
//! The grant's mail server is unreachable (port 9 on loopback), so a server started on
//! the database leaves the index as it is.

use anyhow::{Context, bail};
use mailroom_model::{
    EmailAddress, MailCredentials, MailServerSettings, Provider, TransportSecurity, v3::EmailName,
};
use mailroom_store::{FolderListing, GrantScope, GrantWrite, NewMessage, Store};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;

use crate::{cli::BenchFillArgs, database, settings::Settings};

const OWNER: &str = "owner@bench.test";
const CORRESPONDENTS: usize = 5000;
const LABELS: usize = 20;
const FIFTEEN_YEARS: i64 = 15 * 365 * 24 * 3600;
const START: i64 = 1_420_070_400; // 2015-01-01
/// Messages generated per round; each folder's share is written as one batch.
const ROUND: usize = 2000;

pub async fn run(settings: Settings, args: BenchFillArgs) -> anyhow::Result<()> {
    if args.messages == 0 {
        bail!("--messages must be at least 1");
    }
    let store = database::open(&settings).await?;
    let created = store.create_application("bench", &[]).await?;
    let grant = bench_grant(&store, &created.application.id).await?;

    let mut names = vec!["INBOX".to_owned(), "Archive".to_owned(), "Sent".to_owned()];
    names.extend((0..LABELS).map(|n| format!("Label {n}")));
    let listing: Vec<FolderListing> = names
        .iter()
        .map(|name| FolderListing {
            imap_name: name.clone(),
            name: name.clone(),
            parent_imap_name: None,
            delimiter: Some("/".into()),
            attributes: vec![],
        })
        .collect();
    let folders = store.reconcile_folders(&grant, &listing).await?;
    let folder_id = |name: &str| -> anyhow::Result<String> {
        folders
            .iter()
            .find(|f| f.imap_name == name)
            .map(|f| f.id.clone())
            .context("a folder just created")
    };
    let ids: Vec<String> = names
        .iter()
        .map(|n| folder_id(n))
        .collect::<anyhow::Result<_>>()?;

    let mut mailbox = Mailbox::new(args.seed, args.messages);
    let started = std::time::Instant::now();
    let mut written = 0u64;
    while written < args.messages {
        let round = (args.messages - written).min(ROUND as u64) as usize;
        let mut by_folder: Vec<Vec<NewMessage>> = vec![Vec::new(); ids.len()];
        for _ in 0..round {
            let (folders, message) = mailbox.next_message();
            for folder in folders {
                let mut copy = message.clone();
                copy.uid = mailbox.next_uid(folder);
                by_folder[folder].push(copy);
            }
        }
        for (folder, batch) in by_folder.iter().enumerate() {
            for chunk in batch.chunks(500) {
                store
                    .add_folder_messages(&grant, &ids[folder], chunk)
                    .await?;
            }
        }
        written += round as u64;
        if written % 100_000 < ROUND as u64 {
            eprintln!(
                "{written} messages in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let out = json!({
        "application_id": created.application.id.to_string(),
        "api_key": created.api_key,
        "grant_id": grant.to_string(),
        "messages": written,
        "seconds": started.elapsed().as_secs_f64(),
        "folders": names.iter().zip(&ids).map(|(n, id)| (n.clone(), json!(id)))
            .collect::<serde_json::Map<_, _>>(),
        "owner": OWNER,
        "frequent_correspondent": correspondent(0),
        "rare_correspondent": correspondent(CORRESPONDENTS - 1),
    });
    println!("{out}");
    store.close().await;
    Ok(())
}

async fn bench_grant(
    store: &Store,
    application_id: &mailroom_model::ApplicationId,
) -> anyhow::Result<mailroom_model::GrantId> {
    let settings = MailServerSettings {
        imap_username: OWNER.into(),
        imap_host: "127.0.0.1".into(),
        imap_port: 9,
        imap_security: TransportSecurity::Ssl,
        smtp_username: OWNER.into(),
        smtp_host: "127.0.0.1".into(),
        smtp_port: 9,
        smtp_security: TransportSecurity::Ssl,
    };
    let email = EmailAddress::parse(OWNER).map_err(|e| anyhow::anyhow!("{e}"))?;
    let credentials = MailCredentials {
        imap_password: "unused".into(),
        smtp_password: "unused".into(),
    };
    let written = store
        .upsert_grant(GrantWrite {
            application_id,
            provider: Provider::Imap,
            email: &email,
            name: Some("Bench"),
            scope: GrantScope::Unchanged,
            settings: &settings,
            credentials: &credentials.into(),
            email_verified: false,
            max_grants: i64::MAX,
            state: None,
            ip: None,
            user_agent: None,
        })
        .await?;
    match written {
        Ok((grant, _)) => Ok(grant.id),
        Err(refused) => bail!("the bench grant was refused: {refused:?}"),
    }
}

fn correspondent(n: usize) -> String {
    format!("person{n}@corp{}.test", n % 97)
}

/// The generator: conversations and automated mail, oldest first.
struct Mailbox {
    rng: StdRng,
    total: u64,
    made: u64,
    /// Open conversations: (conversation, messages so far, correspondent).
    open: Vec<(u64, u32, usize)>,
    conversations: u64,
    uids: Vec<i64>,
}

impl Mailbox {
    fn new(seed: u64, total: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            total,
            made: 0,
            open: Vec::new(),
            conversations: 0,
            uids: vec![0; 3 + LABELS],
        }
    }

    fn next_uid(&mut self, folder: usize) -> i64 {
        self.uids[folder] += 1;
        self.uids[folder]
    }

    /// Heavily skewed: a few people write most of the mail.
    fn someone(&mut self) -> usize {
        let u: f64 = self.rng.r#gen();
        ((u * u * u) * CORRESPONDENTS as f64) as usize % CORRESPONDENTS
    }

    /// The folders (indexes into Inbox, Archive, Sent, labels) and the message.
    fn next_message(&mut self) -> (Vec<usize>, NewMessage) {
        self.made += 1;
        let date = START
            + (self.made as i64 * FIFTEEN_YEARS) / self.total.max(1) as i64
            + self.rng.gen_range(0..600);
        let roll: f64 = self.rng.r#gen();
        let (message_id, refs, subject, person, sent) = if roll < 0.03 {
            // Automated mail without references: it threads by subject.
            let kind = self.rng.gen_range(0..200);
            (
                format!("auto{}.{}@bench.test", kind, self.made),
                Vec::new(),
                format!("Your report {kind} is ready"),
                kind,
                false,
            )
        } else if roll < 0.45 && !self.open.is_empty() {
            let pick = self.rng.gen_range(0..self.open.len());
            let (conversation, count, person) = self.open[pick];
            self.open[pick].1 += 1;
            if self.open[pick].1 > 40 || self.rng.gen_bool(0.2) {
                self.open.swap_remove(pick);
            }
            (
                format!("c{conversation}.{count}@bench.test"),
                vec![format!("c{conversation}.{}@bench.test", count - 1)],
                format!("Re: Topic {conversation}"),
                person,
                self.rng.gen_bool(0.4),
            )
        } else {
            self.conversations += 1;
            let person = self.someone();
            self.open.push((self.conversations, 1, person));
            if self.open.len() > 2000 {
                self.open.remove(0);
            }
            (
                format!("c{}.0@bench.test", self.conversations),
                Vec::new(),
                format!("Topic {}", self.conversations),
                person,
                self.rng.gen_bool(0.15),
            )
        };
        let them = EmailName {
            name: Some(format!("Person {person}")),
            email: correspondent(person),
        };
        let owner = EmailName {
            name: Some("Owner".into()),
            email: OWNER.into(),
        };
        let (from, to) = if sent {
            (vec![owner], vec![them])
        } else {
            (vec![them], vec![owner])
        };
        let cc = if self.rng.gen_bool(0.2) {
            let other = self.someone();
            vec![EmailName {
                name: None,
                email: correspondent(other),
            }]
        } else {
            Vec::new()
        };
        let recent = self.total - self.made < 2000;
        let mut flags = Vec::new();
        if !self.rng.gen_bool(if recent { 0.3 } else { 0.02 }) {
            flags.push("\\Seen".to_owned());
        }
        if self.rng.gen_bool(0.01) {
            flags.push("\\Flagged".to_owned());
        }
        let mut thread_keys = vec![format!("id:{message_id}")];
        thread_keys.extend(refs.iter().map(|r| format!("id:{r}")));
        if refs.is_empty() {
            thread_keys.push(format!("subject:{}", subject.to_lowercase()));
        }
        let folders = if sent {
            vec![2]
        } else if self.rng.gen_bool(0.7) {
            let mut inbox = vec![0];
            if self.rng.gen_bool(0.1) {
                inbox.push(3 + self.rng.gen_range(0..LABELS));
            }
            inbox
        } else if self.rng.gen_bool(0.8) {
            vec![1]
        } else {
            vec![3 + self.rng.gen_range(0..LABELS)]
        };
        let message = NewMessage {
            uid: 0,
            identity_key: format!("mid:{message_id}"),
            message_id_header: Some(message_id),
            thread_keys,
            subject: Some(subject),
            from,
            to,
            cc,
            bcc: Vec::new(),
            reply_to: Vec::new(),
            date,
            sent_date: Some(date - 5),
            size: self.rng.gen_range(2_000..80_000),
            flags,
            has_attachments: self.rng.gen_bool(0.15),
            in_reply_to: refs.last().cloned(),
            adopts_identity: None,
        };
        (folders, message)
    }
}
