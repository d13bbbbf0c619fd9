//! A server with NOTIFY (RFC 5465) reports changes whenever it likes, also among the
//! answers to other commands. A scripted server on loopback says them there, and the
//! session must keep them for the sync: a mailbox created during a STATUS round is
//! listed again (also one reported among the answers to SELECT, which async-imap drops),
//! and a change reported during a LIST ends the next IDLE before it starts.

use std::time::Duration;

use mailroom_imap::{IdleOutcome, ImapServer, ImapSession, ImapTls};
use mailroom_net::{OutboundPolicy, PolicySettings};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// What the scripted server answers to each command, by its name; `{tag}` stands for
/// the command's tag.
type Script = &'static [(&'static str, &'static str)];

/// Serves one connection: a greeting, then each command of `script` in turn. Returns
/// the command lines it was sent.
async fn scripted_server(listener: TcpListener, script: Script) -> Vec<String> {
    let (socket, _) = listener.accept().await.expect("mailroom connects");
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE NOTIFY] scripted\r\n")
        .await
        .expect("greeting");
    let mut heard = Vec::new();
    for (command, answer) in script {
        let line = lines
            .next_line()
            .await
            .expect("reads a command")
            .expect("the client sends another command");
        let mut words = line.split(' ');
        let tag = words.next().unwrap_or_default().to_owned();
        let name = words.next().unwrap_or_default().to_ascii_uppercase();
        heard.push(line.clone());
        assert_eq!(&name, command, "expected {command}, was sent {line:?}");
        write
            .write_all(answer.replace("{tag}", &tag).as_bytes())
            .await
            .expect("answers");
    }
    heard
}

/// Starts `script` on a loopback port and logs in to it.
async fn session_with(script: Script) -> (ImapSession, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("bound").port();
    let server = tokio::spawn(scripted_server(listener, script));
    let policy = OutboundPolicy::new(PolicySettings {
        allow_private_hosts: true,
        allow_insecure_transport: true,
        timeout: Duration::from_secs(10),
        ..PolicySettings::default()
    })
    .expect("policy");
    let session = ImapSession::connect(
        &policy,
        ImapServer {
            host: "127.0.0.1",
            port,
            tls: ImapTls::Plain,
            username: "user",
        },
        "secret",
    )
    .await
    .expect("logs in to the scripted server");
    (session, server)
}

const LOGIN: (&str, &str) = ("LOGIN", "{tag} OK logged in\r\n");
const CAPABILITY: (&str, &str) = (
    "CAPABILITY",
    "* CAPABILITY IMAP4rev1 IDLE NOTIFY\r\n{tag} OK done\r\n",
);

#[tokio::test]
async fn a_mailbox_created_during_a_status_round_is_listed_again() {
    let (mut session, server) = session_with(&[
        LOGIN,
        CAPABILITY,
        (
            "STATUS",
            "* LIST () \"/\" \"Delta Folder\"\r\n\
             * STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 5)\r\n\
             {tag} OK done\r\n",
        ),
        (
            "LIST",
            "* LIST () \"/\" INBOX\r\n* LIST () \"/\" \"Delta Folder\"\r\n{tag} OK done\r\n",
        ),
    ])
    .await;
    let statuses = session
        .folder_statuses(&["INBOX".to_owned()])
        .await
        .expect("STATUS");
    assert_eq!(statuses["INBOX"].uid_next, Some(2));
    assert!(
        session.take_heard_mailbox_names(),
        "the LIST among STATUS answers is kept"
    );
    assert!(!session.take_heard_mailbox_names(), "and taken once");

    // Reported again, then answered by a LIST: nothing is left to list.
    session.take_heard();
    let listed = session.list_folders().await.expect("LIST");
    assert_eq!(listed.len(), 2);
    assert!(!session.take_heard_mailbox_names());
    server.await.expect("the script ran to its end");
}

#[tokio::test]
async fn a_change_reported_before_idle_ends_the_wait_before_it_starts() {
    let (mut session, server) = session_with(&[
        LOGIN,
        CAPABILITY,
        (
            "LIST",
            "* LIST () \"/\" INBOX\r\n\
             * STATUS Archive (MESSAGES 2 UIDNEXT 3)\r\n\
             {tag} OK done\r\n",
        ),
        ("NOOP", "{tag} OK done\r\n"),
    ])
    .await;
    session.list_folders().await.expect("LIST");
    let (mut session, outcome) = session
        .idle_once(Duration::from_secs(600))
        .await
        .expect("idle");
    assert_eq!(
        outcome,
        IdleOutcome::Changed,
        "the STATUS heard during LIST is news"
    );
    // The script's next command is NOOP: had the session sent IDLE, the server would
    // have refused it.
    session.noop().await.expect("NOOP");
    let commands = server.await.expect("the script ran to its end");
    assert!(!commands.iter().any(|c| c.contains("IDLE")), "{commands:?}");
    assert!(!session.take_heard().changes, "the change was taken once");
}

#[tokio::test]
async fn a_mailbox_created_during_a_select_is_listed_again() {
    let (mut session, server) = session_with(&[
        LOGIN,
        CAPABILITY,
        (
            "SELECT",
            "* 3 EXISTS\r\n\
             * OK [UIDVALIDITY 7] ok\r\n\
             * LIST () \"/\" \"New Folder\"\r\n\
             * OK [UIDNEXT 4] ok\r\n\
             {tag} OK [READ-WRITE] done\r\n",
        ),
        (
            "LIST",
            "* LIST () \"/\" INBOX\r\n* LIST () \"/\" \"New Folder\"\r\n{tag} OK done\r\n",
        ),
        (
            "SELECT",
            "* 3 EXISTS\r\n\
             * OK [UIDVALIDITY 7] ok\r\n\
             * OK [UIDNEXT 4] ok\r\n\
             {tag} OK [READ-WRITE] done\r\n",
        ),
    ])
    .await;
    let state = session.select_folder("INBOX").await.expect("SELECT");
    assert_eq!(
        (state.uid_validity, state.uid_next, state.exists),
        (7, 4, 3)
    );
    assert!(
        session.take_heard_mailbox_names(),
        "the LIST among SELECT answers is kept"
    );
    assert!(!session.take_heard_mailbox_names(), "and taken once");

    // The LIST's own lines are not news for the SELECT after it.
    assert_eq!(session.list_folders().await.expect("LIST").len(), 2);
    session.select_folder("INBOX").await.expect("SELECT");
    assert!(!session.take_heard_mailbox_names());
    server.await.expect("the script ran to its end");
}
