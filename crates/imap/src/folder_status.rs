//! STATUS (RFC 3501 §6.3.10) of many mailboxes at once, pipelined: what each holds
//! (MESSAGES, UIDNEXT, UIDVALIDITY and, with CONDSTORE, HIGHESTMODSEQ — RFC 7162 §3.1.6)
//! without selecting it, so that sync reads only the folders that changed.
//!
//! The untagged `* STATUS` lines are parsed by imap-proto and folded into the answer by
//! [`absorb`], a pure function the unit tests drive with byte transcripts. The same
//! lines are what a server with NOTIFY (RFC 5465 §5.1) sends unasked for other mailboxes.

use std::collections::HashMap;

use async_imap::imap_proto::{MailboxDatum, Response, Status, StatusAttribute, types::RequestId};

use crate::{error::ImapError, folders::quoted, session::ImapSession};

/// STATUS commands sent before their answers are read.
const PIPELINE: usize = 50;

/// What STATUS said of one mailbox; an attribute the server left out is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderStatus {
    pub messages: Option<u32>,
    pub uid_next: Option<u32>,
    pub uid_validity: Option<u32>,
    pub highest_modseq: Option<u64>,
}

impl FolderStatus {
    /// Takes in what one `* STATUS` line says; later lines win.
    pub fn merge(&mut self, attributes: &[StatusAttribute]) {
        for attribute in attributes {
            match attribute {
                StatusAttribute::Messages(n) => self.messages = Some(*n),
                StatusAttribute::UidNext(n) => self.uid_next = Some(*n),
                StatusAttribute::UidValidity(n) => self.uid_validity = Some(*n),
                StatusAttribute::HighestModSeq(n) => self.highest_modseq = Some(*n),
                _ => {}
            }
        }
    }
}

impl ImapSession {
    /// The STATUS of each named mailbox (wire names, as LIST gave them), pipelined. A
    /// mailbox the server refused (gone, no rights) is missing from the answer.
    pub async fn folder_statuses(
        &mut self,
        imap_names: &[String],
    ) -> Result<HashMap<String, FolderStatus>, ImapError> {
        let items = if self.has_capability("CONDSTORE") {
            "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY)"
        };
        // What was reported before this round is asked again by it.
        self.discard_unsolicited();
        self.heard.changes = false;
        let mut answer = StatusAnswer::default();
        for chunk in imap_names.chunks(PIPELINE) {
            answer.wanted.extend(chunk.iter().cloned());
            for name in chunk {
                let command = format!("STATUS {} {items}", quoted(name)?);
                answer
                    .pending
                    .push(self.session.run_command(&command).await?);
            }
            // A few lines per mailbox asked about (its STATUS, a NOTIFY report, an
            // unsolicited EXISTS); a server that sends more is refused, as for FETCH.
            let cap = crate::fetch::max_responses(chunk.len().saturating_mul(4));
            let mut seen = 0usize;
            while !answer.pending.is_empty() {
                seen += 1;
                if seen > cap {
                    return Err(ImapError::TooMuch(format!(
                        "more than {cap} STATUS responses to one round"
                    )));
                }
                let response = self
                    .session
                    .read_response()
                    .await
                    .map_err(ImapError::from)?
                    .ok_or(ImapError::Closed)?;
                if status_line(response.parsed())
                    .is_none_or(|(name, _)| !answer.wanted.contains(name))
                {
                    self.heard.note(response.parsed());
                }
                absorb(&mut answer, response.parsed())?;
            }
        }
        Ok(answer.statuses)
    }
}

/// The answers gathered so far to a run of STATUS commands.
#[derive(Debug, Default)]
pub struct StatusAnswer {
    /// Mailboxes asked about: a server's lines about others are not kept, so what is
    /// kept is bounded by what was asked.
    pub wanted: std::collections::HashSet<String>,
    /// Tags of the commands not yet completed.
    pub pending: Vec<RequestId>,
    pub statuses: HashMap<String, FolderStatus>,
}

/// Folds one response into the answer. A tagged NO or BAD ends that mailbox's command
/// without a status; BYE ends the session.
pub fn absorb(answer: &mut StatusAnswer, response: &Response<'_>) -> Result<(), ImapError> {
    match response {
        Response::Done { tag, .. } => {
            answer.pending.retain(|pending| pending != tag);
        }
        Response::Data {
            status: Status::Bye,
            information,
            ..
        } => {
            return Err(ImapError::Bye(
                information.as_deref().unwrap_or_default().to_owned(),
            ));
        }
        Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
            let name = mailbox.as_ref();
            if answer.wanted.contains(name) {
                answer
                    .statuses
                    .entry(name.to_owned())
                    .or_default()
                    .merge(status);
            } else if name.eq_ignore_ascii_case("INBOX") {
                // imap-proto spells INBOX in upper case whatever the server sent.
                if let Some(asked) = answer
                    .wanted
                    .iter()
                    .find(|w| w.eq_ignore_ascii_case("INBOX"))
                {
                    let asked = asked.clone();
                    answer.statuses.entry(asked).or_default().merge(status);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The mailbox a `* STATUS` line names, with its attributes: what a server with NOTIFY
/// sends about a mailbox that is not selected.
pub fn status_line<'a>(response: &'a Response<'_>) -> Option<(&'a str, &'a [StatusAttribute])> {
    match response {
        Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
            Some((mailbox.as_ref(), status.as_slice()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use async_imap::imap_proto::parser::parse_response;

    use super::*;

    fn replay(asked: &[&str], tags: &[&str], transcript: &[u8]) -> Result<StatusAnswer, ImapError> {
        let mut answer = StatusAnswer {
            wanted: asked.iter().map(|s| (*s).to_owned()).collect(),
            pending: tags.iter().map(|t| RequestId((*t).to_owned())).collect(),
            statuses: HashMap::new(),
        };
        let mut rest = transcript;
        while !rest.is_empty() && !answer.pending.is_empty() {
            let (remaining, response) = parse_response(rest).expect("transcript parses");
            rest = remaining;
            absorb(&mut answer, &response)?;
        }
        Ok(answer)
    }

    #[test]
    fn pipelined_answers_are_matched_by_mailbox() {
        // As Dovecot 2.3 answers three pipelined STATUS commands.
        let answer = replay(
            &["INBOX", "Archive/2023", "&AMk-t&AOk-"],
            &["A1", "A2", "A3"],
            b"* STATUS INBOX (MESSAGES 3 UIDNEXT 7 UIDVALIDITY 1700000000 HIGHESTMODSEQ 12)\r\n\
              A1 OK Status completed.\r\n\
              * STATUS Archive/2023 (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 1700000001 HIGHESTMODSEQ 1)\r\n\
              A2 OK Status completed.\r\n\
              * STATUS \"&AMk-t&AOk-\" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 5 HIGHESTMODSEQ 9)\r\n\
              A3 OK Status completed.\r\n",
        )
        .expect("all completed");
        assert!(answer.pending.is_empty());
        assert_eq!(
            answer.statuses["INBOX"],
            FolderStatus {
                messages: Some(3),
                uid_next: Some(7),
                uid_validity: Some(1700000000),
                highest_modseq: Some(12),
            }
        );
        assert_eq!(answer.statuses["Archive/2023"].uid_next, Some(1));
        assert_eq!(answer.statuses["&AMk-t&AOk-"].highest_modseq, Some(9));
    }

    #[test]
    fn a_refused_mailbox_has_no_status_and_others_are_kept() {
        let answer = replay(
            &["Gone", "Kept"],
            &["A1", "A2"],
            b"A1 NO [NONEXISTENT] Mailbox doesn't exist: Gone\r\n\
              * STATUS Kept (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 3)\r\n\
              A2 OK done\r\n",
        )
        .expect("a NO ends one command only");
        assert!(!answer.statuses.contains_key("Gone"));
        assert_eq!(answer.statuses["Kept"].messages, Some(1));
        assert_eq!(answer.statuses["Kept"].highest_modseq, None);
    }

    #[test]
    fn lines_about_mailboxes_not_asked_for_are_dropped() {
        // A NOTIFY line about another mailbox, or a hostile server's flood, in the middle.
        let answer = replay(
            &["Asked"],
            &["A1"],
            b"* STATUS Other (HIGHESTMODSEQ 8)\r\n\
              * STATUS Asked (MESSAGES 4)\r\n\
              * STATUS Asked (HIGHESTMODSEQ 10)\r\n\
              * 3 EXISTS\r\n\
              A1 OK done\r\n",
        )
        .expect("completed");
        assert_eq!(answer.statuses.len(), 1);
        assert_eq!(answer.statuses["Asked"].messages, Some(4));
        assert_eq!(answer.statuses["Asked"].highest_modseq, Some(10));
    }

    #[test]
    fn inbox_is_matched_whatever_its_case() {
        let answer = replay(
            &["Inbox"],
            &["A1"],
            b"* STATUS inbox (MESSAGES 5)\r\nA1 OK done\r\n",
        )
        .expect("completed");
        assert_eq!(answer.statuses["Inbox"].messages, Some(5));
    }

    #[test]
    fn bye_ends_the_answer_with_an_error() {
        let result = replay(&["A"], &["A1"], b"* BYE shutting down\r\n");
        assert!(matches!(result, Err(ImapError::Bye(_))));
    }
}
