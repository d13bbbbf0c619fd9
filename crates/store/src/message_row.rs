//! The columns of a message row and their values, each value next to its column's name: one
//! mapping for the batch writer's INSERT and for the UPDATE of a message whose headers were
//! read again.

use mailroom_model::v3::EmailName;

use crate::{
    error::StoreError,
    messages::{ImapFlags, NewMessage},
    sql_filter::Bind,
};

/// A column and the value it gets.
pub(crate) type Column = (&'static str, Bind);

/// What a message's headers give (the same on insert and on update).
pub(crate) fn header_columns(message: &NewMessage) -> Result<Vec<Column>, StoreError> {
    let json = |names: &Vec<EmailName>| -> Result<Bind, StoreError> {
        Ok(Bind::Text(
            serde_json::to_string(names).map_err(StoreError::corrupt)?,
        ))
    };
    Ok(vec![
        ("subject", Bind::OptionalText(message.subject.clone())),
        (
            "subject_lower",
            Bind::OptionalText(message.subject.as_deref().map(str::to_lowercase)),
        ),
        ("from_json", json(&message.from)?),
        ("to_json", json(&message.to)?),
        ("cc_json", json(&message.cc)?),
        ("bcc_json", json(&message.bcc)?),
        ("reply_to_json", json(&message.reply_to)?),
        ("from_emails", Bind::Text(email_list(&message.from))),
        ("to_emails", Bind::Text(email_list(&message.to))),
        ("cc_emails", Bind::Text(email_list(&message.cc))),
        ("bcc_emails", Bind::Text(email_list(&message.bcc))),
        ("date", Bind::Int(message.date)),
        ("sent_date", Bind::OptionalInt(message.sent_date)),
        ("size", Bind::Int(message.size)),
        (
            "has_attachments",
            Bind::Int(i64::from(message.has_attachments)),
        ),
        (
            "in_reply_to",
            Bind::OptionalText(message.in_reply_to.clone()),
        ),
    ])
}

/// Every column of a message new to the index.
pub(crate) fn new_row_columns(
    message: &NewMessage,
    id: &str,
    grant_id: &str,
    thread_id: &str,
    now: i64,
) -> Result<Vec<Column>, StoreError> {
    let flags = ImapFlags::of(&message.flags);
    let mut columns = vec![
        ("id", Bind::Text(id.to_owned())),
        ("grant_id", Bind::Text(grant_id.to_owned())),
        ("identity_key", Bind::Text(message.identity_key.clone())),
        ("thread_id", Bind::Text(thread_id.to_owned())),
        (
            "message_id_header",
            Bind::OptionalText(message.message_id_header.clone()),
        ),
        ("unread", Bind::Int(i64::from(flags.unread))),
        ("starred", Bind::Int(i64::from(flags.starred))),
        ("answered", Bind::Int(i64::from(flags.answered))),
        ("draft", Bind::Int(i64::from(flags.draft))),
        // The full header list arrives with the body.
        ("headers_json", Bind::Text("[]".into())),
        ("created_at", Bind::Int(now)),
        ("updated_at", Bind::Int(now)),
    ];
    columns.extend(header_columns(message)?);
    Ok(columns)
}

/// `" a@x b@y "`: a message's addresses in lower case, for `thread_replies`' matching.
pub(crate) fn email_list(names: &[EmailName]) -> String {
    let mut list = String::from(" ");
    for name in names {
        list.push_str(&name.email.to_lowercase());
        list.push(' ');
    }
    list
}
