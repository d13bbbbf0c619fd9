//! From what IMAP returns for a message (flags, dates, header block) to what the index
//! stores: participants, identity, thread keys (a Gmail server's own ids where it gives
//! them, see `gmail`).

use mailroom_imap::FetchedSummary;
use mailroom_model::v3::EmailName;
use mailroom_store::NewMessage;
use sha2::{Digest, Sha256};

use crate::gmail;

pub fn to_new_message(summary: &FetchedSummary) -> NewMessage {
    let headers = mailroom_mime::parse_headers(&summary.header);
    let mut thread_keys: Vec<String> = Vec::new();
    // Gmail's conversation, when the server names it, rather than the reference headers:
    // the index's threads are then the ones its user sees in Gmail.
    if let Some(gmail_thread) = gmail::thread_key(summary) {
        thread_keys.push(gmail_thread);
    } else {
        let keys = mailroom_mime::thread_keys(&headers);
        if let Some(own) = &keys.own {
            thread_keys.push(format!("id:{own}"));
        }
        thread_keys.extend(keys.related.iter().map(|r| format!("id:{r}")));
        if let Some(subject) = &keys.subject_key {
            thread_keys.push(format!("subject:{subject}"));
        }
    }
    let mut adopts_identity = None;
    let identity_key = match (gmail::identity_key(summary), &headers.message_id) {
        (Some(gmail_id), header) => {
            adopts_identity = header.as_ref().map(|id| format!("mid:{id}"));
            gmail_id
        }
        (None, Some(id)) => format!("mid:{id}"),
        // No Message-ID: what the message says about itself stays the same across moves.
        (None, None) => {
            let mut digest = Sha256::new();
            digest.update(&summary.header);
            digest.update(summary.size.to_le_bytes());
            let hex: String = digest
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("digest:{hex}")
        }
    };
    if thread_keys.is_empty() {
        thread_keys.push(format!("self:{identity_key}"));
    }
    let content_type = headers
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.to_ascii_lowercase())
        .unwrap_or_default();
    let names = |list: &[mailroom_mime::EmailName]| -> Vec<EmailName> {
        list.iter()
            .map(|n| EmailName {
                name: n.name.clone(),
                email: n.email.clone(),
            })
            .collect()
    };
    NewMessage {
        uid: i64::from(summary.uid),
        identity_key,
        message_id_header: headers.message_id.clone(),
        thread_keys,
        subject: headers.subject.clone(),
        from: names(&headers.from),
        to: names(&headers.to),
        cc: names(&headers.cc),
        bcc: names(&headers.bcc),
        reply_to: names(&headers.reply_to),
        date: if summary.internal_date > 0 {
            summary.internal_date
        } else {
            headers.date.unwrap_or(0)
        },
        sent_date: headers.date,
        size: i64::from(summary.size),
        flags: summary.flags.clone(),
        // A hint until the body is read: mixed multiparts usually carry attachments.
        has_attachments: content_type.starts_with("multipart/mixed"),
        in_reply_to: headers.in_reply_to.first().cloned(),
        adopts_identity,
    }
}

#[cfg(test)]
mod tests {
    use mailroom_imap::GmailAttributes;

    use super::*;

    fn summary(uid: u32, header: &str, gmail: Option<(u64, u64)>) -> FetchedSummary {
        FetchedSummary {
            uid,
            flags: vec!["\\Seen".into()],
            internal_date: 1_700_000_000,
            size: 100,
            modseq: None,
            header: header.as_bytes().to_vec(),
            gmail: gmail.map(|(msgid, thrid)| GmailAttributes {
                msgid: Some(msgid),
                thrid: Some(thrid),
                labels: vec!["\\Inbox".into()],
            }),
        }
    }

    #[test]
    fn a_gmail_message_is_known_by_its_gmail_ids_in_every_folder() {
        let header = "Message-ID: <one@example.test>\r\nReferences: <root@example.test>\r\n\
                      Subject: Re: plans\r\n\r\n";
        // The same message at different UIDs of Inbox and All Mail.
        let in_inbox = to_new_message(&summary(3, header, Some((901, 900))));
        let in_all_mail = to_new_message(&summary(77, header, Some((901, 900))));
        assert_eq!(in_inbox.identity_key, "gm:901");
        assert_eq!(in_all_mail.identity_key, in_inbox.identity_key);
        assert_eq!(in_inbox.thread_keys, ["gmthread:900"]);
        // Indexed before by its Message-ID, or as the draft it was sent from: it takes
        // that message over.
        assert_eq!(
            in_inbox.adopts_identity.as_deref(),
            Some("mid:one@example.test")
        );
        // Headers still fill the message.
        assert_eq!(
            in_inbox.message_id_header.as_deref(),
            Some("one@example.test")
        );
        assert_eq!(in_inbox.subject.as_deref(), Some("Re: plans"));
    }

    #[test]
    fn gmail_threads_follow_gmail_not_the_headers() {
        // Same references, different Gmail conversations: apart.
        let header = "Message-ID: <a@example.test>\r\nReferences: <root@example.test>\r\n\r\n";
        let other = "Message-ID: <b@example.test>\r\nReferences: <root@example.test>\r\n\r\n";
        let a = to_new_message(&summary(1, header, Some((1, 10))));
        let b = to_new_message(&summary(2, other, Some((2, 20))));
        assert!(a.thread_keys.iter().all(|k| !b.thread_keys.contains(k)));
        // No references at all, one Gmail conversation: together.
        let c = to_new_message(&summary(3, "Subject: x\r\n\r\n", Some((3, 10))));
        assert_eq!(c.thread_keys, a.thread_keys);
    }

    #[test]
    fn other_servers_keep_message_id_identity_and_header_threads() {
        let header = "Message-ID: <a@example.test>\r\nReferences: <root@example.test>\r\n\r\n";
        let plain = to_new_message(&summary(1, header, None));
        assert_eq!(plain.identity_key, "mid:a@example.test");
        assert_eq!(plain.adopts_identity, None);
        assert!(
            plain
                .thread_keys
                .contains(&"id:root@example.test".to_owned())
        );
        assert!(plain.thread_keys.contains(&"id:a@example.test".to_owned()));
    }
}
