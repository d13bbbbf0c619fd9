//! NOTIFY (RFC 5465): asking the server to report changes in every mailbox, not only
//! the selected one, so that one idling connection hears of them all. For mailboxes
//! other than the selected one the server sends `* STATUS` lines (§5.1, parsed in
//! `folder_status`), and `* LIST` lines when one is created, renamed or deleted (§5.4).

use async_imap::{
    imap_proto::{MailboxDatum, Response},
    types::UnsolicitedResponse,
};

use crate::{error::ImapError, session::ImapSession};

/// The selected mailbox reports as under IDLE (EXISTS, EXPUNGE, FETCH); the others by
/// STATUS. FlagChange requires MessageNew and MessageExpunge beside it (§5.2).
const NOTIFY_SET: &str = "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) \
                          (personal (MessageNew MessageExpunge FlagChange MailboxName))";

impl ImapSession {
    /// Turns NOTIFY on for every mailbox of the account when the server offers it.
    /// Returns whether it is on; a server that announces NOTIFY but refuses this
    /// request is treated as not offering it.
    pub async fn notify_all_mailboxes(&mut self) -> Result<bool, ImapError> {
        if !self.has_capability("NOTIFY") {
            return Ok(false);
        }
        match self.session.run_command_and_check_ok(NOTIFY_SET).await {
            Ok(()) => Ok(true),
            Err(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// What the server said between mailroom's questions that a sync must act on. A
/// server with NOTIFY reports changes whenever it likes (RFC 5465 §3), also during the
/// answers to other commands; those reports are remembered here so that none is lost
/// between a pass and the next wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeardUnasked {
    /// Some mailbox changed (STATUS of another mailbox, EXISTS, EXPUNGE, FETCH,
    /// VANISHED).
    pub changes: bool,
    /// A mailbox was created, renamed or deleted (`* LIST`, §5.4): list again.
    pub mailbox_names: bool,
}

impl HeardUnasked {
    /// Takes in one response that did not answer the command it came with.
    pub fn note(&mut self, response: &Response<'_>) {
        match response {
            Response::MailboxData(MailboxDatum::List { .. }) => {
                self.changes = true;
                self.mailbox_names = true;
            }
            Response::MailboxData(MailboxDatum::Status { .. } | MailboxDatum::Exists(_))
            | Response::Expunge(_)
            | Response::Vanished { .. }
            | Response::Fetch(..) => self.changes = true,
            _ => {}
        }
    }

    /// As [`HeardUnasked::note`], for what async-imap set aside as unsolicited.
    fn note_set_aside(&mut self, response: &UnsolicitedResponse) {
        match response {
            UnsolicitedResponse::Status { .. }
            | UnsolicitedResponse::Exists(_)
            | UnsolicitedResponse::Expunge(_) => self.changes = true,
            UnsolicitedResponse::Other(data) => self.note(data.parsed()),
            _ => {}
        }
    }
}

impl ImapSession {
    /// Reads the responses async-imap set aside as unsolicited (it queues up to 100 of
    /// them for a reader mailroom does not otherwise have) and drops them, keeping only
    /// what they say changed: each holds the whole buffer it was read into, 4 KiB or
    /// more, for as long as the session lives.
    pub fn discard_unsolicited(&mut self) {
        while let Ok(response) = self.session.unsolicited_responses.try_recv() {
            self.heard.note_set_aside(&response);
        }
    }

    /// What the server reported unasked since the last call, and forgets it.
    pub fn take_heard(&mut self) -> HeardUnasked {
        self.discard_unsolicited();
        std::mem::take(&mut self.heard)
    }

    /// Whether a mailbox was reported created, renamed or deleted since the last LIST
    /// or call, and forgets it.
    pub fn take_heard_mailbox_names(&mut self) -> bool {
        self.discard_unsolicited();
        std::mem::take(&mut self.heard.mailbox_names)
    }
}

#[cfg(test)]
mod tests {
    use async_imap::imap_proto::parser::parse_response;

    use super::*;

    fn heard(transcript: &[u8]) -> HeardUnasked {
        let mut heard = HeardUnasked::default();
        let mut rest = transcript;
        while !rest.is_empty() {
            let (remaining, response) = parse_response(rest).expect("transcript parses");
            rest = remaining;
            heard.note(&response);
        }
        heard
    }

    #[test]
    fn notify_reports_are_remembered_and_other_lines_are_not() {
        // RFC 5465 §5.4: a mailbox created elsewhere.
        assert_eq!(
            heard(b"* LIST () \"/\" \"Delta Folder\"\r\n"),
            HeardUnasked {
                changes: true,
                mailbox_names: true
            }
        );
        // §5.1 and the selected mailbox's own reports.
        for line in [
            &b"* STATUS Archive (MESSAGES 3 UIDNEXT 9)\r\n"[..],
            b"* 4 EXISTS\r\n",
            b"* 2 EXPUNGE\r\n",
            b"* 3 FETCH (UID 7 FLAGS (\\Seen))\r\n",
            b"* VANISHED 41:43\r\n",
        ] {
            assert_eq!(
                heard(line),
                HeardUnasked {
                    changes: true,
                    mailbox_names: false
                },
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        // Keepalives and capability news change nothing.
        assert_eq!(
            heard(b"* OK Still here\r\n* CAPABILITY IMAP4rev1 IDLE\r\n* 3 RECENT\r\n"),
            HeardUnasked::default()
        );
    }
}
