//! The error shapes of docs/API.md: v3's envelope (§1.6), OAuth's on the token endpoints
//! (§1.6), v2's `{"message", "type"}` (§8.1), and the out-of-scope message of §11.

use axum::http::StatusCode;
use serde_json::Value;

use super::http::Reply;

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// v3's error envelope: exactly `request_id` (the header's) and `error`, which holds a
/// `type`, a non-empty `message` and perhaps `provider_error`.
pub fn assert_v3_error(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert_eq!(
        keys(&reply.body),
        ["error", "request_id"],
        "{what}: {}",
        reply.body
    );
    assert!(
        reply.body["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{what}: {}",
        reply.body
    );
    assert_eq!(
        reply.body["request_id"].as_str(),
        reply.request_id.as_deref(),
        "{what}: the body's request id is the header's"
    );
    assert!(
        reply.error_type().starts_with("api."),
        "{what}: {}",
        reply.body
    );
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {}",
        reply.body
    );
    let allowed = ["message", "provider_error", "type"];
    assert!(
        keys(&reply.body["error"])
            .iter()
            .all(|k| allowed.contains(&k.as_str())),
        "{what}: {}",
        reply.body
    );
}

/// [`assert_v3_error`] of a given `error.type`.
pub fn assert_v3_error_type(reply: &Reply, status: StatusCode, kind: &str, what: &str) {
    assert_v3_error(reply, status, what);
    assert_eq!(reply.error_type(), kind, "{what}: {}", reply.body);
}

/// v2's error body: exactly `message` and `type`, the type one of v2's two.
pub fn assert_v2_error(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert_eq!(
        keys(&reply.body),
        ["message", "type"],
        "{what}: {}",
        reply.body
    );
    assert!(
        matches!(
            reply.body["type"].as_str(),
            Some("invalid_request_error" | "api_error")
        ),
        "{what}: {}",
        reply.body
    );
}

/// OAuth's error shape on the token endpoints: all five fields, `error_code` an integer
/// equal to the status.
pub fn assert_oauth_error(reply: &Reply, status: StatusCode, error: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert_eq!(
        keys(&reply.body),
        [
            "error",
            "error_code",
            "error_description",
            "error_uri",
            "request_id"
        ],
        "{what}: {}",
        reply.body
    );
    assert_eq!(reply.body["error"], error, "{what}: {}", reply.body);
    assert_eq!(
        reply.body["error_code"].as_u64(),
        Some(u64::from(status.as_u16())),
        "{what}"
    );
    assert_eq!(
        reply.body["request_id"].as_str(),
        reply.request_id.as_deref(),
        "{what}"
    );
}

/// docs/API.md §11's refusal in v3's words: names bare.
pub fn v3_scope_message(held: &[&str], sufficient: &[&str]) -> String {
    format!(
        "You do not have access to the required scopes. You provided a token which has the \
         following scopes: [{}]. You would need a token with at least one of the following \
         scopes: [{}]",
        held.join(", "),
        sufficient.join(", ")
    )
}

/// docs/API.md §11's refusal in v2's words: names quoted.
pub fn v2_scope_message(held: &[&str], sufficient: &[&str]) -> String {
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "You do not have access to the required scopes. You provided a token which has the \
         following scopes: [{}]. You would need a token with at least one of the following \
         scopes: [{}]",
        quoted(held),
        quoted(sufficient)
    )
}

/// A v3 403 of §11 with exactly this message.
pub fn assert_v3_out_of_scope(reply: &Reply, held: &[&str], sufficient: &[&str], what: &str) {
    assert_v3_error_type(reply, StatusCode::FORBIDDEN, "api.forbidden_error", what);
    assert_eq!(
        reply.body["error"]["message"],
        v3_scope_message(held, sufficient),
        "{what}"
    );
}
