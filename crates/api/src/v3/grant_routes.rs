//! Every route on a grant's mailbox and the scopes that admit it, in one table. The
//! router is built from this table, so a grant route cannot exist without its entry, and
//! [`GrantAccess`](crate::grant_access::GrantAccess) checks each call against it.

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::Method,
    routing::{MethodRouter, delete, get, post, put},
};
use mailroom_model::Scope;

use crate::v3::{calendars, contacts, events};

use crate::{
    router::AppState,
    router::MAX_MAIL_BODY_BYTES,
    v3::{
        attachments, drafts, folder_changes, folders, message_updates, messages, schedules, send,
        thread_updates, threads,
    },
};

pub struct GrantRoute {
    pub method: Method,
    pub path: &'static str,
    /// Any one of these, or a scope that includes it, admits the call.
    pub any_of: &'static [Scope],
    pub handler: fn() -> MethodRouter<AppState>,
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
/// Reading drafts: `email.drafts`, or reading mail at all.
pub(crate) const READ_DRAFTS: &[Scope] = &[Scope::EmailDrafts, Scope::EmailReadOnly];
/// Writing drafts.
pub(crate) const WRITE_DRAFTS: &[Scope] = &[Scope::EmailDrafts];
/// Contacts derived from mail (`contacts` includes it); the handlers show them only
/// where an email scope reads the mail too (API.md §11).
pub(crate) const READ_CONTACTS: &[Scope] = &[Scope::ContactsReadOnly];
/// The invitations calendar and its events (`calendar` includes it); likewise.
pub(crate) const READ_CALENDAR: &[Scope] = &[Scope::CalendarReadOnly];

/// Routes that take a message with its attachments as the body.
fn mail_body(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.layer(DefaultBodyLimit::max(MAX_MAIL_BODY_BYTES))
}

pub static GRANT_ROUTES: &[GrantRoute] = &[
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages",
        any_of: READ,
        handler: || get(messages::list_messages),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages/{message_id}",
        any_of: READ,
        handler: || get(messages::get_message),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/messages/send",
        any_of: SEND,
        handler: || mail_body(post(send::send_message)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages/schedules",
        any_of: SEND,
        handler: || get(schedules::list_schedules),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/messages/schedules/{schedule_id}",
        any_of: SEND,
        handler: || get(schedules::get_schedule),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/messages/schedules/{schedule_id}",
        any_of: SEND,
        handler: || delete(schedules::cancel_schedule),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/drafts",
        any_of: READ_DRAFTS,
        handler: || get(drafts::list_drafts),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/drafts",
        any_of: WRITE_DRAFTS,
        handler: || mail_body(post(drafts::create_draft)),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: READ_DRAFTS,
        handler: || get(drafts::get_draft),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: WRITE_DRAFTS,
        handler: || mail_body(put(drafts::update_draft)),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: WRITE_DRAFTS,
        handler: || delete(drafts::delete_draft),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/drafts/{draft_id}",
        any_of: SEND,
        handler: || post(drafts::send_draft),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/messages/{message_id}",
        any_of: MODIFY,
        handler: || put(message_updates::update_message),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/messages/{message_id}",
        any_of: MODIFY,
        handler: || delete(message_updates::delete_message),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/threads",
        any_of: READ,
        handler: || get(threads::list_threads),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/threads/{thread_id}",
        any_of: READ,
        handler: || get(threads::get_thread),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/threads/{thread_id}",
        any_of: MODIFY,
        handler: || put(thread_updates::update_thread),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/threads/{thread_id}",
        any_of: MODIFY,
        handler: || delete(thread_updates::delete_thread),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/folders",
        any_of: READ_FOLDERS,
        handler: || get(folders::list_folders),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/folders/{folder_id}",
        any_of: READ_FOLDERS,
        handler: || get(folders::get_folder),
    },
    GrantRoute {
        method: Method::POST,
        path: "/v3/grants/{grant_id}/folders",
        any_of: CHANGE_FOLDERS,
        handler: || post(folder_changes::create_folder),
    },
    GrantRoute {
        method: Method::PUT,
        path: "/v3/grants/{grant_id}/folders/{folder_id}",
        any_of: CHANGE_FOLDERS,
        handler: || put(folder_changes::update_folder),
    },
    GrantRoute {
        method: Method::DELETE,
        path: "/v3/grants/{grant_id}/folders/{folder_id}",
        any_of: CHANGE_FOLDERS,
        handler: || delete(folder_changes::delete_folder),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/attachments/{attachment_id}",
        any_of: READ,
        handler: || get(attachments::get_attachment),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/attachments/{attachment_id}/download",
        any_of: READ_CONTENT,
        handler: || get(attachments::download_attachment),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/contacts",
        any_of: READ_CONTACTS,
        handler: || get(contacts::list_contacts),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/contacts/groups",
        any_of: READ_CONTACTS,
        handler: || get(contacts::list_contact_groups),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/contacts/{contact_id}",
        any_of: READ_CONTACTS,
        handler: || get(contacts::get_contact),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/calendars",
        any_of: READ_CALENDAR,
        handler: || get(calendars::list_calendars),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/calendars/{calendar_id}",
        any_of: READ_CALENDAR,
        handler: || get(calendars::get_calendar),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/events",
        any_of: READ_CALENDAR,
        handler: || get(events::list_events),
    },
    GrantRoute {
        method: Method::GET,
        path: "/v3/grants/{grant_id}/events/{event_id}",
        any_of: READ_CALENDAR,
        handler: || get(events::get_event),
    },
];

/// The scopes that admit reading content beyond metadata.
pub const CONTENT_SCOPES: &[Scope] = READ_CONTENT;

/// The table's entry for a routed request.
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
            .fold(MethodRouter::new(), |merged, r| merged.merge((r.handler)()));
        router = router.route(path, methods);
    }
    router
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use mailroom_model::ALL_SCOPES;

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
        let content = ["GET /v3/grants/{grant_id}/attachments/{attachment_id}/download"];
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
        let mut admitted: BTreeSet<&str> = BTreeSet::new();
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
            assert!(route.path.starts_with("/v3/grants/{grant_id}/"));
            assert!(find(&route.method, route.path).is_some());
        }
    }
}
