//! Fetching messages by UID: summaries for the index (flags, dates, size, headers) and
//! whole messages for bodies and attachments.

use async_imap::types::Flag;
use futures::{Stream, TryStreamExt};

use crate::{error::ImapError, gmail::GmailAttributes, session::ImapSession};

/// Responses a FETCH may carry beyond one per message asked for: servers may add
/// unsolicited FETCHes for flag changes elsewhere (RFC 3501 §7.4.2).
const EXTRA_RESPONSES: usize = 1_000;

/// The most responses mailroom collects for a FETCH of `expected` messages; a server that
/// sends more is cut off rather than allowed to fill memory.
pub fn max_responses(expected: usize) -> usize {
    expected
        .saturating_add(expected / 10)
        .saturating_add(EXTRA_RESPONSES)
}

/// The header fields a summary carries: those the index files and threads by.
pub(crate) const SUMMARY_HEADER_FIELDS: &str = "DATE FROM SENDER TO CC BCC REPLY-TO SUBJECT \
     MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE";

/// INTERNALDATE's date-time (RFC 3501 §9), as chrono reads it.
pub(crate) const INTERNALDATE_FORMAT: &str = "%d-%b-%Y %H:%M:%S %z";

/// What the index needs of a message before its body.
#[derive(Debug, Clone)]
pub struct FetchedSummary {
    pub uid: u32,
    pub flags: Vec<String>,
    /// INTERNALDATE, unix seconds.
    pub internal_date: i64,
    pub size: u32,
    pub modseq: Option<u64>,
    pub header: Vec<u8>,
    /// What a Gmail server said of the message (`X-GM-EXT-1`), if it is one.
    pub gmail: Option<GmailAttributes>,
}

#[derive(Debug, Clone)]
pub struct FetchedBody {
    pub uid: u32,
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidFlags {
    pub uid: u32,
    pub flags: Vec<String>,
    pub modseq: Option<u64>,
}

impl ImapSession {
    /// Summaries of the messages in `uid_set` (e.g. `"100:200"`) of the selected mailbox:
    /// only the header fields the index files and threads by, a third of a full header
    /// block; the rest of the headers arrive with the body.
    /// `expected` is how many messages `uid_set` names. A Gmail server adds its own
    /// attributes ([`crate::GmailAttributes`]).
    pub async fn fetch_summaries(
        &mut self,
        uid_set: &str,
        expected: usize,
    ) -> Result<Vec<FetchedSummary>, ImapError> {
        if self.gmail() {
            return self.fetch_gmail_summaries(uid_set, expected).await;
        }
        let query = format!(
            "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS \
             ({SUMMARY_HEADER_FIELDS})])"
        );
        collect_capped(
            self.session.uid_fetch(uid_set, query).await?,
            max_responses(expected),
            "FETCH",
            |f| {
                Some(FetchedSummary {
                    uid: f.uid?,
                    flags: f.flags().map(flag_name).collect(),
                    internal_date: f.internal_date().map(|d| d.timestamp()).unwrap_or(0),
                    size: f.size.unwrap_or(0),
                    modseq: f.modseq,
                    header: f.header().map(<[u8]>::to_vec).unwrap_or_default(),
                    gmail: None,
                })
            },
        )
        .await
    }

    /// Whole messages, read one response at a time: the answer stops being read (an
    /// error) once the bodies pass `byte_budget` bytes, so a server that sends more than
    /// the sizes it announced cannot make mailroom hold more. Callers size `uid_set` by
    /// RFC822.SIZE.
    pub async fn fetch_bodies(
        &mut self,
        uid_set: &str,
        byte_budget: u64,
    ) -> Result<Vec<FetchedBody>, ImapError> {
        let mut stream =
            std::pin::pin!(self.session.uid_fetch(uid_set, "(UID BODY.PEEK[])").await?);
        let mut bodies = Vec::new();
        let mut total: u64 = 0;
        while let Some(fetch) = stream.try_next().await? {
            let (Some(uid), Some(raw)) = (fetch.uid, fetch.body()) else {
                continue;
            };
            total = total.saturating_add(raw.len() as u64);
            if total > byte_budget {
                return Err(ImapError::TooMuch(format!(
                    "message bodies beyond the {byte_budget} bytes asked for"
                )));
            }
            bodies.push(FetchedBody {
                uid,
                raw: raw.to_vec(),
            });
        }
        Ok(bodies)
    }

    /// The whole header block of messages too large to read whole
    /// (`BODY.PEEK[HEADER]`, RFC 3501 §6.4.5); `expected` is how many `uid_set` names.
    pub async fn fetch_headers(
        &mut self,
        uid_set: &str,
        expected: usize,
    ) -> Result<Vec<FetchedBody>, ImapError> {
        collect_capped(
            self.session
                .uid_fetch(uid_set, "(UID BODY.PEEK[HEADER])")
                .await?,
            max_responses(expected),
            "FETCH",
            |f| {
                Some(FetchedBody {
                    uid: f.uid?,
                    raw: f.header()?.to_vec(),
                })
            },
        )
        .await
    }

    /// Flags of every message in `uid_set`, optionally only those changed since a modseq
    /// (CONDSTORE); `expected` is how many messages there are (EXISTS).
    pub async fn fetch_flags(
        &mut self,
        uid_set: &str,
        changed_since: Option<u64>,
        expected: usize,
    ) -> Result<Vec<UidFlags>, ImapError> {
        let query = match changed_since {
            Some(modseq) => format!("(UID FLAGS) (CHANGEDSINCE {modseq})"),
            None => "(UID FLAGS)".to_owned(),
        };
        collect_capped(
            self.session.uid_fetch(uid_set, query).await?,
            max_responses(expected),
            "FETCH",
            |f| {
                Some(UidFlags {
                    uid: f.uid?,
                    flags: f.flags().map(flag_name).collect(),
                    modseq: f.modseq,
                })
            },
        )
        .await
    }

    /// UIDs an IMAP SEARCH finds in the selected mailbox. The criteria are the
    /// caller's, checked by [`check_search_criteria`].
    pub async fn search_uids(&mut self, criteria: &str) -> Result<Vec<u32>, ImapError> {
        check_search_criteria(criteria)?;
        let mut uids: Vec<u32> = self
            .session
            .uid_search(criteria)
            .await?
            .into_iter()
            .collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Every UID in the selected mailbox.
    pub async fn all_uids(&mut self) -> Result<Vec<u32>, ImapError> {
        let mut uids: Vec<u32> = self.session.uid_search("ALL").await?.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }
}

/// Search criteria are passed to the server as one line of the `UID SEARCH` command.
/// Refused: an empty line; CR, LF or NUL, which would end the command and start another;
/// a literal announcement (`{5}`, `{5+}`, `~{5}`, RFC 3501 §4.3, RFC 7888), after which
/// the server waits for bytes mailroom never sends.
pub fn check_search_criteria(criteria: &str) -> Result<(), ImapError> {
    if criteria.trim().is_empty() {
        return Err(ImapError::InvalidSearch(
            "search_query_native must not be empty".into(),
        ));
    }
    if criteria.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(ImapError::InvalidSearch(
            "search_query_native must be one line: CR, LF and NUL are not allowed".into(),
        ));
    }
    let bytes = criteria.as_bytes();
    let announces_literal = bytes.iter().enumerate().any(|(at, b)| {
        *b == b'{' && {
            let rest = &bytes[at + 1..];
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            let rest = &rest[digits..];
            let rest = rest.strip_prefix(b"+").unwrap_or(rest);
            digits > 0 && rest.starts_with(b"}")
        }
    });
    if announces_literal {
        return Err(ImapError::InvalidSearch(
            "search_query_native must not contain IMAP literals such as {5}; write strings \
             in double quotes"
                .into(),
        ));
    }
    Ok(())
}

/// Converts each response of a stream as it arrives (async-imap's responses each hold a
/// buffer of their own, at least 4 KiB: collecting them first would multiply memory), and
/// refuses more than `cap` of them.
pub(crate) async fn collect_capped<R, T>(
    stream: impl Stream<Item = Result<R, async_imap::error::Error>>,
    cap: usize,
    what: &str,
    mut convert: impl FnMut(&R) -> Option<T>,
) -> Result<Vec<T>, ImapError> {
    let mut stream = std::pin::pin!(stream);
    let mut items = Vec::new();
    let mut seen = 0usize;
    while let Some(response) = stream.try_next().await? {
        seen += 1;
        if seen > cap {
            return Err(ImapError::TooMuch(format!(
                "more than {cap} {what} responses to one command"
            )));
        }
        items.extend(convert(&response));
    }
    Ok(items)
}

pub(crate) fn flag_name(flag: Flag<'_>) -> String {
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(name) => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_criteria_cannot_carry_literals_or_line_breaks() {
        assert!(check_search_criteria("TEXT \"budget {draft}\" UNSEEN").is_ok());
        assert!(check_search_criteria("FROM \"ann\" SINCE 1-Jan-2024").is_ok());
        for bad in [
            "TEXT {5}",
            "TEXT {5+}",
            "TEXT ~{5}",
            "SUBJECT {12}x",
            "TEXT a\r\nA2 LOGOUT",
            "TEXT a\0",
            "   ",
        ] {
            assert!(
                matches!(check_search_criteria(bad), Err(ImapError::InvalidSearch(_))),
                "{bad:?}"
            );
        }
    }
}
