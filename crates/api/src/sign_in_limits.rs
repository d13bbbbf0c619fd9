//! Throttling of sign-ins, hosted and custom auth alike, so that mailroom is neither a
//! password-guessing oracle against mail providers nor a way to open connections without
//! end (README, "Security model"):
//! - attempts per client address (the sign-in page; custom auth comes from the
//!   application's own servers and is counted per account and host instead);
//! - attempts per application and email address;
//! - attempts per mail server host, so that one provider never sees a flood from
//!   mailroom's address;
//! - new sign-in pages per client address;
//! - and, kept in the database so that it holds across processes and parallel requests,
//!   at most [`SignInSettings::max_attempts`] password checks per email address within the
//!   lockout window, counted before each check.

use std::{num::NonZeroU32, time::Duration};

use governor::{
    Quota, RateLimiter, clock::Clock, clock::DefaultClock, state::keyed::DefaultKeyedStateStore,
};

/// The limits; the defaults suit a public server.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// Password checks one client address may ask for per minute.
    pub attempts_per_ip_per_minute: u32,
    /// Password checks per application and email address per minute.
    pub attempts_per_account_per_minute: u32,
    /// Password checks mailroom makes against one mail server host per minute.
    pub attempts_per_host_per_minute: u32,
    /// Sign-in pages one client address may open per minute.
    pub pages_per_ip_per_minute: u32,
    /// Password checks per email address within `lockout_secs` on the sign-in page; the
    /// last one that fails ends the page with `auth_limit_reached`.
    pub max_attempts: i64,
    pub lockout_secs: i64,
    /// The most grants one application may have.
    pub max_grants_per_application: i64,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            attempts_per_ip_per_minute: 30,
            attempts_per_account_per_minute: 10,
            attempts_per_host_per_minute: 300,
            pages_per_ip_per_minute: 120,
            max_attempts: 3,
            lockout_secs: 15 * 60,
            max_grants_per_application: 10_000,
        }
    }
}

/// A rate limit per key (a client address, an account, a host).
pub(crate) type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// A keyed limit of `n` a minute (at least one).
pub(crate) fn per_minute(n: u32) -> KeyedLimiter {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(n))
}

/// What ran out, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub limit: ThrottledBy,
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottledBy {
    ClientAddress,
    Account,
    MailServer,
}

impl Throttled {
    /// Whole seconds, at least one, for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }
}

/// The in-memory limiters of one process (the per-email count lives in the store).
pub struct SignInLimits {
    pub settings: SignInSettings,
    attempts_by_ip: KeyedLimiter,
    attempts_by_account: KeyedLimiter,
    attempts_by_host: KeyedLimiter,
    pages_by_ip: KeyedLimiter,
}

/// Keys beyond which forgotten buckets are swept out.
const SWEEP_ABOVE: usize = 10_000;

impl SignInLimits {
    pub fn new(settings: SignInSettings) -> Self {
        Self {
            attempts_by_ip: per_minute(settings.attempts_per_ip_per_minute),
            attempts_by_account: per_minute(settings.attempts_per_account_per_minute),
            attempts_by_host: per_minute(settings.attempts_per_host_per_minute),
            pages_by_ip: per_minute(settings.pages_per_ip_per_minute),
            settings,
        }
    }

    /// Counts a new sign-in page for `ip`.
    pub fn open_page(&self, ip: Option<&str>) -> Result<(), Throttled> {
        match ip {
            Some(ip) => take(&self.pages_by_ip, ip, ThrottledBy::ClientAddress),
            None => Ok(()),
        }
    }

    /// Counts one password check: from `ip` (the page's client; `None` for custom auth),
    /// for `account` (application and email), against each of `hosts`.
    pub fn attempt(
        &self,
        ip: Option<&str>,
        account: &str,
        hosts: &[&str],
    ) -> Result<(), Throttled> {
        if let Some(ip) = ip {
            take(&self.attempts_by_ip, ip, ThrottledBy::ClientAddress)?;
        }
        take(&self.attempts_by_account, account, ThrottledBy::Account)?;
        for host in hosts {
            take(&self.attempts_by_host, host, ThrottledBy::MailServer)?;
        }
        Ok(())
    }
}

fn take(limiter: &KeyedLimiter, key: &str, limit: ThrottledBy) -> Result<(), Throttled> {
    if limiter.len() > SWEEP_ABOVE {
        limiter.retain_recent();
    }
    limiter
        .check_key(&key.to_owned())
        .map_err(|not_until| Throttled {
            limit,
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32) -> SignInLimits {
        SignInLimits::new(SignInSettings {
            attempts_per_ip_per_minute: per_minute,
            attempts_per_account_per_minute: per_minute,
            attempts_per_host_per_minute: per_minute,
            pages_per_ip_per_minute: per_minute,
            ..SignInSettings::default()
        })
    }

    #[test]
    fn each_key_has_its_own_budget() {
        let limits = limits(2);
        for _ in 0..2 {
            limits
                .attempt(
                    Some("192.0.2.1"),
                    "app/a@example.com",
                    &["imap.example.com"],
                )
                .unwrap();
        }
        let refused = limits
            .attempt(
                Some("192.0.2.1"),
                "app/b@example.com",
                &["imap.other.example"],
            )
            .unwrap_err();
        assert_eq!(refused.limit, ThrottledBy::ClientAddress);
        assert!(refused.retry_after_secs() >= 1);
        // Another address is not throttled by the first one's attempts…
        let refused = limits
            .attempt(
                Some("192.0.2.2"),
                "app/a@example.com",
                &["imap.other.example"],
            )
            .unwrap_err();
        // …but the account it tries is.
        assert_eq!(refused.limit, ThrottledBy::Account);
        limits
            .attempt(None, "app/c@example.com", &["imap.third.example"])
            .unwrap();
    }

    #[test]
    fn a_mail_server_is_shielded_from_floods() {
        let limits = limits(3);
        for n in 0..3 {
            limits
                .attempt(None, &format!("app/{n}@example.com"), &["imap.example.com"])
                .unwrap();
        }
        let refused = limits
            .attempt(None, "app/9@example.com", &["imap.example.com"])
            .unwrap_err();
        assert_eq!(refused.limit, ThrottledBy::MailServer);
    }
}
