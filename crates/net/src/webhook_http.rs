//! HTTP to webhook receivers, under the outbound policy: http or https only (plain http
//! only if insecure transport is allowed), no loopback or private addresses unless
//! allowed, connections from the bind address, verified TLS, one deadline for the whole
//! exchange, redirects never followed (a 3xx is just a status), response bodies read up
//! to a limit. Used for the challenge handshake and by delivery (POST + signature), and
//! for requests to OAuth token endpoints (`oauth_token`), which need the same care.

use std::time::Duration;

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, body::Bytes};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use url::{Position, Url};

use crate::outbound::{NetError, OutboundPolicy};

/// How long a receiver has to answer the challenge (docs/API.md §6.4), and a delivery.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// The header that carries the signature of a delivery.
pub const SIGNATURE_HEADER: &str = "X-Nylas-Signature";
/// The most of a challenge answer that is read: a challenge is a few dozen characters.
const MAX_CHALLENGE_ANSWER_BYTES: usize = 4 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WebhookHttpError {
    #[error("'{url}' is not a valid webhook URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("webhook URLs must use http or https, not '{0}'")]
    UnsupportedScheme(String),
    #[error(
        "plain http webhook URLs are refused; use https, or set allow_insecure_transport (MAILROOM_ALLOW_INSECURE_TRANSPORT=true)"
    )]
    InsecureUrl,
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("the HTTP server did not answer within {seconds} s")]
    Timeout { seconds: u64 },
    #[error("the HTTP exchange failed: {0}")]
    Protocol(String),
    #[error("the HTTP answer is longer than {limit} bytes")]
    BodyTooLarge { limit: usize },
}

impl WebhookHttpError {
    /// Whether the URL itself is not acceptable (as opposed to the receiver failing).
    pub fn is_refused_url(&self) -> bool {
        match self {
            WebhookHttpError::InvalidUrl { .. }
            | WebhookHttpError::UnsupportedScheme(_)
            | WebhookHttpError::InsecureUrl => true,
            WebhookHttpError::Net(e) => e.is_policy(),
            _ => false,
        }
    }
}

/// Why a challenge handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error(transparent)]
    Http(#[from] WebhookHttpError),
    #[error(
        "the receiver answered the challenge with HTTP {0}, not 200 (redirects are not followed)"
    )]
    Status(u16),
    #[error("the receiver's body was not exactly the challenge value")]
    WrongAnswer,
}

/// A webhook URL that was checked for its shape (not yet for where it resolves to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: Url,
    /// The host as resolved and verified: no brackets around IPv6 literals.
    host: String,
    port: u16,
    https: bool,
}

impl WebhookUrl {
    pub fn parse(text: &str) -> Result<Self, WebhookHttpError> {
        let invalid = |reason: &str| WebhookHttpError::InvalidUrl {
            url: text.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(WebhookHttpError::UnsupportedScheme(other.to_owned())),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("credentials in the URL are not accepted"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(domain)) => domain.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid("it has no host")),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| invalid("it has no port"))?;
        Ok(Self {
            url,
            host,
            port,
            https,
        })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The same URL with `key=value` added to its query.
    pub fn with_query_pair(&self, key: &str, value: &str) -> Self {
        let mut with = self.clone();
        with.url.query_pairs_mut().append_pair(key, value);
        with
    }

    fn request_target(&self) -> &str {
        &self.url[Position::BeforePath..Position::AfterQuery]
    }

    fn host_header(&self) -> &str {
        &self.url[Position::BeforeHost..Position::AfterPort]
    }
}

/// A receiver's answer: its status and at most the requested number of body bytes.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub body: Bytes,
}

/// `GET url`.
pub async fn webhook_get(
    policy: &OutboundPolicy,
    url: &WebhookUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<HttpReply, WebhookHttpError> {
    exchange(policy, url, "GET", &[], Bytes::new(), timeout, max_body).await
}

/// `GET url` with extra `headers` (a provider's userinfo endpoint: its access token).
pub async fn webhook_get_with(
    policy: &OutboundPolicy,
    url: &WebhookUrl,
    headers: &[(&str, &str)],
    timeout: Duration,
    max_body: usize,
) -> Result<HttpReply, WebhookHttpError> {
    exchange(policy, url, "GET", headers, Bytes::new(), timeout, max_body).await
}

/// `POST url` with `body` and extra `headers` (a delivery: content type, signature).
pub async fn webhook_post(
    policy: &OutboundPolicy,
    url: &WebhookUrl,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
    max_body: usize,
) -> Result<HttpReply, WebhookHttpError> {
    exchange(policy, url, "POST", headers, body, timeout, max_body).await
}

/// The handshake before a destination becomes active: `GET url?challenge=<challenge>`
/// must answer 200 with exactly the challenge as its body, within the policy's timeout
/// and at most 10 s.
pub async fn run_challenge(
    policy: &OutboundPolicy,
    url: &WebhookUrl,
    challenge: &str,
) -> Result<(), ChallengeError> {
    let timeout = policy.timeout().min(WEBHOOK_TIMEOUT);
    let target = url.with_query_pair("challenge", challenge);
    let reply = webhook_get(policy, &target, timeout, MAX_CHALLENGE_ANSWER_BYTES).await?;
    if reply.status != 200 {
        return Err(ChallengeError::Status(reply.status));
    }
    // Frameworks often add a trailing newline; anything else must match exactly.
    if reply.body.trim_ascii() != challenge.as_bytes() {
        return Err(ChallengeError::WrongAnswer);
    }
    Ok(())
}

/// The `X-Nylas-Signature` of a delivery: lowercase hex HMAC-SHA256 of the exact body
/// bytes, keyed with the webhook's secret.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn exchange(
    policy: &OutboundPolicy,
    url: &WebhookUrl,
    method: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
    max_body: usize,
) -> Result<HttpReply, WebhookHttpError> {
    if policy.check_transport(url.https).is_err() {
        return Err(WebhookHttpError::InsecureUrl);
    }
    let mut request = Request::builder()
        .method(method)
        .uri(url.request_target())
        .header(hyper::header::HOST, url.host_header())
        .header(hyper::header::USER_AGENT, "mailroom-webhooks");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| WebhookHttpError::Protocol(e.to_string()))?;
    let work = async {
        let tcp = policy.connect(&url.host, url.port).await?;
        if url.https {
            let tls = policy.tls_handshake(&url.host, url.port, tcp).await?;
            send(tls, request, max_body).await
        } else {
            send(tcp, request, max_body).await
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| WebhookHttpError::Timeout {
            seconds: timeout.as_secs(),
        })?
}

async fn send<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<HttpReply, WebhookHttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let protocol = |e: hyper::Error| WebhookHttpError::Protocol(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(protocol)?;
    // Ended when this exchange ends, also on a timeout, so no connection outlives it.
    let connection = AbortOnDrop(tokio::spawn(connection));
    let response = sender.send_request(request).await.map_err(protocol)?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                WebhookHttpError::BodyTooLarge { limit: max_body }
            } else {
                WebhookHttpError::Protocol(e.to_string())
            }
        })?
        .to_bytes();
    drop(connection);
    Ok(HttpReply { status, body })
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_body() {
        // Expected values from Python:
        //   hmac.new(b'whsec-test-secret', b'{"specversion":"1.0","type":"message.created"}',
        //            hashlib.sha256).hexdigest()
        //   hmac.new(b'key', b'The quick brown fox jumps over the lazy dog',
        //            hashlib.sha256).hexdigest()
        assert_eq!(
            webhook_signature(
                "whsec-test-secret",
                br#"{"specversion":"1.0","type":"message.created"}"#
            ),
            "5cad7f3bdfd44495f844308390325f5d4473087e78af6d81bacf920944a7f3b5"
        );
        assert_eq!(
            webhook_signature("key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn urls_are_http_or_https_without_credentials() {
        let url = WebhookUrl::parse("https://hooks.example.com/in?x=1#frag").unwrap();
        assert_eq!(url.port, 443);
        assert!(url.https);
        let challenge = url.with_query_pair("challenge", "a b");
        assert_eq!(challenge.request_target(), "/in?x=1&challenge=a+b");
        assert_eq!(challenge.host_header(), "hooks.example.com");

        let v6 = WebhookUrl::parse("http://[::1]:8080/").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.host_header(), "[::1]:8080");

        assert!(matches!(
            WebhookUrl::parse("ftp://example.com/"),
            Err(WebhookHttpError::UnsupportedScheme(_))
        ));
        for bad in [
            "not a url",
            "https://user:pw@example.com/",
            "file:///etc/passwd",
        ] {
            let error = WebhookUrl::parse(bad).unwrap_err();
            assert!(error.is_refused_url(), "{bad}: {error}");
        }
    }
}
