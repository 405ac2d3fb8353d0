//! The end-to-end harness: a lab folder with a config, the real `patchflow`
//! binary run as child processes against a testkit nats-server, and an
//! [`EventLog`] that replays every stream of the lab's namespace so tests can
//! wait for, and assert on, exactly what crossed the bus.
//!
//! Tests never sleep for an outcome: they wait on the log with a timeout.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusConfig};
use bytes::Bytes;
use events::{Event, Namespace, Payload, spec};
use tokio::sync::Notify;

/// The `patchflow` binary of this build (a sibling of the test executable's
/// `deps` folder).
///
/// # Panics
/// When it has not been built (`cargo test --workspace` builds it).
pub fn patchflow_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("patchflow"))
        .expect("target folder");
    assert!(
        bin.is_file(),
        "{} is missing: build it with cargo build -p patchflow (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// One message read from a stream.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Stream name.
    pub stream: String,
    /// Stream sequence.
    pub seq: u64,
    /// Subject.
    pub subject: String,
    /// Raw payload.
    pub raw: Bytes,
    /// The decoded event, when it is one.
    pub event: Option<Event>,
}

/// Everything published in a namespace, in per-stream order, as it arrives.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Mutex<Vec<Logged>>>,
    notify: Arc<Notify>,
    bus: Bus,
}

impl EventLog {
    /// Starts following every stream of `bus`'s namespace from the beginning.
    pub fn follow(bus: &Bus) -> EventLog {
        let log = EventLog {
            inner: Arc::default(),
            notify: Arc::default(),
            bus: bus.clone(),
        };
        for stream in spec::STREAMS {
            let (bus, log) = (bus.clone(), log.clone());
            tokio::spawn(async move {
                let name = stream.name(bus.namespace());
                let token = tokio_util::sync::CancellationToken::new();
                let mut messages = bus::consume::follow(&bus, stream, 1, token);
                while let Some(m) = messages.recv().await {
                    let event = Event::from_json(&m.payload).ok();
                    log.push(Logged {
                        stream: name.clone(),
                        seq: m.stream_sequence,
                        subject: m.subject.clone(),
                        raw: m.payload.clone(),
                        event,
                    });
                }
            });
        }
        log
    }

    fn push(&self, item: Logged) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(item);
        self.notify.notify_waiters();
    }

    /// A copy of everything so far.
    pub fn all(&self) -> Vec<Logged> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every decoded event so far.
    pub fn events(&self) -> Vec<Event> {
        self.all().into_iter().filter_map(|l| l.event).collect()
    }

    /// Payloads of one type, in log order (see [`payloads`]).
    pub fn payloads<T>(&self, pick: impl Fn(&Payload) -> Option<T>) -> Vec<T> {
        payloads(&self.events(), pick)
    }

    /// Waits until `done` holds for the decoded events, or fails after `timeout`
    /// with `what` and a count of what arrived.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Event]) -> bool,
    ) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            let events = self.events();
            if done(&events) {
                return events;
            }
            if tokio::time::Instant::now() >= deadline {
                let mut counts = std::collections::BTreeMap::new();
                for e in &events {
                    *counts.entry(e.event_type()).or_insert(0) += 1;
                }
                let streams = self.positions().await;
                panic!(
                    "timed out after {timeout:?} waiting for {what}; events so far: {counts:?}; \
                     streams (log's last sequence / server's): {streams}"
                );
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }
}

impl EventLog {
    /// Per stream, the last sequence the log holds beside the server's
    /// (`FINDINGS 8/60`): tells a stalled log from a stalled flow.
    async fn positions(&self) -> String {
        let mut held: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for l in self.all() {
            let seq = held.entry(l.stream.clone()).or_default();
            *seq = (*seq).max(l.seq);
        }
        let mut out = Vec::new();
        for stream in spec::STREAMS {
            let name = stream.name(self.bus.namespace());
            let server = match tokio::time::timeout(
                Duration::from_secs(5),
                self.bus.stream_last_sequence(&stream),
            )
            .await
            {
                Ok(Ok(last)) => last.to_string(),
                Ok(Err(e)) => format!("error: {e}"),
                Err(_) => "no answer".to_owned(),
            };
            let log = held.get(&name).copied().unwrap_or_default();
            out.push(format!("{name} {log}/{server}"));
        }
        out.join(", ")
    }
}

/// Counts the events of one type.
pub fn count(events: &[Event], event_type: &str) -> usize {
    events
        .iter()
        .filter(|e| e.event_type() == event_type)
        .count()
}

/// The payloads of one type among `events`, in their order: `pick` maps the
/// payload of the type wanted to `Some` (`Payload::WaveHalted(h) =>
/// Some(h.clone())`) and every other payload to `None`.
pub fn payloads<T>(events: &[Event], pick: impl Fn(&Payload) -> Option<T>) -> Vec<T> {
    events.iter().filter_map(|e| pick(&e.data)).collect()
}

/// The events of one bundle (those whose payload names `bundle` as its
/// bundle id), in their order.
pub fn bundle_events(events: &[Event], bundle: uuid::Uuid) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.data.bundle_id() == Some(bundle))
        .cloned()
        .collect()
}

/// Whether every planned bundle finished (completed or halted) and every
/// requested rollback completed: the flow has settled.
pub fn settled(events: &[Event]) -> bool {
    let planned = count(events, "patch.bundle.planned.v1");
    let finished =
        count(events, "patch.bundle.completed.v1") + count(events, "patch.bundle.halted.v1");
    let rollbacks_requested: std::collections::BTreeSet<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::RollbackRequested(r) => Some((r.bundle_id, r.ring.clone())),
            _ => None,
        })
        .collect();
    let rollbacks_done: std::collections::BTreeSet<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::RollbackCompleted(r) => Some((r.bundle_id, r.ring.clone())),
            _ => None,
        })
        .collect();
    planned > 0 && finished == planned && rollbacks_requested.is_subset(&rollbacks_done)
}

/// A lab: a namespace on a nats-server, a folder, a bus connection and the
/// event log of the namespace.
pub struct Lab {
    /// Server URL.
    pub url: String,
    /// The lab's namespace.
    pub ns: Namespace,
    /// The lab's folder (config, inventory, agent states, logs, projection).
    pub dir: tempfile::TempDir,
    /// A connection for the test's own publishing and reading.
    pub bus: Bus,
    /// Everything published in the namespace.
    pub log: EventLog,
}

impl Lab {
    /// A lab on the server at `url`, in a fresh namespace.
    pub async fn on(url: &str) -> Lab {
        let ns = testkit::unique_namespace();
        let bus = Bus::connect(&BusConfig::new(url, ns.clone(), "e2e-test"))
            .await
            .expect("connect to the test server");
        bus.ensure().await.expect("ensure streams");
        let log = EventLog::follow(&bus);
        Lab {
            url: url.to_owned(),
            ns,
            dir: tempfile::tempdir().expect("lab folder"),
            bus,
            log,
        }
    }

    /// A path inside the lab folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `patchflow` with the lab's server, namespace, config and data folder.
    pub fn patchflow(&self) -> Command {
        let mut cmd = Command::new(patchflow_bin());
        cmd.env("NATS_URL", &self.url)
            .env("PATCHFLOW_NAMESPACE", self.ns.as_str())
            .env("PATCHFLOW_CONFIG", self.path("patchflow.toml"))
            .env("PATCHFLOW_DATA_DIR", self.path("data"))
            .env_remove("RUST_LOG")
            .env("PATCHFLOW_LOG", "info");
        cmd
    }

    /// Runs a `patchflow` command to completion; returns status and stdout.
    pub fn run(&self, args: &[&str]) -> (ExitStatus, String, String) {
        let out = self.patchflow().args(args).output().expect("run patchflow");
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts a long-running `patchflow` command, logging to `<name>.log`.
    pub fn spawn(&self, name: &str, args: &[&str]) -> Proc {
        self.spawn_with(name, args, |_| {})
    }

    /// [`Lab::spawn`] with the command changed by `edit` first (another
    /// environment, its own process group).
    pub fn spawn_with(&self, name: &str, args: &[&str], edit: impl FnOnce(&mut Command)) -> Proc {
        let log_path = self.path(&format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open process log");
        let mut cmd = self.patchflow();
        edit(&mut cmd);
        let child = cmd
            .args(args)
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn patchflow");
        Proc {
            child: Some(child),
            log: log_path,
        }
    }
}

/// A child `patchflow` process, killed when dropped.
pub struct Proc {
    child: Option<Child>,
    /// Its combined output.
    pub log: PathBuf,
}

impl Proc {
    /// Sends a signal (`TERM`, `KILL`) by name.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(child.id().to_string())
                .status();
        }
    }

    /// Sends a signal by name to the process's whole process group, as a
    /// terminal sends Ctrl-C (`INT`) to its foreground job. The process must
    /// lead its own group ([`Lab::spawn_with`] and
    /// `std::os::unix::process::CommandExt::process_group(cmd, 0)`).
    pub fn signal_group(&self, name: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{name}"))
                .arg("--")
                .arg(format!("-{}", child.id()))
                .status();
        }
    }

    /// Waits for the process to exit, up to `timeout`.
    ///
    /// # Panics
    /// When it is still running then (its log is printed).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        let child = self.child.as_mut().expect("process already reaped");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "process still running after {timeout:?}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process's output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Lines of a process's log printed when a test fails with it running.
pub const LOG_TAIL_LINES: usize = 200;

impl Drop for Proc {
    /// Kills the process. When the test is failing (or
    /// `PATCHFLOW_TEST_SHOW_LOGS` is set), prints the last
    /// [`LOG_TAIL_LINES`] lines of its log first: CI keeps nothing else of
    /// a failed run's processes.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() || std::env::var_os("PATCHFLOW_TEST_SHOW_LOGS").is_some() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines
                .get(lines.len().saturating_sub(LOG_TAIL_LINES)..)
                .unwrap_or_default();
            eprintln!(
                "---- last {} of {} lines of {} ----\n{}",
                tail.len(),
                lines.len(),
                self.log.display(),
                tail.join("\n")
            );
        }
    }
}
