//! QRESYNC (RFC 7162): selecting a mailbox with what the index already knows, so that
//! the server answers with only what changed since — the UIDs expunged (`VANISHED
//! (EARLIER)`) and the flags of messages changed (untagged `FETCH`) — instead of mailroom
//! listing every UID and every flag again.
//!
//! async-imap has no QRESYNC, so the SELECT is sent as a raw command and its responses,
//! parsed by imap-proto, are folded into a [`ResyncReport`] by [`absorb`], a pure
//! function that the unit tests drive with byte transcripts.

use async_imap::imap_proto::{
    AttributeValue, MailboxDatum, Response, ResponseCode, Status, types::RequestId,
};

use crate::{
    error::ImapError, fetch::UidFlags, folders::quoted, mailbox_state::MailboxState,
    session::ImapSession, uid_ranges::UidRanges,
};

/// A server cannot make one SELECT report more changed messages than this; past it the
/// SELECT fails and the grant retries later.
pub const MAX_CHANGED_PER_SELECT: usize = 1_000_000;

/// What the index last saw of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownMailbox {
    pub uid_validity: u32,
    pub highest_modseq: u64,
}

/// The server's answer to a QRESYNC SELECT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResyncReport {
    pub state: MailboxState,
    /// UIDs expunged since the known modseq, as the server's ranges. RFC 7162 §3.2.5.1
    /// lets a server name UIDs that never existed (`1:4294967295`): callers look up
    /// which of their own UIDs lie in the ranges, never the other way round.
    pub vanished: UidRanges,
    /// Messages whose flags changed since the known modseq (new messages included).
    pub changed: Vec<UidFlags>,
}

impl ImapSession {
    /// `ENABLE QRESYNC` when the server offers it. Returns whether it is now on.
    pub async fn enable_qresync(&mut self) -> Result<bool, ImapError> {
        if !self.has_capability("QRESYNC") {
            return Ok(false);
        }
        self.session
            .run_command_and_check_ok("ENABLE QRESYNC")
            .await?;
        self.qresync = true;
        Ok(true)
    }

    pub fn qresync_enabled(&self) -> bool {
        self.qresync
    }

    /// `SELECT mailbox (QRESYNC (uidvalidity modseq))`. When the UIDVALIDITY differs
    /// the server reports no changes and the caller sees the new UIDVALIDITY in `state`.
    pub async fn select_qresync(
        &mut self,
        imap_name: &str,
        known: KnownMailbox,
    ) -> Result<ResyncReport, ImapError> {
        if !self.qresync {
            return Err(ImapError::Protocol("QRESYNC is not enabled".into()));
        }
        let command = format!(
            "SELECT {} (QRESYNC ({} {}))",
            quoted(imap_name)?,
            known.uid_validity,
            known.highest_modseq
        );
        let tag = self.session.run_command(&command).await?;
        let mut report = ResyncReport::default();
        loop {
            let response = self
                .session
                .read_response()
                .await
                .map_err(ImapError::from)?
                .ok_or(ImapError::Closed)?;
            // Its own mailbox's lines answer this SELECT; another's (NOTIFY) are news.
            if let Response::MailboxData(MailboxDatum::Status { .. } | MailboxDatum::List { .. }) =
                response.parsed()
            {
                self.heard.note(response.parsed());
            }
            if let Some(end) = absorb(&mut report, &tag, response.parsed()) {
                end?;
                break;
            }
        }
        report.vanished.normalise();
        Ok(report)
    }
}

/// Folds one response into the report. Returns `Some` once the tagged completion for
/// `tag` arrives: `Ok` for OK, the server's words otherwise.
pub fn absorb(
    report: &mut ResyncReport,
    tag: &RequestId,
    response: &Response<'_>,
) -> Option<Result<(), ImapError>> {
    match response {
        Response::Done {
            tag: done,
            status,
            information,
            ..
        } if done == tag => {
            let words = information.as_deref().unwrap_or_default().to_owned();
            Some(match status {
                Status::Ok => Ok(()),
                Status::No => Err(ImapError::Protocol(format!("NO {words}"))),
                Status::Bye => Err(ImapError::Bye(words)),
                _ => Err(ImapError::Protocol(format!("BAD {words}"))),
            })
        }
        Response::Data {
            status: Status::Bye,
            information,
            ..
        } => Some(Err(ImapError::Bye(
            information.as_deref().unwrap_or_default().to_owned(),
        ))),
        Response::Data {
            code: Some(code), ..
        } => {
            match code {
                ResponseCode::UidValidity(value) => report.state.uid_validity = *value,
                ResponseCode::UidNext(value) => report.state.uid_next = *value,
                ResponseCode::HighestModSeq(value) => report.state.highest_modseq = Some(*value),
                _ => {}
            }
            None
        }
        Response::MailboxData(MailboxDatum::Exists(count)) => {
            report.state.exists = *count;
            None
        }
        Response::Vanished { uids, .. } => {
            for range in uids {
                report.vanished.insert(range.clone());
            }
            None
        }
        Response::Fetch(_, attributes) => {
            let mut uid = None;
            let mut flags = Vec::new();
            let mut modseq = None;
            for attribute in attributes {
                match attribute {
                    AttributeValue::Uid(value) => uid = Some(*value),
                    AttributeValue::Flags(names) => {
                        flags = names.iter().map(|f| f.to_string()).collect()
                    }
                    AttributeValue::ModSeq(value) => modseq = Some(*value),
                    _ => {}
                }
            }
            // A FETCH without a UID cannot be placed; RFC 7162 requires servers to send it.
            if let Some(uid) = uid {
                if report.changed.len() >= MAX_CHANGED_PER_SELECT {
                    return Some(Err(ImapError::TooMuch(format!(
                        "more than {MAX_CHANGED_PER_SELECT} changed messages in one SELECT"
                    ))));
                }
                report.changed.push(UidFlags { uid, flags, modseq });
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use async_imap::imap_proto::parser::parse_response;

    use super::*;

    /// Feeds a server transcript, response by response, as the session would.
    fn replay(transcript: &[u8]) -> (ResyncReport, Result<(), ImapError>) {
        let tag = RequestId("A1".into());
        let mut report = ResyncReport::default();
        let mut rest = transcript;
        while !rest.is_empty() {
            let (remaining, response) = parse_response(rest).expect("transcript parses");
            rest = remaining;
            if let Some(end) = absorb(&mut report, &tag, &response) {
                report.vanished.normalise();
                return (report, end);
            }
        }
        panic!("transcript ended without the tagged completion")
    }

    #[test]
    fn rfc7162_example_reports_vanished_uids_and_changed_flags() {
        // After RFC 7162 §3.2.5.1, answered by a server for a known UIDVALIDITY.
        let (report, end) = replay(
            b"* 314 EXISTS\r\n\
              * OK [UIDVALIDITY 67890007] Ok\r\n\
              * OK [UIDNEXT 567] Predicted next UID\r\n\
              * OK [HIGHESTMODSEQ 90060115205545359] Highest\r\n\
              * VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n\
              * 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045001))\r\n\
              * 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (90060115194045308))\r\n\
              A1 OK [READ-WRITE] mailbox selected\r\n",
        );
        assert!(end.is_ok());
        assert_eq!(report.state.exists, 314);
        assert_eq!(report.state.uid_validity, 67890007);
        assert_eq!(report.state.uid_next, 567);
        assert_eq!(report.state.highest_modseq, Some(90060115205545359));
        assert_eq!(report.vanished.len(), 1 + 74 + 1 + 92 + 327);
        assert_eq!(
            report.vanished.intersect(&[40, 41, 42, 43, 44]),
            [41, 43, 44]
        );
        assert_eq!(report.changed.len(), 2);
        assert_eq!(report.changed[0].uid, 117);
        assert_eq!(report.changed[0].flags, vec!["\\Seen", "\\Answered"]);
        assert_eq!(report.changed[1].flags, vec!["\\Draft", "$MDNSent"]);
        assert_eq!(report.changed[1].modseq, Some(90060115194045308));
    }

    #[test]
    fn a_refused_select_ends_with_the_servers_words() {
        let (_, end) = replay(b"A1 NO [NONEXISTENT] Mailbox doesn't exist: Gone\r\n");
        let error = end.expect_err("NO is an error");
        assert!(
            error.to_string().contains("Mailbox doesn't exist"),
            "{error}"
        );
    }

    #[test]
    fn another_commands_completion_does_not_end_the_select() {
        let (report, end) = replay(
            b"A0 OK earlier command\r\n\
              * 3 EXISTS\r\n\
              A1 OK done\r\n",
        );
        assert!(end.is_ok());
        assert_eq!(report.state.exists, 3);
    }

    #[test]
    fn vanished_for_the_whole_uid_space_stays_one_range() {
        let (report, end) = replay(
            b"* OK [UIDVALIDITY 1] Ok\r\n\
              * OK [HIGHESTMODSEQ 1] Highest\r\n\
              * VANISHED (EARLIER) 1:4294967295\r\n\
              A1 OK selected\r\n",
        );
        assert!(end.is_ok());
        assert_eq!(report.vanished.ranges(), &[1..=u32::MAX]);
        // An index of a few UIDs: exactly those are gone, found without enumerating.
        assert_eq!(report.vanished.intersect(&[1, 2, 5, 90]), [1, 2, 5, 90]);
    }

    #[test]
    fn bye_in_the_middle_is_an_error() {
        let (_, end) = replay(b"* 1 EXISTS\r\n* BYE shutting down\r\n");
        assert!(matches!(end, Err(ImapError::Bye(_))));
    }
}
