//! How much of a mailbox sync takes in: which mail is indexed at all (`sync_since`) and
//! which bodies are read in the background (`sync_bodies`); bodies left out are read on
//! demand, when the API or a webhook needs them.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, Days, NaiveDate};

const SECONDS_PER_DAY: i64 = 86_400;

/// Which message bodies are read in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodySync {
    /// Every message's.
    #[default]
    All,
    /// Those of messages dated within the last N days.
    RecentDays(u32),
    /// None: bodies are read only when asked for.
    None,
}

impl BodySync {
    /// Whether bodies are read in the background at all.
    pub fn reads_any(self) -> bool {
        self != Self::None
    }

    /// The oldest message date (unix seconds) whose body is read in the background, if
    /// there is a bound.
    pub fn oldest_date(self, now: i64) -> Option<i64> {
        match self {
            Self::RecentDays(days) => Some(now.saturating_sub(i64::from(days) * SECONDS_PER_DAY)),
            Self::All | Self::None => None,
        }
    }
}

impl FromStr for BodySync {
    type Err = String;

    /// `all`, `none` or `recent_days:N`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "all" => Ok(Self::All),
            "none" => Ok(Self::None),
            other => recent_days(other).map(Self::RecentDays).ok_or_else(|| {
                format!("'{other}' is not one of all, none, recent_days:N (N days, at least 1)")
            }),
        }
    }
}

impl fmt::Display for BodySync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::None => f.write_str("none"),
            Self::RecentDays(days) => write!(f, "recent_days:{days}"),
        }
    }
}

/// Only mail received on or after this day is indexed (IMAP `SINCE`, RFC 3501 §6.4.4:
/// by INTERNALDATE, the day in the server's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncSince {
    /// A fixed day.
    Date(NaiveDate),
    /// The day N days before today (UTC), moving with time.
    RecentDays(u32),
}

impl SyncSince {
    /// The first day indexed, as of `now` (unix seconds).
    pub fn first_day(self, now: i64) -> NaiveDate {
        match self {
            Self::Date(day) => day,
            Self::RecentDays(days) => DateTime::from_timestamp(now, 0)
                .map(|t| t.date_naive())
                .and_then(|today| today.checked_sub_days(Days::new(u64::from(days))))
                .unwrap_or(NaiveDate::MIN),
        }
    }

    /// The `SEARCH` key that names the mail indexed, e.g. `SINCE 1-Feb-2024`
    /// (RFC 3501 §9: `date-day "-" date-month "-" date-year`).
    pub fn search_key(self, now: i64) -> String {
        format!("SINCE {}", self.first_day(now).format("%-d-%b-%Y"))
    }
}

impl FromStr for SyncSince {
    type Err = String;

    /// `YYYY-MM-DD` or `recent_days:N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(days) = recent_days(text) {
            return Ok(Self::RecentDays(days));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            // IMAP dates have four-digit years.
            .filter(|d| (1..=9999).contains(&d.year()))
            .map(Self::Date)
            .ok_or_else(|| format!("'{text}' is neither a date (YYYY-MM-DD) nor recent_days:N"))
    }
}

impl fmt::Display for SyncSince {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Date(day) => write!(f, "{}", day.format("%Y-%m-%d")),
            Self::RecentDays(days) => write!(f, "recent_days:{days}"),
        }
    }
}

/// N of `recent_days:N`, when N is a whole number of at least one day.
fn recent_days(text: &str) -> Option<u32> {
    let days: u32 = text.strip_prefix("recent_days:")?.trim().parse().ok()?;
    (days > 0).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_sync_reads_all_none_or_recent_days() {
        assert_eq!("all".parse(), Ok(BodySync::All));
        assert_eq!("none".parse(), Ok(BodySync::None));
        assert_eq!("recent_days:30".parse(), Ok(BodySync::RecentDays(30)));
        for bad in [
            "",
            "some",
            "recent_days:",
            "recent_days:0",
            "recent_days:-1",
        ] {
            assert!(bad.parse::<BodySync>().is_err(), "{bad}");
        }
        assert_eq!(
            BodySync::RecentDays(2).oldest_date(1_000_000),
            Some(827_200)
        );
        assert_eq!(BodySync::All.oldest_date(1_000_000), None);
        assert!(!BodySync::None.reads_any());
    }

    #[test]
    fn sync_since_names_an_imap_date() {
        let fixed: SyncSince = "2024-02-01".parse().unwrap();
        assert_eq!(fixed.search_key(0), "SINCE 1-Feb-2024");
        let moving: SyncSince = "recent_days:90".parse().unwrap();
        // 2026-11-01T12:00:00Z
        assert_eq!(moving.search_key(1_793_534_400), "SINCE 3-Aug-2026");
        for bad in ["", "2024-13-01", "01-02-2024", "recent_days:0", "yesterday"] {
            assert!(bad.parse::<SyncSince>().is_err(), "{bad}");
        }
        assert_eq!(fixed.to_string(), "2024-02-01");
        assert_eq!(moving.to_string(), "recent_days:90");
    }
}
