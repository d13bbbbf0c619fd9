//! The HTTP server's limits, against a real `mailroom serve`: slow clients are cut off,
//! large unauthenticated bodies refused unread, connections capped, a grant's requests
//! rate-limited, and SIGTERM ends the process even with a request hanging.

use std::{
    io::{ErrorKind, Read, Write},
    net::TcpStream,
    process::Stdio,
    time::{Duration, Instant},
};

use crate::support::{
    self, Database, Mailroom, Process, connect_grant, mailroom_command, spawn_announced,
    testbed_env, wait_for,
};

fn address(server: &Mailroom) -> String {
    server.base_url.trim_start_matches("http://").to_owned()
}

fn with(settings: &[(&str, &str)]) -> Vec<(String, String)> {
    settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Whether `seen` holds a whole response: its head and as many body bytes as its
/// Content-Length says (none without one).
fn complete(seen: &[u8]) -> bool {
    let text = String::from_utf8_lossy(seen);
    let Some(head_end) = text.find("\r\n\r\n") else {
        return false;
    };
    let length = text[..head_end]
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    seen.len() >= head_end + 4 + length
}

/// Reads until the peer closes, a whole response is in, or `until` appears; what was
/// read.
fn read_response(stream: &mut TcpStream, until: &str) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                seen.extend_from_slice(&buffer[..n]);
                if complete(&seen) || String::from_utf8_lossy(&seen).contains(until) {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "reading the response: {e}; so far: {:?}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// One whole request on a fresh connection; the response head and body as text.
fn request(address: &str, head: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    read_response(&mut stream, "\"}}")
}

fn healthz(address: &str) -> String {
    request(
        address,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
}

#[test]
fn a_client_trickling_its_headers_is_cut_off_while_others_are_served() {
    let server = Mailroom::start_with(with(&[("MAILROOM_HEADER_TIMEOUT_SECS", "2")]));
    let address = address(&server);
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // One header byte a second, reading in between, until the server closes.
    slow.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    let mut served_meanwhile = false;
    let closed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server kept a connection that trickles its headers"
        );
        if !served_meanwhile {
            let normal = healthz(&address);
            assert!(normal.starts_with("HTTP/1.1 200"), "{normal}");
            served_meanwhile = true;
        }
        if slow.write_all(b"X").is_err() {
            break true;
        }
        let mut buffer = [0u8; 512];
        match slow.read(&mut buffer) {
            Ok(0) => break true,
            // A 408 or similar before closing is fine; the close is what counts.
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break true,
        }
    };
    assert!(closed && served_meanwhile);
    let after = healthz(&address);
    assert!(after.starts_with("HTTP/1.1 200"), "{after}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_by_the_server() {
    let server = Mailroom::start_with(with(&[("MAILROOM_HEADER_TIMEOUT_SECS", "1")]));
    let mut idle = TcpStream::connect(address(&server)).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The response, then nothing more from this client: the server ends the connection.
    let seen = read_response(&mut idle, "\"ok\"}");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    let rest = read_response(&mut idle, "never");
    assert!(rest.is_empty(), "{rest}");
}

#[test]
fn a_large_body_to_the_token_endpoint_is_refused_without_being_read() {
    let server = Mailroom::start_with(Vec::new());
    let address = address(&server);

    // Declared: refused from the head alone; not a byte of the body is sent.
    let declared = request(
        &address,
        &format!(
            "POST /v3/connect/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            15 * 1024 * 1024
        ),
    );
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    // The token endpoint's own error shape, which the SDKs read.
    assert!(
        declared.contains("\"error\":\"invalid_request\"")
            && declared.contains("\"error_code\":413"),
        "{declared}"
    );

    // Chunked, with no length: read up to the small limit, then refused.
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .write_all(
            b"POST /v3/connect/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0usize;
        while sent < 15 * 1024 * 1024 {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if writer.write_all(&framed).is_err() {
                return sent;
            }
            sent += chunk.len();
        }
        sent
    });
    let chunked = read_response(&mut stream, "\"}}");
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.contains("\"error_code\":413"), "{chunked}");
    drop(stream);
    let _ = sender.join();

    // Small bodies still go through to the handler (which finds the fields wrong).
    let small = request(
        &address,
        "POST /v3/connect/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(small.starts_with("HTTP/1.1 400"), "{small}");
}

#[test]
fn connections_over_the_cap_are_refused_until_one_closes() {
    let server = Mailroom::start_with(with(&[
        ("MAILROOM_MAX_CONNECTIONS", "2"),
        ("MAILROOM_HEADER_TIMEOUT_SECS", "600"),
    ]));
    let address = address(&server);
    // Two keep-alive connections, each answered once and then left open.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let reply = read_response(&mut stream, "\"ok\"}");
            assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
            stream
        })
        .collect();
    let refused = healthz(&address);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too many open connections"), "{refused}");

    drop(held.pop());
    wait_for(
        "a connection slot to free up",
        Duration::from_secs(30),
        || healthz(&address).starts_with("HTTP/1.1 200").then_some(()),
    );
}

/// A request body that stops after a few bytes: the head, `Content-Length: 100`, and
/// the start of the JSON.
fn stalled_token_request(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(
            b"POST /v3/connect/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"grant_type\":",
        )
        .unwrap();
    stream
}

#[test]
fn a_body_that_stops_arriving_is_answered_at_the_body_deadline() {
    let server = Mailroom::start_with(with(&[
        ("MAILROOM_BODY_TIMEOUT_SECS", "1"),
        ("MAILROOM_REQUEST_TIMEOUT_SECS", "600"),
    ]));
    let mut stalled = stalled_token_request(&address(&server));
    let reply = read_response(&mut stalled, "\"}}");
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("did not arrive in time"), "{reply}");
}

#[test]
fn a_request_past_the_request_deadline_is_stopped_and_answered_504() {
    let server = Mailroom::start_with(with(&[
        ("MAILROOM_BODY_TIMEOUT_SECS", "600"),
        ("MAILROOM_REQUEST_TIMEOUT_SECS", "1"),
    ]));
    let mut stalled = stalled_token_request(&address(&server));
    let reply = read_response(&mut stalled, "\"}}");
    assert!(reply.starts_with("HTTP/1.1 504"), "{reply}");
    assert!(reply.contains("\"request_id\":\""), "{reply}");
    assert!(reply.contains("was stopped"), "{reply}");
    let after = healthz(&address(&server));
    assert!(after.starts_with("HTTP/1.1 200"), "{after}");
}

#[tokio::test]
async fn requests_on_one_grant_over_its_rate_get_429_with_retry_after() {
    let mut env = testbed_env();
    env.extend(with(&[
        ("MAILROOM_GRANT_REQUESTS_PER_SECOND", "1"),
        ("MAILROOM_GRANT_REQUEST_BURST", "3"),
    ]));
    let server = Mailroom::start_with(env);
    let (api, grant) = connect_grant(&server, 512).await;
    let path = format!("/v3/grants/{grant}/folders");
    let replies = futures::future::join_all((0..12).map(|_| {
        let request = api
            .http
            .get(format!("{}{path}", api.base_url))
            .bearer_auth(api.api_key.as_deref().unwrap());
        async move { request.send().await.unwrap() }
    }))
    .await;
    let limited = replies
        .iter()
        .find(|reply| reply.status() == 429)
        .expect("some of 12 requests at once over a burst of 3 are refused");
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let ok = replies.iter().filter(|r| r.status() == 200).count();
    assert!((1..=4).contains(&ok), "{ok} of 12 were served");
    let body: serde_json::Value = replies
        .into_iter()
        .find(|reply| reply.status() == 429)
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"]["type"], "api.rate_limit_error");
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));

    // Routes that are not about one grant are not counted against it.
    let application = api.get("/v3/applications").await;
    assert_eq!(application.status, 200, "{}", application.text);
}

/// `mailroom serve` started here, so that the test can signal it, on `database`; its
/// address.
fn spawn_server(
    data_dir: &std::path::Path,
    database: &Database,
    env: &[(String, String)],
) -> (Process, String) {
    let mut env = env.to_vec();
    env.extend(database.env());
    let mut command = mailroom_command(data_dir, &env);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::inherit());
    let (process, url) = spawn_announced(command);
    (process, url.trim_start_matches("http://").to_owned())
}

#[test]
fn sigterm_stops_the_server_even_with_a_request_hanging() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = Database::new();
    let (mut server, address) = spawn_server(
        data_dir.path(),
        &database,
        &with(&[("MAILROOM_SHUTDOWN_GRACE_SECS", "1")]),
    );
    // A request whose body never comes: the server asks for it (100 Continue) once the
    // request is being handled, so the request is surely in flight.
    let mut hanging = TcpStream::connect(&address).unwrap();
    hanging
        .write_all(
            b"POST /v3/connect/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Expect: 100-continue\r\nContent-Length: 100\r\n\r\n",
        )
        .unwrap();
    let interim = read_response(&mut hanging, "100 Continue\r\n\r\n");
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    hanging.write_all(b"{\"grant_type\":").unwrap();

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_for(
        "the server to exit after SIGTERM",
        Duration::from_secs(30),
        || server.0.try_wait().unwrap(),
    );
    assert!(status.success(), "{status}");
    drop(hanging);
}

#[tokio::test]
async fn attachments_download_as_inert_private_files_under_a_safe_name() {
    use support::{
        eventually,
        imap_peer::{ImapPeer, message_with_attachment, reset_user},
    };
    const USER: u32 = 513;
    reset_user(USER, true);
    let mut peer = ImapPeer::login(USER).await;
    peer.append(
        "INBOX",
        "()",
        &message_with_attachment("trap@files", "Trap", "../../.bashrc", b"<script>x</script>"),
    )
    .await;
    let server = Mailroom::start_with(testbed_env());
    let (api, grant) = connect_grant(&server, USER).await;
    let messages = format!("/v3/grants/{grant}/messages");
    let listed = eventually(&api, &messages, "the message synced", |b| {
        b["data"].as_array().is_some_and(|l| l.len() == 1)
    })
    .await;
    let message_id = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let full = api.get(&format!("{messages}/{message_id}")).await;
    let attachment = &full.body["data"]["attachments"][0];
    assert_eq!(attachment["filename"], "bashrc", "{}", full.text);
    let attachment_id = attachment["id"].as_str().unwrap();

    let download = api
        .http
        .get(format!(
            "{}/v3/grants/{grant}/attachments/{attachment_id}/download?message_id={message_id}",
            server.base_url
        ))
        .bearer_auth(api.api_key.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let headers = download.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "private, no-store");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"bashrc\""),
        "{:?}",
        headers["content-disposition"]
    );
}
