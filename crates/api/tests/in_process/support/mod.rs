//! What every module of the tier shares: the server under test (`app`), requests and
//! replies (`http`), the error shapes of the contract (`errors`) and the varied mailbox
//! (`mailbox`).

pub mod app;
pub mod errors;
pub mod http;
pub mod mailbox;

pub use app::App;
pub use errors::{
    assert_oauth_error, assert_v2_error, assert_v3_error, assert_v3_error_type,
    assert_v3_out_of_scope, keys, v2_scope_message,
};
pub use http::{Reply, multipart};
pub use mailbox::{MAIL, Mail, newest_first};

/// An empty list, to compare a list of JSON values with.
pub const NOTHING: [serde_json::Value; 0] = [];
