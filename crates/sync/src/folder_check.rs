//! Which folders a pass must read, from one STATUS of each (RFC 3501 §6.3.10) against
//! what the index holds of it. With CONDSTORE (RFC 7162 §3.1.6) STATUS carries
//! HIGHESTMODSEQ, which moves with every flag change, new message and expunge; so a
//! folder whose UIDVALIDITY, UIDNEXT, MESSAGES and HIGHESTMODSEQ all match the index
//! has nothing new to read.

use mailroom_imap::FolderStatus;
use mailroom_store::FolderRecord;

/// Whether `status` shows the folder as the index last saw it. Without a status (the
/// server refused STATUS) or before the folder's first pass, it must be read.
pub(crate) fn unchanged(folder: &FolderRecord, status: Option<&FolderStatus>) -> bool {
    let Some(status) = status else {
        return false;
    };
    if !folder.initial_sync_done {
        return false;
    }
    let same = |server: Option<u32>, stored: i64| server.map(i64::from) == Some(stored);
    let modseq_same = match status.highest_modseq {
        Some(server) => i64::try_from(server).ok() == Some(folder.highest_modseq),
        // No CONDSTORE: flag changes do not show here, and the full passes read them.
        None => true,
    };
    same(status.uid_validity, folder.uid_validity)
        && same(status.uid_next, folder.uid_next)
        && same(status.messages, folder.server_total)
        && modseq_same
}

#[cfg(test)]
mod tests {
    use mailroom_model::GrantId;

    use super::*;

    fn folder() -> FolderRecord {
        FolderRecord {
            id: "f1".into(),
            grant_id: GrantId::generate(),
            imap_name: "Archive".into(),
            name: "Archive".into(),
            parent_id: None,
            attributes: Vec::new(),
            uid_validity: 7,
            uid_next: 11,
            highest_modseq: 40,
            lowest_synced_uid: 1,
            initial_sync_done: true,
            server_total: 9,
        }
    }

    fn status() -> FolderStatus {
        FolderStatus {
            messages: Some(9),
            uid_next: Some(11),
            uid_validity: Some(7),
            highest_modseq: Some(40),
        }
    }

    #[test]
    fn a_folder_as_the_index_saw_it_is_skipped() {
        assert!(unchanged(&folder(), Some(&status())));
    }

    #[test]
    fn any_moved_number_makes_a_folder_read() {
        let changes: [fn(&mut FolderStatus); 4] = [
            |s| s.highest_modseq = Some(41), // a flag changed
            |s| s.uid_next = Some(12),       // mail arrived
            |s| s.messages = Some(8),        // an expunge
            |s| s.uid_validity = Some(8),    // the folder was recreated
        ];
        for change in changes {
            let mut status = status();
            change(&mut status);
            assert!(!unchanged(&folder(), Some(&status)), "{status:?}");
        }
    }

    #[test]
    fn a_missing_status_or_a_first_pass_means_reading() {
        assert!(!unchanged(&folder(), None));
        let mut first = folder();
        first.initial_sync_done = false;
        assert!(!unchanged(&first, Some(&status())));
        // A server that left out UIDNEXT cannot vouch for the folder.
        let mut partial = status();
        partial.uid_next = None;
        assert!(!unchanged(&folder(), Some(&partial)));
    }
}
