//! What the server answers to a change: the tagged completion, and the UIDs it assigned
//! when it offers UIDPLUS (RFC 4315): `COPYUID` after COPY or MOVE (RFC 6851 sends it
//! untagged before the EXPUNGEs), `APPENDUID` after APPEND.
//!
//! [`absorb_write`] is a pure function over parsed responses, driven by byte transcripts
//! in the tests below.

use async_imap::imap_proto::{Response, ResponseCode, Status, UidSetMember, types::RequestId};

use crate::{error::ImapError, session::ImapSession};

/// A server cannot make mailroom expand more UIDs than this from one response.
const MAX_UIDS_PER_RESPONSE: usize = 100_000;

/// Where copied or moved messages landed: `(source uid, destination uid)` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidMapping {
    pub uid_validity: u32,
    pub pairs: Vec<(u32, u32)>,
}

impl UidMapping {
    pub fn destination_of(&self, source: u32) -> Option<u32> {
        self.pairs
            .iter()
            .find(|(s, _)| *s == source)
            .map(|(_, d)| *d)
    }
}

/// The UIDs an APPEND was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendedUids {
    pub uid_validity: u32,
    pub uids: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub copied: Option<UidMapping>,
    pub appended: Option<AppendedUids>,
    /// Untagged EXPUNGE or VANISHED responses seen.
    pub expunged: usize,
}

impl ImapSession {
    /// Sends a command that changes something and reads its answer.
    pub(crate) async fn run_write(&mut self, command: &str) -> Result<WriteReport, ImapError> {
        let tag = self.session.run_command(command).await?;
        self.finish_write(&tag).await
    }

    /// Reads responses until the completion of `tag`.
    pub(crate) async fn finish_write(&mut self, tag: &RequestId) -> Result<WriteReport, ImapError> {
        let mut report = WriteReport::default();
        loop {
            let response = self
                .session
                .read_response()
                .await
                .map_err(|e| ImapError::Protocol(format!("I/O: {e}")))?
                .ok_or(ImapError::Closed)?;
            if let Some(end) = absorb_write(&mut report, tag, response.parsed()) {
                return end.map(|()| report);
            }
        }
    }
}

/// Folds one response into the report. Returns `Some` once the completion for `tag`
/// arrives: `Ok` for OK, [`ImapError::Refused`] with the server's words for NO.
pub fn absorb_write(
    report: &mut WriteReport,
    tag: &RequestId,
    response: &Response<'_>,
) -> Option<Result<(), ImapError>> {
    match response {
        Response::Done {
            tag: done,
            status,
            code,
            information,
        } if done == tag => {
            if let Some(code) = code {
                absorb_code(report, code);
            }
            let words = information.as_deref().unwrap_or_default().to_owned();
            Some(match status {
                Status::Ok => Ok(()),
                Status::No => Err(ImapError::Refused(words)),
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
            absorb_code(report, code);
            None
        }
        Response::Expunge(_) => {
            report.expunged += 1;
            None
        }
        Response::Vanished { uids, .. } => {
            report.expunged += uids.iter().map(|r| r.clone().count()).sum::<usize>();
            None
        }
        _ => None,
    }
}

fn absorb_code(report: &mut WriteReport, code: &ResponseCode<'_>) {
    match code {
        ResponseCode::CopyUid(uid_validity, source, destination) => {
            let (Some(source), Some(destination)) = (expand(source), expand(destination)) else {
                return;
            };
            // RFC 4315: both sets list the UIDs in the same order, one for one.
            if source.len() == destination.len() {
                report.copied = Some(UidMapping {
                    uid_validity: *uid_validity,
                    pairs: source.into_iter().zip(destination).collect(),
                });
            }
        }
        ResponseCode::AppendUid(uid_validity, uids) => {
            if let Some(uids) = expand(uids) {
                report.appended = Some(AppendedUids {
                    uid_validity: *uid_validity,
                    uids,
                });
            }
        }
        _ => {}
    }
}

/// A UID set as a list; `None` when a (hostile) server sends more than mailroom asked.
fn expand(set: &[UidSetMember]) -> Option<Vec<u32>> {
    let mut uids = Vec::new();
    for member in set {
        match member {
            UidSetMember::Uid(uid) => uids.push(*uid),
            UidSetMember::UidRange(range) => {
                let (low, high) = (
                    *range.start().min(range.end()),
                    *range.start().max(range.end()),
                );
                if (high - low) as usize >= MAX_UIDS_PER_RESPONSE {
                    return None;
                }
                uids.extend(low..=high);
            }
        }
        if uids.len() > MAX_UIDS_PER_RESPONSE {
            return None;
        }
    }
    Some(uids)
}

#[cfg(test)]
mod tests {
    use async_imap::imap_proto::parser::parse_response;

    use super::*;

    fn replay(transcript: &[u8]) -> (WriteReport, Result<(), ImapError>) {
        let tag = RequestId("A1".into());
        let mut report = WriteReport::default();
        let mut rest = transcript;
        while !rest.is_empty() {
            let (remaining, response) = parse_response(rest).expect("transcript parses");
            rest = remaining;
            if let Some(end) = absorb_write(&mut report, &tag, &response) {
                return (report, end);
            }
        }
        panic!("transcript ended without the tagged completion")
    }

    #[test]
    fn move_reports_copyuid_untagged_then_expunges() {
        // RFC 6851 §4.3 example.
        let (report, end) = replay(
            b"* OK [COPYUID 432432 42:43 1202:1203] Moved UIDs.\r\n\
              * 2 EXPUNGE\r\n\
              * 2 EXPUNGE\r\n\
              A1 OK Done\r\n",
        );
        assert!(end.is_ok());
        let copied = report.copied.expect("COPYUID");
        assert_eq!(copied.uid_validity, 432432);
        assert_eq!(copied.pairs, vec![(42, 1202), (43, 1203)]);
        assert_eq!(copied.destination_of(43), Some(1203));
        assert_eq!(report.expunged, 2);
    }

    #[test]
    fn copy_reports_copyuid_on_the_tagged_ok() {
        // RFC 4315 §3 example.
        let (report, end) = replay(b"A1 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
        assert!(end.is_ok());
        assert_eq!(
            report.copied.expect("COPYUID").pairs,
            vec![(304, 3956), (319, 3957), (320, 3958)]
        );
    }

    #[test]
    fn append_reports_appenduid() {
        let (report, end) = replay(b"A1 OK [APPENDUID 38505 3955] APPEND completed\r\n");
        assert!(end.is_ok());
        assert_eq!(
            report.appended,
            Some(AppendedUids {
                uid_validity: 38505,
                uids: vec![3955]
            })
        );
    }

    #[test]
    fn a_server_without_uidplus_reports_no_uids() {
        let (report, end) = replay(b"* 3 EXISTS\r\nA1 OK Append completed.\r\n");
        assert!(end.is_ok());
        assert_eq!(report, WriteReport::default());
    }

    #[test]
    fn no_is_a_refusal_in_the_servers_words() {
        let (_, end) = replay(b"A1 NO [ALREADYEXISTS] Mailbox already exists\r\n");
        match end {
            // imap-proto keeps response codes it does not model in the text.
            Err(ImapError::Refused(words)) => {
                assert_eq!(words, "[ALREADYEXISTS] Mailbox already exists")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mismatched_or_huge_uid_sets_are_ignored() {
        let (report, _) = replay(b"A1 OK [COPYUID 1 1:2 5] odd\r\n");
        assert!(report.copied.is_none());
        let (report, _) = replay(b"A1 OK [APPENDUID 1 1:4000000000] hostile\r\n");
        assert!(report.appended.is_none());
    }

    #[test]
    fn vanished_counts_as_expunged() {
        let (report, end) =
            replay(b"* OK [COPYUID 9 7 100] Moved\r\n* VANISHED 7\r\nA1 OK Move completed.\r\n");
        assert!(end.is_ok());
        assert_eq!(report.expunged, 1);
        assert_eq!(report.copied.expect("COPYUID").pairs, vec![(7, 100)]);
    }
}
