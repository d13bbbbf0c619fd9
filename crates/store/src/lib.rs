//! mailroom's persistence. One `Store` over sqlx's Any driver serves the embedded SQLite
//! database and PostgreSQL alike: queries are written in the SQL both engines accept
//! (`$n` placeholders, integers for flags, TEXT for JSON), and so are the migrations
//! under `migrations/`, one set for both.

mod address_folders;
mod admin_tokens;
mod api_keys;
mod applications;
mod auth_flows;
mod backfills;
mod bounces;
mod callback_uris;
mod change_log;
mod cluster_events;
mod cluster_nodes;
mod connectors;
mod contacts;
mod deletions;
mod draft_versions;
mod error;
mod events;
mod expunged_uids;
mod folder_counts;
mod folders;
mod grant_leases;
mod grant_notices;
mod grant_reset;
mod grants;
mod idempotency_keys;
mod index_batch;
mod index_check;
mod location_flags;
mod message_addresses;
mod message_changes;
mod message_lists;
mod message_row;
mod message_tracking;
mod messages;
mod oauth_tokens;
mod open;
mod operator_figures;
mod operator_views;
mod pkce;
mod scheduled_sends;
mod secret_box;
mod secret_hash;
mod secret_key_check;
mod sign_in_attempts;
mod sql_batch;
mod sql_filter;
mod subject_index;
mod sync_status;
mod table_statistics;
mod templates;
mod thread_addresses;
mod thread_member_list;
mod thread_pages;
mod thread_participants;
mod thread_replies;
mod thread_summaries;
mod uploads;
mod webhook_failure_notices;
mod webhook_outbox;
mod webhooks;

pub use admin_tokens::{ADMIN_SESSION_SECS, AdminTokenRecord};
pub use api_keys::ApiKeyRecord;
pub use applications::{ApplicationRecord, NewApplication};
pub use auth_flows::{AuthFlowRecord, CODE_LIFETIME_SECS, FLOW_LIFETIME_SECS, NewAuthFlow};
pub use callback_uris::{CallbackUriRecord, CallbackUriUpdate};
pub use change_log::{CHANGE_RETENTION_SECS, ChangeCursor, ChangeKind, ChangeRecord};
pub use cluster_events::{ClusterEvent, ClusterListener, Heard};
pub use cluster_nodes::NodeRecord;
pub use connectors::{ConnectorRecord, ConnectorWrite};
pub use contacts::{ContactChange, ContactQuery, ContactRecord};
pub use error::StoreError;
pub use events::{EventChange, EventQuery, EventRecord};
pub use expunged_uids::EXPUNGED_UID_LIFETIME_SECS;
pub use folders::{FolderListing, FolderRecord, FolderSyncState, FolderWithCounts};
pub use grant_leases::{Fence, GrantLease};
pub use grants::{
    GrantListQuery, GrantOrder, GrantRecord, GrantRefused, GrantScope, GrantUpdate, GrantUpsert,
    GrantWrite, SortField,
};
pub use idempotency_keys::{IDEMPOTENCY_KEY_LIFETIME_SECS, IdempotencyClaim};
pub use message_tracking::{
    DraftTracking, HitOutcome, MAX_ANNOUNCED_HITS_PER_HOUR, NewTrackedMessage,
    TRACKING_HIT_RETENTION_SECS, TRACKING_REPEAT_WINDOW_SECS, TrackingHit, generate_tracking_token,
};
pub use messages::{
    MessageBody, MessageLocation, MessageQuery, MessageRecord, MissingBody, NewMessage,
};
pub use oauth_tokens::{
    ACCESS_TOKEN_LIFETIME_SECS, ACCESS_TOKEN_PREFIX, AccessTokenRecord, CodeExchange, IssuedTokens,
    REFRESH_TOKEN_LIFETIME_SECS, REFRESH_TOKEN_PREFIX, TokenError,
};
pub use open::{Migrations, Store};
pub use operator_figures::OutboxFigures;
pub use operator_views::{FailingDeliveries, PendingSend};
pub use pkce::PkceMethod;
pub use scheduled_sends::{
    DueSend, NewScheduledSend, ScheduleQuota, ScheduleStatus, ScheduledSend, Scheduling,
    scheduled_message,
};
pub use secret_box::{SecretBox, SecretBoxError};
pub use secret_hash::{generate_secret, hash_secret};
pub use secret_key_check::ResealReport;
pub use sync_status::SyncStatus;
pub use templates::{
    MAX_TEMPLATES_PER_OWNER, NewTemplate, TemplateChange, TemplateCreation, TemplateOwner,
    TemplateRecord,
};
pub use thread_member_list::{KEPT_MEMBERS, MemberList};
pub use thread_pages::{ListedThread, ThreadMember, ThreadPage, ThreadRow};
pub use uploads::{
    MAX_UPLOAD_BYTES_PER_GRANT, MAX_UPLOADS_PER_GRANT, UPLOAD_LIFETIME_SECS, UploadQuota,
    UploadRecord, UploadRefused,
};
pub use webhook_failure_notices::{FailureNotice, MAX_FAILURE_CHARS};
pub use webhook_outbox::DueDelivery;
pub use webhooks::{NewWebhook, WebhookChange, WebhookRecord, WebhookWithSecret};
