//! From what IMAP returns for a message (flags, dates, header block) to what the index
//! stores: participants, identity, thread keys.

use mailroom_imap::FetchedSummary;
use mailroom_model::v3::EmailName;
use mailroom_store::NewMessage;
use sha2::{Digest, Sha256};

pub fn to_new_message(summary: &FetchedSummary) -> NewMessage {
    let headers = mailroom_mime::parse_headers(&summary.header);
    let keys = mailroom_mime::thread_keys(&headers);
    let mut thread_keys: Vec<String> = Vec::new();
    if let Some(own) = &keys.own {
        thread_keys.push(format!("id:{own}"));
    }
    thread_keys.extend(keys.related.iter().map(|r| format!("id:{r}")));
    if let Some(subject) = &keys.subject_key {
        thread_keys.push(format!("subject:{subject}"));
    }
    let identity_key = match &headers.message_id {
        Some(id) => format!("mid:{id}"),
        // No Message-ID: what the message says about itself stays the same across moves.
        None => {
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
    }
}
