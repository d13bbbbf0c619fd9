//! The bottom of the sync crate: logging in to a grant's IMAP server with its stored
//! settings, and the IMAP syntax the modules above share. Everything that talks IMAP
//! for a grant (the actor, body reads, watchers, the API's changes) opens its sessions
//! here.

use mailroom_imap::{ImapServer, ImapSession, ListedFolder};
use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::{FolderListing, Store};

use crate::{error::SyncError, grant_login::grant_login};

/// Logs in with the grant's stored settings and credentials. An access token the
/// server refuses is refreshed once and tried again (it may have been revoked early,
/// or the clocks disagree about its expiry).
pub(crate) async fn open_session(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
) -> Result<ImapSession, SyncError> {
    let grant = store
        .grant_by_id(grant_id)
        .await?
        .ok_or(SyncError::GrantGone)?;
    let endpoint = grant.settings.imap();
    let server = ImapServer {
        host: endpoint.host,
        port: endpoint.port,
        tls: endpoint.security.into(),
        username: endpoint.username,
    };
    let login = grant_login(store, policy, &grant, None).await?;
    match ImapSession::connect_with(policy, server, login.imap()).await {
        Err(e) if e.is_authentication() && login.refusable_token().is_some() => {
            let fresh = grant_login(store, policy, &grant, login.refusable_token()).await?;
            Ok(ImapSession::connect_with(policy, server, fresh.imap()).await?)
        }
        result => Ok(result?),
    }
}

pub(crate) fn listings(listed: &[ListedFolder]) -> Vec<FolderListing> {
    listed
        .iter()
        .map(|f| FolderListing {
            imap_name: f.imap_name.clone(),
            name: if f.imap_name.eq_ignore_ascii_case("INBOX") {
                "INBOX".to_owned()
            } else {
                f.leaf_name().to_owned()
            },
            parent_imap_name: f.parent_name().map(str::to_owned),
            delimiter: f.delimiter.clone(),
            attributes: f.attributes.clone(),
        })
        .collect()
}

/// A UID set in IMAP syntax, runs collapsed: `[9, 8, 7, 3, 1]` → `1,3,7:9`.
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut iter = sorted.into_iter();
    let Some(mut start) = iter.next() else {
        return String::new();
    };
    let mut end = start;
    for uid in iter {
        if uid == end + 1 {
            end = uid;
        } else {
            parts.push(range(start, end));
            start = uid;
            end = uid;
        }
    }
    parts.push(range(start, end));
    parts.join(",")
}

fn range(start: u32, end: u32) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}:{end}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[9, 8, 7, 3, 1]), "1,3,7:9");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }
}
