//! The byte stream under an IMAP session: plain TCP or TLS (implicit or after STARTTLS),
//! with the limits that keep one server from holding mailroom's memory or time:
//!
//! - **A deadline on silence.** A read or write that makes no progress for the session's
//!   timeout fails with `TimedOut`. The clock starts when mailroom waits for the server,
//!   so it bounds every command after login, with progress: a long FETCH that keeps
//!   sending is not cut. IDLE lifts it while it waits on purpose.
//! - **Framing limits.** async-imap buffers a literal whole, allocating the announced
//!   size as soon as `{N}` arrives, up to 512 MiB, and a line until its CRLF. The stream
//!   follows the RFC 3501 §4.3 framing (lines, and literals of announced length) and
//!   refuses a literal over the session's cap or a line over [`MAX_LINE_BYTES`] before
//!   async-imap sees it. It parses nothing else.
//! - **Bytes per command.** What the server sends between two commands of mailroom's is
//!   bounded (four times the literal cap): a server that answers with untagged lines
//!   without end, which async-imap would read and drop forever, is cut off.
//! - **Untagged responses per command.** Responses about one message (`* 5 FETCH`,
//!   `* 7 EXPUNGE`) come one per message, up to a million for a large mailbox (a FETCH's
//!   caller counts its answers; the rest are bounded by the bytes above); all other
//!   untagged responses (`* OK`, `* LIST`, `* STATUS`, continuation requests) come a few
//!   to a command, or one per folder. More than [`MAX_UNTAGGED_PER_COMMAND`] of them is
//!   a flood, cut off after a few megabytes rather than at the byte bound (hundreds of
//!   megabytes, minutes of parsing on a busy machine).

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::Sleep,
};
use tokio_rustls::client::TlsStream;

/// The longest line (outside literals) a server may send: a SEARCH answer for a million
/// UIDs fits.
pub const MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;

/// Untagged responses not about one message that a command's answer may hold: a LIST
/// with a STATUS line for each of [`crate::folders::MAX_FOLDERS`] folders fits, with room for
/// the server's asides.
pub const MAX_UNTAGGED_PER_COMMAND: u64 = 2 * crate::folders::MAX_FOLDERS as u64 + 10_000;

#[derive(Debug)]
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

#[derive(Debug)]
pub struct ImapStream {
    transport: Transport,
    framing: Framing,
    /// How long a read or write may wait for the server; `None` while idling.
    silence_limit: Option<Duration>,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes read since mailroom last wrote (sent a command or a continuation).
    read_since_write: u64,
}

/// Bytes one command's answer may take, as a multiple of the literal cap.
const READ_PER_COMMAND_FACTOR: u64 = 4;

impl ImapStream {
    pub fn new(transport: Transport, silence_limit: Duration, max_literal: u64) -> Self {
        Self {
            transport,
            framing: Framing::new(max_literal),
            silence_limit: Some(silence_limit),
            read_deadline: None,
            write_deadline: None,
            read_since_write: 0,
        }
    }

    pub fn into_transport(self) -> Transport {
        self.transport
    }

    /// Lifts (`None`) or sets the limit on silence; a running deadline restarts.
    pub fn set_silence_limit(&mut self, limit: Option<Duration>) {
        self.silence_limit = limit;
        self.read_deadline = None;
        self.write_deadline = None;
    }

    /// Changes the largest literal accepted from now on.
    pub fn set_max_literal(&mut self, max_literal: u64) {
        self.framing.max_literal = max_literal;
    }

    /// Whether a `* LIST` response arrived since the last call (async-imap drops one
    /// that comes inside a SELECT's answer, where NOTIFY may put it: RFC 5465 §5.4).
    pub fn take_list_seen(&mut self) -> bool {
        std::mem::take(&mut self.framing.list_seen)
    }

    /// Whether the server has sent something (or hung up) that nobody has read yet.
    /// Between commands a server has nothing to say unless it is going away (`* BYE`,
    /// TLS close_notify, FIN), so a kept session for which this holds must be checked
    /// before it serves again. Peeks at the socket (MSG_PEEK) without waiting or
    /// consuming anything.
    pub fn peer_has_spoken(&self) -> bool {
        let tcp = match &self.transport {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref().0,
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0u8; 1];
        let mut peeked = ReadBuf::new(&mut byte);
        // Ready: a byte waits, the server hung up (0 bytes), or the socket failed.
        tcp.poll_peek(&mut cx, &mut peeked).is_ready()
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the IMAP server sent nothing in time ({what})"),
    )
}

/// Polls the deadline for a pending operation, starting it on first use.
fn expired(
    deadline: &mut Option<Pin<Box<Sleep>>>,
    limit: Option<Duration>,
    cx: &mut Context<'_>,
) -> bool {
    let Some(limit) = limit else {
        return false;
    };
    let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    sleep.as_mut().poll(cx).is_ready()
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(Ok(())) => {
                this.read_deadline = None;
                let new = &buf.filled()[before..];
                this.read_since_write = this.read_since_write.saturating_add(new.len() as u64);
                let limit = this
                    .framing
                    .max_literal
                    .saturating_mul(READ_PER_COMMAND_FACTOR);
                if this.read_since_write > limit {
                    return Poll::Ready(Err(io::Error::other(format!(
                        "the IMAP server sent more than {limit} bytes for one command"
                    ))));
                }
                Poll::Ready(this.framing.check(new))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if expired(&mut this.read_deadline, this.silence_limit, cx) {
                    this.read_deadline = None;
                    Poll::Ready(Err(timed_out("read")))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // A new command: the wait for its answer starts afresh.
        this.read_deadline = None;
        this.read_since_write = 0;
        this.framing.new_command();
        let polled = match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        match polled {
            Poll::Pending => {
                if expired(&mut this.write_deadline, this.silence_limit, cx) {
                    this.write_deadline = None;
                    Poll::Ready(Err(timed_out("write")))
                } else {
                    Poll::Pending
                }
            }
            ready => {
                this.write_deadline = None;
                ready
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        match polled {
            Poll::Pending => {
                if expired(&mut this.write_deadline, this.silence_limit, cx) {
                    this.write_deadline = None;
                    Poll::Ready(Err(timed_out("write")))
                } else {
                    Poll::Pending
                }
            }
            ready => {
                this.write_deadline = None;
                ready
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Where the incoming bytes stand in RFC 3501 §4.3 framing.
#[derive(Debug)]
struct Framing {
    max_literal: u64,
    /// Bytes of a literal still to come.
    literal_left: u64,
    /// Length of the current line so far (outside literals).
    line_len: u64,
    /// The last bytes of the current line, enough to read a `{N}` announcement.
    tail: Vec<u8>,
    /// The first bytes of the current line, enough to tell `* 5 FETCH` from `* OK` and
    /// to see `* LIST `.
    head: [u8; 7],
    head_len: usize,
    /// The current line goes on with a response after one of its literals, rather than
    /// starting a response.
    continues_response: bool,
    /// Untagged responses not about one message since mailroom last wrote.
    untagged_since_write: u64,
    /// A `* LIST` response arrived since [`ImapStream::take_list_seen`] last looked.
    list_seen: bool,
}

/// Room for `{` + a u64 in digits + `+}` + CR, with leading zeros to spare.
const TAIL_BYTES: usize = 64;

impl Framing {
    fn new(max_literal: u64) -> Self {
        Self {
            max_literal,
            literal_left: 0,
            line_len: 0,
            tail: Vec::with_capacity(TAIL_BYTES),
            head: [0; 7],
            head_len: 0,
            continues_response: false,
            untagged_since_write: 0,
            list_seen: false,
        }
    }

    /// Mailroom wrote: what comes next answers a new command.
    fn new_command(&mut self) {
        self.untagged_since_write = 0;
    }

    fn check(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.literal_left > 0 {
                let skip = usize::try_from(self.literal_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.literal_left -= skip as u64;
                bytes = &bytes[skip..];
                continue;
            }
            let (line, end) = match bytes.iter().position(|b| *b == b'\n') {
                Some(at) => (&bytes[..at], Some(at)),
                None => (bytes, None),
            };
            self.line_len += line.len() as u64;
            if self.line_len > MAX_LINE_BYTES {
                return Err(io::Error::other(format!(
                    "the IMAP server sent a line longer than {MAX_LINE_BYTES} bytes"
                )));
            }
            self.tail.extend_from_slice(line);
            if self.tail.len() > TAIL_BYTES {
                self.tail.drain(..self.tail.len() - TAIL_BYTES);
            }
            let room = (self.head.len() - self.head_len).min(line.len());
            self.head[self.head_len..self.head_len + room].copy_from_slice(&line[..room]);
            self.head_len += room;
            let Some(at) = end else {
                return Ok(());
            };
            let head = &self.head[..self.head_len];
            if !self.continues_response && head.eq_ignore_ascii_case(b"* LIST ") {
                self.list_seen = true;
            }
            if !self.continues_response && not_about_one_message(head) {
                self.untagged_since_write += 1;
                if self.untagged_since_write > MAX_UNTAGGED_PER_COMMAND {
                    return Err(io::Error::other(format!(
                        "the IMAP server sent more than {MAX_UNTAGGED_PER_COMMAND} untagged \
                         responses to one command"
                    )));
                }
            }
            if let Some(size) = announced_literal(&self.tail) {
                if size > self.max_literal {
                    return Err(io::Error::other(format!(
                        "the IMAP server announced a literal of {size} bytes, over the \
                         limit of {} bytes",
                        self.max_literal
                    )));
                }
                self.literal_left = size;
                self.continues_response = true;
            } else {
                self.continues_response = false;
            }
            self.line_len = 0;
            self.head_len = 0;
            self.tail.clear();
            bytes = &bytes[at + 1..];
        }
        Ok(())
    }
}

/// Whether a response starting with `head` is untagged (`* `) or a continuation request
/// (`+`) without a message number after the star (RFC 3501 §7: `* 5 FETCH`, `* 5 EXPUNGE`,
/// `* 5 EXISTS` are about messages).
fn not_about_one_message(head: &[u8]) -> bool {
    match head {
        [b'+', ..] => true,
        [b'*', b' ', third, ..] => !third.is_ascii_digit(),
        [b'*', ..] => true,
        _ => false,
    }
}

/// The size in a line ending `{N}\r` (the LF is consumed), if it announces a literal.
fn announced_literal(tail: &[u8]) -> Option<u64> {
    let body = tail.strip_suffix(b"}\r")?;
    let body = body.strip_suffix(b"+").unwrap_or(body);
    let open = body.iter().rposition(|b| *b == b'{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // More digits than a u64 holds is over any limit.
    Some(
        std::str::from_utf8(digits)
            .ok()?
            .parse::<u64>()
            .unwrap_or(u64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_goodbye_between_commands_is_seen_without_being_consumed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut stream = ImapStream::new(Transport::Plain(client), Duration::from_secs(5), 1024);
        assert!(!stream.peer_has_spoken(), "the server has said nothing yet");

        server.write_all(b"* BYE going away\r\n").await.unwrap();
        drop(server);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !stream.peer_has_spoken() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the goodbye never showed"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut said = String::new();
        stream.read_to_string(&mut said).await.unwrap();
        assert_eq!(
            said, "* BYE going away\r\n",
            "peeking left the bytes in place"
        );
        assert!(
            stream.peer_has_spoken(),
            "a closed connection stays noticed"
        );
    }

    #[test]
    fn literals_within_the_cap_are_skipped_whole() {
        let mut framing = Framing::new(100);
        framing
            .check(b"* 1 FETCH (UID 1 BODY[] {12}\r\nline {999}\r\n)\r\nA1 OK done\r\n")
            .expect("a 12-byte literal is fine, and what it holds is not framing");
        assert_eq!(framing.literal_left, 0);
        assert_eq!(framing.line_len, 0);
    }

    #[test]
    fn an_announcement_over_the_cap_is_refused_even_split_across_reads() {
        let mut framing = Framing::new(50 * 1024 * 1024);
        framing
            .check(b"* 1 FETCH (UID 1 BODY[] {2147")
            .expect("no line end yet");
        let error = framing
            .check(b"483648}\r\n")
            .expect_err("2 GiB is over the cap");
        assert!(error.to_string().contains("2147483648"), "{error}");
        let mut framing = Framing::new(10);
        assert!(
            framing
                .check(b"* 1 FETCH (BODY[] {99999999999999999999999}\r\n")
                .is_err()
        );
    }

    #[test]
    fn a_line_without_end_is_cut_at_the_limit() {
        let mut framing = Framing::new(10);
        let chunk = vec![b'1'; 1024 * 1024];
        let mut result = Ok(());
        for _ in 0..=MAX_LINE_BYTES / chunk.len() as u64 {
            result = framing.check(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err());
    }

    #[test]
    fn untagged_lines_without_end_are_cut_after_the_cap_and_counted_per_command() {
        let mut framing = Framing::new(1024);
        let flood = b"* OK still here\r\n".repeat(1000);
        let mut sent = 0u64;
        let error = loop {
            match framing.check(&flood) {
                Ok(()) => sent += 1000,
                Err(error) => break error,
            }
            assert!(sent <= MAX_UNTAGGED_PER_COMMAND, "the flood was never cut");
        };
        assert!(error.to_string().contains("untagged"), "{error}");

        // Split anywhere, and a new command starts the count again.
        let mut framing = Framing::new(1024);
        for _ in 0..MAX_UNTAGGED_PER_COMMAND {
            for piece in [&b"*"[..], b" ", b"LIST () \"/\" x\r", b"\n"] {
                framing.check(piece).expect("within the cap");
            }
        }
        assert!(framing.check(b"+ idling\r\n").is_err(), "one over the cap");
        framing.new_command();
        framing
            .check(b"* OK fine\r\n")
            .expect("a new command's answer");
    }

    #[test]
    fn responses_about_one_message_and_what_follows_a_literal_are_not_counted() {
        let mut framing = Framing::new(1024);
        let per_message = b"* 5 FETCH (UID 9 FLAGS ())\r\n* 6 EXPUNGE\r\n";
        // Text after a literal goes on with the response, even where it looks untagged.
        let after_literal = b"* 7 FETCH (BODY[] {2}\r\nhi* OK not a response)\r\n";
        for _ in 0..MAX_UNTAGGED_PER_COMMAND + 10 {
            framing
                .check(per_message)
                .expect("message data is not counted");
            framing
                .check(after_literal)
                .expect("a literal's tail is not counted");
        }
        assert_eq!(framing.untagged_since_write, 0);
        assert!(!framing.list_seen, "no LIST line came");
        assert!(not_about_one_message(b"* S"));
        assert!(not_about_one_message(b"+ "));
        assert!(!not_about_one_message(b"A1 "));
        assert!(!not_about_one_message(b"* 1"));
    }

    #[test]
    fn a_list_response_is_seen_however_it_is_split_but_not_inside_a_literal() {
        let mut framing = Framing::new(1024);
        framing
            .check(b"* 1 FETCH (BODY[] {16}\r\n* LIST () \"/\" x)\r\n* OK [READ-WRITE] done\r\n")
            .expect("framing");
        assert!(!framing.list_seen, "a literal's bytes are not a response");
        for piece in [&b"* L"[..], b"is", b"t () \"/\" New\r\n"] {
            framing.check(piece).expect("framing");
        }
        assert!(framing.list_seen);
    }

    #[test]
    fn literal_plus_and_binary_announcements_count() {
        assert_eq!(announced_literal(b"A1 APPEND x {5+}\r"), Some(5));
        assert_eq!(announced_literal(b"BINARY[] ~{7}\r"), Some(7));
        assert_eq!(announced_literal(b"* OK {text}\r"), None);
        assert_eq!(announced_literal(b"* OK done\r"), None);
    }
}
