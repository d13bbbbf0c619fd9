//! The HTTP/1.1 server loop: a cap on open connections, a deadline for each request
//! head (which also closes idle keep-alive connections), and a shutdown that ends within
//! a grace period even when a request hangs.

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
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt;

use crate::settings::HttpSettings;

/// What a connection over the cap is told before it is closed.
const OVER_CAPACITY_BODY: &str = r#"{"request_id":"","error":{"type":"api.internal_error","message":"too many open connections; try again"}}"#;

/// Serves `router` on `listener` until `shutdown` completes, then gives the requests in
/// flight `settings.shutdown_grace` to finish and returns whether they all did.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &HttpSettings,
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
    remote: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        let response = router.clone().oneshot(request.map(Body::new));
        async move { Ok::<_, Infallible>(response.await.unwrap_or_else(|e| match e {})) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service);
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
    drop(permit);
}
