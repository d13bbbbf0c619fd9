//! Built-in TLS for the API (`--tls-cert`, `--tls-key`; README.md, "Configuration"):
//! rustls with the ring provider, HTTP/2 or HTTP/1.1 as the client's ALPN offer says
//! (RFC 7301). The certificate chain and key are read again on SIGHUP and whenever either
//! file changes (looked at every few seconds): connections already open keep the
//! certificate they began with, new ones get the new one, and a pair that does not load
//! is logged and leaves the one in use.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use anyhow::{Context, bail};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::TlsAcceptor;

/// How often the files' modification times are compared.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// The ALPN protocol id of HTTP/2 (RFC 7540, section 3.3).
pub const H2: &[u8] = b"h2";

/// The PEM files of the server's certificate chain and private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The acceptor in use, replaced when the files change.
#[derive(Clone)]
pub struct ServerTls {
    current: Arc<RwLock<TlsAcceptor>>,
}

impl ServerTls {
    /// Loads the files; an error says which file and why.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Self> {
        let acceptor = acceptor(files)?;
        Ok(Self {
            current: Arc::new(RwLock::new(acceptor)),
        })
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads on SIGHUP and when a file's modification time changes, for the life of
    /// the process.
    pub fn reload_on_change(&self, files: TlsFiles) {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut hangup = match tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::hangup(),
            ) {
                Ok(hangup) => Some(hangup),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; TLS files are reloaded when they change only");
                    None
                }
            };
            let mut seen = modified(&files);
            let mut tick = tokio::time::interval(FILE_CHECK_INTERVAL);
            loop {
                let signalled = tokio::select! {
                    _ = tick.tick() => false,
                    Some(()) = async {
                        match hangup.as_mut() {
                            Some(hangup) => hangup.recv().await,
                            None => std::future::pending().await,
                        }
                    } => true,
                };
                let now = modified(&files);
                if !signalled && now == seen {
                    continue;
                }
                seen = now;
                tls.reload(&files);
            }
        });
    }

    fn reload(&self, files: &TlsFiles) {
        match acceptor(files) {
            Ok(acceptor) => {
                match self.current.write() {
                    Ok(mut current) => *current = acceptor,
                    Err(poisoned) => *poisoned.into_inner() = acceptor,
                }
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "the TLS certificate or key could not be reloaded; the one in use stays"
            ),
        }
    }
}

fn modified(files: &TlsFiles) -> (Option<SystemTime>, Option<SystemTime>) {
    let time = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (time(&files.cert), time(&files.key))
}

fn acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect())
        .with_context(|| format!("reading the TLS certificate {}", files.cert.display()))?;
    if chain.is_empty() {
        bail!(
            "the TLS certificate file {} holds no certificate",
            files.cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading the TLS private key {}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "the TLS certificate {} and key {} do not make a pair",
                files.cert.display(),
                files.key.display()
            )
        })?;
    config.alpn_protocols = vec![H2.to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
