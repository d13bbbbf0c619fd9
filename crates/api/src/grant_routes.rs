//! Every route on a grant's mailbox, Nylas v3's and v2's, and the scopes that admit it,
//! in one table. The router is built from this table, so a grant route cannot exist
//! without its entry; [`GrantAccess`](crate::grant_access::GrantAccess) (v3) and
//! [`V2Account`](crate::v2::account_auth::V2Account) (v2) check each call against it.

use axum::{
    Router,
    http::Method,
    routing::{MethodRouter, delete, get, post, put},
};
use mailroom_model::{
    Scope,
    v3::{
        Attachment, Calendar, CleanedMessage, Contact, ContactGroup, Event, Folder, Message,
        RenderHtmlRequest, RenderTemplateRequest, RenderedHtml, RenderedTemplate, Template,
        TemplateInput, Thread,
    },
};

use crate::{
    http_limits::{RefusalShape, RouteBody},
    openapi::{self, Answer, Body, Kind, Param, RouteDoc, schema, shapes},
    router::AppState,
    v2,
    v3::{
        CURSOR_PAGE, attachments, calendars, contacts, drafts, events, folder_changes, folders,
        message_cleaning, message_updates, messages, schedules, send, template_renders, templates,
        thread_updates, threads,
    },
};

pub struct GrantRoute {
    pub method: Method,
    pub path: &'static str,
    /// Any one of these, or a scope that includes it, admits the call.
    pub any_of: &'static [Scope],
    pub handler: fn() -> MethodRouter<AppState>,
    /// What it reads as its body, which sets the largest body it accepts.
    pub body: RouteBody,
    /// What the route is for, for the OpenAPI document (`crate::openapi`).
    pub doc: RouteDoc,
}

/// Reading mail: `email.metadata` and every scope above it (read_only, modify, email).
/// What metadata alone may not see (bodies, snippets, attachment content, raw MIME,
/// searches of the text) is withheld by the handlers.
pub(crate) const READ: &[Scope] = &[Scope::EmailMetadata];
/// Content beyond metadata: `email.read_only` and above.
pub(crate) const READ_CONTENT: &[Scope] = &[Scope::EmailReadOnly];
/// Folders are metadata, and the business of `email.folders_and_labels`.
pub(crate) const READ_FOLDERS: &[Scope] = &[Scope::EmailMetadata, Scope::EmailFoldersAndLabels];
/// Changing messages and threads: flags, folders, metadata, deletion.
pub(crate) const MODIFY: &[Scope] = &[Scope::EmailModify];
/// Creating, renaming and deleting folders (`email.modify` includes it).
pub(crate) const CHANGE_FOLDERS: &[Scope] = &[Scope::EmailFoldersAndLabels];
/// Sending, sending a draft, and the schedule of sends.
pub(crate) const SEND: &[Scope] = &[Scope::EmailSend];
/// A grant's templates. Nylas documents templates as the content of a send (a send's
/// `template`; drafts take none), so the scope that sends admits them, as it admits the
/// schedule of sends (docs/API.md §5.10).
pub(crate) const TEMPLATES: &[Scope] = &[Scope::EmailSend];
/// Reading drafts: `email.drafts`, or reading mail at all.
pub(crate) const READ_DRAFTS: &[Scope] = &[Scope::EmailDrafts, Scope::EmailReadOnly];
/// Writing drafts.
pub(crate) const WRITE_DRAFTS: &[Scope] = &[Scope::EmailDrafts];
/// Contacts derived from mail (`contacts` includes it); the handlers show them only
/// where an email scope reads the mail too (docs/API.md §11).
pub(crate) const READ_CONTACTS: &[Scope] = &[Scope::ContactsReadOnly];
/// The invitations calendar and its events (`calendar` includes it); likewise.
pub(crate) const READ_CALENDAR: &[Scope] = &[Scope::CalendarReadOnly];
/// v2's uploads serve drafts and sends: either scope admits them.
const UPLOAD: &[Scope] = &[Scope::EmailDrafts, Scope::EmailSend];
/// A v2 file by id, before knowing whether it is an attachment (reading mail) or an
/// upload (drafts, sends); the handler asks for reading mail when it is an attachment.
const SEE_FILE: &[Scope] = &[Scope::EmailMetadata, Scope::EmailDrafts, Scope::EmailSend];
/// A v2 file's bytes, likewise: an attachment's are content.
const FETCH_FILE: &[Scope] = &[Scope::EmailReadOnly, Scope::EmailDrafts, Scope::EmailSend];
/// v2's delta feed: any scope that reads some of what it reports; the feed shows only
/// the object types the token may read.
const DELTA: &[Scope] = &[
    Scope::EmailMetadata,
    Scope::EmailFoldersAndLabels,
    Scope::ContactsReadOnly,
    Scope::CalendarReadOnly,
];

/// Cursor paging (docs/API.md §1.5).
const PAGE: &[Param] = &[
    Param::new(
        "limit",
        Kind::Integer {
            min: 1,
            max: i64::MAX,
        },
        "At most this many (default 50; more than 200 is capped)",
    ),
    Param::new(
        "page_token",
        Kind::Text,
        "The previous page's `next_cursor`",
    ),
];
const FIELDS: Param = Param::new(
    "fields",
    Kind::OneOf(&[
        "standard",
        "include_headers",
        "include_basic_headers",
        "include_tracking_options",
        "raw_mime",
    ]),
    "`include_headers` adds `headers`; `raw_mime` answers only the raw message",
);
const MESSAGE_FIELDS: &[Param] = &[FIELDS];
/// The filters of messages and threads (docs/API.md §5.1).
macro_rules! message_filters {
    ($($more:expr),* $(,)?) => {
        &[
            PAGE[0],
            PAGE[1],
            Param::new("subject", Kind::Text, "Case-insensitive substring of the subject"),
            Param::new("any_email", Kind::List, "Any participant"),
            Param::new("from", Kind::List, "A sender"),
            Param::new("to", Kind::List, "A recipient"),
            Param::new("cc", Kind::List, "A Cc recipient"),
            Param::new("bcc", Kind::List, "A Bcc recipient"),
            Param::new("in", Kind::List, "A folder id"),
            Param::new("unread", Kind::Boolean, "Unread or not"),
            Param::new("starred", Kind::Boolean, "Starred or not"),
            Param::new("thread_id", Kind::Text, "In this thread"),
            Param::new("has_attachment", Kind::Boolean, "With attachments or not"),
            Param::new("metadata_pair", Kind::List, "`key:value` of the metadata"),
            Param::new("search_query_native", Kind::Text, "An IMAP SEARCH run on the server"),
            $($more),*
        ]
    };
}
const MESSAGE_LIST: &[Param] = message_filters![
    Param::new("received_before", Kind::Time, "Received before"),
    Param::new("received_after", Kind::Time, "Received after"),
    FIELDS,
];
const THREAD_LIST: &[Param] = message_filters![
    Param::new("latest_message_before", Kind::Time, "Latest message before"),
    Param::new("latest_message_after", Kind::Time, "Latest message after"),
];
const SEND_QUERY: &[Param] = &[Param::new(
    "type",
    Kind::OneOf(&["mime"]),
    "`mime`: the multipart part `mime` is the whole message, sent as it is",
)];
const FOLDER_LIST: &[Param] = &[
    Param::new(
        "limit",
        Kind::Integer { min: 1, max: 1000 },
        "At most this many (default 200)",
    ),
    PAGE[1],
    Param::new("parent_id", Kind::Text, "Only the children of this folder"),
    Param::new(
        "single_level",
        Kind::Boolean,
        "With `parent_id`: only its direct children",
    ),
];
const ATTACHMENT: &[Param] = &[Param::new(
    "message_id",
    Kind::Text,
    "The message holding the attachment",
)
.required()];
const CONTACT_LIST: &[Param] = &[
    PAGE[0],
    PAGE[1],
    Param::new("email", Kind::Text, "Only the contact of this address"),
    Param::new(
        "source",
        Kind::OneOf(&["address_book", "inbox", "domain"]),
        "Where contacts come from (`inbox` for IMAP)",
    ),
];
const CALENDAR: Param =
    Param::new("calendar_id", Kind::Text, "The calendar, or `primary`").required();
const EVENT_ONE: &[Param] = &[CALENDAR];
const EVENT_LIST: &[Param] = &[
    CALENDAR,
    PAGE[0],
    PAGE[1],
    Param::new("start", Kind::Time, "Events ending after"),
    Param::new("end", Kind::Time, "Events starting before"),
    Param::new("title", Kind::Text, "Title substring"),
    Param::new("ical_uid", Kind::Text, "The event's iCalendar UID"),
    Param::new("busy", Kind::Boolean, "Busy or not"),
    Param::new(
        "master_event_id",
        Kind::Text,
        "Occurrences of this recurring event",
    ),
    Param::new("show_cancelled", Kind::Boolean, "Cancelled events too"),
];

pub static GRANT_ROUTES: &[GrantRoute] = &[
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages",
        any_of: READ,
        handler: || get(messages::list_messages),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The grant's messages, newest first", "5.1").describe("`select` keeps only the named top-level fields; a metadata-only grant sees no body or snippet.").query(MESSAGE_LIST).answer(Answer::Cursor(openapi::message_or_raw_mime)),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/messages/clean",
        any_of: READ_CONTENT,
        handler: || put(message_cleaning::clean_messages),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Messages without quoted replies, signatures and boilerplate, in `conversation`", "5.1").body(Body::Json(schema::<message_cleaning::CleanRequest>)).answer(Answer::List(schema::<CleanedMessage>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages/{message_id}",
        any_of: READ,
        handler: || get(messages::get_message),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One message; a body not yet read is read on demand", "5.1").query(MESSAGE_FIELDS).answer(Answer::Item(openapi::message_or_raw_mime)),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/messages/send",
        any_of: SEND,
        handler: || post(send::send_message),
        body: RouteBody::Mail,
        doc: RouteDoc::new("Send a message, now or at `send_at`", "5.2").query(SEND_QUERY).headers(openapi::IDEMPOTENT_SEND).body(Body::ComposeOrMime).answer(Answer::Sent { scheduled: true }),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages/schedules",
        any_of: SEND,
        handler: || get(schedules::list_schedules),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The grant's scheduled sends", "5.2").answer(Answer::List(schema::<shapes::Schedule>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages/schedules/{schedule_id}",
        any_of: SEND,
        handler: || get(schedules::get_schedule),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One scheduled send", "5.2").answer(Answer::Item(schema::<shapes::Schedule>)),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/messages/schedules/{schedule_id}",
        any_of: SEND,
        handler: || delete(schedules::cancel_schedule),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Cancel a scheduled send", "5.2").answer(Answer::Item(schema::<shapes::ScheduleCancelled>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/templates",
        any_of: TEMPLATES,
        handler: || get(templates::list_grant_templates),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The grant's templates", "5.10").query(CURSOR_PAGE).answer(Answer::Cursor(schema::<Template>)),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/templates",
        any_of: TEMPLATES,
        handler: || post(templates::create_grant_template),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Create a template of the grant", "5.10").describe("`name`, `subject` and `body` are required; `engine` is `mustache` unless named. Subject and body must compile in the engine.").body(Body::Json(schema::<TemplateInput>)).answer(Answer::Item(schema::<Template>)),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/templates/render",
        any_of: TEMPLATES,
        handler: || post(template_renders::render_grant_html),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Render a body given in the request", "5.10").body(Body::Json(schema::<RenderHtmlRequest>)).answer(Answer::Item(schema::<RenderedHtml>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/templates/{template_id}",
        any_of: TEMPLATES,
        handler: || get(templates::get_grant_template),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One template of the grant", "5.10").answer(Answer::Item(schema::<Template>)),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/templates/{template_id}",
        any_of: TEMPLATES,
        handler: || put(templates::update_grant_template),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Change a template of the grant", "5.10").describe("The fields given replace the stored ones; the result must compile.").body(Body::Json(schema::<TemplateInput>)).answer(Answer::Item(schema::<Template>)),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/templates/{template_id}",
        any_of: TEMPLATES,
        handler: || delete(templates::delete_grant_template),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Delete a template of the grant", "5.10"),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/templates/{template_id}/render",
        any_of: TEMPLATES,
        handler: || post(template_renders::render_grant_template),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Render a template of the grant", "5.10").describe("`strict` (default true): a variable missing from `variables` is a 400 naming it.").body(Body::Json(schema::<RenderTemplateRequest>)).answer(Answer::Item(schema::<RenderedTemplate>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/drafts",
        any_of: READ_DRAFTS,
        handler: || get(drafts::list_drafts),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The grant's drafts", "5.3").query(MESSAGE_LIST).answer(Answer::Cursor(schema::<Message>)),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/drafts",
        any_of: WRITE_DRAFTS,
        handler: || post(drafts::create_draft),
        body: RouteBody::Mail,
        doc: RouteDoc::new("Save a new draft in Drafts", "5.3").body(Body::Compose).answer(Answer::Item(schema::<Message>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: READ_DRAFTS,
        handler: || get(drafts::get_draft),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One draft", "5.3").answer(Answer::Item(schema::<Message>)),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: WRITE_DRAFTS,
        handler: || put(drafts::update_draft),
        body: RouteBody::Mail,
        doc: RouteDoc::new("Replace a draft", "5.3").body(Body::Compose).answer(Answer::Item(schema::<Message>)),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: WRITE_DRAFTS,
        handler: || delete(drafts::delete_draft),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Delete a draft", "5.3"),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: SEND,
        handler: || post(drafts::send_draft),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Send a draft as saved", "5.3").headers(openapi::IDEMPOTENT_SEND).body(Body::OptionalJson(schema::<shapes::AnyObject>)).answer(Answer::Sent { scheduled: false }),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/messages/{message_id}",
        any_of: MODIFY,
        handler: || put(message_updates::update_message),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Change a message's flags, folders or metadata", "5.1").body(Body::Json(schema::<message_updates::UpdateRequest>)).answer(Answer::Item(schema::<Message>)),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/messages/{message_id}",
        any_of: MODIFY,
        handler: || delete(message_updates::delete_message),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Move a message to Trash, or remove it from there", "5.1"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/threads",
        any_of: READ,
        handler: || get(threads::list_threads),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The grant's threads, latest first", "5.4").describe("`select` keeps only the named top-level fields.").query(THREAD_LIST).answer(Answer::Cursor(schema::<Thread>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/threads/{thread_id}",
        any_of: READ,
        handler: || get(threads::get_thread),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One thread", "5.4").answer(Answer::Item(schema::<Thread>)),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/threads/{thread_id}",
        any_of: MODIFY,
        handler: || put(thread_updates::update_thread),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Change every message of a thread", "5.4").body(Body::Json(schema::<message_updates::UpdateRequest>)).answer(Answer::Item(schema::<Thread>)),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/threads/{thread_id}",
        any_of: MODIFY,
        handler: || delete(thread_updates::delete_thread),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Delete every message of a thread", "5.4"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/folders",
        any_of: READ_FOLDERS,
        handler: || get(folders::list_folders),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The grant's folders", "5.5").query(FOLDER_LIST).answer(Answer::Cursor(schema::<Folder>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/folders/{folder_id}",
        any_of: READ_FOLDERS,
        handler: || get(folders::get_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One folder", "5.5").answer(Answer::Item(schema::<Folder>)),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/folders",
        any_of: CHANGE_FOLDERS,
        handler: || post(folder_changes::create_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Create a folder on the mail server", "5.5").body(Body::Json(schema::<shapes::FolderInput>)).answer(Answer::Item(schema::<Folder>)),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/folders/{folder_id}",
        any_of: CHANGE_FOLDERS,
        handler: || put(folder_changes::update_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Rename or move a folder", "5.5").body(Body::Json(schema::<shapes::FolderInput>)).answer(Answer::Item(schema::<Folder>)),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/folders/{folder_id}",
        any_of: CHANGE_FOLDERS,
        handler: || delete(folder_changes::delete_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Delete a folder and its messages", "5.5"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/attachments/{attachment_id}",
        any_of: READ,
        handler: || get(attachments::get_attachment),
        body: RouteBody::Standard,
        doc: RouteDoc::new("An attachment's metadata", "5.6").query(ATTACHMENT).answer(Answer::Item(schema::<Attachment>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/attachments/{attachment_id}/download",
        any_of: READ_CONTENT,
        handler: || get(attachments::download_attachment),
        body: RouteBody::Standard,
        doc: RouteDoc::new("An attachment's bytes", "5.6").query(ATTACHMENT).answer(Answer::Bytes),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/contacts",
        any_of: READ_CONTACTS,
        handler: || get(contacts::list_contacts),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The people the grant's mail is with", "5.7").query(CONTACT_LIST).answer(Answer::Cursor(schema::<Contact>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/contacts/groups",
        any_of: READ_CONTACTS,
        handler: || get(contacts::list_contact_groups),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Contact groups (none for IMAP)", "5.7").answer(Answer::List(schema::<ContactGroup>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/contacts/{contact_id}",
        any_of: READ_CONTACTS,
        handler: || get(contacts::get_contact),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One contact", "5.7").answer(Answer::Item(schema::<Contact>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/calendars",
        any_of: READ_CALENDAR,
        handler: || get(calendars::list_calendars),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The grant's calendar of invitations", "5.8").query(PAGE).answer(Answer::Cursor(schema::<Calendar>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/calendars/{calendar_id}",
        any_of: READ_CALENDAR,
        handler: || get(calendars::get_calendar),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One calendar (`primary` names it)", "5.8").answer(Answer::Item(schema::<Calendar>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/events",
        any_of: READ_CALENDAR,
        handler: || get(events::list_events),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The events of the grant's invitations", "5.8").query(EVENT_LIST).answer(Answer::Cursor(schema::<Event>)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/events/{event_id}",
        any_of: READ_CALENDAR,
        handler: || get(events::get_event),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One event", "5.8").query(EVENT_ONE).answer(Answer::Item(schema::<Event>)),
    },
    // Nylas v2 (README.md, "Nylas v2 applications"): the account is the token's.
    GrantRoute {
        method: Method::GET,
        path: "/messages",
        any_of: READ,
        handler: || get(v2::messages::list_messages),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List messages", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/messages/{id}",
        any_of: READ,
        handler: || get(v2::messages::get_message),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One message", "8.3"),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/messages/{id}",
        any_of: MODIFY,
        handler: || put(v2::changes::update_message),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Change a message", "8.3"),
    },
    GrantRoute {
        method: Method::POST,
        path: "/send",
        any_of: SEND,
        handler: || post(v2::changes::send),
        body: RouteBody::Mail,
        doc: RouteDoc::new("Send a message or a draft", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/drafts",
        any_of: READ_DRAFTS,
        handler: || get(v2::drafts::list_drafts),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List drafts", "8.3"),
    },
    GrantRoute {
        method: Method::POST,
        path: "/drafts",
        any_of: WRITE_DRAFTS,
        handler: || post(v2::drafts::create_draft),
        body: RouteBody::Mail,
        doc: RouteDoc::new("Save a draft", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/drafts/{id}",
        any_of: READ_DRAFTS,
        handler: || get(v2::drafts::get_draft),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One draft", "8.3"),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/drafts/{id}",
        any_of: WRITE_DRAFTS,
        handler: || put(v2::drafts::update_draft),
        body: RouteBody::Mail,
        doc: RouteDoc::new("Replace a draft", "8.3"),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/drafts/{id}",
        any_of: WRITE_DRAFTS,
        handler: || delete(v2::drafts::delete_draft),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Delete a draft", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/threads",
        any_of: READ,
        handler: || get(v2::threads::list_threads),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List threads", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/threads/{id}",
        any_of: READ,
        handler: || get(v2::threads::get_thread),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One thread", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/folders",
        any_of: READ_FOLDERS,
        handler: || get(v2::folders::list_folders),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List folders", "8.3"),
    },
    GrantRoute {
        method: Method::POST,
        path: "/folders",
        any_of: CHANGE_FOLDERS,
        handler: || post(v2::folder_changes::create_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Create a folder", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/folders/{id}",
        any_of: READ_FOLDERS,
        handler: || get(v2::folders::get_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One folder", "8.3"),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/folders/{id}",
        any_of: CHANGE_FOLDERS,
        handler: || put(v2::folder_changes::update_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Rename a folder", "8.3"),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/folders/{id}",
        any_of: CHANGE_FOLDERS,
        handler: || delete(v2::folder_changes::delete_folder),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Delete a folder", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/files",
        any_of: READ,
        handler: || get(v2::files::list_files),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List files", "8.3"),
    },
    GrantRoute {
        method: Method::POST,
        path: "/files",
        any_of: UPLOAD,
        handler: || post(v2::files::upload_files),
        body: RouteBody::Mail,
        doc: RouteDoc::new("Upload files", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/files/{id}",
        any_of: SEE_FILE,
        handler: || get(v2::files::get_file),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One file", "8.3"),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/files/{id}",
        any_of: UPLOAD,
        handler: || delete(v2::files::delete_file),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Delete an upload", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/files/{id}/download",
        any_of: FETCH_FILE,
        handler: || get(v2::files::download_file),
        body: RouteBody::Standard,
        doc: RouteDoc::new("A file's bytes", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/contacts",
        any_of: READ_CONTACTS,
        handler: || get(v2::contacts::list_contacts),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List contacts", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/contacts/{id}",
        any_of: READ_CONTACTS,
        handler: || get(v2::contacts::get_contact),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One contact", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/calendars",
        any_of: READ_CALENDAR,
        handler: || get(v2::calendars::list_calendars),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List calendars", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/calendars/{id}",
        any_of: READ_CALENDAR,
        handler: || get(v2::calendars::get_calendar),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One calendar", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/events",
        any_of: READ_CALENDAR,
        handler: || get(v2::calendars::list_events),
        body: RouteBody::Standard,
        doc: RouteDoc::new("List events", "8.3"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/events/{id}",
        any_of: READ_CALENDAR,
        handler: || get(v2::calendars::get_event),
        body: RouteBody::Standard,
        doc: RouteDoc::new("One event", "8.3"),
    },
    GrantRoute {
        method: Method::POST,
        path: "/delta/latest_cursor",
        any_of: DELTA,
        handler: || post(v2::delta::latest_cursor),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The delta feed's latest cursor", "8.4"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/delta",
        any_of: DELTA,
        handler: || get(v2::delta::deltas),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Changes since a cursor", "8.4"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/delta/longpoll",
        any_of: DELTA,
        handler: || get(v2::delta::longpoll),
        body: RouteBody::Standard,
        doc: RouteDoc::new("Changes since a cursor, waiting for one", "8.4"),
    },
    GrantRoute {
        method: Method::GET,
        path: "/delta/{kind}",
        any_of: DELTA,
        handler: || get(v2::delta::unsupported),
        body: RouteBody::Standard,
        doc: RouteDoc::new("The streaming delta feed (not offered)", "8.4"),
    },
];

/// The scopes that admit reading content beyond metadata.
pub const CONTENT_SCOPES: &[Scope] = READ_CONTENT;

/// The table's entry for a routed request.
impl GrantRoute {
    /// v3's routes answer in the envelope, v2's (every one outside `/v3/`) in v2's shape.
    pub fn refusal_shape(&self) -> RefusalShape {
        if self.path.starts_with("/v3/") {
            RefusalShape::Envelope
        } else {
            RefusalShape::V2
        }
    }
}

pub fn find(method: &Method, path: &str) -> Option<&'static GrantRoute> {
    GRANT_ROUTES
        .iter()
        .find(|route| route.method == *method && route.path == path)
}

/// The routes of the table, methods of one path merged.
pub fn router() -> Router<AppState> {
    let paths: std::collections::BTreeSet<&str> = GRANT_ROUTES.iter().map(|r| r.path).collect();
    let mut router = Router::new();
    for path in paths {
        let methods = GRANT_ROUTES
            .iter()
            .filter(|r| r.path == path)
            .fold(MethodRouter::new(), |merged, r| {
                merged.merge(r.body.apply((r.handler)(), r.refusal_shape()))
            });
        router = router.route(path, methods);
    }
    router
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use mailroom_model::ALL_SCOPES;

    #[test]
    fn the_routes_that_take_a_message_take_the_mail_limit() {
        let mail: BTreeSet<(String, &str)> = GRANT_ROUTES
            .iter()
            .filter(|route| route.body == RouteBody::Mail)
            .map(|route| (route.method.to_string(), route.path))
            .collect();
        let expected: BTreeSet<(String, &str)> = [
            ("POST", "/v3/grants/{grant_id}/messages/send"),
            ("POST", "/v3/grants/{grant_id}/drafts"),
            ("PUT", "/v3/grants/{grant_id}/drafts/{draft_id}"),
            ("POST", "/send"),
            ("POST", "/drafts"),
            ("PUT", "/drafts/{id}"),
            ("POST", "/files"),
        ]
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path))
        .collect();
        assert_eq!(mail, expected);
        assert_eq!(
            find(&Method::POST, "/send").map(GrantRoute::refusal_shape),
            Some(RefusalShape::V2)
        );
        assert_eq!(
            find(&Method::POST, "/v3/grants/{grant_id}/drafts").map(GrantRoute::refusal_shape),
            Some(RefusalShape::Envelope)
        );
    }

    use super::*;

    /// What each scope alone admits, written out by hand: the table must agree.
    fn expected(scope: Scope) -> BTreeSet<String> {
        let read = [
            "GET /v3/grants/{grant_id}/messages",
            "GET /v3/grants/{grant_id}/messages/{message_id}",
            "GET /v3/grants/{grant_id}/threads",
            "GET /v3/grants/{grant_id}/threads/{thread_id}",
            "GET /v3/grants/{grant_id}/attachments/{attachment_id}",
        ];
        let folders = [
            "GET /v3/grants/{grant_id}/folders",
            "GET /v3/grants/{grant_id}/folders/{folder_id}",
        ];
        let content = [
            "GET /v3/grants/{grant_id}/attachments/{attachment_id}/download",
            "PUT /v3/grants/{grant_id}/messages/clean",
        ];
        let modify = [
            "PUT /v3/grants/{grant_id}/messages/{message_id}",
            "DELETE /v3/grants/{grant_id}/messages/{message_id}",
            "PUT /v3/grants/{grant_id}/threads/{thread_id}",
            "DELETE /v3/grants/{grant_id}/threads/{thread_id}",
        ];
        let change_folders = [
            "POST /v3/grants/{grant_id}/folders",
            "PUT /v3/grants/{grant_id}/folders/{folder_id}",
            "DELETE /v3/grants/{grant_id}/folders/{folder_id}",
        ];
        let send = [
            "POST /v3/grants/{grant_id}/messages/send",
            "GET /v3/grants/{grant_id}/messages/schedules",
            "GET /v3/grants/{grant_id}/messages/schedules/{schedule_id}",
            "DELETE /v3/grants/{grant_id}/messages/schedules/{schedule_id}",
            "POST /v3/grants/{grant_id}/drafts/{draft_id}",
            "GET /v3/grants/{grant_id}/templates",
            "POST /v3/grants/{grant_id}/templates",
            "POST /v3/grants/{grant_id}/templates/render",
            "GET /v3/grants/{grant_id}/templates/{template_id}",
            "PUT /v3/grants/{grant_id}/templates/{template_id}",
            "DELETE /v3/grants/{grant_id}/templates/{template_id}",
            "POST /v3/grants/{grant_id}/templates/{template_id}/render",
        ];
        let read_drafts = [
            "GET /v3/grants/{grant_id}/drafts",
            "GET /v3/grants/{grant_id}/drafts/{draft_id}",
        ];
        let write_drafts = [
            "POST /v3/grants/{grant_id}/drafts",
            "PUT /v3/grants/{grant_id}/drafts/{draft_id}",
            "DELETE /v3/grants/{grant_id}/drafts/{draft_id}",
        ];
        let contacts = [
            "GET /v3/grants/{grant_id}/contacts",
            "GET /v3/grants/{grant_id}/contacts/groups",
            "GET /v3/grants/{grant_id}/contacts/{contact_id}",
        ];
        let calendar = [
            "GET /v3/grants/{grant_id}/calendars",
            "GET /v3/grants/{grant_id}/calendars/{calendar_id}",
            "GET /v3/grants/{grant_id}/events",
            "GET /v3/grants/{grant_id}/events/{event_id}",
        ];
        let v2_read = [
            "GET /messages",
            "GET /messages/{id}",
            "GET /threads",
            "GET /threads/{id}",
            "GET /files",
        ];
        let v2_folders = ["GET /folders", "GET /folders/{id}"];
        let v2_modify = ["PUT /messages/{id}"];
        let v2_change_folders = ["POST /folders", "PUT /folders/{id}", "DELETE /folders/{id}"];
        let v2_send = ["POST /send"];
        let v2_read_drafts = ["GET /drafts", "GET /drafts/{id}"];
        let v2_write_drafts = ["POST /drafts", "PUT /drafts/{id}", "DELETE /drafts/{id}"];
        let v2_uploads = ["POST /files", "DELETE /files/{id}"];
        let v2_file = ["GET /files/{id}"];
        let v2_download = ["GET /files/{id}/download"];
        let v2_contacts = ["GET /contacts", "GET /contacts/{id}"];
        let v2_calendar = [
            "GET /calendars",
            "GET /calendars/{id}",
            "GET /events",
            "GET /events/{id}",
        ];
        let v2_delta = [
            "POST /delta/latest_cursor",
            "GET /delta",
            "GET /delta/longpoll",
            "GET /delta/{kind}",
        ];
        let mut admitted: BTreeSet<&str> = BTreeSet::new();
        match scope {
            Scope::Email => {
                admitted.extend(v2_read);
                admitted.extend(v2_folders);
                admitted.extend(v2_modify);
                admitted.extend(v2_change_folders);
                admitted.extend(v2_send);
                admitted.extend(v2_read_drafts);
                admitted.extend(v2_write_drafts);
                admitted.extend(v2_uploads);
                admitted.extend(v2_file);
                admitted.extend(v2_download);
                admitted.extend(v2_delta);
            }
            Scope::EmailModify => {
                admitted.extend(v2_read);
                admitted.extend(v2_folders);
                admitted.extend(v2_modify);
                admitted.extend(v2_change_folders);
                admitted.extend(v2_read_drafts);
                admitted.extend(v2_file);
                admitted.extend(v2_download);
                admitted.extend(v2_delta);
            }
            Scope::EmailReadOnly => {
                admitted.extend(v2_read);
                admitted.extend(v2_folders);
                admitted.extend(v2_read_drafts);
                admitted.extend(v2_file);
                admitted.extend(v2_download);
                admitted.extend(v2_delta);
            }
            Scope::EmailSend => {
                admitted.extend(v2_send);
                admitted.extend(v2_uploads);
                admitted.extend(v2_file);
                admitted.extend(v2_download);
            }
            Scope::EmailDrafts => {
                admitted.extend(v2_read_drafts);
                admitted.extend(v2_write_drafts);
                admitted.extend(v2_uploads);
                admitted.extend(v2_file);
                admitted.extend(v2_download);
            }
            Scope::EmailMetadata => {
                admitted.extend(v2_read);
                admitted.extend(v2_folders);
                admitted.extend(v2_file);
                admitted.extend(v2_delta);
            }
            Scope::EmailFoldersAndLabels => {
                admitted.extend(v2_folders);
                admitted.extend(v2_change_folders);
                admitted.extend(v2_delta);
            }
            Scope::Calendar | Scope::CalendarReadOnly => {
                admitted.extend(v2_calendar);
                admitted.extend(v2_delta);
            }
            Scope::Contacts | Scope::ContactsReadOnly => {
                admitted.extend(v2_contacts);
                admitted.extend(v2_delta);
            }
            Scope::RoomResourcesReadOnly => {}
        }
        match scope {
            Scope::Email => {
                admitted.extend(read);
                admitted.extend(folders);
                admitted.extend(content);
                admitted.extend(modify);
                admitted.extend(change_folders);
                admitted.extend(send);
                admitted.extend(read_drafts);
                admitted.extend(write_drafts);
            }
            Scope::EmailModify => {
                admitted.extend(read_drafts);
                admitted.extend(read);
                admitted.extend(folders);
                admitted.extend(content);
                admitted.extend(modify);
                admitted.extend(change_folders);
            }
            Scope::EmailReadOnly => {
                admitted.extend(read);
                admitted.extend(folders);
                admitted.extend(content);
                admitted.extend(read_drafts);
            }
            Scope::EmailSend => admitted.extend(send),
            Scope::EmailDrafts => {
                admitted.extend(read_drafts);
                admitted.extend(write_drafts);
            }
            Scope::EmailMetadata => {
                admitted.extend(read);
                admitted.extend(folders);
            }
            Scope::EmailFoldersAndLabels => {
                admitted.extend(folders);
                admitted.extend(change_folders);
            }
            Scope::Calendar | Scope::CalendarReadOnly => admitted.extend(calendar),
            Scope::Contacts | Scope::ContactsReadOnly => admitted.extend(contacts),
            Scope::RoomResourcesReadOnly => {}
        }
        admitted.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn each_scope_admits_exactly_its_routes() {
        for scope in ALL_SCOPES {
            let admitted: BTreeSet<String> = GRANT_ROUTES
                .iter()
                .filter(|r| Scope::allows(&[scope], r.any_of))
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            assert_eq!(admitted, expected(scope), "{scope}");
        }
    }

    #[test]
    fn a_grant_without_scopes_is_admitted_everywhere() {
        assert!(GRANT_ROUTES.iter().all(|r| Scope::allows(&[], r.any_of)));
    }

    #[test]
    fn every_route_needs_a_scope_and_appears_once() {
        let mut seen = BTreeSet::new();
        for route in GRANT_ROUTES {
            assert!(!route.any_of.is_empty(), "{} {}", route.method, route.path);
            assert!(
                seen.insert((route.method.to_string(), route.path)),
                "{} {} twice",
                route.method,
                route.path
            );
            // v3's routes name the grant; v2's are the token's account's.
            assert!(
                route.path.starts_with("/v3/grants/{grant_id}/") || !route.path.starts_with("/v3/"),
                "{}",
                route.path
            );
            assert!(find(&route.method, route.path).is_some());
        }
    }
}
