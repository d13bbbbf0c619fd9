//! The API over built-in TLS (`--tls-cert`/`--tls-key`, `MAILROOM_TLS_CERT`/`_KEY`): a
//! certificate of a test CA made with openssl, HTTP/2 and HTTP/1.1 by ALPN (curl), a
//! certificate swapped while a client holds a keep-alive connection (the connection
//! goes on, new ones get the new certificate), a broken file on reload (the one in use
//! stays), and settings that cannot work refused at start.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::support::{Mailroom, mailroom_command};
use rustls::{ClientConfig, RootCertStore, pki_types::ServerName};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};

/// A test CA and server certificates it signed, in a directory of their own.
struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let certificates = Certificates { dir };
        certificates.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=mailroom test CA",
        ]);
        std::fs::write(
            certificates.path("ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        certificates
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl is needed to make the test certificates");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A server certificate for localhost named `name` (`name.pem`, `name.key`), with
    /// `serial` to tell it apart.
    fn server(&self, name: &str, serial: u32) {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        self.openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial.to_string(),
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            "ext",
        ]);
    }

    /// Puts certificate `name` where the server reads its files.
    fn install(&self, name: &str) {
        std::fs::copy(self.path(&format!("{name}.pem")), self.path("server.pem")).unwrap();
        std::fs::copy(self.path(&format!("{name}.key")), self.path("server.key")).unwrap();
    }

    fn client(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(certificate.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

fn port(base_url: &str) -> u16 {
    base_url.rsplit(':').next().unwrap().parse().unwrap()
}

/// A TLS connection to the server; returns it and the serial of the certificate it got.
async fn connect(certificates: &Certificates, port: u16) -> (TlsStream<TcpStream>, Vec<u8>) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let stream = certificates.client().connect(name, tcp).await.unwrap();
    let serial = {
        let (_, session) = stream.get_ref();
        let leaf = &session.peer_certificates().unwrap()[0];
        serial_of(leaf)
    };
    (stream, serial)
}

/// The certificate's serial as openssl prints it for these test certificates: the DER
/// bytes after the version field (tiny serials sit at a fixed place).
fn serial_of(certificate: &CertificateDer<'_>) -> Vec<u8> {
    // SEQUENCE { SEQUENCE (tbs) { [0] version, INTEGER serial, … } }: find the first
    // INTEGER after the `a0 03 02 01 02` version.
    let bytes = certificate.as_ref();
    let at = bytes
        .windows(5)
        .position(|w| w == [0xa0, 0x03, 0x02, 0x01, 0x02])
        .expect("a v3 certificate");
    let length = bytes[at + 6] as usize;
    bytes[at + 7..at + 7 + length].to_vec()
}

/// One HTTP/1.1 keep-alive request on the connection; returns the status line.
async fn get(stream: &mut TlsStream<TcpStream>, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // The health answer is short: read until its JSON body has closed.
    while !answer.ends_with(b"}") {
        let n = stream
            .read(&mut buffer)
            .await
            .expect("the connection stays open");
        assert!(n > 0, "the server closed the connection");
        answer.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn curl(certificates: &Certificates, args: &[&str], url: &str) -> String {
    let output = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(certificates.path("ca.pem"))
        .args(args)
        .args(["-w", "%{http_code} %{http_version}", "-o", "/dev/null", url])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn sighup(server: &Mailroom) {
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn tls_env(certificates: &Certificates) -> Vec<(String, String)> {
    vec![
        (
            "MAILROOM_TLS_CERT".into(),
            certificates.path("server.pem").display().to_string(),
        ),
        (
            "MAILROOM_TLS_KEY".into(),
            certificates.path("server.key").display().to_string(),
        ),
    ]
}

#[tokio::test]
async fn https_with_http2_and_a_certificate_swapped_under_a_kept_connection() {
    let certificates = Certificates::new();
    certificates.server("first", 1);
    certificates.server("second", 2);
    certificates.install("first");
    let server = Mailroom::start_with(tls_env(&certificates));
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.base_url
    );
    let port = port(&server.base_url);
    let url = format!("https://localhost:{port}/healthz");

    assert_eq!(curl(&certificates, &["--http2"], &url), "200 2");
    assert_eq!(curl(&certificates, &["--http1.1"], &url), "200 1.1");
    // Without the CA the certificate is not trusted; plain HTTP gets no answer.
    let untrusted = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &url])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&untrusted.stdout), "000");
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}/healthz"))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");

    let (mut kept, serial) = connect(&certificates, port).await;
    assert_eq!(serial, vec![1]);
    assert!(get(&mut kept, "/healthz").await.contains("200"));

    // The second certificate replaces the first; SIGHUP reloads it at once.
    certificates.install("second");
    sighup(&server);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, serial) = connect(&certificates, port).await;
        if serial == vec![2] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not taken up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection made before goes on.
    assert!(get(&mut kept, "/healthz").await.contains("200"));

    // A broken file leaves the certificate in use; a change of the files alone (no
    // signal) is noticed too.
    std::fs::write(certificates.path("server.pem"), "not a certificate").unwrap();
    sighup(&server);
    let (mut fresh, serial) = connect(&certificates, port).await;
    assert_eq!(serial, vec![2]);
    assert!(get(&mut fresh, "/healthz").await.contains("200"));
    certificates.install("first");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, serial) = connect(&certificates, port).await;
        if serial == vec![1] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the changed files were not noticed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn tls_settings_that_cannot_work_are_refused_at_start() {
    let certificates = Certificates::new();
    certificates.server("first", 1);
    let data_dir = tempfile::tempdir().unwrap();
    let serve = |env: &[(String, String)]| {
        mailroom_command(data_dir.path(), env)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .output()
            .unwrap()
    };
    let only_cert = serve(&[(
        "MAILROOM_TLS_CERT".into(),
        certificates.path("first.pem").display().to_string(),
    )]);
    assert!(!only_cert.status.success());
    assert!(String::from_utf8_lossy(&only_cert.stderr).contains("tls_key"));
    let missing = serve(&[
        ("MAILROOM_TLS_CERT".into(), "/nonexistent/cert.pem".into()),
        (
            "MAILROOM_TLS_KEY".into(),
            certificates.path("first.key").display().to_string(),
        ),
    ]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/cert.pem"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    // A key that is not the certificate's.
    certificates.server("other", 3);
    let mismatched = serve(&[
        (
            "MAILROOM_TLS_CERT".into(),
            certificates.path("first.pem").display().to_string(),
        ),
        (
            "MAILROOM_TLS_KEY".into(),
            certificates.path("other.key").display().to_string(),
        ),
    ]);
    assert!(!mismatched.status.success());
    assert!(
        String::from_utf8_lossy(&mismatched.stderr).contains("do not make a pair"),
        "{}",
        String::from_utf8_lossy(&mismatched.stderr)
    );
    let _: &Path = certificates.dir.path();
}
