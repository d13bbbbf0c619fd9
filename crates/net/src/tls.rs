//! The TLS client configuration: the web PKI roots plus, if configured, extra CAs
//! (a private mail server's, or the testbed's). Never a switch that turns checks off.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, pem::PemObject};

use crate::outbound::NetError;

pub(crate) fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, NetError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| NetError::Config(format!("extra CA file: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| NetError::Config(format!("extra CA file: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(NetError::Config(
                "extra CA file holds no PEM certificate".into(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
