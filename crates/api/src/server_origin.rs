//! Which mail servers belong to an email address's domain. A password that such a server
//! accepts proves the address; a server anyone can run proves nothing. Hosted sign-in uses
//! only servers of the domain unless the application allows others, and a grant's
//! `email_verified` says which it was (README, "Security model").
//!
//! A server belongs to the domain when it is
//! - the known provider's for the domain (or for the provider of its MX hosts),
//! - announced by the domain in DNS (SRV, RFC 6186) or in its autoconfiguration document,
//! - or, on the ports mail uses (IMAP 143/993, SMTP 25/465/587), a host under the domain
//!   itself (`imap.<domain>`, `mail.<domain>`) or under its mail exchanger's parent
//!   domain (`mx1.host.example` → `imap.host.example`).
//!
//! The same lookups give the servers the sign-in page suggests.

use mailroom_model::{
    EmailAddress, MailServerSettings, ServerEndpoint, TransportSecurity, known_providers,
};
use mailroom_net::{DiscoveredServer, DiscoveredTls, fetch_autoconfig};

use crate::router::AppState;

/// The longest a lookup of the domain's autoconfiguration document may take.
const AUTOCONFIG_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

const IMAP_PORTS: &[u16] = &[143, 993];
const SMTP_PORTS: &[u16] = &[25, 465, 587];

/// Two-label public suffixes under which a mail exchanger's parent says nothing about who
/// runs it (`mx.example.co.uk` → `example.co.uk` is fine, `example.co.uk` → `co.uk` is not).
const SHARED_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp",
    "or.jp", "com.br", "com.cn", "com.mx", "co.in", "co.za", "com.tr", "com.tw",
];

/// One server the domain names: host, port and how it is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedServer {
    pub host: String,
    pub port: u16,
    pub security: TransportSecurity,
}

/// What the domain of an email address says about its mail servers.
#[derive(Debug, Clone, Default)]
pub struct DomainServers {
    email: String,
    domain: String,
    /// Servers named exactly, best first.
    imap: Vec<NamedServer>,
    smtp: Vec<NamedServer>,
    /// Domains whose hosts are the domain's own on the usual ports.
    host_domains: Vec<String>,
    /// Whether the autoconfiguration document was read already.
    autoconfig_read: bool,
    /// The OAuth provider of the known provider hosting the domain, if any.
    oauth: Option<mailroom_model::OAuthProvider>,
}

impl DomainServers {
    /// Known providers and DNS (SRV and MX); the autoconfiguration document is read only
    /// when this is not enough (see [`DomainServers::vouch`] and
    /// [`DomainServers::suggestion`]).
    pub async fn look_up(state: &AppState, email: &EmailAddress) -> Self {
        let domain = email.domain().trim_end_matches('.').to_ascii_lowercase();
        let mut found = DomainServers {
            email: email.to_string(),
            host_domains: vec![domain.clone()],
            domain,
            ..Default::default()
        };
        if let Some(known) = known_providers::lookup(&found.domain) {
            found.add_provider(known);
            return found;
        }
        let announced = state.discovery.announced(&found.domain).await;
        found.imap.extend(announced.imap.into_iter().map(named));
        found.smtp.extend(announced.smtp.into_iter().map(named));
        for mx in &announced.mx {
            if let Some(provider) = known_providers::lookup_by_mx(mx) {
                found.add_provider(provider);
            } else if let Some(parent) = exchanger_domain(mx) {
                found.host_domains.push(parent);
            }
        }
        found
    }

    /// Whether this lookup was made for `email`'s domain.
    pub fn is_for(&self, email: &EmailAddress) -> bool {
        self.domain == email.domain().trim_end_matches('.').to_ascii_lowercase()
    }

    /// Whether both servers of `settings` belong to the domain; reads the domain's
    /// autoconfiguration document if nothing else vouches for them.
    pub async fn vouch(&mut self, state: &AppState, settings: &MailServerSettings) -> bool {
        if self.vouches_for(settings) {
            return true;
        }
        self.read_autoconfig(state).await;
        self.vouches_for(settings)
    }

    fn vouches_for(&self, settings: &MailServerSettings) -> bool {
        self.owns(&self.imap, IMAP_PORTS, settings.imap())
            && self.owns(&self.smtp, SMTP_PORTS, settings.smtp())
    }

    fn owns(&self, named: &[NamedServer], ports: &[u16], endpoint: ServerEndpoint<'_>) -> bool {
        let host = endpoint.host.trim_end_matches('.').to_ascii_lowercase();
        named
            .iter()
            .any(|server| server.host == host && server.port == endpoint.port)
            || (ports.contains(&endpoint.port)
                && self
                    .host_domains
                    .iter()
                    .any(|domain| host == *domain || host.ends_with(&format!(".{domain}"))))
    }

    /// The servers the sign-in page suggests: the best the domain names, else the usual
    /// names under the domain with implicit TLS.
    pub async fn suggestion(&mut self, state: &AppState) -> (NamedServer, NamedServer) {
        if self.imap.is_empty() || self.smtp.is_empty() {
            self.read_autoconfig(state).await;
        }
        let guess = |name: &str, port| NamedServer {
            host: format!("{name}.{}", self.domain),
            port,
            security: TransportSecurity::Ssl,
        };
        (
            self.imap
                .first()
                .cloned()
                .unwrap_or_else(|| guess("imap", 993)),
            self.smtp
                .first()
                .cloned()
                .unwrap_or_else(|| guess("smtp", 465)),
        )
    }

    async fn read_autoconfig(&mut self, state: &AppState) {
        if self.autoconfig_read {
            return;
        }
        self.autoconfig_read = true;
        let document = tokio::time::timeout(
            AUTOCONFIG_WAIT,
            fetch_autoconfig(&state.policy, &self.domain, &self.email),
        )
        .await;
        if let Ok(Some(document)) = document {
            self.imap.extend(document.imap.map(named));
            self.smtp.extend(document.smtp.map(named));
        }
    }

    /// The OAuth provider the domain's mailboxes sign in with (Gmail and Google
    /// Workspace, Outlook.com and Microsoft 365, Yahoo), if mailroom knows one.
    pub fn oauth_provider(&self) -> Option<mailroom_model::OAuthProvider> {
        self.oauth
    }

    fn add_provider(&mut self, provider: known_providers::KnownProvider) {
        self.oauth = self.oauth.or(provider.oauth);
        self.imap.push(NamedServer {
            host: provider.imap_host.to_owned(),
            port: provider.imap_port,
            security: provider.imap_security,
        });
        self.smtp.push(NamedServer {
            host: provider.smtp_host.to_owned(),
            port: provider.smtp_port,
            security: provider.smtp_security,
        });
    }
}

fn named(server: DiscoveredServer) -> NamedServer {
    NamedServer {
        host: server.host.to_ascii_lowercase(),
        port: server.port,
        security: match server.tls {
            DiscoveredTls::Implicit => TransportSecurity::Ssl,
            DiscoveredTls::StartTls => TransportSecurity::Starttls,
        },
    }
}

/// The domain a mail exchanger's operator owns: its name without the first label, when
/// that still names one organisation (at least two labels, not a shared suffix).
fn exchanger_domain(mx_host: &str) -> Option<String> {
    let host = mx_host.trim_end_matches('.').to_ascii_lowercase();
    let (_, parent) = host.split_once('.')?;
    let labels = parent.split('.').count();
    (labels >= 2 && !SHARED_SUFFIXES.contains(&parent)).then(|| parent.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(imap: (&str, u16), smtp: (&str, u16)) -> MailServerSettings {
        MailServerSettings {
            imap_username: "a@example.com".into(),
            imap_host: imap.0.into(),
            imap_port: imap.1,
            imap_security: TransportSecurity::Ssl,
            smtp_username: "a@example.com".into(),
            smtp_host: smtp.0.into(),
            smtp_port: smtp.1,
            smtp_security: TransportSecurity::Ssl,
        }
    }

    fn domain_servers() -> DomainServers {
        DomainServers {
            email: "a@example.com".into(),
            domain: "example.com".into(),
            imap: vec![NamedServer {
                host: "mail.hoster.example".into(),
                port: 10993,
                security: TransportSecurity::Ssl,
            }],
            smtp: vec![],
            host_domains: vec!["example.com".into(), "mxhost.example".into()],
            autoconfig_read: true,
            oauth: None,
        }
    }

    #[test]
    fn hosts_of_the_domain_on_mail_ports_belong_to_it() {
        let found = domain_servers();
        assert!(found.vouches_for(&settings(
            ("imap.example.com", 993),
            ("smtp.example.com", 465)
        )));
        assert!(found.vouches_for(&settings(("example.com", 143), ("mx1.mxhost.example", 587))));
        assert!(found.vouches_for(&settings(
            ("mail.hoster.example", 10993),
            ("smtp.example.com", 25)
        )));
    }

    #[test]
    fn other_hosts_and_odd_ports_do_not() {
        let found = domain_servers();
        for (imap, smtp) in [
            (("imap.evil.example", 993), ("smtp.example.com", 465)),
            (("imap.example.com", 993), ("smtp.evil.example", 465)),
            (("evilexample.com", 993), ("smtp.example.com", 465)),
            (("127.0.0.1", 993), ("smtp.example.com", 465)),
            (("imap.example.com", 22), ("smtp.example.com", 465)),
            (("mail.hoster.example", 993), ("smtp.example.com", 465)),
        ] {
            assert!(
                !found.vouches_for(&settings(imap, smtp)),
                "{imap:?} {smtp:?}"
            );
        }
    }

    #[test]
    fn an_exchangers_parent_names_its_operator_unless_shared() {
        assert_eq!(
            exchanger_domain("mx1.hoster.example."),
            Some("hoster.example".into())
        );
        assert_eq!(
            exchanger_domain("mx.example.co.uk"),
            Some("example.co.uk".into())
        );
        assert_eq!(exchanger_domain("example.co.uk"), None);
        assert_eq!(exchanger_domain("localhost"), None);
        assert_eq!(exchanger_domain("mx.com"), None);
    }
}
