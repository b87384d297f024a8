//! The decision log (`ANDI_DECISION_LOG=stdout|<path>`): one JSON line per authorization
//! decision, with the fields of the `authz` span plus the time, the request id and the trace
//! id, so an auditor can go from a line to its trace and back.
//!
//! Security-sensitive: it is an audit record. Keys appear by id, never by secret. A file is
//! opened in append mode and never truncated, and each write carries whole lines, so lines
//! from several servers sharing a file never interleave. The request path only hands a line
//! to a channel; a writer thread does the I/O, so a slow disk never delays a request.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use cedar_policy::EntityUid;
use chrono::{SecondsFormat, Utc};
use opentelemetry::trace::TraceContextExt as _;
use serde::Serialize;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::action::Action;

/// Lines waiting for the writer before new ones are dropped (and the drop reported) rather
/// than making a request wait.
const CHANNEL_CAPACITY: usize = 65_536;
/// Most bytes handed to the operating system in one write.
const MAX_BATCH_BYTES: usize = 1 << 20;
/// How long `flush` waits for the writer, so a wedged disk cannot hang shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where decision lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionLogTarget {
    Stdout,
    File(PathBuf),
}

impl FromStr for DecisionLogTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" => Err("give `stdout` or the path of a file to append to".to_owned()),
            "stdout" | "-" => Ok(DecisionLogTarget::Stdout),
            path => Ok(DecisionLogTarget::File(PathBuf::from(path))),
        }
    }
}

enum Message {
    Line(String),
    Flush(mpsc::Sender<()>),
}

/// A non-blocking writer of decision lines.
pub struct DecisionLog {
    sender: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl DecisionLog {
    /// Opens the target (a file is created if missing and always appended to) and starts the
    /// writer thread.
    pub fn open(target: &DecisionLogTarget) -> std::io::Result<DecisionLog> {
        let out: Box<dyn Write + Send> = match target {
            DecisionLogTarget::Stdout => Box::new(std::io::stdout()),
            DecisionLogTarget::File(path) => Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        std::io::Error::new(
                            e.kind(),
                            format!("cannot open the decision log {}: {e}", path.display()),
                        )
                    })?,
            ),
        };
        DecisionLog::start(out, CHANNEL_CAPACITY)
    }

    fn start(out: Box<dyn Write + Send>, capacity: usize) -> std::io::Result<DecisionLog> {
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = std::thread::Builder::new()
            .name("decision-log".to_owned())
            .spawn({
                let dropped = dropped.clone();
                move || write_lines(receiver, out, &dropped)
            })?;
        Ok(DecisionLog {
            sender,
            dropped,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues one line; never waits. A full queue drops the line and counts it.
    fn record(&self, line: String) {
        match self.sender.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                crate::metrics::get().decision_log_lines("dropped", 1);
            }
        }
    }

    /// Waits until every line queued before this call has been written.
    pub fn flush(&self) {
        let (ack, done) = mpsc::channel();
        if self.sender.send(Message::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(FLUSH_TIMEOUT);
        }
    }

    /// How many lines were dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.flush();
        // The writer ends when the sender goes; it is not joined, so a wedged disk cannot
        // hang the process on exit.
        if let Ok(mut writer) = self.writer.lock() {
            writer.take();
        }
    }
}

fn write_lines(receiver: Receiver<Message>, mut out: Box<dyn Write + Send>, dropped: &AtomicU64) {
    let mut batch: Vec<u8> = Vec::new();
    let mut lines: u64 = 0;
    let mut acks = Vec::new();
    let mut reported_drops = 0;
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    batch.extend_from_slice(line.as_bytes());
                    batch.push(b'\n');
                    lines += 1;
                }
                Message::Flush(ack) => acks.push(ack),
            }
            if batch.len() < MAX_BATCH_BYTES {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            // One write of whole lines: with O_APPEND the kernel places it at the end of
            // the file as a unit.
            match out.write_all(&batch).and_then(|()| out.flush()) {
                Ok(()) => crate::metrics::get().decision_log_lines("written", lines),
                Err(error) => {
                    crate::metrics::get().decision_log_lines("failed", lines);
                    tracing::error!(%error, "cannot write the decision log");
                }
            }
            batch.clear();
            lines = 0;
        }
        let drops = dropped.load(Ordering::Relaxed);
        if drops > reported_drops {
            tracing::warn!(
                dropped = drops - reported_drops,
                "the decision log could not keep up and dropped records"
            );
            reported_drops = drops;
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

/// One decision, as `authorize` saw it.
pub(super) struct Decided<'a> {
    /// A key id, or a console user's id.
    pub principal: &'a str,
    /// The principal's workspace; for a console user, the resource's ("" for none).
    pub workspace: &'a str,
    pub action: Action,
    pub resource: &'a EntityUid,
    pub policy_version: &'a str,
    pub allowed: bool,
    pub policies: &'a [String],
    pub errors: &'a [String],
}

/// A decision log line. The names are those of the `authz` span without the `andi.` prefix.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecisionLine<'a> {
    time: String,
    request_id: Option<String>,
    trace_id: Option<String>,
    principal: &'a str,
    workspace: &'a str,
    action: &'static str,
    resource: String,
    decision: &'static str,
    policies: &'a [String],
    errors: &'a [String],
    policy_version: &'a str,
}

impl DecisionLog {
    /// Writes one decision, with the trace of `span`.
    pub(super) fn write_decision(&self, span: &tracing::Span, decided: Decided<'_>) {
        let span_context = span.context().span().span_context().clone();
        let line = DecisionLine {
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            request_id: crate::request_id::current(),
            trace_id: span_context
                .is_valid()
                .then(|| span_context.trace_id().to_string()),
            principal: decided.principal,
            workspace: decided.workspace,
            action: decided.action.as_str(),
            resource: decided.resource.to_string(),
            decision: if decided.allowed { "allow" } else { "deny" },
            policies: decided.policies,
            errors: decided.errors,
            policy_version: decided.policy_version,
        };
        match serde_json::to_string(&line) {
            Ok(line) => self.record(line),
            Err(error) => tracing::error!(%error, "cannot serialize a decision log line"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_stdout_or_a_path() {
        assert_eq!("stdout".parse(), Ok(DecisionLogTarget::Stdout));
        assert_eq!(
            "/var/log/andi/decisions.jsonl".parse(),
            Ok(DecisionLogTarget::File(PathBuf::from(
                "/var/log/andi/decisions.jsonl"
            )))
        );
        assert!("".parse::<DecisionLogTarget>().is_err());
    }

    #[test]
    fn lines_are_appended_to_an_existing_file_and_never_truncate_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let log = DecisionLog::open(&DecisionLogTarget::File(path.clone())).unwrap();
        log.record("{\"n\":1}".to_owned());
        log.record("{\"n\":2}".to_owned());
        log.flush();
        drop(log);
        let again = DecisionLog::open(&DecisionLogTarget::File(path.clone())).unwrap();
        again.record("{\"n\":3}".to_owned());
        again.flush();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"earlier\":true}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
        );
    }

    /// A writer that blocks until the test lets it go, like a stalled disk.
    struct Stalled {
        entered: mpsc::Sender<()>,
        gate: Arc<Mutex<()>>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _open = self.gate.lock().unwrap();
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_writer_never_blocks_the_caller_and_overflow_is_counted() {
        let gate = Arc::new(Mutex::new(()));
        let written = Arc::new(Mutex::new(Vec::new()));
        let (entered, writing) = mpsc::channel();
        let closed = gate.lock().unwrap();
        let writer = Stalled {
            entered,
            gate: gate.clone(),
            written: written.clone(),
        };
        let log = DecisionLog::start(Box::new(writer), 8).unwrap();
        log.record("{\"n\":0}".to_owned());
        writing.recv().unwrap();

        // The writer is stuck on the first line: 8 lines fit in the queue, the rest are
        // dropped, and no call waits.
        for n in 1..=100 {
            log.record(format!("{{\"n\":{n}}}"));
        }
        assert_eq!(log.dropped(), 92);

        drop(closed);
        log.flush();
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let numbers: Vec<&str> = text.lines().collect();
        assert_eq!(numbers.len(), 9, "{text}");
        assert_eq!(numbers[0], "{\"n\":0}");
        assert_eq!(numbers[8], "{\"n\":8}");
    }

    #[test]
    fn an_unwritable_path_is_reported_with_the_path() {
        let error = DecisionLog::open(&DecisionLogTarget::File(PathBuf::from(
            "/nonexistent-dir/decisions.jsonl",
        )))
        .err()
        .unwrap();
        assert!(
            error
                .to_string()
                .contains("/nonexistent-dir/decisions.jsonl"),
            "{error}"
        );
    }
}
