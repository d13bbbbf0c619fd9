//! mailroom's IMAP client, on async-imap. It knows mailboxes, not grants or the store:
//!
//! - `session`, `stream`, `oauth_sasl`, `capabilities`: connecting under the outbound
//!   policy (TLS or STARTTLS), logging in with a password or an OAuth 2.0 token (XOAUTH2,
//!   OAUTHBEARER), and what the server offers; a cap on line length bounds what a server
//!   can make mailroom hold;
//! - `folders`, `folder_status`, `mailbox_state`, `mailbox_admin`: listing folders (names
//!   in modified UTF-7), STATUS, SELECT, and creating, renaming and deleting folders;
//! - `fetch`, `qresync`, `uid_ranges`: message summaries and bodies, and what changed
//!   since the last visit (QRESYNC, CONDSTORE);
//! - `idle`, `notify`: waiting for the server to report a change;
//! - `message_writes`, `write_report`: flags, copies, moves, expunges and appends, with
//!   the new UIDs the server reports (UIDPLUS);
//! - `gmail`: Gmail's X-GM-EXT-1 (message and thread ids, labels).

mod capabilities;
mod error;
mod fetch;
mod folder_status;
mod folders;
mod gmail;
mod idle;
mod mailbox_admin;
mod mailbox_state;
mod message_writes;
mod notify;
mod oauth_sasl;
mod open_sessions;
mod qresync;
mod session;
mod stream;
mod uid_ranges;
mod write_report;

pub use capabilities::Capabilities;
pub use error::ImapError;
pub use fetch::{FetchedBody, FetchedSummary, UidFlags, check_search_criteria, max_responses};
pub use folder_status::{FolderStatus, status_line};
pub use folders::{ListedFolder, decode_mailbox_name, encode_mailbox_name};
pub use gmail::{
    GmailAttributes, MAX_LABEL_BYTES, MAX_LABELS, SummaryAnswer, X_GM_EXT_1, absorb_summary,
    decode_label,
};
pub use idle::{IDLE_REARM, IdleOutcome};
pub use mailbox_state::MailboxState;
pub use message_writes::uid_list;
pub use oauth_sasl::{oauthbearer_response, xoauth2_response};
pub use open_sessions::describe_imap_metrics;
pub use qresync::{KnownMailbox, ResyncReport};
pub use session::{ImapAuth, ImapServer, ImapSession, ImapTls};
pub use stream::{ImapStream, MAX_LINE_BYTES, Transport};
pub use uid_ranges::UidRanges;
pub use write_report::{AppendedUids, UidMapping, WriteReport, absorb_write};
