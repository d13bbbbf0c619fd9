//! Changing messages on the server for the API: read/starred state, the folders a
//! message is in (move, copy, remove), deletion (to Trash; from Trash, for good). The
//! server is changed first; the index records the result at once. Where it cannot (a
//! server that does not say where a moved message went, and no Message-ID to search
//! by), the grant's actor is nudged to find out now.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mailroom_imap::{ImapSession, UidMapping};
use mailroom_model::GrantId;
use mailroom_store::{FolderRecord, MessageLocation};

use crate::{engine::SyncEngine, error::SyncError, uid_guard::select_indexed};

/// What `PUT …/messages/{id}` (or a thread) asks to change.
#[derive(Debug, Clone, Default)]
pub struct MessageChange {
    pub unread: Option<bool>,
    pub starred: Option<bool>,
    /// The folder ids the message should be in, replacing the current set.
    pub folders: Option<Vec<String>>,
}

impl MessageChange {
    pub fn touches_server(&self) -> bool {
        self.unread.is_some() || self.starred.is_some() || self.folders.is_some()
    }
}

/// One indexed message and where it lives.
struct Located {
    id: String,
    message_id_header: Option<String>,
    locations: Vec<MessageLocation>,
}

impl SyncEngine {
    /// Applies a change to these messages of a grant.
    pub async fn change_messages(
        &self,
        grant_id: &GrantId,
        message_ids: &[String],
        change: &MessageChange,
    ) -> Result<(), SyncError> {
        if !change.touches_server() || message_ids.is_empty() {
            return Ok(());
        }
        let folders = self.store().folders(grant_id).await?;
        let targets = match &change.folders {
            Some(ids) => Some(resolve_folders(&folders, ids)?),
            None => None,
        };
        let messages = self.locate(grant_id, message_ids).await?;
        self.with_write_session(grant_id, async |session| {
            self.apply_change(
                session,
                grant_id,
                &folders,
                &messages,
                change,
                targets.as_deref(),
            )
            .await
        })
        .await?;
        Ok(())
    }

    /// Deletes messages: into Trash, or for good when already there (or there is none).
    pub async fn delete_messages(
        &self,
        grant_id: &GrantId,
        message_ids: &[String],
    ) -> Result<(), SyncError> {
        let folders = self.store().folders(grant_id).await?;
        let trash = folders
            .iter()
            .find(|f| f.attributes.iter().any(|a| a == "\\Trash"));
        let messages = self.locate(grant_id, message_ids).await?;
        self.with_write_session(grant_id, async |session| {
            for message in &messages {
                let outside: Vec<&MessageLocation> = message
                    .locations
                    .iter()
                    .filter(|l| Some(l.folder_id.as_str()) != trash.map(|t| t.id.as_str()))
                    .collect();
                match trash {
                    Some(trash) if !outside.is_empty() => {
                        // One copy goes to Trash; any others are removed.
                        let (first, rest) = outside.split_first().ok_or(SyncError::MessageGone)?;
                        self.move_one(session, grant_id, message, first, trash)
                            .await?;
                        for location in rest {
                            self.expunge_one(session, grant_id, location).await?;
                        }
                    }
                    _ => {
                        for location in &message.locations {
                            self.expunge_one(session, grant_id, location).await?;
                        }
                        // Gone for good, by mailroom's hand: no need to wait for
                        // sync to tell a deletion from a move.
                        self.store()
                            .settle_deletion_now(grant_id, &message.id)
                            .await?;
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Removes drafts for good from the Drafts folder; a copy elsewhere (the one filed in
    /// Sent when the draft was sent) stays.
    pub async fn discard_drafts(
        &self,
        grant_id: &GrantId,
        message_ids: &[String],
    ) -> Result<(), SyncError> {
        let drafts: Vec<String> = self
            .store()
            .folders(grant_id)
            .await?
            .into_iter()
            .filter(|f| f.attributes.iter().any(|a| a == "\\Drafts"))
            .map(|f| f.id)
            .collect();
        let messages = self.locate(grant_id, message_ids).await?;
        self.with_write_session(grant_id, async |session| {
            for location in messages
                .iter()
                .flat_map(|m| &m.locations)
                .filter(|l| drafts.contains(&l.folder_id))
            {
                self.expunge_one(session, grant_id, location).await?;
            }
            Ok(())
        })
        .await?;
        for message in &messages {
            if message
                .locations
                .iter()
                .any(|l| !drafts.contains(&l.folder_id))
            {
                self.store()
                    .clear_draft_state(grant_id, &message.id)
                    .await?;
            }
        }
        Ok(())
    }

    /// Sets `\Answered` on a message that was replied to, as mail clients do.
    pub async fn mark_answered(
        &self,
        grant_id: &GrantId,
        message_id: &str,
    ) -> Result<(), SyncError> {
        let messages = self.locate(grant_id, &[message_id.to_owned()]).await?;
        self.with_write_session(grant_id, async |session| {
            for location in messages.iter().flat_map(|m| &m.locations) {
                select_indexed(session, &location.imap_name, location.uid_validity).await?;
                session
                    .store_flags(&location.uid.to_string(), &["\\Answered"], &[])
                    .await?;
            }
            Ok(())
        })
        .await
    }

    async fn locate(
        &self,
        grant_id: &GrantId,
        message_ids: &[String],
    ) -> Result<Vec<Located>, SyncError> {
        let mut located = Vec::with_capacity(message_ids.len());
        for id in message_ids {
            let record = self
                .store()
                .message(grant_id, id)
                .await?
                .ok_or(SyncError::MessageGone)?;
            let locations = self.store().message_locations(grant_id, id).await?;
            if locations.is_empty() {
                return Err(SyncError::MessageGone);
            }
            located.push(Located {
                id: id.clone(),
                message_id_header: record.message_id_header,
                locations,
            });
        }
        Ok(located)
    }

    async fn apply_change(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
        folders: &[FolderRecord],
        messages: &[Located],
        change: &MessageChange,
        targets: Option<&[&FolderRecord]>,
    ) -> Result<(), SyncError> {
        // Flags first, by folder: one STORE per folder and direction.
        let mut add: Vec<&str> = Vec::new();
        let mut remove: Vec<&str> = Vec::new();
        match change.unread {
            Some(true) => remove.push("\\Seen"),
            Some(false) => add.push("\\Seen"),
            None => {}
        }
        match change.starred {
            Some(true) => add.push("\\Flagged"),
            Some(false) => remove.push("\\Flagged"),
            None => {}
        }
        if !add.is_empty() || !remove.is_empty() {
            let mut by_folder: BTreeMap<(&str, i64), Vec<u32>> = BTreeMap::new();
            for message in messages {
                for location in &message.locations {
                    if let Ok(uid) = u32::try_from(location.uid) {
                        by_folder
                            .entry((&location.imap_name, location.uid_validity))
                            .or_default()
                            .push(uid);
                    }
                }
            }
            for ((imap_name, uid_validity), uids) in by_folder {
                select_indexed(session, imap_name, uid_validity).await?;
                session
                    .store_flags(&mailroom_imap::uid_list(&uids), &add, &remove)
                    .await?;
            }
            for message in messages {
                self.store()
                    .set_message_state(grant_id, &message.id, change.unread, change.starred)
                    .await?;
            }
        }
        let Some(targets) = targets else {
            return Ok(());
        };
        let by_id: HashMap<&str, &FolderRecord> =
            folders.iter().map(|f| (f.id.as_str(), f)).collect();
        for message in messages {
            let current: BTreeSet<&str> = message
                .locations
                .iter()
                .map(|l| l.folder_id.as_str())
                .collect();
            let wanted: BTreeSet<&str> = targets.iter().map(|f| f.id.as_str()).collect();
            let to_add: Vec<&FolderRecord> = wanted
                .difference(&current)
                .filter_map(|id| by_id.get(id).copied())
                .collect();
            let to_leave: Vec<&MessageLocation> = message
                .locations
                .iter()
                .filter(|l| !wanted.contains(l.folder_id.as_str()))
                .collect();
            // Copies first, while the message is still where it was; then one move
            // (which keeps a single copy when the set is simply swapped); then removals.
            let mut adding = to_add.iter();
            let first_add = if to_leave.is_empty() {
                None
            } else {
                adding.next()
            };
            for destination in adding {
                let source = &message.locations[0];
                self.copy_one(session, grant_id, message, source, destination)
                    .await?;
            }
            let mut leaving = to_leave.iter();
            if let (Some(destination), Some(source)) = (first_add, leaving.next()) {
                self.move_one(session, grant_id, message, source, destination)
                    .await?;
            }
            for location in leaving {
                self.expunge_one(session, grant_id, location).await?;
            }
        }
        Ok(())
    }

    async fn copy_one(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
        message: &Located,
        source: &MessageLocation,
        destination: &FolderRecord,
    ) -> Result<(), SyncError> {
        let uid = u32::try_from(source.uid).map_err(|_| SyncError::MessageGone)?;
        select_indexed(session, &source.imap_name, source.uid_validity).await?;
        let mapping = session
            .copy_messages(&[uid], &destination.imap_name)
            .await?;
        self.record_arrival(session, grant_id, message, uid, mapping, destination)
            .await
    }

    async fn move_one(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
        message: &Located,
        source: &MessageLocation,
        destination: &FolderRecord,
    ) -> Result<(), SyncError> {
        let uid = u32::try_from(source.uid).map_err(|_| SyncError::MessageGone)?;
        select_indexed(session, &source.imap_name, source.uid_validity).await?;
        let mapping = session
            .move_messages(&[uid], &destination.imap_name)
            .await?;
        self.store()
            .remove_locations(grant_id, &source.folder_id, &[source.uid])
            .await?;
        self.record_arrival(session, grant_id, message, uid, mapping, destination)
            .await
    }

    async fn expunge_one(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
        location: &MessageLocation,
    ) -> Result<(), SyncError> {
        let uid = u32::try_from(location.uid).map_err(|_| SyncError::MessageGone)?;
        select_indexed(session, &location.imap_name, location.uid_validity).await?;
        session.expunge_messages(&[uid]).await?;
        self.store()
            .remove_locations(grant_id, &location.folder_id, &[location.uid])
            .await?;
        Ok(())
    }

    /// Records where a copied or moved message landed: from COPYUID, else by searching
    /// the destination for its Message-ID. Without either, the actor's next pass finds it.
    async fn record_arrival(
        &self,
        session: &mut ImapSession,
        grant_id: &GrantId,
        message: &Located,
        source_uid: u32,
        mapping: Option<UidMapping>,
        destination: &FolderRecord,
    ) -> Result<(), SyncError> {
        let mut new_uid = mapping.and_then(|m| m.destination_of(source_uid));
        if new_uid.is_none()
            && let Some(header) = &message.message_id_header
        {
            new_uid = find_by_message_id(session, &destination.imap_name, header).await?;
        }
        match new_uid {
            Some(uid) => {
                self.store()
                    .add_message_location(grant_id, &destination.id, i64::from(uid), &message.id)
                    .await?
            }
            // The actor's next pass finds it; make that pass now.
            None => self.nudge(grant_id),
        }
        Ok(())
    }
}

/// The newest UID in a mailbox holding a message with this Message-ID.
pub(crate) async fn find_by_message_id(
    session: &mut ImapSession,
    imap_name: &str,
    message_id: &str,
) -> Result<Option<u32>, SyncError> {
    // A Message-ID is an atom of printable characters; anything else is not searched for.
    if message_id.is_empty()
        || message_id
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Ok(None);
    }
    session.select_folder(imap_name).await?;
    let found = session
        .search_uids(&format!("HEADER Message-ID \"<{message_id}>\""))
        .await?;
    Ok(found.into_iter().max())
}

/// The folders named by id, all of the grant's; at least one.
fn resolve_folders<'a>(
    folders: &'a [FolderRecord],
    ids: &[String],
) -> Result<Vec<&'a FolderRecord>, SyncError> {
    if ids.is_empty() {
        return Err(SyncError::Invalid(
            "'folders' must name at least one folder id".into(),
        ));
    }
    ids.iter()
        .map(|id| {
            folders.iter().find(|f| &f.id == id).ok_or_else(|| {
                SyncError::Invalid(format!(
                    "'{}' is not a folder id of this grant",
                    id.chars().take(128).collect::<String>()
                ))
            })
        })
        .collect()
}
