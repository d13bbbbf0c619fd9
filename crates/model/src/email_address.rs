//! A syntactically plausible email address, normalised for comparison.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not an email address")]
pub struct InvalidEmailAddress(pub String);

/// An address of the form `local@domain`, lower-cased: mail servers treat logins
/// case-insensitively, and one grant per email must not split on case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(value: &str) -> Result<Self, InvalidEmailAddress> {
        let trimmed = value.trim();
        let invalid = || InvalidEmailAddress(trimmed.chars().take(320).collect());
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        if domain_ok && local_ok {
            Ok(Self(trimmed.to_lowercase()))
        } else {
            Err(invalid())
        }
    }

    /// Wraps an address read back from the store, where only parsed addresses are written.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lower_cased() {
        let a = EmailAddress::parse(" Jane.Doe@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "jane.doe@example.com");
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn non_addresses_are_refused() {
        for bad in [
            "",
            "jane",
            "@example.com",
            "jane@",
            "ja ne@example.com",
            "jane@.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
