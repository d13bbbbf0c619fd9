//! How a Gmail mailbox is indexed, when its server offers Gmail's IMAP extensions
//! (`X-GM-EXT-1`, developers.google.com/gmail/imap/imap-extensions). Gmail keeps one copy
//! of each message and shows it in a folder per label (Inbox, Sent, the user's labels)
//! and in All Mail:
//!
//! - identity: `X-GM-MSGID`, the same in every folder, so the message in Inbox, in a
//!   label's folder and in All Mail is one message of the index, with all of them in its
//!   `folders`. Drafts keep the identity of their Message-ID: each save is a new Gmail
//!   message, and a draft keeps its id across saves (`mail_append`). A message the index
//!   knew by its Message-ID (read before Gmail's ids were, or the draft it was sent
//!   from) is taken over by its Gmail id and keeps its id;
//! - thread: `X-GM-THRID`, Gmail's own conversation, instead of the reference headers;
//! - labels: each label shown over IMAP is a folder, read like any other, so a message's
//!   `folders` include its labels' folders;
//! - All Mail (`\All`, RFC 6154): read like any other folder, after the others. It holds
//!   every message but those in Spam and Trash, so its copies are messages the index
//!   knows by identity: none is indexed twice, each folder's counts are the server's,
//!   and a message archived out of every label keeps All Mail as its folder. The grant's
//!   message total counts All Mail, Spam and Trash only;
//! - sending: Gmail files sent mail in Sent itself; mailroom appends no copy.

use mailroom_imap::{FetchedSummary, ImapSession};
use mailroom_store::FolderRecord;

/// The identity of a Gmail message (its `X-GM-MSGID`), unless it is a draft or the
/// server did not say.
pub(crate) fn identity_key(summary: &FetchedSummary) -> Option<String> {
    let gmail = summary.gmail.as_ref()?;
    // The `\Draft` flag, or Gmail's `\Drafts` label (its documentation's spelling).
    let draft = summary
        .flags
        .iter()
        .chain(&gmail.labels)
        .any(|f| f.eq_ignore_ascii_case("\\Draft") || f.eq_ignore_ascii_case("\\Drafts"));
    if draft {
        return None;
    }
    Some(format!("gm:{}", gmail.msgid?))
}

/// The thread key of a Gmail message (its `X-GM-THRID`), if the server said.
pub(crate) fn thread_key(summary: &FetchedSummary) -> Option<String> {
    let thread = summary.gmail.as_ref()?.thrid?;
    Some(format!("gmthread:{thread}"))
}

/// Whether a folder's messages count toward the grant's total: on Gmail, when there is
/// an All Mail, only All Mail, Spam and Trash do (every other folder shows messages All
/// Mail holds too).
pub(crate) fn counts_toward_total(folder: &FolderRecord, gmail: bool, has_all_mail: bool) -> bool {
    !(gmail && has_all_mail)
        || folder
            .attributes
            .iter()
            .any(|a| matches!(a.as_str(), "\\All" | "\\Junk" | "\\Trash"))
}

/// Whether the server files sent mail in Sent itself, so that mailroom must not append.
pub(crate) fn files_sent_mail(session: &ImapSession) -> bool {
    session.gmail()
}

#[cfg(test)]
mod tests {
    use mailroom_imap::GmailAttributes;

    use super::*;

    fn summary(flags: &[&str], gmail: Option<GmailAttributes>) -> FetchedSummary {
        FetchedSummary {
            uid: 1,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            internal_date: 0,
            size: 0,
            modseq: None,
            header: Vec::new(),
            gmail,
        }
    }

    fn gmail(msgid: Option<u64>, thrid: Option<u64>, labels: &[&str]) -> GmailAttributes {
        GmailAttributes {
            msgid,
            thrid,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn gmail_ids_make_identity_and_thread() {
        let message = summary(&["\\Seen"], Some(gmail(Some(17), Some(5), &["\\Inbox"])));
        assert_eq!(identity_key(&message).as_deref(), Some("gm:17"));
        assert_eq!(thread_key(&message).as_deref(), Some("gmthread:5"));
    }

    #[test]
    fn drafts_and_servers_that_did_not_say_fall_back() {
        let by_flag = summary(&["\\Draft"], Some(gmail(Some(17), Some(5), &[])));
        let by_label = summary(&[], Some(gmail(Some(17), Some(5), &["\\Drafts"])));
        assert_eq!(identity_key(&by_flag), None);
        assert_eq!(identity_key(&by_label), None);
        // A draft is still in its Gmail thread.
        assert_eq!(thread_key(&by_flag).as_deref(), Some("gmthread:5"));
        let partial = summary(&[], Some(gmail(None, None, &["\\Inbox"])));
        assert_eq!(identity_key(&partial), None);
        assert_eq!(thread_key(&partial), None);
        assert_eq!(identity_key(&summary(&[], None)), None);
    }

    fn folder(name: &str, attributes: &[&str]) -> FolderRecord {
        FolderRecord {
            id: name.into(),
            grant_id: mailroom_model::GrantId::generate(),
            imap_name: name.into(),
            name: name.into(),
            parent_id: None,
            attributes: attributes.iter().map(|a| a.to_string()).collect(),
            uid_validity: 1,
            uid_next: 1,
            highest_modseq: 0,
            lowest_synced_uid: 0,
            initial_sync_done: false,
            server_total: 0,
        }
    }

    #[test]
    fn on_gmail_only_all_mail_spam_and_trash_count_toward_the_total() {
        let inbox = folder("INBOX", &[]);
        let label = folder("Work", &["\\HasNoChildren"]);
        let all = folder("[Gmail]/All Mail", &["\\All"]);
        let spam = folder("[Gmail]/Spam", &["\\Junk"]);
        let trash = folder("[Gmail]/Trash", &["\\Trash"]);
        for counted in [&all, &spam, &trash] {
            assert!(counts_toward_total(counted, true, true));
        }
        assert!(!counts_toward_total(&inbox, true, true));
        assert!(!counts_toward_total(&label, true, true));
        // Elsewhere, or without an All Mail, every folder counts.
        assert!(counts_toward_total(&inbox, false, true));
        assert!(counts_toward_total(&label, true, false));
    }
}
