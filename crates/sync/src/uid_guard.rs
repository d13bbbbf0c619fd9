//! Acting on a message by the UID the index holds is right only while the folder keeps
//! the UIDVALIDITY those UIDs were indexed under (RFC 3501 §2.3.1.1): a folder re-created
//! on the server gives its UIDs to other messages. Every read or change of an indexed
//! message by its UID selects the folder through here, so that a re-created folder is
//! refused until the sync has read it again, never taken for the old one.

use mailroom_imap::{ImapSession, MailboxState};

use crate::error::SyncError;

/// Selects `imap_name` for acting on UIDs indexed under `indexed_uid_validity`.
pub(crate) async fn select_indexed(
    session: &mut ImapSession,
    imap_name: &str,
    indexed_uid_validity: i64,
) -> Result<MailboxState, SyncError> {
    let state = session.select_folder(imap_name).await?;
    check_selected(imap_name, indexed_uid_validity, state.uid_validity)?;
    Ok(state)
}

/// As [`select_indexed`], for a folder selected already with `selected_uid_validity`.
pub(crate) fn check_selected(
    imap_name: &str,
    indexed_uid_validity: i64,
    selected_uid_validity: u32,
) -> Result<(), SyncError> {
    if still_valid(indexed_uid_validity, selected_uid_validity) {
        Ok(())
    } else {
        Err(SyncError::FolderRecreated(imap_name.to_owned()))
    }
}

/// Whether UIDs indexed under `indexed` name the same messages on a server that says
/// `selected`; 0 is a folder whose first read has not recorded one yet.
fn still_valid(indexed: i64, selected: u32) -> bool {
    indexed == 0 || indexed == i64::from(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_hold_only_under_the_uidvalidity_they_were_indexed_under() {
        assert!(still_valid(67890007, 67890007));
        assert!(
            !still_valid(67890007, 67890008),
            "the folder was re-created"
        );
        assert!(!still_valid(5, 0), "a server that said no UIDVALIDITY");
        assert!(still_valid(0, 67890007), "not recorded yet");
    }
}
