//! Requests per grant: one token bucket for each grant, so that one busy grant (or a
//! runaway client of it) cannot take the server from the others. Over the limit, the
//! answer is a 429 `api.rate_limit_error` with `Retry-After`, as Nylas answers.

use std::{num::NonZeroU32, sync::Arc};

use axum::http::request::Parts;
use governor::{
    DefaultKeyedRateLimiter, Quota,
    clock::{Clock, DefaultClock},
};
use mailroom_model::GrantId;

use crate::error::ApiError;

/// Buckets of grants idle long enough to be full again are dropped past this many.
const TIDY_ABOVE: usize = 100_000;

pub struct GrantRateLimit {
    limiter: DefaultKeyedRateLimiter<GrantId>,
    per_second: NonZeroU32,
}

impl GrantRateLimit {
    /// `per_second` requests per second with bursts of `burst`; `None` when
    /// `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<Arc<Self>> {
        let per_second = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        Some(Arc::new(Self {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            per_second,
        }))
    }

    /// Takes one request from the grant's bucket, or says how long until one is there.
    pub fn check(&self, grant: &GrantId) -> Result<(), ApiError> {
        if self.limiter.len() > TIDY_ABOVE {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(grant) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                // Whole seconds, rounded up: a client that waits that long gets through.
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(ApiError::rate_limited(
                    format!(
                        "too many requests for this grant (more than {} a second); retry after {} s",
                        self.per_second,
                        retry_after.max(1)
                    ),
                    retry_after.max(1),
                ))
            }
        }
    }
}

/// Checks the grant against the limit the router installed, if any.
pub fn check(parts: &Parts, grant: &GrantId) -> Result<(), ApiError> {
    match parts.extensions.get::<Arc<GrantRateLimit>>() {
        Some(limit) => limit.check(grant),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_over_its_burst_is_told_when_to_retry_and_others_are_not_affected() {
        let limit = GrantRateLimit::new(1, 2).unwrap();
        let busy = GrantId::parse("busy-grant").unwrap();
        let quiet = GrantId::parse("quiet-grant").unwrap();
        assert!(limit.check(&busy).is_ok());
        assert!(limit.check(&busy).is_ok());
        let refused = limit.check(&busy).unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert_eq!(refused.kind, "api.rate_limit_error");
        assert_eq!(refused.retry_after, Some(1));
        assert!(limit.check(&quiet).is_ok());
    }

    #[test]
    fn zero_per_second_means_no_limit() {
        assert!(GrantRateLimit::new(0, 10).is_none());
    }
}
