//! The ceiling `bench/load.sh` measures Andi against: a bare axum server on the same tokio
//! runtime, whose one route answers `GET /` with the body `/healthz` answers
//! (`{"status":"ok"}`, serialized per request the same way), and nothing else: no layers,
//! no state, no connection limits.
//!
//!   cargo run --release --example bare_axum            # listens on 127.0.0.1:18081
//!   BARE_LISTEN=127.0.0.1:9000 cargo run --release --example bare_axum

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde::Serialize;

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::var("BARE_LISTEN").unwrap_or_else(|_| "127.0.0.1:18081".to_owned());
    let app = Router::new().route("/", get(|| async { Json(Health { status: "ok" }) }));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await
}
