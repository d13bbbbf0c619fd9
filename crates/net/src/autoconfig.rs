//! A domain's mail autoconfiguration document (the `config-v1.1.xml` format that mail
//! clients read): `https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=…`, then
//! `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml`. Fetched over HTTPS only
//! and under the outbound policy (verified TLS, no private addresses unless allowed, the
//! policy's timeout), at most 64 KiB, and never followed through redirects.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, body::Bytes};
use hyper_util::rt::TokioIo;

use crate::{
    discovery::{DiscoveredServer, DiscoveredServers, DiscoveredTls},
    outbound::OutboundPolicy,
};

const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The servers a domain's autoconfiguration document describes, if one can be fetched.
pub async fn fetch_autoconfig(
    policy: &OutboundPolicy,
    domain: &str,
    email: &str,
) -> Option<DiscoveredServers> {
    let domain = domain.trim_end_matches('.');
    let query: String = url_encode(email);
    let places = [
        (
            format!("autoconfig.{domain}"),
            format!("/mail/config-v1.1.xml?emailaddress={query}"),
        ),
        (
            domain.to_owned(),
            "/.well-known/autoconfig/mail/config-v1.1.xml".to_owned(),
        ),
    ];
    for (host, path) in places {
        let Some(document) = fetch(policy, &host, &path).await else {
            continue;
        };
        let servers = parse_autoconfig(&document);
        if servers.imap.is_some() || servers.smtp.is_some() {
            return Some(servers);
        }
    }
    None
}

async fn fetch(policy: &OutboundPolicy, host: &str, path: &str) -> Option<String> {
    let exchange = async {
        let tcp = policy.connect(host, 443).await.ok()?;
        let tls = policy.tls_handshake(host, 443, tcp).await.ok()?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .ok()?;
        // Ended with the exchange, also when the deadline below cuts it short.
        let _connection = AbortConnection(tokio::spawn(connection));
        let request = Request::get(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "mailroom")
            .body(Empty::<Bytes>::new())
            .ok()?;
        let response = sender.send_request(request).await.ok()?;
        if response.status() != StatusCode::OK {
            return None;
        }
        let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
            .collect()
            .await
            .ok()?
            .to_bytes();
        String::from_utf8(body.to_vec()).ok()
    };
    tokio::time::timeout(policy.timeout(), exchange)
        .await
        .ok()
        .flatten()
}

/// Aborts the spawned connection task when dropped.
struct AbortConnection<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortConnection<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The first IMAP incoming and SMTP outgoing server of a `config-v1.1.xml` document that
/// use TLS (implicit or STARTTLS); plaintext entries are passed over.
pub fn parse_autoconfig(document: &str) -> DiscoveredServers {
    let Ok(xml) = roxmltree::Document::parse(document) else {
        return DiscoveredServers::default();
    };
    let server = |element: &str, kind: &str| {
        xml.descendants()
            .filter(|node| node.has_tag_name(element) && node.attribute("type") == Some(kind))
            .find_map(|node| {
                let text = |name: &str| {
                    node.children()
                        .find(|child| child.has_tag_name(name))
                        .and_then(|child| child.text())
                        .map(str::trim)
                };
                let tls = match text("socketType")?.to_ascii_uppercase().as_str() {
                    "SSL" | "TLS" => DiscoveredTls::Implicit,
                    "STARTTLS" => DiscoveredTls::StartTls,
                    _ => return None,
                };
                let host = text("hostname")?.trim_end_matches('.').to_owned();
                let port = text("port")?.parse().ok().filter(|p| *p != 0)?;
                (!host.is_empty() && !host.contains('%')).then_some(DiscoveredServer {
                    host,
                    port,
                    tls,
                })
            })
    };
    DiscoveredServers {
        imap: server("incomingServer", "imap"),
        smtp: server("outgoingServer", "smtp"),
    }
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape mail providers publish (after the format's documentation).
    const DOCUMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <incomingServer type="pop3">
      <hostname>pop.example.org</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap-plain.example.org</hostname><port>143</port><socketType>plain</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.org</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.org</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>"#;

    #[test]
    fn the_first_tls_imap_and_smtp_servers_are_taken() {
        let servers = parse_autoconfig(DOCUMENT);
        assert_eq!(
            servers.imap,
            Some(DiscoveredServer {
                host: "imap.example.org".into(),
                port: 993,
                tls: DiscoveredTls::Implicit
            })
        );
        assert_eq!(
            servers.smtp,
            Some(DiscoveredServer {
                host: "smtp.example.org".into(),
                port: 587,
                tls: DiscoveredTls::StartTls
            })
        );
    }

    #[test]
    fn broken_or_placeholder_documents_give_nothing() {
        assert_eq!(
            parse_autoconfig("<clientConfig"),
            DiscoveredServers::default()
        );
        let placeholder = DOCUMENT.replace("imap.example.org", "%EMAILDOMAIN%");
        assert_eq!(parse_autoconfig(&placeholder).imap, None);
        assert_eq!(url_encode("a+b@example.org"), "a%2Bb%40example.org");
    }
}
