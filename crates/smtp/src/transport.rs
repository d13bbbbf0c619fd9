//! The byte stream under an SMTP session, made by mailroom's outbound policy (address
//! checks, bind address, TCP_NODELAY) and handed to lettre. TCP_NODELAY matters: lettre
//! writes a message and its final `.` in two writes, and with Nagle's algorithm the
//! second waits for the ACK of the first, which the server delays by up to 40 ms.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::client::TlsStream;

/// TLS from the first byte (SMTPS), as lettre takes an existing stream.
#[derive(Debug)]
pub(crate) struct ImplicitTls(pub Box<TlsStream<TcpStream>>);

impl AsyncRead for ImplicitTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().0.as_mut()).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().0.as_mut()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().0.as_mut()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().0.as_mut()).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// What an SMTP server may send between two writes of mailroom's: replies are a few
/// lines (RFC 5321 §4.5.3.1.5: 512 bytes a line), an EHLO list a few more. lettre reads
/// a reply line by line without a bound on the line, so the bound is kept here.
pub(crate) const MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// A stream whose reads fail once the server has sent more than [`MAX_REPLY_BYTES`]
/// since mailroom last wrote.
#[derive(Debug)]
pub(crate) struct BoundedReplies<S> {
    inner: S,
    read_since_write: u64,
}

impl<S> BoundedReplies<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            read_since_write: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BoundedReplies<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.read_since_write += (buf.filled().len() - before) as u64;
            if this.read_since_write > MAX_REPLY_BYTES {
                return Poll::Ready(Err(io::Error::other(format!(
                    "the SMTP server sent more than {MAX_REPLY_BYTES} bytes in one reply"
                ))));
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BoundedReplies<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.read_since_write = 0;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: AsyncTokioStream> AsyncTokioStream for BoundedReplies<S> {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_reply_without_end_is_cut_off_and_a_write_starts_afresh() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let mut bounded = BoundedReplies::new(client);
        let writer = tokio::spawn(async move {
            let chunk = vec![b'2'; 64 * 1024];
            while server.write_all(&chunk).await.is_ok() {}
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let error = loop {
            match bounded.read(&mut buf).await {
                Ok(n) => total += n as u64,
                Err(e) => break e,
            }
        };
        assert!(error.to_string().contains("more than"), "{error}");
        assert!(total <= MAX_REPLY_BYTES);
        bounded.write_all(b"QUIT\r\n").await.expect("write");
        assert_eq!(bounded.read_since_write, 0);
        writer.abort();
    }
}
