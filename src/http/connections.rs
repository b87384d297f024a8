//! Accepting connections: at most `max_connections` at once; a new connection that sends
//! nothing within `idle_timeout` is closed, and so is one that does not finish a request's
//! headers within `header_read_timeout` (a slow-header client, or a kept-alive connection
//! that stays silent).
//!
//! Security-sensitive: without these bounds any client can hold the server's sockets and
//! file descriptors until it cannot answer anyone (axum's own `serve` sets neither).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use clap::Args;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::duration::parse_std_duration;

/// How long a failed `accept` (e.g. out of file descriptors) waits before the next try.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Bounds on the connections the server holds.
#[derive(Debug, Clone, Args)]
pub struct ConnectionLimits {
    /// Time a connection has to send a request's headers, counted from when the server
    /// starts reading them: a client that trickles them, or a kept-alive connection that
    /// stays silent after a response, is closed.
    #[arg(long, env = "ANDI_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_std_duration)]
    pub header_read_timeout: Duration,

    /// Time a new connection may stay silent before its first request begins.
    #[arg(long, env = "ANDI_IDLE_TIMEOUT", default_value = "10s", value_parser = parse_std_duration)]
    pub idle_timeout: Duration,

    /// Most connections served at once; more wait in the listen queue until one closes.
    /// Keep it below the process's file-descriptor limit (`ulimit -n`).
    #[arg(long, env = "ANDI_MAX_CONNECTIONS", default_value_t = 1_024)]
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            max_connections: 1_024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for the requests in
/// flight to be answered. Each request carries its peer address as `ConnectInfo`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let idle_timeout = limits.idle_timeout;
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            let response = router.clone().oneshot(request);
            async move { Ok::<_, Infallible>(response.await.unwrap_or_else(|never| match never {})) }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // The protocol is sniffed from the first bytes, before hyper's header timer
            // runs: a client that sends nothing at all is closed here.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(idle_timeout, stream.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                return;
            }
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            // A client that goes away or times out ends its connection; nothing to report.
            let _ = watcher.watch(connection).await;
            drop(slot);
        });
    }
    graceful.shutdown().await;
}
