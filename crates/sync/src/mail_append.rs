//! Putting new messages into a grant's mailbox: APPEND to a folder and index the result
//! at once (headers, body, thread), so the message can be read back immediately. Drafts
//! live in the Drafts folder; saving a draft again appends the new version before the
//! old one is expunged, so a failure never loses it, and a draft keeps its Message-ID
//! and so its id across saves. A Gmail server files sent mail in Sent itself: its copy
//! is found there and indexed, and none is appended (`gmail`).

use mailroom_imap::{FetchedSummary, ImapSession};
use mailroom_model::{GrantId, time::unix_now};
use mailroom_store::FolderRecord;

use crate::{
    body_fetch::parse_body, engine::SyncEngine, error::SyncError, gmail::files_sent_mail,
    mail_changes::find_by_message_id, message_summary::to_new_message, uid_guard::select_indexed,
};

/// The role of the folder a message is appended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendTarget {
    Drafts,
    Sent,
}

impl AppendTarget {
    fn attribute(self) -> &'static str {
        match self {
            AppendTarget::Drafts => "\\Drafts",
            AppendTarget::Sent => "\\Sent",
        }
    }

    /// The name of the folder created when the server has none with this role.
    fn fallback_name(self) -> &'static str {
        match self {
            AppendTarget::Drafts => "Drafts",
            AppendTarget::Sent => "Sent",
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            AppendTarget::Drafts => &["\\Draft", "\\Seen"],
            AppendTarget::Sent => &["\\Seen"],
        }
    }
}

impl SyncEngine {
    /// Saves a draft (new, or replacing the draft `replaces`). Returns its message id.
    pub async fn save_draft(
        &self,
        grant_id: &GrantId,
        message: &[u8],
        replaces: Option<&str>,
    ) -> Result<String, SyncError> {
        let old_locations = match replaces {
            Some(id) => self.store().message_locations(grant_id, id).await?,
            None => Vec::new(),
        };
        let id = self
            .with_write_session(grant_id, async |session| {
                let id = self
                    .append_and_index(session, grant_id, AppendTarget::Drafts, message)
                    .await?;
                // The new version is safe on the server: now the old one goes.
                for location in old_locations {
                    let Ok(uid) = u32::try_from(location.uid) else {
                        continue;
                    };
                    select_indexed(session, &location.imap_name, location.uid_validity).await?;
                    session.expunge_messages(&[uid]).await?;
                    self.store()
                        .remove_locations(grant_id, &location.folder_id, &[location.uid])
                        .await?;
                }
                Ok(id)
            })
            .await?;
        Ok(id)
    }

    /// Appends a message to the folder with `target`'s role and indexes it (a sent
    /// message on a server that files it itself: indexes the server's copy).
    pub async fn append_message(
        &self,
        grant_id: &GrantId,
        target: AppendTarget,
        message: &[u8],
    ) -> Result<String, SyncError> {
        let id = self
            .with_write_session(grant_id, async |session| {
                self.append_and_index(session, grant_id, target, message)
                    .await
            })
            .await?;
        Ok(id)
    }

    pub(crate) async fn append_and_index(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
        target: AppendTarget,
        message: &[u8],
    ) -> Result<String, SyncError> {
        let filed_by_server = target == AppendTarget::Sent && files_sent_mail(session);
        // Where the server files sent mail, a Sent it does not show is not made here.
        let folder = self
            .folder_for(session, grant_id, target, !filed_by_server)
            .await?;
        let appended = if filed_by_server {
            None
        } else {
            session
                .append_message(&folder.imap_name, target.flags(), message)
                .await?
        };
        let header_end = message
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .unwrap_or(message.len());
        let mut summary = FetchedSummary {
            uid: 0,
            flags: target.flags().iter().map(|f| f.to_string()).collect(),
            internal_date: unix_now(),
            size: u32::try_from(message.len()).unwrap_or(u32::MAX),
            modseq: None,
            header: message[..header_end].to_vec(),
            gmail: None,
        };
        let mut new = to_new_message(&summary);
        let uid = match appended.and_then(|a| a.uids.first().copied()) {
            Some(uid) => Some(uid),
            None => match &new.message_id_header {
                Some(header) => find_by_message_id(session, &folder.imap_name, header).await?,
                None => None,
            },
        };
        let Some(uid) = uid else {
            // Stored on the server, but its UID is unknown: the next pass indexes it.
            self.nudge(grant_id);
            return Err(SyncError::Invalid(if filed_by_server {
                "the mail server files sent mail itself, and its copy was not in Sent yet; it will appear after the next sync".into()
            } else {
                "the message was stored, but the server did not say where; it will appear after the next sync".into()
            }));
        };
        summary.uid = uid;
        if session.gmail() {
            // Gmail's ids give the identity and thread that sync will find (`gmail`).
            session.select_folder(&folder.imap_name).await?;
            let fetched = session.fetch_summaries(&uid.to_string(), 1).await?;
            summary.gmail = fetched
                .into_iter()
                .find(|s| s.uid == uid)
                .and_then(|s| s.gmail);
        }
        new = to_new_message(&summary);
        let batch = std::slice::from_ref(&new);
        match target {
            // A sent message is new mail in Sent, as another client would see it.
            AppendTarget::Sent => {
                self.store()
                    .add_arrived_messages(grant_id, &folder.id, batch)
                    .await?
            }
            AppendTarget::Drafts => {
                self.store()
                    .add_folder_messages(grant_id, &folder.id, batch)
                    .await?
            }
        };
        let id = self
            .store()
            .message_id_by_identity(grant_id, &new.identity_key)
            .await?
            .ok_or_else(|| SyncError::Interrupted("the appended message was not indexed".into()))?;
        // Same identity as an earlier message (a draft saved again): its fields change.
        self.store().refresh_message_headers(&id, &new).await?;
        self.store()
            .store_message_bodies(grant_id, &[parse_body(grant_id, &id, message)])
            .await?;
        Ok(id)
    }

    /// The folder with the role: from the index, else from a fresh LIST (sync may not
    /// have listed the folders of a new grant yet), else created if `create`.
    async fn folder_for(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
        target: AppendTarget,
        create: bool,
    ) -> Result<FolderRecord, SyncError> {
        let pick = |folders: Vec<FolderRecord>| {
            let by_role = folders
                .iter()
                .find(|f| f.attributes.iter().any(|a| a == target.attribute()))
                .cloned();
            by_role.or_else(|| {
                folders
                    .into_iter()
                    .find(|f| f.imap_name.eq_ignore_ascii_case(target.fallback_name()))
            })
        };
        if let Some(folder) = pick(self.store().folders(grant_id).await?) {
            return Ok(folder);
        }
        if let Some(folder) = pick(self.relist_folders(session, grant_id).await?) {
            return Ok(folder);
        }
        if !create {
            return Err(SyncError::Invalid(format!(
                "the mail server shows no {} folder",
                target.fallback_name()
            )));
        }
        session.create_mailbox(target.fallback_name()).await?;
        pick(self.relist_folders(session, grant_id).await?).ok_or_else(|| {
            SyncError::Invalid(format!(
                "no {} folder could be made",
                target.fallback_name()
            ))
        })
    }

    async fn relist_folders(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
    ) -> Result<Vec<FolderRecord>, SyncError> {
        let lock = self.folder_lock(grant_id);
        let _folders_held = lock.lock().await;
        let listed = session.list_folders().await?;
        Ok(self
            .store()
            .reconcile_folders(grant_id, &crate::connection::listings(&listed))
            .await?)
    }
}
