//! The varied mailbox of `App::with_mailbox`: six folders and nine messages written to the
//! index as sync writes them (`reconcile_folders`, `add_folder_messages`, then
//! `store_message_bodies` with what `mailroom_mime` reads from each message's bytes).
//! The messages differ in sender, recipients, flags, date, folder and attachments; two
//! form a thread, one carries an invitation, and one has no body read yet. Tests name
//! messages by [`Mail::name`] and derive what a filter must find from [`MAIL`].

use std::collections::BTreeMap;

use mailroom_model::{GrantId, v3::EmailName};
use mailroom_store::{FolderListing, MessageBody, NewMessage, Store};
use serde_json::{Value, json};

/// The dates of the mailbox are this many seconds and more.
pub const T0: i64 = 1_700_000_000;

/// One message of the mailbox.
pub struct Mail {
    pub name: &'static str,
    /// The IMAP name of its folder.
    pub folder: &'static str,
    /// (display name, address)
    pub from: (&'static str, &'static str),
    pub to: &'static [&'static str],
    pub cc: &'static [&'static str],
    pub bcc: &'static [&'static str],
    pub subject: &'static str,
    pub date: i64,
    pub unread: bool,
    pub starred: bool,
    pub draft: bool,
    /// The file name of a PDF attached to it.
    pub attachment: Option<&'static str>,
    /// It carries an iCalendar invitation (`text/calendar`, METHOD:REQUEST).
    pub invitation: bool,
    /// The message it answers (In-Reply-To and References).
    pub replies_to: Option<&'static str>,
    /// Its text; `None`: the body has not been read from the server yet.
    pub body: Option<&'static str>,
}

const ANN: (&str, &str) = ("Ann", "ann@example.test");
const ALICE: (&str, &str) = ("Alice Archer", "alice@example.test");

/// The mailbox, oldest first.
pub const MAIL: &[Mail] = &[
    Mail {
        name: "spam",
        folder: "Trash",
        from: ("Mallory", "mallory@example.test"),
        to: &["ann@example.test"],
        cc: &[],
        bcc: &[],
        subject: "You won a prize",
        date: T0 + 500,
        unread: true,
        starred: false,
        draft: false,
        attachment: None,
        invitation: false,
        replies_to: None,
        body: Some("Click here."),
    },
    Mail {
        name: "report",
        folder: "INBOX",
        from: ALICE,
        to: &["ann@example.test"],
        cc: &[],
        bcc: &[],
        subject: "Quarterly report",
        date: T0 + 1000,
        unread: false,
        starred: false,
        draft: false,
        attachment: Some("report.pdf"),
        invitation: false,
        replies_to: None,
        body: Some("The numbers are attached."),
    },
    Mail {
        name: "lunch",
        folder: "INBOX",
        from: ("Bob Baker", "bob@example.test"),
        to: &["ann@example.test"],
        cc: &["carol@example.test"],
        bcc: &[],
        subject: "Lunch on Friday?",
        date: T0 + 2000,
        unread: true,
        starred: true,
        draft: false,
        attachment: None,
        invitation: false,
        replies_to: None,
        body: Some("Noodles at noon?"),
    },
    Mail {
        name: "report-reply",
        folder: "INBOX",
        from: ALICE,
        to: &["ann@example.test"],
        cc: &[],
        bcc: &[],
        subject: "Re: Quarterly report",
        date: T0 + 3000,
        unread: true,
        starred: false,
        draft: false,
        attachment: None,
        invitation: false,
        replies_to: Some("report"),
        body: Some("One more figure: 42."),
    },
    Mail {
        name: "invoice",
        folder: "Sent",
        from: ANN,
        to: &["dave@example.test"],
        cc: &[],
        bcc: &["erin@example.test"],
        subject: "Invoice 42",
        date: T0 + 4000,
        unread: false,
        starred: false,
        draft: false,
        attachment: Some("invoice.pdf"),
        invitation: false,
        replies_to: None,
        body: Some("Please find the invoice attached."),
    },
    Mail {
        name: "kickoff",
        folder: "Projects",
        from: ("Erin", "erin@example.test"),
        to: &["ann@example.test"],
        cc: &[],
        bcc: &[],
        subject: "Project kickoff",
        date: T0 + 5000,
        unread: false,
        starred: true,
        draft: false,
        attachment: None,
        invitation: true,
        replies_to: None,
        body: Some("Kickoff on Monday."),
    },
    Mail {
        name: "plan",
        folder: "Projects/2024",
        from: ("Frank", "frank@example.test"),
        to: &["ann@example.test"],
        cc: &["bob@example.test"],
        bcc: &[],
        subject: "Plan for 2024",
        date: T0 + 6000,
        unread: true,
        starred: false,
        draft: false,
        attachment: None,
        invitation: false,
        replies_to: None,
        body: Some("The plan, in short."),
    },
    Mail {
        name: "notes",
        folder: "Drafts",
        from: ANN,
        to: &["grace@example.test"],
        cc: &[],
        bcc: &[],
        subject: "Notes for Grace",
        date: T0 + 7000,
        unread: false,
        starred: false,
        draft: true,
        attachment: None,
        invitation: false,
        replies_to: None,
        body: Some("Some notes."),
    },
    Mail {
        name: "status",
        folder: "INBOX",
        from: ("Heidi", "heidi@example.test"),
        to: &["ann@example.test"],
        cc: &[],
        bcc: &[],
        subject: "Status update",
        date: T0 + 8000,
        unread: true,
        starred: false,
        draft: false,
        attachment: None,
        invitation: false,
        replies_to: None,
        body: None,
    },
];

/// The folders: (IMAP name, name, parent's IMAP name, SPECIAL-USE attributes).
pub const FOLDERS: &[(&str, &str, Option<&str>, &[&str])] = &[
    ("INBOX", "INBOX", None, &[]),
    ("Sent", "Sent", None, &["\\Sent"]),
    ("Drafts", "Drafts", None, &["\\Drafts"]),
    ("Trash", "Trash", None, &["\\Trash"]),
    ("Projects", "Projects", None, &[]),
    ("Projects/2024", "2024", Some("Projects"), &[]),
];

impl Mail {
    /// Whether the message has attachments: a file, or an invitation's calendar part,
    /// which is one too.
    pub fn has_attachments(&self) -> bool {
        self.attachment.is_some() || self.invitation
    }
}

/// The uid of the invitation's event.
pub const INVITATION_UID: &str = "kickoff@example.test";
/// The invitation's event starts at this time (2023-11-20 09:00 UTC) and lasts an hour.
pub const INVITATION_START: i64 = 1_700_470_800;

/// The mailbox as indexed: ids by name.
#[derive(Clone, Default)]
pub struct Mailbox {
    messages: BTreeMap<&'static str, String>,
    folders: BTreeMap<&'static str, String>,
}

impl Mailbox {
    /// The id of the message named `name`.
    pub fn id(&self, name: &str) -> String {
        self.messages
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no message named {name}"))
    }

    /// The id of the folder whose IMAP name is `imap_name`.
    pub fn folder(&self, imap_name: &str) -> String {
        self.folders
            .get(imap_name)
            .cloned()
            .unwrap_or_else(|| panic!("no folder {imap_name}"))
    }

    /// The names of messages by id, in the order given ("?" for an id not of the
    /// mailbox).
    pub fn names(&self, ids: &[String]) -> Vec<&'static str> {
        ids.iter()
            .map(|id| {
                self.messages
                    .iter()
                    .find(|(_, known)| *known == id)
                    .map_or("?", |(name, _)| *name)
            })
            .collect()
    }
}

/// The mail for which `keep` holds, newest first (the order of message lists).
pub fn newest_first(keep: impl Fn(&Mail) -> bool) -> Vec<&'static str> {
    let mut kept: Vec<&Mail> = MAIL.iter().filter(|m| keep(m)).collect();
    kept.sort_by_key(|m| std::cmp::Reverse(m.date));
    kept.iter().map(|m| m.name).collect()
}

/// Whether `address` takes part in `mail` (sender or any recipient).
pub fn involves(mail: &Mail, address: &str) -> bool {
    mail.from.1 == address
        || mail
            .to
            .iter()
            .chain(mail.cc)
            .chain(mail.bcc)
            .any(|a| *a == address)
}

pub async fn index_mailbox(store: &Store, grant_id: &GrantId) -> Mailbox {
    let listing: Vec<FolderListing> = FOLDERS
        .iter()
        .map(|(imap_name, name, parent, attributes)| FolderListing {
            imap_name: (*imap_name).into(),
            name: (*name).into(),
            parent_imap_name: parent.map(str::to_owned),
            delimiter: Some("/".into()),
            attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
        })
        .collect();
    let records = store
        .reconcile_folders(grant_id, &listing)
        .await
        .expect("the folders are written");
    let mut mailbox = Mailbox::default();
    for (imap_name, ..) in FOLDERS {
        let record = records
            .iter()
            .find(|r| r.imap_name == *imap_name)
            .expect("each folder is written");
        mailbox.folders.insert(imap_name, record.id.clone());
    }
    for (imap_name, ..) in FOLDERS {
        let batch: Vec<NewMessage> = MAIL
            .iter()
            .filter(|m| m.folder == *imap_name)
            .enumerate()
            .map(|(at, mail)| new_message(mail, at as i64 + 1))
            .collect();
        if !batch.is_empty() {
            store
                .add_folder_messages(grant_id, &mailbox.folder(imap_name), &batch)
                .await
                .expect("the messages are indexed");
        }
    }
    let mut bodies = Vec::new();
    for mail in MAIL {
        let id = store
            .message_id_by_identity(grant_id, &format!("mid:{}", message_id(mail.name)))
            .await
            .expect("the index is read")
            .expect("each message is indexed");
        if mail.body.is_some() {
            bodies.push(message_body(grant_id, &id, raw_message(mail).as_bytes()));
        }
        mailbox.messages.insert(mail.name, id);
    }
    store
        .store_message_bodies(grant_id, &bodies)
        .await
        .expect("the bodies are kept");
    mailbox
}

/// The Message-ID of a message of the mailbox.
pub fn message_id(name: &str) -> String {
    format!("{name}@example.test")
}

fn email_name((name, email): (&str, &str)) -> EmailName {
    EmailName {
        name: Some(name.to_owned()),
        email: email.to_owned(),
    }
}

fn addresses(list: &[&str]) -> Vec<EmailName> {
    list.iter()
        .map(|email| EmailName {
            name: None,
            email: (*email).to_owned(),
        })
        .collect()
}

fn new_message(mail: &Mail, uid: i64) -> NewMessage {
    let mut thread_keys = vec![format!("id:{}", message_id(mail.name))];
    if let Some(parent) = mail.replies_to {
        thread_keys.push(format!("id:{}", message_id(parent)));
    }
    let mut flags = Vec::new();
    if !mail.unread {
        flags.push("\\Seen".to_owned());
    }
    if mail.starred {
        flags.push("\\Flagged".to_owned());
    }
    if mail.draft {
        flags.push("\\Draft".to_owned());
    }
    NewMessage {
        uid,
        identity_key: format!("mid:{}", message_id(mail.name)),
        message_id_header: Some(message_id(mail.name)),
        thread_keys,
        subject: Some(mail.subject.to_owned()),
        from: vec![email_name(mail.from)],
        to: addresses(mail.to),
        cc: addresses(mail.cc),
        bcc: addresses(mail.bcc),
        reply_to: vec![],
        date: mail.date,
        sent_date: Some(mail.date),
        size: raw_message(mail).len() as i64,
        flags,
        has_attachments: mail.has_attachments(),
        in_reply_to: mail.replies_to.map(message_id),
        adopts_identity: None,
    }
}

/// The message's bytes as the server would hold them.
pub fn raw_message(mail: &Mail) -> String {
    let mut head = format!(
        "From: \"{}\" <{}>\r\nSubject: {}\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\n",
        mail.from.0,
        mail.from.1,
        mail.subject,
        message_id(mail.name)
    );
    for (field, list) in [("To", mail.to), ("Cc", mail.cc), ("Bcc", mail.bcc)] {
        if !list.is_empty() {
            head.push_str(&format!("{field}: {}\r\n", list.join(", ")));
        }
    }
    if let Some(parent) = mail.replies_to {
        let parent = message_id(parent);
        head.push_str(&format!(
            "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
        ));
    }
    let text = mail.body.unwrap_or("(not read yet)");
    let body = if let Some(filename) = mail.attachment {
        format!(
            "Content-Type: multipart/mixed; boundary=\"part\"\r\n\r\n\
             --part\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
             --part\r\nContent-Type: application/pdf; name=\"{filename}\"\r\n\
             Content-Disposition: attachment; filename=\"{filename}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--part--\r\n"
        )
    } else if mail.invitation {
        format!(
            "Content-Type: multipart/alternative; boundary=\"part\"\r\n\r\n\
             --part\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
             --part\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n\
             BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailroom tests//EN\r\nMETHOD:REQUEST\r\n\
             BEGIN:VEVENT\r\nUID:{INVITATION_UID}\r\nDTSTAMP:20231114T120000Z\r\n\
             DTSTART:20231120T090000Z\r\nDTEND:20231120T100000Z\r\nSUMMARY:Kickoff meeting\r\n\
             ORGANIZER;CN=Erin:mailto:erin@example.test\r\n\
             ATTENDEE;CN=Ann;PARTSTAT=NEEDS-ACTION:mailto:ann@example.test\r\n\
             SEQUENCE:0\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--part--\r\n"
        )
    } else {
        format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")
    };
    head + &body
}

/// What reading the body adds to the index, as sync reads it.
fn message_body(grant_id: &GrantId, id: &str, raw: &[u8]) -> MessageBody {
    let parsed = mailroom_mime::parse_message(raw);
    let attachments: Vec<Value> = parsed
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": format!("{id}-{}", a.index),
                "grant_id": grant_id.as_str(),
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "content_id": a.content_id,
                "content_disposition": a.content_disposition,
                "is_inline": a.is_inline,
            })
        })
        .collect();
    MessageBody {
        id: id.to_owned(),
        body_html: parsed.body_html,
        snippet: parsed.snippet,
        attachments: Value::Array(attachments),
        headers: parsed.headers.headers,
        calendar: mailroom_mime::calendar_events(&parsed.calendar_parts),
        bounce: None,
    }
}
