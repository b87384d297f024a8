//! Logs and traces: a `tracing` subscriber that writes logs to stderr (filtered by
//! `RUST_LOG`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, exports spans over OTLP, and
//! the metrics with them (see [`crate::metrics`]).
//! Per-request events are at `debug`, so the default `info` level logs nothing per request,
//! and what is logged is written off the request path by a non-blocking writer.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes and shuts down the trace and metric exporters when dropped, so the last spans
/// and measurements are not lost.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    /// Writes the log lines still queued when dropped.
    _log_writer: tracing_appender::non_blocking::WorkerGuard,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        crate::metrics::shutdown();
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("could not flush traces: {error}");
        }
    }
}

/// Installs the global subscriber, with `default_filter` unless `RUST_LOG` is set. Call once,
/// inside the tokio runtime.
pub fn init(default_filter: &str) -> anyhow::Result<TelemetryGuard> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Log lines go through a queue to a writer thread, so a request never waits on stderr
    // (a slow terminal or pipe). If the queue fills, lines are dropped rather than requests
    // slowed.
    let (log_writer, log_writer_guard) = tracing_appender::non_blocking(std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(log_writer)
        .with_target(false);

    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            crate::metrics::init_with_otlp(
                opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .build()?,
            )?;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()?;
            let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "andi".to_owned());
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service).build())
                    .build(),
            )
        }
        _ => None,
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("andi"))
            .boxed()
    });

    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard {
        provider,
        _log_writer: log_writer_guard,
    })
}
