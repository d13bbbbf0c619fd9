//! Creating, renaming, moving and deleting folders on the server for the API. After
//! each change the folder list is read again and the index reconciled with it; renamed
//! folders keep their ids. Inbox and special-use folders (Sent, Drafts, Trash…) cannot
//! be renamed or deleted: mail clients and mailroom itself depend on them.

use mailroom_imap::{ImapSession, encode_mailbox_name};
use mailroom_model::GrantId;
use mailroom_store::FolderRecord;

use crate::{connection::listings, engine::SyncEngine, error::SyncError};

/// Attributes that mark a folder mail clients rely on.
const SPECIAL_USE: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// Inbox or a special-use folder: the role that protects it, if any.
pub fn protected_role(folder: &FolderRecord) -> Option<&str> {
    if folder.imap_name.eq_ignore_ascii_case("INBOX") {
        return Some("\\Inbox");
    }
    folder
        .attributes
        .iter()
        .map(String::as_str)
        .find(|a| SPECIAL_USE.contains(a))
}

impl SyncEngine {
    /// Creates a folder, under `parent_id` if given. Returns it as indexed.
    pub async fn create_folder(
        &self,
        grant_id: &GrantId,
        name: &str,
        parent_id: Option<&str>,
    ) -> Result<FolderRecord, SyncError> {
        let folders = self.store().folders(grant_id).await?;
        let parent = parent_id.map(|id| find(&folders, id)).transpose()?;
        let lock = self.folder_lock(grant_id);
        let imap_name = self
            .with_write_session(grant_id, async |session| {
                let _folders_held = lock.lock().await;
                let delimiter = delimiter(session).await?;
                let imap_name = child_name(parent, name, &delimiter)?;
                // The index may not have seen another client's folders yet: ask the server.
                self.relist(session, grant_id).await?;
                let exists = self
                    .store()
                    .folders(grant_id)
                    .await?
                    .iter()
                    .any(|f| f.imap_name == imap_name);
                if exists {
                    return Err(SyncError::Invalid(format!(
                        "a folder named '{name}' exists already there"
                    )));
                }
                session.create_mailbox(&imap_name).await?;
                self.relist(session, grant_id).await?;
                Ok(imap_name)
            })
            .await?;
        self.nudge(grant_id);
        self.store()
            .folders(grant_id)
            .await?
            .into_iter()
            .find(|f| f.imap_name == imap_name)
            .ok_or_else(|| SyncError::Invalid("the server did not list the new folder".into()))
    }

    /// Renames a folder and/or moves it under another parent (`Some(None)` = to the top).
    pub async fn update_folder(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
        name: Option<&str>,
        parent_id: Option<Option<&str>>,
    ) -> Result<FolderRecord, SyncError> {
        let folders = self.store().folders(grant_id).await?;
        let folder = find(&folders, folder_id)?;
        if name.is_none() && parent_id.is_none() {
            return Ok(folder.clone());
        }
        if let Some(role) = protected_role(folder) {
            return Err(SyncError::Invalid(format!(
                "'{}' is a special folder ({role}) and cannot be renamed or moved",
                folder.name
            )));
        }
        let parent = match parent_id {
            Some(Some(id)) => Some(find(&folders, id)?),
            Some(None) => None,
            None => folder
                .parent_id
                .as_deref()
                .map(|id| find(&folders, id))
                .transpose()?,
        };
        if let Some(parent) = parent
            && (parent.id == folder.id || is_below(&folders, parent, &folder.id))
        {
            return Err(SyncError::Invalid(
                "a folder cannot be moved into itself or one of its subfolders".into(),
            ));
        }
        let lock = self.folder_lock(grant_id);
        self.with_write_session(grant_id, async |session| {
            let _folders_held = lock.lock().await;
            let delimiter = delimiter(session).await?;
            let new_name = child_name(parent, name.unwrap_or(&folder.name), &delimiter)?;
            if new_name == folder.imap_name {
                return Ok(());
            }
            if folders.iter().any(|f| f.imap_name == new_name) {
                return Err(SyncError::Invalid(format!(
                    "a folder named '{}' exists already there",
                    name.unwrap_or(&folder.name)
                )));
            }
            session.rename_mailbox(&folder.imap_name, &new_name).await?;
            self.store()
                .rename_folder_tree(grant_id, &folder.imap_name, &new_name, Some(&delimiter))
                .await?;
            self.relist(session, grant_id).await
        })
        .await?;
        self.nudge(grant_id);
        self.store()
            .folders(grant_id)
            .await?
            .into_iter()
            .find(|f| f.id == folder_id)
            .ok_or_else(|| SyncError::Invalid("the renamed folder is no longer listed".into()))
    }

    /// Deletes a folder and the messages in it. Special folders and folders with
    /// subfolders are refused, so nothing is lost by surprise.
    pub async fn delete_folder(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
    ) -> Result<(), SyncError> {
        let folders = self.store().folders(grant_id).await?;
        let folder = find(&folders, folder_id)?;
        if let Some(role) = protected_role(folder) {
            return Err(SyncError::Invalid(format!(
                "'{}' is a special folder ({role}) and cannot be deleted",
                folder.name
            )));
        }
        let children = folders
            .iter()
            .filter(|f| f.parent_id.as_deref() == Some(folder_id))
            .count();
        if children > 0 {
            return Err(SyncError::Invalid(format!(
                "'{}' has {children} subfolder(s); delete or move them first",
                folder.name
            )));
        }
        let lock = self.folder_lock(grant_id);
        self.with_write_session(grant_id, async |session| {
            let _folders_held = lock.lock().await;
            session.delete_mailbox(&folder.imap_name).await?;
            self.relist(session, grant_id).await
        })
        .await?;
        self.nudge(grant_id);
        Ok(())
    }

    /// Reads the folder list again and reconciles the index with it.
    async fn relist(&self, session: &mut ImapSession, grant_id: &GrantId) -> Result<(), SyncError> {
        let listed = session.list_folders().await?;
        self.store()
            .reconcile_folders(grant_id, &listings(&listed))
            .await?;
        Ok(())
    }
}

fn find<'a>(folders: &'a [FolderRecord], id: &str) -> Result<&'a FolderRecord, SyncError> {
    folders.iter().find(|f| f.id == id).ok_or_else(|| {
        SyncError::Invalid(format!(
            "'{}' is not a folder id of this grant",
            id.chars().take(128).collect::<String>()
        ))
    })
}

/// Whether `folder` lies somewhere below the folder `ancestor_id`.
fn is_below(folders: &[FolderRecord], folder: &FolderRecord, ancestor_id: &str) -> bool {
    let mut current = folder.parent_id.as_deref();
    let mut steps = 0;
    while let Some(id) = current {
        if id == ancestor_id {
            return true;
        }
        steps += 1;
        if steps > folders.len() {
            return false;
        }
        current = folders
            .iter()
            .find(|f| f.id == id)
            .and_then(|f| f.parent_id.as_deref());
    }
    false
}

/// The hierarchy delimiter the server uses (`LIST "" ""`), `/` if it has none.
async fn delimiter(session: &mut ImapSession) -> Result<String, SyncError> {
    Ok(session
        .hierarchy_delimiter()
        .await?
        .unwrap_or_else(|| "/".to_owned()))
}

/// The server's name for a folder called `name` under `parent`.
fn child_name(
    parent: Option<&FolderRecord>,
    name: &str,
    delimiter: &str,
) -> Result<String, SyncError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(SyncError::Invalid("a folder name cannot be empty".into()));
    }
    if name.len() > 255 || name.chars().any(char::is_control) {
        return Err(SyncError::Invalid(
            "a folder name must be at most 255 bytes, without control characters".into(),
        ));
    }
    let encoded = encode_mailbox_name(name);
    Ok(match parent {
        Some(parent) => format!("{}{delimiter}{encoded}", parent.imap_name),
        None => encoded,
    })
}

#[cfg(test)]
mod tests {
    use mailroom_model::GrantId;

    use super::*;

    fn folder(
        id: &str,
        imap_name: &str,
        parent: Option<&str>,
        attributes: &[&str],
    ) -> FolderRecord {
        FolderRecord {
            id: id.into(),
            grant_id: GrantId::from_stored("g".into()),
            imap_name: imap_name.into(),
            name: imap_name.rsplit('/').next().unwrap_or(imap_name).into(),
            parent_id: parent.map(str::to_owned),
            attributes: attributes.iter().map(|a| a.to_string()).collect(),
            uid_validity: 0,
            uid_next: 0,
            highest_modseq: 0,
            lowest_synced_uid: 0,
            initial_sync_done: false,
            server_total: 0,
        }
    }

    #[test]
    fn inbox_and_special_use_folders_are_protected() {
        assert_eq!(
            protected_role(&folder("1", "INBOX", None, &[])),
            Some("\\Inbox")
        );
        assert_eq!(
            protected_role(&folder("2", "Sent", None, &["\\HasNoChildren", "\\Sent"])),
            Some("\\Sent")
        );
        assert_eq!(
            protected_role(&folder("3", "Projects", None, &["\\HasChildren"])),
            None
        );
    }

    #[test]
    fn child_names_join_with_the_delimiter_in_modified_utf7() {
        let parent = folder("p", "Projects", None, &[]);
        assert_eq!(
            child_name(Some(&parent), "Entwürfe", "/").unwrap(),
            "Projects/Entw&APw-rfe"
        );
        assert_eq!(child_name(None, "  Plain  ", ".").unwrap(), "Plain");
        assert!(child_name(None, " ", "/").is_err());
        assert!(child_name(None, "a\r\nb", "/").is_err());
    }

    #[test]
    fn a_folder_below_another_is_found_through_its_parents() {
        let folders = vec![
            folder("a", "A", None, &[]),
            folder("b", "A/B", Some("a"), &[]),
            folder("c", "A/B/C", Some("b"), &[]),
        ];
        assert!(is_below(&folders, &folders[2], "a"));
        assert!(!is_below(&folders, &folders[0], "c"));
    }
}
