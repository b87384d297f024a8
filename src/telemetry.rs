//! Logs and traces: a `tracing` subscriber that writes logs to stderr (filtered by
//! `RUST_LOG`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, exports spans over OTLP, and
//! the metrics with them (see [`crate::metrics`]).
//! Lines are text (coloured only on a terminal) or, with `ANDI_LOG_FORMAT=json`, one JSON
//! object per line. Per-request events are at `debug`, so the default `info` level logs nothing per request,
//! and what is logged is written off the request path by a non-blocking writer.

use std::io::IsTerminal as _;

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

/// How log lines are written (`ANDI_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    /// One readable line per event (the default).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    fn from_env() -> anyhow::Result<LogFormat> {
        match std::env::var("ANDI_LOG_FORMAT") {
            Err(_) => Ok(LogFormat::Text),
            Ok(format) => format.parse(),
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = anyhow::Error;

    fn from_str(format: &str) -> anyhow::Result<LogFormat> {
        match format {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(anyhow::anyhow!(
                "ANDI_LOG_FORMAT is `{other}`; set `text` (the default) or `json`"
            )),
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
        .with_target(false)
        // Colour codes only for a person at a terminal; a file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match LogFormat::from_env()? {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };

    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            // `OTEL_METRICS_EXPORTER=none` (the OpenTelemetry variable) keeps metrics off
            // OTLP, for a receiver that takes traces only (Jaeger); /metrics still serves them.
            if std::env::var("OTEL_METRICS_EXPORTER").as_deref() != Ok("none") {
                crate::metrics::init_with_otlp(
                    opentelemetry_otlp::MetricExporter::builder()
                        .with_tonic()
                        .build()?,
                )?;
            }
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

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn the_log_format_is_text_or_json_and_anything_else_is_named() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
        let error = "yaml".parse::<LogFormat>().unwrap_err().to_string();
        assert!(
            error.contains("`yaml`") && error.contains("json"),
            "{error}"
        );
    }
}
