//! Unix timestamps in seconds: the API's only time format.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now: for ordering what happens within a second.
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
