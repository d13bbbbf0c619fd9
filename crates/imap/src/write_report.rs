//! What the server answers to a change: the tagged completion, and the UIDs it assigned
//! when it offers UIDPLUS (RFC 4315): `COPYUID` after COPY or MOVE (RFC 6851 sends it
//! untagged before the EXPUNGEs), `APPENDUID` after APPEND.
//!
//! [`absorb_write`] is a pure function over parsed responses, driven by byte transcripts
//! in the tests below.

use async_imap::imap_proto::{Response, ResponseCode, Status, UidSetMember, types::RequestId};

use crate::{error::ImapError, session::ImapSession};

/// An APPEND names one UID per message mailroom sent; more is not believed.
const MAX_APPENDED_UIDS: u64 = 1_000;

/// Where copied or moved messages landed. RFC 4315: the source and destination sets
/// list the UIDs in the same order, one for one. Both are kept as the server's ranges,
/// so a hostile `1:4294967295` costs nothing; a UID is mapped by its position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidMapping {
    pub uid_validity: u32,
    source: Vec<(u32, u32)>,
    destination: Vec<(u32, u32)>,
}

impl UidMapping {
    fn new(
        uid_validity: u32,
        source: &[UidSetMember],
        destination: &[UidSetMember],
    ) -> Option<Self> {
        let source = bounds(source);
        let destination = bounds(destination);
        (count(&source) == count(&destination)).then_some(Self {
            uid_validity,
            source,
            destination,
        })
    }

    pub fn destination_of(&self, source: u32) -> Option<u32> {
        let mut position = 0u64;
        for (low, high) in &self.source {
            if (*low..=*high).contains(&source) {
                position += u64::from(source - low);
                return nth(&self.destination, position);
            }
            position += u64::from(high - low) + 1;
        }
        None
    }

    /// How many UIDs the mapping names (the server's word, never expanded).
    pub fn len(&self) -> u64 {
        count(&self.source)
    }

    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }
}

fn bounds(set: &[UidSetMember]) -> Vec<(u32, u32)> {
    set.iter()
        .map(|member| match member {
            UidSetMember::Uid(uid) => (*uid, *uid),
            UidSetMember::UidRange(range) => (
                *range.start().min(range.end()),
                *range.start().max(range.end()),
            ),
        })
        .collect()
}

fn count(bounds: &[(u32, u32)]) -> u64 {
    bounds
        .iter()
        .map(|(low, high)| u64::from(high - low) + 1)
        .sum()
}

fn nth(bounds: &[(u32, u32)], mut index: u64) -> Option<u32> {
    for (low, high) in bounds {
        let width = u64::from(high - low) + 1;
        if index < width {
            return u32::try_from(u64::from(*low) + index).ok();
        }
        index -= width;
    }
    None
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
                .map_err(ImapError::from)?
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
            let named: u64 = uids
                .iter()
                .map(|r| u64::from(r.end().abs_diff(*r.start())) + 1)
                .sum();
            report.expunged = report
                .expunged
                .saturating_add(usize::try_from(named).unwrap_or(usize::MAX));
            None
        }
        _ => None,
    }
}

fn absorb_code(report: &mut WriteReport, code: &ResponseCode<'_>) {
    match code {
        ResponseCode::CopyUid(uid_validity, source, destination) => {
            if let Some(mapping) = UidMapping::new(*uid_validity, source, destination) {
                report.copied = Some(mapping);
            }
        }
        ResponseCode::AppendUid(uid_validity, uids) => {
            let uids = bounds(uids);
            if count(&uids) <= MAX_APPENDED_UIDS {
                report.appended = Some(AppendedUids {
                    uid_validity: *uid_validity,
                    uids: uids.iter().flat_map(|(low, high)| *low..=*high).collect(),
                });
            }
        }
        _ => {}
    }
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
        assert_eq!(copied.len(), 2);
        assert_eq!(copied.destination_of(42), Some(1202));
        assert_eq!(copied.destination_of(43), Some(1203));
        assert_eq!(report.expunged, 2);
    }

    #[test]
    fn copy_reports_copyuid_on_the_tagged_ok() {
        // RFC 4315 §3 example.
        let (report, end) = replay(b"A1 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
        assert!(end.is_ok());
        let copied = report.copied.expect("COPYUID");
        assert_eq!(copied.destination_of(304), Some(3956));
        assert_eq!(copied.destination_of(319), Some(3957));
        assert_eq!(copied.destination_of(320), Some(3958));
        assert_eq!(copied.destination_of(305), None);
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
    fn copyuid_over_the_whole_uid_space_is_walked_as_ranges() {
        let (report, end) =
            replay(b"* OK [COPYUID 1 1:4294967295 1:4294967295] Moved\r\nA1 OK done\r\n");
        assert!(end.is_ok());
        let copied = report.copied.expect("equal counts are a mapping");
        assert_eq!(copied.len(), u64::from(u32::MAX));
        assert_eq!(copied.destination_of(7), Some(7));
        assert_eq!(copied.destination_of(u32::MAX), Some(u32::MAX));
        let (report, _) = replay(b"* VANISHED 1:4294967295\r\nA1 OK done\r\n");
        assert_eq!(report.expunged, u32::MAX as usize);
    }

    #[test]
    fn vanished_counts_as_expunged() {
        let (report, end) =
            replay(b"* OK [COPYUID 9 7 100] Moved\r\n* VANISHED 7\r\nA1 OK Move completed.\r\n");
        assert!(end.is_ok());
        assert_eq!(report.expunged, 1);
        assert_eq!(report.copied.expect("COPYUID").destination_of(7), Some(100));
    }
}
