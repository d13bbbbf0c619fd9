//! Files uploaded through `POST /files`, attached to a draft or a send by `file_ids`.

use mailroom_mime::OutgoingAttachment;

use super::{account_auth::V2Account, error::V2Error};
use crate::router::AppState;

/// The uploads `file_ids` name, as attachments.
pub async fn attachments(
    _state: &AppState,
    _account: &V2Account,
    file_ids: &[String],
) -> Result<Vec<OutgoingAttachment>, V2Error> {
    if file_ids.is_empty() {
        return Ok(Vec::new());
    }
    Err(V2Error::invalid_request(
        "file_ids: no uploaded file has that id",
    ))
}
