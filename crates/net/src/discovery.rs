//! Finding a domain's mail servers from DNS SRV records (RFC 6186), preferring implicit
//! TLS as RFC 8314 asks: `_imaps._tcp` over `_imap._tcp` (STARTTLS), `_submissions._tcp`
//! over `_submission._tcp` (STARTTLS). A target of `.` says the service is not offered.
//! Lookups use the system's resolver, or one DNS server named in the settings.

use std::{net::SocketAddr, time::Duration};

use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
    proto::rr::RData,
};

/// How a discovered server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveredTls {
    Implicit,
    StartTls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredServer {
    pub host: String,
    pub port: u16,
    pub tls: DiscoveredTls,
}

/// What DNS says about a domain's IMAP and submission servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveredServers {
    pub imap: Option<DiscoveredServer>,
    pub smtp: Option<DiscoveredServer>,
}

/// Every server a domain names in DNS: the targets of all its IMAP and submission SRV
/// records (RFC 6186), best first, and its MX hosts (RFC 5321 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnouncedServers {
    pub imap: Vec<DiscoveredServer>,
    pub smtp: Vec<DiscoveredServer>,
    pub mx: Vec<String>,
}

/// A DNS resolver for discovery.
#[derive(Clone)]
pub struct MailDiscovery {
    resolver: TokioResolver,
}

impl std::fmt::Debug for MailDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailDiscovery")
    }
}

/// How long one lookup may take; discovery is a convenience, never a wait.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

impl MailDiscovery {
    /// The system's resolver (`/etc/resolv.conf`), or the DNS server at `server`.
    pub fn new(server: Option<SocketAddr>) -> Result<Self, String> {
        let mut builder = match server {
            Some(address) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = address.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = address.port();
                let name_server = NameServerConfig::new(address.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![name_server]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?,
        };
        builder.options_mut().timeout = LOOKUP_TIMEOUT;
        builder.options_mut().attempts = 1;
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot set up DNS resolution: {e}"))?;
        Ok(Self { resolver })
    }

    /// Every SRV target and MX host of a domain (what cannot be looked up is left out).
    pub async fn announced(&self, domain: &str) -> AnnouncedServers {
        let domain = domain.trim_end_matches('.');
        let services = |kinds: [(&str, DiscoveredTls); 2]| {
            kinds.map(|(service, tls)| (format!("{service}.{domain}."), tls))
        };
        let imap = services([
            ("_imaps._tcp", DiscoveredTls::Implicit),
            ("_imap._tcp", DiscoveredTls::StartTls),
        ]);
        let smtp = services([
            ("_submissions._tcp", DiscoveredTls::Implicit),
            ("_submission._tcp", DiscoveredTls::StartTls),
        ]);
        let (imap, smtp, mx) = tokio::join!(
            self.all_of(&imap),
            self.all_of(&smtp),
            self.mx_hosts(domain)
        );
        AnnouncedServers { imap, smtp, mx }
    }

    async fn all_of(&self, services: &[(String, DiscoveredTls)]) -> Vec<DiscoveredServer> {
        let mut found = Vec::new();
        for (name, tls) in services {
            let Ok(Ok(lookup)) =
                tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.srv_lookup(name.as_str())).await
            else {
                continue;
            };
            let records: Vec<(u16, u16, u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::SRV(srv) => {
                        Some((srv.priority, srv.weight, srv.port, srv.target.to_utf8()))
                    }
                    _ => None,
                })
                .collect();
            found.extend(ordered_targets(records, *tls));
        }
        found
    }

    async fn mx_hosts(&self, domain: &str) -> Vec<String> {
        let name = format!("{domain}.");
        let Ok(Ok(lookup)) =
            tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.mx_lookup(name.as_str())).await
        else {
            return Vec::new();
        };
        let mut hosts: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some((
                    mx.preference,
                    mx.exchange
                        .to_utf8()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                )),
                _ => None,
            })
            .filter(|(_, host)| !host.is_empty())
            .collect();
        hosts.sort();
        hosts.into_iter().map(|(_, host)| host).collect()
    }
}

/// The records' servers, best first: lowest priority, then highest weight (no random
/// choice: the page shows one server). A lone `.` target means "not offered".
fn ordered_targets(
    mut records: Vec<(u16, u16, u16, String)>,
    tls: DiscoveredTls,
) -> Vec<DiscoveredServer> {
    records.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    records
        .into_iter()
        .filter_map(|(_, _, port, target)| {
            let host = target.trim_end_matches('.').to_ascii_lowercase();
            (!host.is_empty() && port != 0).then_some(DiscoveredServer { host, port, tls })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_priority_then_the_heaviest_wins() {
        let ordered = ordered_targets(
            vec![
                (20, 100, 993, "backup.example.".into()),
                (10, 1, 993, "light.example.".into()),
                (10, 50, 993, "Heavy.example.".into()),
            ],
            DiscoveredTls::Implicit,
        );
        let hosts: Vec<&str> = ordered.iter().map(|s| s.host.as_str()).collect();
        assert_eq!(hosts, ["heavy.example", "light.example", "backup.example"]);
        assert!(ordered.iter().all(|s| s.port == 993));
    }

    #[test]
    fn a_dot_target_means_not_offered() {
        assert_eq!(
            ordered_targets(vec![(0, 0, 0, ".".into())], DiscoveredTls::StartTls),
            []
        );
        assert_eq!(ordered_targets(vec![], DiscoveredTls::StartTls), []);
    }
}
