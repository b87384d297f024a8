//! The service's metrics: one OpenTelemetry meter whose instruments the modules that see an
//! event record into (requests in `http`, decisions and reloads in `authz`, the key cache and
//! the revocation feed in `auth`, the decision log's writer), read by `GET /metrics` as
//! Prometheus text and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, pushed over OTLP.
//!
//! Process-wide, like the tracing subscriber: the recording modules share no state with each
//! other, and a counter passed down through every constructor would buy nothing. Every
//! series is documented in docs/operations.md. Labels are static strings or numbers where
//! the value allows it, so recording on the request path allocates nothing for them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder as _, TextEncoder};

/// Bucket bounds of the request latency histogram, in seconds: OpenTelemetry's
/// recommendation for `http.server.request.duration`, with two finer buckets below 5 ms,
/// where most of this service's answers fall.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How often metrics are pushed over OTLP.
const OTLP_INTERVAL: Duration = Duration::from_secs(15);

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The instruments, and the readers they are collected by.
pub struct Metrics {
    provider: SdkMeterProvider,
    registry: prometheus::Registry,
    requests: Histogram<f64>,
    decisions: Counter<u64>,
    key_cache: Counter<u64>,
    policy_reloads: Counter<u64>,
    decision_log_lines: Counter<u64>,
    decision_log_waits: Counter<u64>,
    pool_connections: Gauge<u64>,
    pool_max: Gauge<u64>,
    /// The version of the live policy set, for the `andi.policy.info` gauge.
    policy_version: std::sync::Arc<Mutex<String>>,
    /// Milliseconds from `epoch` to the start of the last applied read of the revocation
    /// sequence, plus one; 0 before the first.
    revocations_read_at: std::sync::Arc<AtomicU64>,
    epoch: Instant,
}

/// Starts the metrics with an OTLP exporter beside the Prometheus reader. Call once, before
/// anything records (`telemetry::init` does); without it, the first use starts them with
/// the Prometheus reader alone. Fails if they were already started.
pub fn init_with_otlp(exporter: opentelemetry_otlp::MetricExporter) -> anyhow::Result<()> {
    METRICS
        .set(Metrics::new(Some(exporter))?)
        .map_err(|_| anyhow::anyhow!("the metrics were started before the OTLP exporter"))
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    METRICS.get_or_init(|| match Metrics::new(None) {
        Ok(metrics) => metrics,
        // Only a duplicate registration in a fresh registry could fail: record into a
        // provider without readers rather than stop the service over its metrics.
        Err(error) => {
            tracing::error!(%error, "cannot start the Prometheus metrics; /metrics is empty");
            Metrics::with_provider(
                SdkMeterProvider::builder().build(),
                prometheus::Registry::new(),
            )
        }
    })
}

/// Flushes what the OTLP exporter has not sent yet. Called on shutdown.
pub fn shutdown() {
    if let Some(metrics) = METRICS.get()
        && let Err(error) = metrics.provider.shutdown()
    {
        eprintln!("could not flush metrics: {error}");
    }
}

fn service_resource() -> Resource {
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "andi".to_owned());
    Resource::builder().with_service_name(service).build()
}

impl Metrics {
    fn new(otlp: Option<opentelemetry_otlp::MetricExporter>) -> anyhow::Result<Metrics> {
        let registry = prometheus::Registry::new();
        let prometheus = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .scope_info_enabled(false)
            .build()?;
        let mut builder = SdkMeterProvider::builder()
            .with_resource(service_resource())
            .with_reader(prometheus);
        if let Some(exporter) = otlp {
            builder = builder.with_reader(
                opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
                    .with_interval(OTLP_INTERVAL)
                    .build(),
            );
        }
        Ok(Metrics::with_provider(builder.build(), registry))
    }

    fn with_provider(provider: SdkMeterProvider, registry: prometheus::Registry) -> Metrics {
        let meter: Meter = provider.meter("andi");
        let policy_version = std::sync::Arc::new(Mutex::new(String::new()));
        let revocations_read_at = std::sync::Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        {
            let version = policy_version.clone();
            meter
                .u64_observable_gauge("andi.policy.info")
                .with_description("1, labelled with the version of the live policy set")
                .with_callback(move |observer| {
                    if let Ok(version) = version.lock()
                        && !version.is_empty()
                    {
                        observer.observe(1, &[KeyValue::new("version", version.clone())]);
                    }
                })
                .build();
        }
        {
            let read_at = revocations_read_at.clone();
            meter
                .f64_observable_gauge("andi.key_revocations.poll_age")
                .with_unit("s")
                .with_description(
                    "Seconds since the last applied read of the key revocation sequence began: how late a revocation made elsewhere can be applied here",
                )
                .with_callback(move |observer| {
                    let read = read_at.load(Ordering::Acquire);
                    if read != 0 {
                        let age = epoch.elapsed().saturating_sub(Duration::from_millis(read - 1));
                        observer.observe(age.as_secs_f64(), &[]);
                    }
                })
                .build();
        }
        Metrics {
            requests: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Requests answered, by route template, method and status, with their latency")
                .with_boundaries(LATENCY_BUCKETS.to_vec())
                .build(),
            decisions: meter
                .u64_counter("andi.authz.decisions")
                .with_description("Authorization decisions, by action and outcome (allow, deny, error)")
                .build(),
            key_cache: meter
                .u64_counter("andi.key_cache.lookups")
                .with_description("API key lookups, by result: hit (served from memory) or miss (read from the database)")
                .build(),
            policy_reloads: meter
                .u64_counter("andi.policy.reloads")
                .with_description("Policy reloads tried, by result: loaded or refused")
                .build(),
            decision_log_lines: meter
                .u64_counter("andi.decision_log.lines")
                .with_description("Decision log lines, by outcome: written, failed (the write returned an error) or dropped")
                .build(),
            decision_log_waits: meter
                .u64_counter("andi.decision_log.waits")
                .with_description("Decisions whose request waited for room in the decision log's queue")
                .build(),
            pool_connections: meter
                .u64_gauge("db.client.connection.count")
                .with_description("Database pool connections, by state: used or idle")
                .build(),
            pool_max: meter
                .u64_gauge("db.client.connection.max")
                .with_description("Most connections the database pool opens")
                .build(),
            provider,
            registry,
            policy_version,
            revocations_read_at,
            epoch,
        }
    }

    /// Every series as Prometheus text (format 0.0.4).
    pub fn prometheus_text(&self) -> anyhow::Result<String> {
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        Ok(String::from_utf8(text)?)
    }

    /// One answered request. `route` is the template the router matched, if any.
    pub fn request(&self, method: &'static str, route: Option<&str>, status: u16, took: Duration) {
        let method = KeyValue::new("http.request.method", method);
        let status = KeyValue::new("http.response.status_code", i64::from(status));
        match route {
            Some(route) => self.requests.record(
                took.as_secs_f64(),
                &[
                    method,
                    KeyValue::new("http.route", route.to_owned()),
                    status,
                ],
            ),
            None => self.requests.record(took.as_secs_f64(), &[method, status]),
        }
    }

    /// One authorization decision: `outcome` is `allow`, `deny` or `error`.
    pub fn decision(&self, action: &'static str, outcome: &'static str) {
        self.decisions.add(
            1,
            &[
                KeyValue::new("action", action),
                KeyValue::new("outcome", outcome),
            ],
        );
    }

    /// One key lookup, answered from the cache or not.
    pub fn key_cache_lookup(&self, hit: bool) {
        self.key_cache.add(
            1,
            &[KeyValue::new("result", if hit { "hit" } else { "miss" })],
        );
    }

    /// A read of the revocation sequence that began at `started` has been applied.
    pub fn revocations_read(&self, started: Instant) {
        let millis = u64::try_from(started.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX - 1);
        self.revocations_read_at
            .fetch_max(millis + 1, Ordering::AcqRel);
    }

    /// A policy set was loaded (at start or by a reload) and is now live.
    pub fn policy_live(&self, version: &str) {
        if let Ok(mut live) = self.policy_version.lock() {
            version.clone_into(&mut live);
        }
    }

    /// A reload was tried.
    pub fn policy_reload(&self, loaded: bool) {
        self.policy_reloads.add(
            1,
            &[KeyValue::new(
                "result",
                if loaded { "loaded" } else { "refused" },
            )],
        );
    }

    /// Decision log lines handed to the operating system (`written`), refused by it
    /// (`failed`), or never queued (`dropped`).
    pub fn decision_log_lines(&self, outcome: &'static str, lines: u64) {
        self.decision_log_lines
            .add(lines, &[KeyValue::new("outcome", outcome)]);
    }

    /// A request waited for room in the decision log's queue.
    pub fn decision_log_wait(&self) {
        self.decision_log_waits.add(1, &[]);
    }

    /// The database pool's connections as sampled now.
    pub fn pool(&self, used: u64, idle: u64, max: u64) {
        self.pool_connections
            .record(used, &[KeyValue::new("db.client.connection.state", "used")]);
        self.pool_connections
            .record(idle, &[KeyValue::new("db.client.connection.state", "idle")]);
        self.pool_max.record(max, &[]);
    }
}
