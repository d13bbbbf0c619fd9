//! The caller's address and user agent: recorded on the grants it creates, counted by
//! the sign-in throttles, and kept (anonymised) with tracking hits. Behind a reverse
//! proxy the connection comes from the proxy, so a peer the operator lists in
//! `trusted_proxies` (README.md, "Configuration") is looked through: the client is the
//! rightmost address of the forwarding chain that no trusted proxy added. The chain is
//! RFC 7239's `Forwarded` (its `for=` nodes) where a proxy sent one, else
//! `X-Forwarded-For`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{
        HeaderMap,
        header::{FORWARDED, USER_AGENT},
        request::Parts,
    },
};
use ipnet::IpNet;

use crate::router::AppState;

/// How many entries of the forwarding chain are looked at, from the right.
const MAX_FORWARDED_HOPS: usize = 16;

pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| {
                state
                    .trusted_proxies
                    .client_address(info.0.ip(), &parts.headers)
                    .to_string()
            });
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses and networks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Each entry an address (`10.0.0.5`, `::1`) or a network (`10.0.0.0/8`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("trusted_proxies: '{entry}' is not an IP address or network")
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the
    /// rightmost address of the chain not itself a trusted proxy (entries further left
    /// were written by the client and prove nothing). An entry that is no address
    /// (malformed, `unknown`, an obfuscated name) ends the walk at the last address
    /// known good.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let chain = if headers.contains_key(FORWARDED) {
            header_list(headers, FORWARDED.as_str())
                .map(forwarded_for)
                .collect::<Vec<_>>()
        } else {
            header_list(headers, "x-forwarded-for")
                .map(|entry| entry.trim().parse::<IpAddr>().ok())
                .collect()
        };
        for hop in chain.into_iter().rev().take(MAX_FORWARDED_HOPS) {
            let Some(hop) = hop else {
                break;
            };
            client = hop.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The comma-separated elements of every `name` header, in order; commas inside
/// quoted strings (RFC 9110 §5.6.4) do not separate.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| split_unquoted(v, ','))
}

fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&text[start..at]);
            start = at + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The address of one `Forwarded` element's `for=` node (RFC 7239 §5.2, §6): an IPv4
/// address or a bracketed IPv6 one, either with a port; `None` for anything else.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let node = split_unquoted(element, ';').into_iter().find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let node = node
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(node);
    if let Some(bracketed) = node.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']')?;
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        return address.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let host = node.split_once(':').map_or(node, |(host, _port)| host);
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_str(value).expect("a value"),
            );
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn only_a_trusted_peer_is_looked_through() {
        let proxies =
            TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).expect("parsed");
        let forwarded = headers(&["198.51.100.7"]);
        assert_eq!(
            proxies.client_address(ip("127.0.0.1"), &forwarded),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client_address(ip("203.0.113.9"), &forwarded),
            ip("203.0.113.9"),
            "anyone else's header is ignored"
        );
        assert_eq!(
            TrustedProxies::default().client_address(ip("127.0.0.1"), &forwarded),
            ip("127.0.0.1"),
            "none trusted by default"
        );
        assert_eq!(
            proxies.client_address(ip("::ffff:127.0.0.1"), &forwarded),
            ip("198.51.100.7"),
            "a mapped address is the IPv4 one"
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).expect("parsed");
        // The client claims 1.2.3.4; the edge proxy (10.1.1.1) saw 198.51.100.7.
        let forwarded = headers(&["1.2.3.4, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &forwarded),
            ip("198.51.100.7")
        );
        let garbage = headers(&["1.2.3.4, not-an-address"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &garbage),
            ip("10.0.0.2")
        );
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        // A forged chain of trusted hops is walked only so far.
        let long = vec!["10.0.0.1"; 10_000].join(", ");
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &headers(&[&long])),
            ip("10.0.0.1")
        );
        let all_trusted = headers(&["10.9.9.9, 10.8.8.8"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &all_trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn rfc7239_forwarded_is_read_before_x_forwarded_for() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).expect("parsed");
        let with = |values: &[&str]| {
            let mut headers = headers(&["192.0.2.99"]);
            for value in values {
                headers.append(FORWARDED, HeaderValue::from_str(value).expect("a value"));
            }
            proxies.client_address(ip("10.0.0.2"), &headers)
        };
        // RFC 7239 §4's examples, the client first, then proxies that add themselves.
        assert_eq!(
            with(&["for=192.0.2.60;proto=http;by=203.0.113.43"]),
            ip("192.0.2.60")
        );
        assert_eq!(
            with(&["for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\""]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            with(&["For=\"192.0.2.43:47011\";proto=https", "for=10.1.1.1"]),
            ip("192.0.2.43"),
            "a trusted hop is looked through, names are case-insensitive, ports dropped"
        );
        // What is no address ends the walk where it was.
        assert_eq!(with(&["for=unknown"]), ip("10.0.0.2"));
        assert_eq!(with(&["for=_hidden, for=10.1.1.1"]), ip("10.1.1.1"));
        assert_eq!(
            with(&["for=2001:db8::1"]),
            ip("10.0.0.2"),
            "IPv6 must be bracketed"
        );
        assert_eq!(with(&["for=\"[2001:db8::1]x\""]), ip("10.0.0.2"));
        assert_eq!(
            with(&["proto=https"]),
            ip("10.0.0.2"),
            "an element without for="
        );
        // A comma inside a quoted value does not split the element.
        assert_eq!(
            with(&["for=198.51.100.4;ext=\"a, for=203.0.113.1\""]),
            ip("198.51.100.4")
        );
        // Without Forwarded, X-Forwarded-For is read.
        assert_eq!(with(&[]), ip("192.0.2.99"));
        let long = vec!["for=10.0.0.1"; 10_000].join(", ");
        assert_eq!(with(&[&long]), ip("10.0.0.1"));
    }

    #[test]
    fn entries_must_be_addresses_or_networks() {
        assert!(TrustedProxies::parse(&["::1".into(), "fd00::/8".into()]).is_ok());
        let error = TrustedProxies::parse(&["proxy.example".into()]).expect_err("refused");
        assert!(error.contains("proxy.example"), "{error}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
    }
}
