//! Changing messages in the selected mailbox: flags, copies, moves, expunges, and
//! appending new ones. Every command is by UID. Where the server lacks MOVE or UIDPLUS
//! the safe fallback is used: a move becomes COPY + `\Deleted` + an expunge that touches
//! only mailroom's messages, never ones another client marked `\Deleted`.

use tokio::io::AsyncWriteExt;

use crate::{
    error::ImapError,
    folders::quoted,
    session::ImapSession,
    write_report::{AppendedUids, UidMapping},
};

const DELETED: &str = "\\Deleted";

impl ImapSession {
    /// Adds and removes flags on messages of the selected mailbox, silently (the caller
    /// knows what it set).
    pub async fn store_flags(
        &mut self,
        uid_set: &str,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), ImapError> {
        if !add.is_empty() {
            self.run_write(&format!(
                "UID STORE {uid_set} +FLAGS.SILENT ({})",
                add.join(" ")
            ))
            .await?;
        }
        if !remove.is_empty() {
            self.run_write(&format!(
                "UID STORE {uid_set} -FLAGS.SILENT ({})",
                remove.join(" ")
            ))
            .await?;
        }
        Ok(())
    }

    /// Copies messages of the selected mailbox into another; the new UIDs come back when
    /// the server offers UIDPLUS.
    pub async fn copy_messages(
        &mut self,
        uids: &[u32],
        destination: &str,
    ) -> Result<Option<UidMapping>, ImapError> {
        let report = self
            .run_write(&format!(
                "UID COPY {} {}",
                uid_list(uids),
                quoted(destination)?
            ))
            .await?;
        Ok(report.copied)
    }

    /// Moves messages of the selected mailbox into another: MOVE (RFC 6851) where
    /// offered, else COPY and a safe expunge of the originals.
    pub async fn move_messages(
        &mut self,
        uids: &[u32],
        destination: &str,
    ) -> Result<Option<UidMapping>, ImapError> {
        if self.has_capability("MOVE") {
            let report = self
                .run_write(&format!(
                    "UID MOVE {} {}",
                    uid_list(uids),
                    quoted(destination)?
                ))
                .await?;
            return Ok(report.copied);
        }
        let copied = self.copy_messages(uids, destination).await?;
        self.expunge_messages(uids).await?;
        Ok(copied)
    }

    /// Removes messages of the selected mailbox for good. With UIDPLUS only these UIDs
    /// are expunged. Without it a plain EXPUNGE would also remove what other clients
    /// marked `\Deleted`, so their marks are lifted for the moment of the expunge and
    /// put back after.
    pub async fn expunge_messages(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let ours = uid_list(uids);
        self.store_flags(&ours, &[DELETED], &[]).await?;
        if self.has_capability("UIDPLUS") {
            self.run_write(&format!("UID EXPUNGE {ours}")).await?;
            return Ok(());
        }
        let marked = self.search_uids("DELETED").await?;
        let others: Vec<u32> = marked.into_iter().filter(|u| !uids.contains(u)).collect();
        if !others.is_empty() {
            self.store_flags(&uid_list(&others), &[], &[DELETED])
                .await?;
        }
        let expunged = self.run_write("EXPUNGE").await;
        if !others.is_empty() {
            self.store_flags(&uid_list(&others), &[DELETED], &[])
                .await?;
        }
        expunged.map(|_| ())
    }

    /// Appends a message to a mailbox (which need not be selected). Returns its UID when
    /// the server reports it (UIDPLUS).
    pub async fn append_message(
        &mut self,
        mailbox: &str,
        flags: &[&str],
        message: &[u8],
    ) -> Result<Option<AppendedUids>, ImapError> {
        // LITERAL+ (RFC 7888) sends the bytes at once; otherwise wait for "+ go ahead".
        let non_synchronizing = self.has_capability("LITERAL+");
        let command = format!(
            "APPEND {} ({}) {{{}{}}}",
            quoted(mailbox)?,
            flags.join(" "),
            message.len(),
            if non_synchronizing { "+" } else { "" }
        );
        let tag = self.session.run_command(&command).await?;
        if !non_synchronizing {
            let response = self
                .session
                .read_response()
                .await
                .map_err(ImapError::from)?
                .ok_or(ImapError::Closed)?;
            use async_imap::imap_proto::Response;
            match response.parsed() {
                Response::Continue { .. } => {}
                other => {
                    // A NO or BAD instead of the go-ahead: report it in the server's words.
                    let mut report = Default::default();
                    return match crate::write_report::absorb_write(&mut report, &tag, other) {
                        Some(Err(e)) => Err(e),
                        _ => Err(ImapError::Protocol(
                            "the server did not accept the message literal".into(),
                        )),
                    };
                }
            }
        }
        let stream = self.session.get_mut();
        stream.write_all(message).await.map_err(ImapError::from)?;
        stream.write_all(b"\r\n").await.map_err(ImapError::from)?;
        stream.flush().await.map_err(ImapError::from)?;
        Ok(self.finish_write(&tag).await?.appended)
    }
}

/// UIDs as a sequence set, runs collapsed (`1:3,7`).
pub fn uid_list(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_lists_collapse_runs() {
        assert_eq!(uid_list(&[7, 1, 2, 3, 9, 10, 3]), "1:3,7,9:10");
        assert_eq!(uid_list(&[42]), "42");
    }
}
