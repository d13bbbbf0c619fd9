//! An IMAP and an SMTP server, in plaintext on 127.0.0.1, that accept any login: what an
//! attacker would point a sign-in at. They record every line they receive, so a test can
//! tell whether mailroom ever connected and which password it sent.

use std::sync::{Arc, Mutex};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

pub struct AcceptAll {
    pub imap_port: u16,
    pub smtp_port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    connections: Arc<Mutex<usize>>,
}

impl AcceptAll {
    pub async fn start() -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let imap = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let smtp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = AcceptAll {
            imap_port: imap.local_addr().unwrap().port(),
            smtp_port: smtp.local_addr().unwrap().port(),
            lines: lines.clone(),
            connections: connections.clone(),
        };
        for (listener, serve) in [
            (imap, serve_imap as fn(TcpStream, Recorder) -> _),
            (smtp, serve_smtp as fn(TcpStream, Recorder) -> _),
        ] {
            let recorder = Recorder {
                lines: lines.clone(),
                connections: connections.clone(),
            };
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    *recorder.connections.lock().unwrap() += 1;
                    tokio::spawn(serve(stream, recorder.clone()));
                }
            });
        }
        server
    }

    /// Connections accepted on either port.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    /// Every line received, in order.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

#[derive(Clone)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    connections: Arc<Mutex<usize>>,
}

type Served = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn serve_imap(stream: TcpStream, recorder: Recorder) -> Served {
    Box::pin(async move {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write
            .write_all(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            .await;
        while let Ok(Some(line)) = lines.next_line().await {
            recorder.lines.lock().unwrap().push(line.clone());
            let mut words = line.split_whitespace();
            let tag = words.next().unwrap_or("*").to_owned();
            let command = words.next().unwrap_or_default().to_ascii_uppercase();
            let reply = match command.as_str() {
                "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n"),
                "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
                _ => format!("{tag} OK done\r\n"),
            };
            if write.write_all(reply.as_bytes()).await.is_err() || command == "LOGOUT" {
                break;
            }
        }
    })
}

fn serve_smtp(stream: TcpStream, recorder: Recorder) -> Served {
    Box::pin(async move {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 accept-all ESMTP\r\n").await;
        while let Ok(Some(line)) = lines.next_line().await {
            recorder.lines.lock().unwrap().push(line.clone());
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-accept-all\r\n250 AUTH PLAIN LOGIN\r\n",
                "AUTH" => b"235 2.7.0 accepted\r\n",
                "QUIT" => b"221 bye\r\n",
                _ => b"250 ok\r\n",
            };
            if write.write_all(reply).await.is_err() || verb == "QUIT" {
                break;
            }
        }
    })
}
