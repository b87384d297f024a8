//! The decision log (`ANDI_DECISION_LOG=stdout|<path>`): one JSON line per authorization
//! decision, with the fields of the `authz` span plus the time, the request id and the trace
//! id, so an auditor can go from a line to its trace and back; and one line per key lifecycle
//! event (create, rotate, revoke), told apart by its `event` field.
//!
//! Security-sensitive: it is an audit record. Keys appear by id, never by secret. A file is
//! opened in append mode and never truncated, and each write carries whole lines, so lines
//! from several servers sharing a file never interleave. The request path only hands a line
//! to a queue; a writer thread does the I/O, so a slow disk does not delay a request. A line
//! is never dropped to keep a request fast: when the queue is full the request waits for
//! room, up to [`MAX_WAIT`]; past that its decision fails closed (the request is refused),
//! so nothing is done without its record.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use cedar_policy::EntityUid;
use chrono::{SecondsFormat, Utc};
use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use opentelemetry::trace::TraceContextExt as _;
use serde::Serialize;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::action::Action;

/// Lines waiting for the writer before a request has to wait for room.
const CHANNEL_CAPACITY: usize = 65_536;
/// How long a request waits for room in a full queue before its decision fails closed.
pub const MAX_WAIT: Duration = Duration::from_secs(2);
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

/// A decision line could not be queued within [`MAX_WAIT`]: the writer is stuck or gone.
#[derive(Debug, thiserror::Error)]
#[error(
    "the decision log is not keeping up (its writer is stalled or stopped); the decision is not acted on without its record"
)]
pub struct NotRecorded;

/// A queued writer of decision lines.
pub struct DecisionLog {
    sender: Sender<Message>,
    max_wait: Duration,
    waits: AtomicU64,
    dropped: AtomicU64,
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
        DecisionLog::start(out, CHANNEL_CAPACITY, MAX_WAIT)
    }

    fn start(
        out: Box<dyn Write + Send>,
        capacity: usize,
        max_wait: Duration,
    ) -> std::io::Result<DecisionLog> {
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let writer = std::thread::Builder::new()
            .name("decision-log".to_owned())
            .spawn(move || write_lines(receiver, out))?;
        Ok(DecisionLog {
            sender,
            max_wait,
            waits: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues one line, waiting up to `max_wait` for room when the queue is full. A line
    /// that cannot be queued even then is counted as dropped and refused.
    fn record(&self, line: String) -> Result<(), NotRecorded> {
        let message = match self.sender.try_send(Message::Line(line)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(message)) => message,
            Err(TrySendError::Disconnected(_)) => return Err(self.drop_line()),
        };
        self.waits.fetch_add(1, Ordering::Relaxed);
        crate::metrics::get().decision_log_wait();
        match self.sender.send_timeout(message, self.max_wait) {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_) | SendTimeoutError::Disconnected(_)) => {
                Err(self.drop_line())
            }
        }
    }

    fn drop_line(&self) -> NotRecorded {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        crate::metrics::get().decision_log_lines("dropped", 1);
        tracing::error!(
            waited = ?self.max_wait,
            "the decision log could not take a record; the request is refused"
        );
        NotRecorded
    }

    /// Waits until every line queued before this call has been written.
    pub fn flush(&self) {
        let (ack, done) = mpsc::channel();
        if self
            .sender
            .send_timeout(Message::Flush(ack), FLUSH_TIMEOUT)
            .is_ok()
        {
            let _ = done.recv_timeout(FLUSH_TIMEOUT);
        }
    }

    /// How many lines were refused because the writer did not make room in time.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// How many lines had to wait for room in the queue.
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
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

fn write_lines(receiver: Receiver<Message>, mut out: Box<dyn Write + Send>) {
    let mut batch: Vec<u8> = Vec::new();
    let mut lines: u64 = 0;
    let mut acks = Vec::new();
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
    /// For a query's filter (decision `filter`): what the policies left of the record.
    pub filter: Option<FilterFields<'a>>,
}

/// What a `filter` line adds: the condition the policies put on the query's records, and
/// whether rows passing it are still decided one by one.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FilterFields<'a> {
    pub filter: &'a str,
    pub rows_decided: bool,
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
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    filter: Option<FilterFields<'a>>,
}

impl DecisionLog {
    /// Writes one decision, with the trace of `span`; an error means it has no record, and
    /// the caller must not act on it.
    pub(super) fn write_decision(
        &self,
        span: &tracing::Span,
        decided: Decided<'_>,
    ) -> Result<(), NotRecorded> {
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
            decision: match (&decided.filter, decided.allowed) {
                (Some(_), _) => "filter",
                (None, true) => "allow",
                (None, false) => "deny",
            },
            policies: decided.policies,
            errors: decided.errors,
            policy_version: decided.policy_version,
            filter: decided.filter,
        };
        match serde_json::to_string(&line) {
            Ok(line) => self.record(line),
            Err(error) => {
                tracing::error!(%error, "cannot serialize a decision log line");
                Err(NotRecorded)
            }
        }
    }
}

/// One key lifecycle event (create, rotate, revoke), done or refused.
pub struct KeyEvent<'a> {
    /// The Cedar action's name: `createApiKey`, `rotateApiKey` or `revokeApiKey`.
    pub event: Action,
    /// A console user's id, or `cli:` and the operating-system user.
    pub actor: &'a str,
    /// The key's id; `None` for a create refused before the key had one.
    pub key: Option<&'a str>,
    pub workspace: Option<&'a str>,
    /// The key's role and permissions, as they are after the event.
    pub role: Option<&'a str>,
    pub permissions: &'a [&'a str],
    pub outcome: KeyOutcome<'a>,
}

/// What came of a key event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome<'a> {
    Done,
    /// Refused for this reason (no such key, a revoked key, an invalid request): nothing changed.
    Refused(&'a str),
    /// The change could not be made (a storage error): nothing changed.
    Failed(&'a str),
}

/// A key event line: told apart from a decision line by its `event` field.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyEventLine<'a> {
    time: String,
    request_id: Option<String>,
    trace_id: Option<String>,
    event: &'static str,
    actor: &'a str,
    key: Option<&'a str>,
    workspace: Option<&'a str>,
    grants: Grants<'a>,
    outcome: &'static str,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Grants<'a> {
    role: Option<&'a str>,
    permissions: &'a [&'a str],
}

impl DecisionLog {
    /// Writes one key event with the trace of the current span; an error means it has no
    /// record, and the change must not be made.
    pub fn write_key_event(&self, event: &KeyEvent<'_>) -> Result<(), NotRecorded> {
        let span = tracing::Span::current();
        let span_context = span.context().span().span_context().clone();
        let line = KeyEventLine {
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            request_id: crate::request_id::current(),
            trace_id: span_context
                .is_valid()
                .then(|| span_context.trace_id().to_string()),
            event: event.event.as_str(),
            actor: event.actor,
            key: event.key,
            workspace: event.workspace,
            grants: Grants {
                role: event.role,
                permissions: event.permissions,
            },
            outcome: match event.outcome {
                KeyOutcome::Done => "done",
                KeyOutcome::Refused(_) => "refused",
                KeyOutcome::Failed(_) => "failed",
            },
            reason: match event.outcome {
                KeyOutcome::Done => None,
                KeyOutcome::Refused(reason) | KeyOutcome::Failed(reason) => Some(reason),
            },
        };
        match serde_json::to_string(&line) {
            Ok(line) => self.record(line),
            Err(error) => {
                tracing::error!(%error, "cannot serialize a key event line");
                Err(NotRecorded)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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
        log.record("{\"n\":1}".to_owned()).unwrap();
        log.record("{\"n\":2}".to_owned()).unwrap();
        log.flush();
        drop(log);
        let again = DecisionLog::open(&DecisionLogTarget::File(path.clone())).unwrap();
        again.record("{\"n\":3}".to_owned()).unwrap();
        again.flush();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"earlier\":true}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
        );
    }

    /// A writer that blocks until the test lets it go, like a stalled disk.
    struct Stalled {
        entered: mpsc::Sender<()>,
        /// Each write waits for a message here; once the sender is dropped, none waits.
        gate: mpsc::Receiver<()>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.gate.recv();
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A log whose writer is stuck writing line 0; dropping the returned sender frees it.
    fn stalled(
        capacity: usize,
        max_wait: Duration,
    ) -> (Arc<DecisionLog>, mpsc::Sender<()>, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let (entered, writing) = mpsc::channel();
        let (release, gate) = mpsc::channel();
        let writer = Stalled {
            entered,
            gate,
            written: written.clone(),
        };
        let log = DecisionLog::start(Box::new(writer), capacity, max_wait).unwrap();
        log.record("{\"n\":0}".to_owned()).unwrap();
        writing.recv().unwrap();
        (Arc::new(log), release, written)
    }

    fn lines(written: &Mutex<Vec<u8>>) -> Vec<String> {
        String::from_utf8(written.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_full_queue_makes_the_caller_wait_for_room_and_no_line_is_lost() {
        let (log, release, written) = stalled(8, Duration::from_secs(600));
        for n in 1..=8 {
            log.record(format!("{{\"n\":{n}}}")).unwrap();
        }
        assert_eq!(log.waits(), 0, "the queue had room for 8");

        // Free the writer once the next caller is waiting.
        let watcher = std::thread::spawn({
            let log = log.clone();
            move || {
                while log.waits() == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                drop(release);
            }
        });
        log.record("{\"n\":9}".to_owned()).unwrap();
        watcher.join().unwrap();
        log.flush();

        assert_eq!(log.waits(), 1);
        assert_eq!(log.dropped(), 0);
        let lines = lines(&written);
        assert_eq!(lines.len(), 10, "{lines:?}");
        assert_eq!(lines[9], "{\"n\":9}");
    }

    #[test]
    fn past_the_wait_a_line_is_refused_and_counted() {
        let (log, release, written) = stalled(1, Duration::from_millis(10));
        log.record("{\"n\":1}".to_owned()).unwrap();
        assert!(log.record("{\"n\":2}".to_owned()).is_err());
        assert_eq!((log.waits(), log.dropped()), (1, 1));

        drop(release);
        log.flush();
        assert_eq!(lines(&written), ["{\"n\":0}", "{\"n\":1}"]);
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
