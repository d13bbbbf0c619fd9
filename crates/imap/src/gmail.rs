//! Gmail's IMAP extensions, offered by a server that announces `X-GM-EXT-1`
//! (developers.google.com/gmail/imap/imap-extensions): each message has an id that is
//! the same in every folder it shows in (`X-GM-MSGID`), the id of its conversation
//! (`X-GM-THRID`) and its labels (`X-GM-LABELS`: `\Inbox`, `\Sent`… and the user's own,
//! named as their folders are, in modified UTF-7).
//!
//! async-imap reads no `X-GM-THRID`, so summaries are fetched with a raw `UID FETCH`
//! whose responses, parsed by imap-proto, are folded by [`absorb_summary`], a pure
//! function the unit tests drive with byte transcripts.

use async_imap::imap_proto::{
    AttributeValue, MessageSection, Response, SectionPath, Status, types::RequestId,
};

use crate::{
    error::ImapError,
    fetch::{FetchedSummary, SUMMARY_HEADER_FIELDS, flag_name, max_responses},
    folders::decode_mailbox_name,
    session::ImapSession,
};

/// The capability that announces the extensions.
pub const X_GM_EXT_1: &str = "X-GM-EXT-1";

/// Labels kept of one message; a server that sends more has the rest ignored (a Gmail
/// account has far fewer labels than this).
pub const MAX_LABELS: usize = 500;

/// The longest label kept, in bytes as sent; a longer one is ignored.
pub const MAX_LABEL_BYTES: usize = 1_000;

/// What Gmail says of a message beyond IMAP's own attributes; what the server left out
/// is `None` (or no labels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GmailAttributes {
    pub msgid: Option<u64>,
    pub thrid: Option<u64>,
    /// System labels as sent (`\Inbox`, `\Important`…); the others decoded to UTF-8, as
    /// their folders' names are.
    pub labels: Vec<String>,
}

impl GmailAttributes {
    /// Takes in one FETCH attribute; says whether it was one of Gmail's.
    pub fn absorb(&mut self, attribute: &AttributeValue<'_>) -> bool {
        match attribute {
            AttributeValue::GmailMsgId(id) => self.msgid = Some(*id),
            AttributeValue::GmailThrId(id) => self.thrid = Some(*id),
            AttributeValue::GmailLabels(labels) => {
                self.labels = labels
                    .iter()
                    .filter_map(|raw| decode_label(raw))
                    .take(MAX_LABELS)
                    .collect();
            }
            _ => return false,
        }
        true
    }
}

/// A label as the FETCH response carried it (an atom, a flag such as `\Inbox`, or the
/// inside of a quoted string, escapes not yet undone) in UTF-8; `None` when it is empty
/// or longer than [`MAX_LABEL_BYTES`].
pub fn decode_label(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > MAX_LABEL_BYTES {
        return None;
    }
    // An atom cannot hold `\\` or `\"` (RFC 3501 §9, quoted-specials are atom-specials),
    // so undoing quoted-string escapes leaves atoms and flags as they are.
    let mut unescaped = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('\\' | '"'))) => {
                unescaped.push(next);
                chars.next();
            }
            _ => unescaped.push(c),
        }
    }
    if unescaped.starts_with('\\') {
        return Some(unescaped);
    }
    Some(decode_mailbox_name(&unescaped))
}

impl ImapSession {
    /// Whether the server offers Gmail's extensions (and the settings do not ignore them).
    pub fn gmail(&self) -> bool {
        self.has_capability(X_GM_EXT_1)
    }

    /// [`ImapSession::fetch_summaries`] on a Gmail server: the same, with each message's
    /// Gmail attributes.
    pub(crate) async fn fetch_gmail_summaries(
        &mut self,
        uid_set: &str,
        expected: usize,
    ) -> Result<Vec<FetchedSummary>, ImapError> {
        let command = format!(
            "UID FETCH {uid_set} (UID FLAGS INTERNALDATE RFC822.SIZE X-GM-MSGID X-GM-THRID \
             X-GM-LABELS BODY.PEEK[HEADER.FIELDS ({SUMMARY_HEADER_FIELDS})])"
        );
        let tag = self.session.run_command(&command).await?;
        let mut answer = SummaryAnswer::new(max_responses(expected));
        loop {
            let response = self
                .session
                .read_response()
                .await
                .map_err(ImapError::from)?
                .ok_or(ImapError::Closed)?;
            if let Some(end) = absorb_summary(&mut answer, &tag, response.parsed()) {
                end?;
                return Ok(answer.summaries);
            }
        }
    }
}

/// The summaries gathered so far from the answer to one FETCH.
#[derive(Debug)]
pub struct SummaryAnswer {
    pub summaries: Vec<FetchedSummary>,
    /// Untagged responses seen, and how many are allowed.
    seen: usize,
    cap: usize,
}

impl SummaryAnswer {
    pub fn new(cap: usize) -> Self {
        Self {
            summaries: Vec::new(),
            seen: 0,
            cap,
        }
    }
}

/// Folds one response into the answer. Returns `Some` once the tagged completion for
/// `tag` arrives: `Ok` for OK, the server's words otherwise; or an error as soon as the
/// server has sent more responses than the answer allows.
pub fn absorb_summary(
    answer: &mut SummaryAnswer,
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
            return Some(match status {
                Status::Ok => Ok(()),
                Status::No => Err(ImapError::Protocol(format!("NO {words}"))),
                Status::Bye => Err(ImapError::Bye(words)),
                _ => Err(ImapError::Protocol(format!("BAD {words}"))),
            });
        }
        Response::Data {
            status: Status::Bye,
            information,
            ..
        } => {
            return Some(Err(ImapError::Bye(
                information.as_deref().unwrap_or_default().to_owned(),
            )));
        }
        _ => {}
    }
    answer.seen += 1;
    if answer.seen > answer.cap {
        return Some(Err(ImapError::TooMuch(format!(
            "more than {} FETCH responses to one command",
            answer.cap
        ))));
    }
    if let Response::Fetch(_, attributes) = response
        && let Some(summary) = summary_of(attributes)
    {
        answer.summaries.push(summary);
    }
    None
}

/// A summary from the attributes of one FETCH response; `None` without a UID (an
/// unsolicited flag change, RFC 3501 §7.4.2, which cannot be placed).
fn summary_of(attributes: &[AttributeValue<'_>]) -> Option<FetchedSummary> {
    let mut summary = FetchedSummary {
        uid: 0,
        flags: Vec::new(),
        internal_date: 0,
        size: 0,
        modseq: None,
        header: Vec::new(),
        gmail: None,
    };
    let mut uid = None;
    let mut gmail = GmailAttributes::default();
    let mut any_gmail = false;
    for attribute in attributes {
        match attribute {
            AttributeValue::Uid(value) => uid = Some(*value),
            AttributeValue::Flags(names) => {
                summary.flags = names
                    .iter()
                    .map(|name| flag_name(name.as_ref().into()))
                    .collect();
            }
            AttributeValue::InternalDate(date) => {
                summary.internal_date =
                    chrono::DateTime::parse_from_str(date, crate::fetch::INTERNALDATE_FORMAT)
                        .map(|d| d.timestamp())
                        .unwrap_or(0);
            }
            AttributeValue::Rfc822Size(size) => summary.size = *size,
            AttributeValue::ModSeq(modseq) => summary.modseq = Some(*modseq),
            AttributeValue::BodySection {
                section: Some(SectionPath::Full(MessageSection::Header)),
                data: Some(header),
                ..
            }
            | AttributeValue::Rfc822Header(Some(header)) => summary.header = header.to_vec(),
            other => any_gmail |= gmail.absorb(other),
        }
    }
    summary.uid = uid?;
    summary.gmail = any_gmail.then_some(gmail);
    Some(summary)
}

#[cfg(test)]
mod tests {
    use async_imap::imap_proto::parser::parse_response;

    use super::*;

    /// Feeds a server transcript, response by response, as the session would.
    fn replay(transcript: &[u8], cap: usize) -> (Vec<FetchedSummary>, Result<(), ImapError>) {
        let tag = RequestId("A1".into());
        let mut answer = SummaryAnswer::new(cap);
        let mut rest = transcript;
        while !rest.is_empty() {
            let (remaining, response) = parse_response(rest).expect("transcript parses");
            rest = remaining;
            if let Some(end) = absorb_summary(&mut answer, &tag, &response) {
                return (answer.summaries, end);
            }
        }
        panic!("transcript ended without the tagged completion")
    }

    /// A FETCH response as Gmail answers the summary FETCH, with `gmail` in its list.
    fn response(uid: u32, gmail: &str, header: &str) -> String {
        format!(
            "* {uid} FETCH (X-GM-THRID 1278455344230334865 {gmail} UID {uid} \
             FLAGS (\\Seen) INTERNALDATE \"02-Jan-2024 10:00:00 +0000\" RFC822.SIZE 2048 \
             BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] {{{}}}\r\n{header})\r\n",
            header.len()
        )
    }

    #[test]
    fn gmail_attributes_come_with_the_summary() {
        let header = "Message-ID: <a@example.test>\r\nSubject: Hi\r\n\r\n";
        let transcript = response(
            7,
            "X-GM-MSGID 1278455344230334866 X-GM-LABELS (\\Inbox \\Sent Important \
             \"Muy Importante\" \"\\\\Starred\")",
            header,
        ) + "A1 OK Success\r\n";
        let (summaries, end) = replay(transcript.as_bytes(), 10);
        assert!(end.is_ok());
        let [summary] = summaries.as_slice() else {
            panic!("one summary expected: {summaries:?}");
        };
        assert_eq!(summary.uid, 7);
        assert_eq!(summary.flags, ["\\Seen"]);
        assert_eq!(summary.size, 2048);
        assert_eq!(summary.internal_date, 1_704_189_600);
        assert_eq!(summary.header, header.as_bytes());
        let gmail = summary.gmail.as_ref().expect("Gmail attributes");
        assert_eq!(gmail.msgid, Some(1_278_455_344_230_334_866));
        assert_eq!(gmail.thrid, Some(1_278_455_344_230_334_865));
        assert_eq!(
            gmail.labels,
            [
                "\\Inbox",
                "\\Sent",
                "Important",
                "Muy Importante",
                "\\Starred"
            ]
        );
    }

    #[test]
    fn labels_in_modified_utf7_and_with_escapes_are_decoded() {
        let transcript = response(
            1,
            "X-GM-MSGID 1 X-GM-LABELS (&AMk-quipe \"Caf&AOk- & Co\" \"say \\\"hi\\\"\" \
             \"back\\\\slash\" &BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-)",
            "\r\n",
        ) + "A1 OK Success\r\n";
        let (summaries, _) = replay(transcript.as_bytes(), 10);
        let labels = &summaries[0].gmail.as_ref().unwrap().labels;
        assert_eq!(
            labels,
            &[
                "Équipe",
                "Café & Co",
                "say \"hi\"",
                "back\\slash",
                "Отправленные"
            ]
        );
    }

    #[test]
    fn no_labels_and_no_gmail_attributes_are_told_apart() {
        let transcript = response(1, "X-GM-MSGID 5 X-GM-LABELS ()", "\r\n")
            + "* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 10 BODY[HEADER.FIELDS (SUBJECT)] {2}\r\n\r\n)\r\n"
            + "A1 OK Success\r\n";
        let (summaries, _) = replay(transcript.as_bytes(), 10);
        let gmail = summaries[0]
            .gmail
            .as_ref()
            .expect("attributes of the first");
        assert!(gmail.labels.is_empty());
        assert_eq!(gmail.msgid, Some(5));
        assert_eq!(summaries[1].gmail, None);
    }

    #[test]
    fn unsolicited_fetches_are_skipped_and_too_many_responses_refused() {
        let transcript = "* 3 FETCH (FLAGS (\\Seen))\r\n* 4 EXISTS\r\n".to_owned()
            + &response(1, "X-GM-MSGID 5", "\r\n")
            + "A1 OK Success\r\n";
        let (summaries, end) = replay(transcript.as_bytes(), 10);
        assert!(end.is_ok());
        assert_eq!(summaries.len(), 1);
        let (_, end) = replay(transcript.as_bytes(), 2);
        assert!(matches!(end, Err(ImapError::TooMuch(_))), "{end:?}");
    }

    #[test]
    fn a_refusal_or_goodbye_ends_the_answer_with_an_error() {
        let (_, end) = replay(b"A1 NO [ALERT] Too many simultaneous connections\r\n", 10);
        assert!(
            matches!(&end, Err(ImapError::Protocol(words)) if words.contains("Too many")),
            "{end:?}"
        );
        let (_, end) = replay(b"* BYE System error\r\n", 10);
        assert!(matches!(end, Err(ImapError::Bye(_))), "{end:?}");
    }

    #[test]
    fn hostile_labels_are_bounded_and_never_panic() {
        // Too many labels: the first MAX_LABELS are kept.
        let many: Vec<String> = (0..MAX_LABELS + 50).map(|n| format!("L{n}")).collect();
        let transcript = response(
            1,
            &format!("X-GM-MSGID 9 X-GM-LABELS ({})", many.join(" ")),
            "\r\n",
        ) + "A1 OK Success\r\n";
        let (summaries, _) = replay(transcript.as_bytes(), 10);
        let labels = &summaries[0].gmail.as_ref().unwrap().labels;
        assert_eq!(labels.len(), MAX_LABELS);
        assert_eq!(labels[0], "L0");
        // An overlong label is dropped; broken modified UTF-7 is kept as sent.
        let long = "x".repeat(MAX_LABEL_BYTES + 1);
        let transcript = response(
            1,
            &format!("X-GM-MSGID 9 X-GM-LABELS ({long} &A- \"&AB*-\" \"&\" ok)"),
            "\r\n",
        ) + "A1 OK Success\r\n";
        let (summaries, _) = replay(transcript.as_bytes(), 10);
        assert_eq!(
            summaries[0].gmail.as_ref().unwrap().labels,
            ["&A-", "&AB*-", "&", "ok"]
        );
    }

    #[test]
    fn malformed_gmail_attributes_do_not_parse() {
        // What the session then reports is an error for the whole command: the parser
        // refuses these responses, nothing reaches `absorb_summary`.
        for bad in [
            "* 1 FETCH (UID 1 X-GM-MSGID abc)\r\n",
            "* 1 FETCH (UID 1 X-GM-MSGID 99999999999999999999999)\r\n",
            "* 1 FETCH (UID 1 X-GM-THRID -4)\r\n",
            "* 1 FETCH (UID 1 X-GM-LABELS (\"unterminated))\r\n",
            "* 1 FETCH (UID 1 X-GM-LABELS Inbox)\r\n",
        ] {
            assert!(
                !matches!(parse_response(bad.as_bytes()), Ok((_, Response::Fetch(..)))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn gmail_is_told_by_its_capability() {
        use async_imap::imap_proto::Capability;
        // Gmail's greeting capabilities as recorded.
        let line = b"* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN \
                     X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH \
                     UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE \
                     APPENDLIMIT=35651584\r\n";
        let Ok((_, Response::Capabilities(list))) = parse_response(line) else {
            panic!("a CAPABILITY response");
        };
        let names = list.iter().map(|c| match c {
            Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
            Capability::Auth(mechanism) => format!("AUTH={mechanism}"),
            Capability::Atom(name) => name.to_string(),
        });
        let caps = crate::Capabilities::new(names);
        assert!(caps.has(X_GM_EXT_1));
        assert!(!crate::Capabilities::new(["IMAP4rev1", "X-GM-EXT-2"]).has(X_GM_EXT_1));
    }

    #[test]
    fn decode_label_keeps_system_labels_and_drops_empty_ones() {
        assert_eq!(decode_label("\\Inbox").as_deref(), Some("\\Inbox"));
        assert_eq!(
            decode_label("\\\\Important").as_deref(),
            Some("\\Important")
        );
        assert_eq!(
            decode_label("Work/Projects").as_deref(),
            Some("Work/Projects")
        );
        assert_eq!(decode_label(""), None);
    }
}
