//! The HTTP server loop: a cap on open connections, a deadline for each request head
//! (which also closes idle keep-alive connections), and a shutdown that ends within a
//! grace period even when a request hangs. Plain connections speak HTTP/1.1; with TLS
//! (`tls_server`) the handshake has the same deadline as a request head, and HTTP/2 is
//! spoken when the client offered it by ALPN.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::{settings::HttpSettings, tls_server::ServerTls};

/// Requests one HTTP/2 connection may have in flight at once.
const MAX_STREAMS_PER_CONNECTION: u32 = 32;
/// An HTTP/2 peer that does not answer a ping within this is gone.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// What a connection over the cap is told before it is closed.
const OVER_CAPACITY_BODY: &str = r#"{"request_id":"","error":{"type":"api.internal_error","message":"too many open connections; try again"}}"#;

/// Serves `router` on `listener` until `shutdown` completes, then gives the requests in
/// flight `settings.shutdown_grace` to finish and returns whether they all did.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &HttpSettings,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let capacity = settings.max_connections;
    let connections = Arc::new(Semaphore::new(capacity));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refuse(stream);
            continue;
        };
        tokio::spawn(serve_connection(
            stream,
            tls.as_ref().map(ServerTls::acceptor),
            remote,
            router.clone(),
            settings.header_timeout,
            stopping.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let all_closed = u32::try_from(capacity)
        .ok()
        .map(|capacity| connections.acquire_many(capacity));
    match all_closed {
        Some(all_closed) => tokio::time::timeout(settings.shutdown_grace, all_closed)
            .await
            .is_ok(),
        None => false,
    }
}

/// Answers 503 and closes: one small write into an empty socket buffer, which does not
/// block, so a flood of connections costs no task each.
fn refuse(stream: TcpStream) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{OVER_CAPACITY_BODY}",
        OVER_CAPACITY_BODY.len()
    );
    let _ = stream.try_write(response.as_bytes());
    // A flood must not flood the log too: the first refusal, then every thousandth.
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    if refused % 1000 == 1 {
        tracing::warn!(
            refused,
            "connection refused: too many open connections (max_connections)"
        );
    }
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    remote: SocketAddr,
    router: Router,
    header_timeout: Duration,
    stopping: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let Some(tls) = tls else {
        let builder = builder.http1_only();
        drive(&builder, TokioIo::new(stream), remote, router, stopping).await;
        drop(permit);
        return;
    };
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .keep_alive_interval(HTTP2_KEEP_ALIVE)
        .keep_alive_timeout(HTTP2_KEEP_ALIVE);
    match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => drive(&builder, TokioIo::new(stream), remote, router, stopping).await,
        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
    }
    drop(permit);
}

/// Serves one connection's requests until it ends, or, once the server stops, until
/// the request under way is answered.
async fn drive<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    remote: SocketAddr,
    router: Router,
    mut stopping: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        let response = router.clone().oneshot(request.map(Body::new));
        async move { Ok::<_, Infallible>(response.await.unwrap_or_else(|e| match e {})) }
    });
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        }
        _ = async { stopping.wait_for(|stop| *stop).await.map(|_| ()) } => {
            // Finish the request under way, take no other.
            connection.as_mut().graceful_shutdown();
            let _ = connection.as_mut().await;
        }
    }
}
