//! "Another IMAP client": changes a testbed mailbox behind mailroom's back.

use async_imap::{Client, Session};
use futures::TryStreamExt;
use tokio::net::TcpStream;

use super::{Testbed, repo_root};

pub struct ImapPeer {
    session: Session<TcpStream>,
}

/// Empties a testbed user's mailbox (`wipe` also gives new UIDVALIDITYs).
pub fn reset_user(user: u32, wipe: bool) {
    // The testbed must be up, with this user, before the script can empty it.
    Testbed::get();
    let mut command = std::process::Command::new(repo_root().join("testbed/reset-user"));
    if wipe {
        command.arg("--wipe");
    }
    let status = command
        .arg(format!("user{user}"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run testbed/reset-user");
    assert!(status.success(), "testbed/reset-user failed");
}

/// Ends the user's IMAP sessions if it has any (`kick_user` insists on some), so that
/// a grant's sync must sign in again.
pub fn end_sessions(user: u32) {
    let conf = Testbed::get().dir.join("dovecot/dovecot.conf");
    let _ = std::process::Command::new("doveadm")
        .arg("-c")
        .arg(conf)
        .args(["kick", &Testbed::user(user).0])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Ends every IMAP session of a testbed user at the server, as a network drop or a
/// server restart would.
pub fn kick_user(user: u32) {
    let conf = Testbed::get().dir.join("dovecot/dovecot.conf");
    let status = std::process::Command::new("doveadm")
        .arg("-c")
        .arg(conf)
        .args(["kick", &Testbed::user(user).0])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run doveadm kick");
    assert!(status.success(), "doveadm kick failed");
}

impl ImapPeer {
    pub async fn login(user: u32) -> Self {
        let testbed = Testbed::get();
        let (email, password) = Testbed::user(user);
        let tcp = TcpStream::connect(("127.0.0.1", testbed.imap_port))
            .await
            .expect("connect to the testbed IMAP port");
        let mut client = Client::new(tcp);
        client.read_response().await.expect("greeting");
        let session = client
            .login(email, password)
            .await
            .map_err(|(e, _)| e)
            .expect("peer login");
        Self { session }
    }

    /// Whether the testbed accepts this password for the user now.
    pub async fn login_works(user: u32, password: &str) -> bool {
        let tcp = TcpStream::connect(("127.0.0.1", Testbed::get().imap_port))
            .await
            .expect("connect to the testbed IMAP port");
        let mut client = Client::new(tcp);
        client.read_response().await.expect("greeting");
        match client.login(Testbed::user(user).0, password).await {
            Ok(mut session) => {
                let _ = session.logout().await;
                true
            }
            Err(_) => false,
        }
    }

    pub async fn append(&mut self, folder: &str, flags: &str, message: &str) {
        self.session
            .append(
                folder,
                Some(flags),
                None,
                message.replace('\n', "\r\n").as_bytes(),
            )
            .await
            .expect("APPEND");
    }

    /// Appends with this INTERNALDATE (a quoted RFC 3501 `date-time`).
    pub async fn append_dated(&mut self, folder: &str, internal_date: &str, message: &str) {
        self.session
            .append(
                folder,
                Some("()"),
                Some(internal_date),
                message.replace('\n', "\r\n").as_bytes(),
            )
            .await
            .expect("APPEND");
    }

    /// Appends these exact bytes, however broken.
    pub async fn append_raw(&mut self, folder: &str, message: &[u8]) {
        self.session
            .append(folder, None, None, message)
            .await
            .expect("APPEND");
    }

    pub async fn uid_validity(&mut self, folder: &str) -> u32 {
        self.session
            .select(folder)
            .await
            .expect("SELECT")
            .uid_validity
            .unwrap_or(0)
    }

    /// `(MESSAGES, UNSEEN)` of a folder as the server's STATUS reports them.
    pub async fn status(&mut self, folder: &str) -> (u64, u64) {
        let mailbox = self
            .session
            .status(folder, "(MESSAGES UNSEEN)")
            .await
            .expect("STATUS");
        (
            u64::from(mailbox.exists),
            u64::from(mailbox.unseen.unwrap_or(0)),
        )
    }

    async fn select(&mut self, folder: &str) {
        self.session.select(folder).await.expect("SELECT");
    }

    /// UID of the message with this Message-ID in a folder.
    pub async fn uid_of(&mut self, folder: &str, message_id: &str) -> u32 {
        self.select(folder).await;
        let uids = self
            .session
            .uid_search(format!("HEADER Message-ID \"{message_id}\""))
            .await
            .expect("SEARCH");
        *uids.iter().next().expect("message present")
    }

    pub async fn store_flags(&mut self, folder: &str, message_id: &str, change: &str) {
        let uid = self.uid_of(folder, message_id).await;
        let _: Vec<_> = self
            .session
            .uid_store(uid.to_string(), change)
            .await
            .expect("STORE")
            .try_collect()
            .await
            .expect("STORE responses");
    }

    pub async fn move_message(&mut self, from: &str, message_id: &str, to: &str) {
        let uid = self.uid_of(from, message_id).await;
        self.session
            .uid_mv(uid.to_string(), to)
            .await
            .expect("MOVE");
    }

    pub async fn expunge_message(&mut self, folder: &str, message_id: &str) {
        self.store_flags(folder, message_id, "+FLAGS (\\Deleted)")
            .await;
        let _: Vec<_> = self
            .session
            .expunge()
            .await
            .expect("EXPUNGE")
            .try_collect()
            .await
            .expect("EXPUNGE responses");
    }

    /// Removes every message of a folder (`STORE 1:* +FLAGS (\\Deleted)`, `EXPUNGE`).
    pub async fn expunge_all(&mut self, folder: &str) {
        self.session.select(folder).await.expect("SELECT");
        let _: Vec<_> = self
            .session
            .store("1:*", "+FLAGS.SILENT (\\Deleted)")
            .await
            .expect("STORE")
            .try_collect()
            .await
            .expect("STORE responses");
        let _: Vec<_> = self
            .session
            .expunge()
            .await
            .expect("EXPUNGE")
            .try_collect()
            .await
            .expect("EXPUNGE responses");
    }

    pub async fn create(&mut self, folder: &str) {
        self.session.create(folder).await.expect("CREATE");
    }

    pub async fn rename(&mut self, from: &str, to: &str) {
        self.session.rename(from, to).await.expect("RENAME");
    }

    /// UIDs of the messages with this Message-ID in a folder (none if absent).
    pub async fn uids_of(&mut self, folder: &str, message_id: &str) -> Vec<u32> {
        self.select(folder).await;
        let mut uids: Vec<u32> = self
            .session
            .uid_search(format!("HEADER Message-ID \"{message_id}\""))
            .await
            .expect("SEARCH")
            .into_iter()
            .collect();
        uids.sort_unstable();
        uids
    }

    /// The flags of the message with this Message-ID in a folder.
    pub async fn flags_of(&mut self, folder: &str, message_id: &str) -> Vec<String> {
        let uid = self.uid_of(folder, message_id).await;
        let fetches: Vec<_> = self
            .session
            .uid_fetch(uid.to_string(), "FLAGS")
            .await
            .expect("FETCH")
            .try_collect()
            .await
            .expect("FETCH responses");
        fetches
            .iter()
            .flat_map(|f| {
                f.flags().map(|flag| {
                    use async_imap::types::Flag;
                    match flag {
                        Flag::Seen => "\\Seen".to_owned(),
                        Flag::Answered => "\\Answered".to_owned(),
                        Flag::Flagged => "\\Flagged".to_owned(),
                        Flag::Deleted => "\\Deleted".to_owned(),
                        Flag::Draft => "\\Draft".to_owned(),
                        Flag::Recent => "\\Recent".to_owned(),
                        Flag::MayCreate => "\\*".to_owned(),
                        Flag::Custom(name) => name.to_string(),
                    }
                })
            })
            .collect()
    }

    /// The names of every mailbox, as the server spells them.
    pub async fn mailboxes(&mut self) -> Vec<String> {
        let names: Vec<_> = self
            .session
            .list(Some(""), Some("*"))
            .await
            .expect("LIST")
            .try_collect()
            .await
            .expect("LIST responses");
        names.iter().map(|n| n.name().to_owned()).collect()
    }

    /// The newest message with this subject in a folder, if there is one.
    pub async fn raw_by_subject(&mut self, folder: &str, subject: &str) -> Option<Vec<u8>> {
        self.select(folder).await;
        let uids = self
            .session
            .uid_search(format!("SUBJECT \"{subject}\""))
            .await
            .expect("SEARCH");
        let uid = uids.into_iter().max()?;
        let fetches: Vec<_> = self
            .session
            .uid_fetch(uid.to_string(), "BODY.PEEK[]")
            .await
            .expect("FETCH")
            .try_collect()
            .await
            .expect("FETCH responses");
        fetches.iter().find_map(|f| f.body().map(<[u8]>::to_vec))
    }

    pub async fn logout(mut self) {
        let _ = self.session.logout().await;
    }
}

/// Empties a user's mailbox and recreates it under a new UIDVALIDITY (Dovecot takes
/// UIDVALIDITY from the clock: recreate until it differs); returns a session on it.
pub async fn recreate_with_new_uidvalidity(user: u32) -> ImapPeer {
    let old = ImapPeer::login(user).await.uid_validity("INBOX").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        reset_user(user, true);
        let mut peer = ImapPeer::login(user).await;
        if peer.uid_validity("INBOX").await != old {
            return peer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "UIDVALIDITY never changed"
        );
        peer.logout().await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A small RFC 822 message.
pub fn message(
    message_id: &str,
    subject: &str,
    from: &str,
    references: Option<&str>,
    body: &str,
) -> String {
    let mut text = format!(
        "Message-ID: <{message_id}>\nDate: Mon, 20 Nov 2023 10:00:00 +0000\nFrom: Ann Example <{from}>\n\
         To: Bob <bob@example.test>\nSubject: {subject}\nMIME-Version: 1.0\n"
    );
    if let Some(parent) = references {
        text.push_str(&format!(
            "In-Reply-To: <{parent}>\nReferences: <{parent}>\n"
        ));
    }
    text.push_str(&format!(
        "Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    ));
    text
}

/// A message with one attachment whose bytes are `content`.
pub fn message_with_attachment(
    message_id: &str,
    subject: &str,
    filename: &str,
    content: &[u8],
) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "Message-ID: <{message_id}>\nDate: Tue, 21 Nov 2023 10:00:00 +0000\nFrom: Carol <carol@example.test>\n\
         To: Bob <bob@example.test>\nSubject: {subject}\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n\
         See the attached report.\n--b1\nContent-Type: application/pdf; name=\"{filename}\"\n\
         Content-Disposition: attachment; filename=\"{filename}\"\nContent-Transfer-Encoding: base64\n\n{}\n--b1--\n",
        wrapped.join("\n")
    )
}
