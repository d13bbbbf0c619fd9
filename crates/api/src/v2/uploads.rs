//! Files uploaded through `POST /files`, attached to a draft or a send by `file_ids`.

use mailroom_mime::OutgoingAttachment;

use super::{account_auth::V2Account, error::V2Error};
use crate::clip::clip;
use crate::router::AppState;

/// The most files one message may name.
const MAX_FILES: usize = 100;

/// The account's uploads that `file_ids` name, as attachments; an id that is not one of
/// its uploads is refused by name.
pub async fn attachments(
    state: &AppState,
    account: &V2Account,
    file_ids: &[String],
) -> Result<Vec<OutgoingAttachment>, V2Error> {
    if file_ids.len() > MAX_FILES {
        return Err(V2Error::invalid_request(format!(
            "file_ids names more than {MAX_FILES} files"
        )));
    }
    let mut attachments = Vec::with_capacity(file_ids.len());
    for id in file_ids {
        let (filename, content_type, content) = state
            .store
            .uploaded_file(&account.grant.id, id)
            .await?
            .ok_or_else(|| {
                V2Error::invalid_request(format!(
                    "file_ids: no file uploaded to this account has the id '{}'",
                    clip(id, 128)
                ))
            })?;
        attachments.push(OutgoingAttachment {
            filename: Some(filename),
            content_type,
            content,
            inline: false,
            content_id: None,
        });
    }
    Ok(attachments)
}
