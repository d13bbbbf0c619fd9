//! Redirect (callback) URIs an application registers for hosted authentication, checked
//! once here: by the API (`/v3/applications/redirect-uris`) and the CLI
//! (`app create --callback-uri`, `app callback-uri add`) alike.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The longest redirect URI accepted; browsers and providers cap URLs near here.
const MAX_URL_LEN: usize = 2048;

/// Where the application that receives the redirect runs (Nylas's `platform`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RedirectPlatform {
    #[default]
    Web,
    Desktop,
    Js,
    Ios,
    Android,
}

pub const REDIRECT_PLATFORMS: &str = "web, desktop, js, ios, android";

impl RedirectPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            RedirectPlatform::Web => "web",
            RedirectPlatform::Desktop => "desktop",
            RedirectPlatform::Js => "js",
            RedirectPlatform::Ios => "ios",
            RedirectPlatform::Android => "android",
        }
    }

    /// Browser-based platforms redirect to a web page; mobile apps may also use a deep
    /// link with a scheme of their own (`com.example.app://callback`).
    fn needs_http(self) -> bool {
        matches!(
            self,
            RedirectPlatform::Web | RedirectPlatform::Desktop | RedirectPlatform::Js
        )
    }
}

impl FromStr for RedirectPlatform {
    type Err = RedirectUrlError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "web" => Ok(RedirectPlatform::Web),
            "desktop" => Ok(RedirectPlatform::Desktop),
            "js" => Ok(RedirectPlatform::Js),
            "ios" => Ok(RedirectPlatform::Ios),
            "android" => Ok(RedirectPlatform::Android),
            _ => Err(RedirectUrlError::UnknownPlatform(shorten(value))),
        }
    }
}

impl fmt::Display for RedirectPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUrlError {
    #[error("unknown platform '{0}'; use one of {REDIRECT_PLATFORMS}")]
    UnknownPlatform(String),
    #[error("a redirect URI must not be empty")]
    Empty,
    #[error("a redirect URI must be at most {MAX_URL_LEN} characters long")]
    TooLong,
    #[error("redirect URI '{0}' must not contain spaces or control characters")]
    Whitespace(String),
    #[error("redirect URI '{0}' must not contain a fragment ('#…')")]
    Fragment(String),
    #[error(
        "redirect URI '{url}' must be an absolute http:// or https:// URL for platform '{platform}'"
    )]
    NotHttp {
        url: String,
        platform: RedirectPlatform,
    },
    #[error("redirect URI '{0}' is not absolute: it needs a scheme, such as https:// or myapp://")]
    NoScheme(String),
    #[error("redirect URI '{0}' uses a scheme that runs or shows content in place of a redirect")]
    UnsafeScheme(String),
    #[error("redirect URI '{0}' has no valid host")]
    NoHost(String),
}

/// A redirect URI valid for its platform: absolute, without a fragment (RFC 6749
/// §3.1.2) or whitespace, and http(s) with a host for the browser platforms. It is
/// later compared exactly, so it is kept as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl {
    url: String,
    platform: RedirectPlatform,
}

impl RedirectUrl {
    pub fn parse(url: &str, platform: RedirectPlatform) -> Result<Self, RedirectUrlError> {
        if url.is_empty() {
            return Err(RedirectUrlError::Empty);
        }
        if url.len() > MAX_URL_LEN {
            return Err(RedirectUrlError::TooLong);
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RedirectUrlError::Whitespace(shorten(url)));
        }
        if url.contains('#') {
            return Err(RedirectUrlError::Fragment(shorten(url)));
        }
        let (scheme, rest) = url
            .split_once(':')
            .filter(|(scheme, rest)| is_scheme(scheme) && !rest.is_empty())
            .ok_or_else(|| RedirectUrlError::NoScheme(shorten(url)))?;
        // Schemes that would run script or show content in the browser instead of
        // handing the code to an application.
        if UNSAFE_SCHEMES
            .iter()
            .any(|unsafe_scheme| scheme.eq_ignore_ascii_case(unsafe_scheme))
        {
            return Err(RedirectUrlError::UnsafeScheme(shorten(url)));
        }
        let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        if platform.needs_http() && !http {
            return Err(RedirectUrlError::NotHttp {
                url: shorten(url),
                platform,
            });
        }
        if http && !has_host(rest) {
            return Err(RedirectUrlError::NoHost(shorten(url)));
        }
        Ok(Self {
            url: url.to_owned(),
            platform,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn platform(&self) -> RedirectPlatform {
        self.platform
    }
}

const UNSAFE_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "data",
    "blob",
    "file",
    "about",
    "view-source",
];

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `//host[:port]…` with a non-empty host and, if given, a numeric port.
fn has_host(after_scheme: &str) -> bool {
    let Some(rest) = after_scheme.strip_prefix("//") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = match host_port.rsplit_once(':') {
        // An IPv6 literal keeps its colons inside brackets.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (host_port, None),
    };
    !host.is_empty() && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

fn shorten(value: &str) -> String {
    value.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use RedirectPlatform::*;

    #[test]
    fn browser_platforms_take_absolute_http_urls() {
        for (url, platform) in [
            ("https://example.com/callback", Web),
            ("http://localhost:3000/cb?x=1", Web),
            ("HTTPS://Example.com", Js),
            ("http://[::1]:8080/cb", Desktop),
            ("com.example.app://oauth/callback", Ios),
            ("myapp:/callback", Android),
            ("https://example.com/app-link", Android),
        ] {
            let parsed = RedirectUrl::parse(url, platform).unwrap();
            assert_eq!(parsed.as_str(), url);
            assert_eq!(parsed.platform(), platform);
        }
    }

    #[test]
    fn what_cannot_be_a_redirect_uri_is_refused() {
        let refused = |url: &str, platform| RedirectUrl::parse(url, platform).unwrap_err();
        assert_eq!(refused("", Web), RedirectUrlError::Empty);
        assert!(matches!(
            refused("/callback", Web),
            RedirectUrlError::NoScheme(_)
        ));
        assert!(matches!(
            refused("example.com/cb", Ios),
            RedirectUrlError::NoScheme(_)
        ));
        assert!(matches!(
            refused("https://example.com/cb#top", Web),
            RedirectUrlError::Fragment(_)
        ));
        assert!(matches!(
            refused("https://example.com/a b", Web),
            RedirectUrlError::Whitespace(_)
        ));
        assert!(matches!(
            refused("myapp://callback", Web),
            RedirectUrlError::NotHttp { .. }
        ));
        assert!(matches!(
            refused("ftp://example.com", Js),
            RedirectUrlError::NotHttp { .. }
        ));
        for dangerous in [
            "javascript:alert(1)",
            "JavaScript://x",
            "data:text/html,x",
            "file:///etc",
        ] {
            assert!(matches!(
                refused(dangerous, RedirectPlatform::Ios),
                RedirectUrlError::UnsafeScheme(_)
            ));
        }
        for no_host in [
            "https://",
            "https:///path",
            "http:example.com",
            "https://h:99999/",
        ] {
            assert!(
                matches!(refused(no_host, Web), RedirectUrlError::NoHost(_)),
                "{no_host}"
            );
        }
        assert_eq!(
            refused(&format!("https://e.com/{}", "a".repeat(2048)), Web),
            RedirectUrlError::TooLong
        );
    }

    #[test]
    fn platforms_parse_in_any_case_and_print_lower_case() {
        assert_eq!("Android".parse::<RedirectPlatform>().unwrap(), Android);
        assert_eq!(Js.to_string(), "js");
        assert!(matches!(
            "windows".parse::<RedirectPlatform>(),
            Err(RedirectUrlError::UnknownPlatform(_))
        ));
    }
}
