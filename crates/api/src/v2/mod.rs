//! Nylas API v2, for applications still written against it (README.md, "Nylas v2
//! applications"): an account there is a v3 grant (`account_id` is the grant's id), its
//! access tokens are the same token store's, and the scopes are the same table's.
//! Errors take v2's shape, `{"message", "type"}` (`error`).

mod account;
mod account_auth;
mod accounts_admin;
mod calendars;
mod changes;
mod compose;
mod contacts;
mod delta;
mod drafts;
mod error;
mod files;
mod folder_changes;
mod folders;
mod listing;
mod messages;
mod native_auth;
mod oauth;
mod threads;
mod uploads;

use axum::{
    Router,
    routing::{get, post},
};

use crate::router::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/token", get(oauth::token).post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/connect/authorize", post(native_auth::authorize))
        .route("/connect/token", post(native_auth::token))
        .route("/account", get(account::account))
        .route("/messages", get(messages::list_messages))
        .route(
            "/messages/{id}",
            get(messages::get_message).put(changes::update_message),
        )
        .route("/send", post(changes::send))
        .route(
            "/drafts",
            get(drafts::list_drafts).post(drafts::create_draft),
        )
        .route(
            "/drafts/{id}",
            get(drafts::get_draft)
                .put(drafts::update_draft)
                .delete(drafts::delete_draft),
        )
        .route("/delta/latest_cursor", post(delta::latest_cursor))
        .route("/delta", get(delta::deltas))
        .route("/delta/longpoll", get(delta::longpoll))
        .route("/delta/{kind}", get(delta::unsupported))
        .route(
            "/a/{client_id}/accounts",
            get(accounts_admin::list_accounts),
        )
        .route(
            "/a/{client_id}/accounts/{account_id}",
            get(accounts_admin::get_account).delete(accounts_admin::delete_account),
        )
        .route(
            "/a/{client_id}/accounts/{account_id}/revoke-all",
            post(accounts_admin::revoke_all),
        )
        .route("/threads", get(threads::list_threads))
        .route("/threads/{id}", get(threads::get_thread))
        .route("/folders", get(folders::list_folders))
        .route("/folders/{id}", get(folders::get_folder))
        // v2 files, contacts, calendars (helper-v2files)
        .route("/folders", post(folder_changes::create_folder))
        .route(
            "/folders/{id}",
            axum::routing::put(folder_changes::update_folder).delete(folder_changes::delete_folder),
        )
        .route(
            "/files",
            post(files::upload_files)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::router::MAX_MAIL_BODY_BYTES,
                ))
                .get(files::list_files),
        )
        .route(
            "/files/{id}",
            get(files::get_file).delete(files::delete_file),
        )
        .route("/files/{id}/download", get(files::download_file))
        .route("/contacts", get(contacts::list_contacts))
        .route("/contacts/{id}", get(contacts::get_contact))
        .route("/calendars", get(calendars::list_calendars))
        .route("/calendars/{id}", get(calendars::get_calendar))
        .route("/events", get(calendars::list_events))
        .route("/events/{id}", get(calendars::get_event))
}
