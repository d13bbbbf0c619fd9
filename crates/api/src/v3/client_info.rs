//! The caller's address and user agent: recorded on the grants it creates, counted by
//! the sign-in throttles, and kept (anonymised) with tracking hits. Behind a reverse
//! proxy the connection comes from the proxy, so a peer the operator lists in
//! `trusted_proxies` (README.md, "Configuration") is looked through: the client is the
//! rightmost `X-Forwarded-For` entry that no trusted proxy added.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header::USER_AGENT, request::Parts},
};
use ipnet::IpNet;

use crate::router::AppState;

/// How many `X-Forwarded-For` entries are looked at, from the right.
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
    /// rightmost `X-Forwarded-For` address not itself a trusted proxy (entries further
    /// left were written by the client and prove nothing). A malformed entry ends the
    /// walk at the last address known good.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for entry in forwarded.iter().rev().take(MAX_FORWARDED_HOPS) {
            let Ok(hop) = entry.trim().parse::<IpAddr>() else {
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
    fn entries_must_be_addresses_or_networks() {
        assert!(TrustedProxies::parse(&["::1".into(), "fd00::/8".into()]).is_ok());
        let error = TrustedProxies::parse(&["proxy.example".into()]).expect_err("refused");
        assert!(error.contains("proxy.example"), "{error}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
    }
}
