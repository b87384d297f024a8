//! Slow and idle clients cannot hold the server: a connection that does not send its
//! request headers in time is closed, and past the connection cap new clients wait for a
//! free slot instead of exhausting the process's file descriptors.

use std::time::Duration;

use andi::http::connections::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

const CAP: usize = 8;
/// Every wait below is bounded by this; a closed connection is seen long before.
const NEVER: Duration = Duration::from_secs(20);

async fn spawn_guarded_app() -> TestApp {
    TestApp::builder()
        .connections(ConnectionLimits {
            header_read_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(300),
            max_connections: CAP,
        })
        .spawn()
        .await
}

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// Whether the server closed the connection (end of stream or reset) within `NEVER`.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + NEVER;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // A 408 the server may write before it closes.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = spawn_guarded_app().await;
    let mut idle = connect(&app).await;
    assert!(
        closed_by_server(&mut idle).await,
        "an idle connection is closed"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_that_stays_silent_is_closed() {
    let app = spawn_guarded_app().await;
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: andi\r\n\r\n")
        .await
        .expect("write");
    let mut response = [0u8; 16];
    kept.read_exact(&mut response).await.expect("a response");
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "the request is answered"
    );
    assert!(
        closed_by_server(&mut kept).await,
        "the silent connection is closed"
    );
}

#[tokio::test]
async fn a_connection_that_trickles_its_headers_is_closed() {
    let app = spawn_guarded_app().await;
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: andi\r\n")
        .await
        .expect("write");
    let trickle = async {
        // One header byte every 100 ms, for at most NEVER: never a whole request.
        for _ in 0..(NEVER.as_millis() / 100) {
            if slow.write_all(b"x").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(
        trickle.await,
        "the server stops reading a request whose headers never end"
    );
}

#[tokio::test]
async fn requests_are_answered_while_idle_clients_fill_every_slot() {
    let app = spawn_guarded_app().await;
    let mut hogs = Vec::new();
    for _ in 0..CAP * 2 {
        hogs.push(connect(&app).await);
    }
    let answered = tokio::time::timeout(NEVER, app.client.get(app.url("/healthz")).send())
        .await
        .expect("answered once the idle connections are closed")
        .expect("a response");
    assert_eq!(answered.status(), 200);
    for hog in &mut hogs {
        assert!(
            closed_by_server(hog).await,
            "every idle connection is closed"
        );
    }
}
