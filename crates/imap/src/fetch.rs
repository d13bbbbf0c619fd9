//! Fetching messages by UID: summaries for the index (flags, dates, size, headers) and
//! whole messages for bodies and attachments.

use async_imap::types::Flag;
use futures::TryStreamExt;

use crate::{error::ImapError, session::ImapSession};

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
    pub async fn fetch_summaries(
        &mut self,
        uid_set: &str,
    ) -> Result<Vec<FetchedSummary>, ImapError> {
        let query = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM \
                     SENDER TO CC BCC REPLY-TO SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES \
                     CONTENT-TYPE)])";
        let fetches: Vec<_> = self
            .session
            .uid_fetch(uid_set, query)
            .await?
            .try_collect()
            .await?;
        Ok(fetches
            .iter()
            .filter_map(|f| {
                Some(FetchedSummary {
                    uid: f.uid?,
                    flags: f.flags().map(flag_name).collect(),
                    internal_date: f.internal_date().map(|d| d.timestamp()).unwrap_or(0),
                    size: f.size.unwrap_or(0),
                    modseq: f.modseq,
                    header: f.header().map(<[u8]>::to_vec).unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Whole messages.
    pub async fn fetch_bodies(&mut self, uid_set: &str) -> Result<Vec<FetchedBody>, ImapError> {
        let fetches: Vec<_> = self
            .session
            .uid_fetch(uid_set, "(UID BODY.PEEK[])")
            .await?
            .try_collect()
            .await?;
        Ok(fetches
            .iter()
            .filter_map(|f| {
                Some(FetchedBody {
                    uid: f.uid?,
                    raw: f.body()?.to_vec(),
                })
            })
            .collect())
    }

    /// Flags of every message in `uid_set`, optionally only those changed since a modseq
    /// (CONDSTORE).
    pub async fn fetch_flags(
        &mut self,
        uid_set: &str,
        changed_since: Option<u64>,
    ) -> Result<Vec<UidFlags>, ImapError> {
        let query = match changed_since {
            Some(modseq) => format!("(UID FLAGS) (CHANGEDSINCE {modseq})"),
            None => "(UID FLAGS)".to_owned(),
        };
        let fetches: Vec<_> = self
            .session
            .uid_fetch(uid_set, query)
            .await?
            .try_collect()
            .await?;
        Ok(fetches
            .iter()
            .filter_map(|f| {
                Some(UidFlags {
                    uid: f.uid?,
                    flags: f.flags().map(flag_name).collect(),
                    modseq: f.modseq,
                })
            })
            .collect())
    }

    /// UIDs an IMAP SEARCH finds in the selected mailbox. The criteria are the
    /// caller's; line breaks are refused so they cannot smuggle in another command.
    pub async fn search_uids(&mut self, criteria: &str) -> Result<Vec<u32>, ImapError> {
        if criteria
            .chars()
            .any(|c| c == '\r' || c == '\n' || c == '\0')
            || criteria.trim().is_empty()
        {
            return Err(ImapError::Protocol(
                "search criteria must be one non-empty line".into(),
            ));
        }
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

fn flag_name(flag: Flag<'_>) -> String {
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
