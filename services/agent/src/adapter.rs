//! The bus adapter of the host agent: a durable consumer on
//! `patch.agent.job.<host>` only; each job's signature is verified with
//! deploy's public key ([`JobVerifier`]; a job that fails is refused and the
//! refusal published), then the job is applied ([`crate::lab::handle_job`] for
//! the lab backend, [`Host::handle_job`] for a package backend), the new
//! state is saved atomically, and only then is `patch.agent.result.<host>`
//! published and the job acked. A redelivered job is answered from the
//! state's history and never applied twice.
//!
//! [`Agent`] builds the right one from the [`Config`]: [`LabAgent`] for
//! `lab`, [`HostAgent`] for `apt`, `dnf`, `yum` and `zypper`. A
//! [`HostAgent`] runs the package manager on a blocking thread, one job at a
//! time.
//!
//! # Presence and reboots
//!
//! At every start, before it takes jobs, an agent publishes
//! `patch.agent.online.<host>` ([`AgentOnline`]) with the host's current
//! boot id. When its state file holds a pending reboot (a reboot job was
//! accepted and the agent stopped before announcing it), the announcement
//! names that job (`reboot`), its event id is
//! `derive_id(<reboot job id>, "agent", "online")` (a crash-restart loop
//! republishes the same event, which the duplicate window drops), and the
//! pending reboot is cleared and saved only after the publish; a plain start
//! gets a fresh UUIDv7 id and `reboot: None` ([`online_event`]).
//!
//! A reboot job ([`events::JobAction::Reboot`]) is answered first: the
//! pending reboot is saved, the result published and the job acked. Then,
//! still holding the one-job-at-a-time lock:
//! - [`HostAgent`]: after a short pause for the ack to leave and a flush, it
//!   runs its configured reboot command ([`Config::reboot`]) once per job id
//!   in this process (a redelivered reboot job is answered from the history
//!   and runs nothing again). When the command fails, it publishes
//!   [`AgentOnline`] at once with the unchanged boot id, the job and
//!   `detail` `reboot command failed: …`, and clears the pending reboot.
//!   When it succeeds the host goes down; the agent's next start announces
//!   the new boot id.
//! - [`LabAgent`]: it waits `reboot_secs` ([`Config::reboot_secs`]), then
//!   completes the simulated reboot ([`crate::lab::complete_reboot`]: new
//!   boot id), publishes [`AgentOnline`] naming the job, and saves. Stopped
//!   during the wait, it leaves the pending reboot in the state file and its
//!   next start completes it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler};
use events::{AgentJob, AgentOnline, AgentResult, Event, Payload, RebootRef, Service, spec};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::backend::{PackageBackend, SystemRunner};
use crate::config::ConfigError;
use crate::host::{Host, HostState, StateError};
use crate::verify::{JobVerifier, KeyError};
use crate::{Backend, Config, LabError, LabState, handle_verified_job, result_event};

/// How long a [`HostAgent`] waits after a reboot job's handler returned
/// (so that the consumer's ack is sent) before it flushes the connection and
/// runs the reboot command.
const ACK_SETTLE: Duration = Duration::from_millis(200);

/// The `patch.agent.online.<host>` event of `online`, at its `started_at`.
///
/// Its id is `derive_id(<reboot job id>, "agent", "online")` when it names a
/// reboot job, so every announcement of that reboot (a crash-restart loop,
/// a failure announced before a crash) is the same event and the duplicate
/// window keeps one; at a plain start it is `plain_id` (the adapter passes a
/// fresh UUIDv7).
pub fn online_event(online: AgentOnline, plain_id: Uuid) -> Event {
    let id = match &online.reboot {
        Some(r) => events::derive_id(r.job_id, Service::Agent.as_str(), "online"),
        None => plain_id,
    };
    let time = online.started_at;
    Event::new(id, Service::Agent, time, online)
}

/// Whether the reboot of `job_id` must start now: `pending` (the state after
/// the job) holds it, and this process has not started it yet (recorded in
/// `started`). A reboot job redelivered after its reboot started is
/// answered from the history and starts nothing; one redelivered because
/// its result could not be published (the reboot never started) starts it.
fn reboot_due(
    pending: Option<&RebootRef>,
    job_id: Uuid,
    started: &std::sync::Mutex<BTreeSet<Uuid>>,
) -> bool {
    if pending.is_none_or(|p| p.job_id != job_id) {
        return false;
    }
    let mut started = match started.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    started.insert(job_id)
}

/// A new lab boot id: `boot-` and a random UUID (simple form), never the
/// current one.
fn new_lab_boot_id() -> String {
    format!("boot-{}", uuid::Uuid::new_v4().simple())
}

/// Publishes the agent's `patch.agent.online.<host>` event for `online`.
///
/// # Errors
/// [`BusError`] from the publish.
async fn publish_online(bus: &Bus, online: AgentOnline) -> Result<(), BusError> {
    let (host, boot_id) = (online.host.clone(), online.boot_id.clone());
    let reboot_job = online.reboot.as_ref().map(|r| r.job_id);
    let detail = online.detail.clone();
    bus.publish(&online_event(online, Uuid::now_v7())).await?;
    info!(%host, %boot_id, ?reboot_job, ?detail, "agent online");
    Ok(())
}

/// Serves `handler` on the job consumer of `host` (one job at a time) until
/// `token` fires.
///
/// # Errors
/// [`BusError`] when the consumer cannot be set up.
async fn serve_jobs<H: Handler>(
    bus: Bus,
    host: &str,
    handler: H,
    token: CancellationToken,
) -> Result<(), BusError> {
    let consumer = spec::agent_consumer(host);
    bus::serve(
        &bus,
        Service::Agent,
        vec![consumer],
        Arc::new(handler),
        true,
        token,
    )
    .await
}

/// Waits `wait`; `false` when `token` fires first (the agent is stopping).
async fn waited(token: &CancellationToken, wait: std::time::Duration) -> bool {
    tokio::select! {
        () = token.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// The job `d` carries.
///
/// # Errors
/// [`HandleError::Poison`] for any other payload.
fn job_of(d: &Delivery) -> Result<&AgentJob, HandleError> {
    match &d.event.data {
        Payload::AgentJob(job) => Ok(job),
        _ => Err(HandleError::Poison(format!(
            "the agent does not consume {}",
            d.event.event_type()
        ))),
    }
}

/// Publishes `result` as its `patch.agent.result.<host>` event, traced as a
/// child of the job delivery `d`.
///
/// # Errors
/// [`HandleError`] from the publish.
async fn publish_result(bus: &Bus, result: AgentResult, d: &Delivery) -> Result<(), HandleError> {
    let event = result_event(
        result,
        Some(bus::trace::child(d.event.traceparent.as_deref())),
    );
    bus.publish(&event).await?;
    Ok(())
}

/// A lab agent for one host: build it, then [`LabAgent::run`] it.
#[derive(Debug, Clone)]
pub struct LabAgent {
    bus: Bus,
    clock: Clock,
    host: String,
    state_path: PathBuf,
    verifier: Arc<JobVerifier>,
    lock: Arc<Mutex<()>>,
    reboot_wait: Duration,
    reboots_started: Arc<std::sync::Mutex<BTreeSet<Uuid>>>,
    tasks: TaskTracker,
    token: CancellationToken,
}

impl LabAgent {
    /// Checks that the state file is readable and belongs to `cfg.host`;
    /// jobs are taken only when `verifier` accepts their signature.
    ///
    /// # Errors
    /// [`LabError`] when the file is missing, unreadable, or for another host.
    pub fn build(
        cfg: &Config,
        verifier: JobVerifier,
        bus: Bus,
        clock: Clock,
    ) -> Result<Self, LabError> {
        let state = LabState::load(&cfg.state)?;
        if state.host != cfg.host {
            return Err(LabError::Invalid {
                path: cfg.state.clone(),
                reason: format!(
                    "the state file is for host {:?}, not {:?}",
                    state.host, cfg.host
                ),
            });
        }
        Ok(LabAgent {
            bus,
            clock,
            host: cfg.host.clone(),
            state_path: cfg.state.clone(),
            verifier: Arc::new(verifier),
            lock: Arc::new(Mutex::new(())),
            reboot_wait: Duration::from_secs(cfg.reboot_secs),
            reboots_started: Arc::default(),
            tasks: TaskTracker::new(),
            token: CancellationToken::new(),
        })
    }

    /// Announces the agent (`patch.agent.online.<host>`; completing a
    /// pending reboot first, see the module docs), then takes this host's
    /// jobs until `token` fires, then finishes the job in hand. A simulated
    /// reboot under way is left pending in the state file.
    ///
    /// # Errors
    /// [`AgentError::Lab`] when the state file cannot be read or written at
    /// start, [`AgentError::Bus`] when the announcement cannot be published
    /// or the consumer cannot be set up.
    pub async fn run(mut self, token: CancellationToken) -> Result<(), AgentError> {
        self.token = token.clone();
        if !self.complete_pending_reboot().await? {
            let state = LabState::load(&self.state_path)?;
            publish_online(&self.bus, crate::lab::online(&state, self.clock.now())).await?;
        }
        let (host, tasks) = (self.host.clone(), self.tasks.clone());
        let served = serve_jobs(self.bus.clone(), &host, self, token).await;
        tasks.close();
        tasks.wait().await;
        Ok(served?)
    }

    /// Completes the reboot pending in the state file, if any: new boot id,
    /// [`AgentOnline`] naming the job published, then the state saved.
    /// Returns whether a reboot was pending.
    ///
    /// # Errors
    /// [`AgentError::Lab`] for the state file, [`AgentError::Bus`] for the
    /// publish (the state file then still holds the pending reboot).
    async fn complete_pending_reboot(&self) -> Result<bool, AgentError> {
        let state = LabState::load(&self.state_path)?;
        let Some((next, online)) =
            crate::lab::complete_reboot(&state, &new_lab_boot_id(), self.clock.now())
        else {
            return Ok(false);
        };
        publish_online(&self.bus, online).await?;
        next.save(&self.state_path)?;
        Ok(true)
    }

    /// The simulated reboot after a reboot job's result: waits
    /// `reboot_wait` holding the job lock (`guard`), then completes it;
    /// nothing when the agent stops first.
    fn spawn_reboot(&self, job_id: Uuid, guard: OwnedMutexGuard<()>) {
        let agent = self.clone();
        self.tasks.spawn(async move {
            let _one_job_at_a_time = guard;
            if !waited(&agent.token, agent.reboot_wait).await {
                info!(host = %agent.host, job = %job_id, "agent stopping during the simulated reboot; its next start completes it");
                return;
            }
            if let Err(e) = agent.complete_pending_reboot().await {
                error!(host = %agent.host, job = %job_id, error = %e, "could not complete the simulated reboot; the next start completes it");
            }
        });
    }
}

impl Handler for LabAgent {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let job = job_of(&d)?;
        let one_job_at_a_time = self.lock.clone().lock_owned().await;
        let state =
            LabState::load(&self.state_path).map_err(|e| HandleError::Transient(e.to_string()))?;
        let boot_id = new_lab_boot_id();
        let (after, result) =
            handle_verified_job(&state, job, &self.verifier, self.clock.now(), &boot_id);
        if after != state {
            after
                .save(&self.state_path)
                .map_err(|e| HandleError::Transient(e.to_string()))?;
        }
        info!(host = %self.host, job = %job.job_id, action = ?job.action, status = ?result.status, "job handled");
        publish_result(&self.bus, result, &d).await?;
        if reboot_due(
            after.pending_reboot.as_ref(),
            job.job_id,
            &self.reboots_started,
        ) {
            self.spawn_reboot(job.job_id, one_job_at_a_time);
        }
        Ok(())
    }
}

/// Why an agent could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is invalid (see [`Config::validate`]).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The lab state file cannot be used.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// The package backend's state file cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// The job verification key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The bus failed: the start announcement could not be published, or
    /// the job consumer could not be set up.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// The package backend of `backend` running real commands, or `None` for
/// `lab`.
pub fn package_backend(backend: Backend) -> Option<Arc<dyn PackageBackend>> {
    let runner = Arc::new(SystemRunner::new());
    let b: Arc<dyn PackageBackend> = match backend {
        Backend::Lab => return None,
        Backend::Apt => Arc::new(crate::apt::Apt::new(runner)),
        Backend::Dnf => Arc::new(crate::rpm::Dnf::new(runner)),
        Backend::Yum => Arc::new(crate::rpm::Dnf::yum(runner)),
        Backend::Zypper => Arc::new(crate::zypper::Zypper::new(runner)),
    };
    Some(b)
}

/// An agent applying jobs with a package manager (`apt`, `dnf`, `yum`,
/// `zypper`): build it, then [`HostAgent::run`] it.
#[derive(Debug, Clone)]
pub struct HostAgent {
    bus: Bus,
    clock: Clock,
    host: Arc<Host>,
    state_path: PathBuf,
    verifier: Arc<JobVerifier>,
    lock: Arc<Mutex<()>>,
    reboots_started: Arc<std::sync::Mutex<BTreeSet<Uuid>>>,
    tasks: TaskTracker,
    token: CancellationToken,
}

impl HostAgent {
    /// The agent of `cfg` with its package manager's real commands; checks
    /// that the state file (`cfg.state`; created on the first job) is
    /// readable and for this host. Jobs are taken only when `verifier`
    /// accepts their signature.
    ///
    /// # Errors
    /// [`AgentError::Config`] for an invalid config or the `lab` backend,
    /// [`AgentError::State`] for an unreadable state file or one of another
    /// host.
    pub fn build(
        cfg: &Config,
        verifier: JobVerifier,
        bus: Bus,
        clock: Clock,
    ) -> Result<Self, AgentError> {
        cfg.validate()?;
        let backend = package_backend(cfg.backend).ok_or(ConfigError::NotPackageBackend)?;
        let host = Host::new(cfg.host.clone(), backend, cfg.dry_run)
            .with_hooks(cfg.hooks.clone(), Arc::new(SystemRunner::new()))
            .with_reboot(cfg.reboot.clone(), Arc::new(SystemRunner::new()));
        Ok(HostAgent::with_host(
            host,
            verifier,
            cfg.state.clone(),
            bus,
            clock,
        )?)
    }

    /// The agent of `host` keeping its state at `state_path`, taking only
    /// jobs `verifier` accepts (tests pass a host with a scripted backend).
    ///
    /// # Errors
    /// [`StateError`] for an unreadable state file or one of another host.
    pub fn with_host(
        host: Host,
        verifier: JobVerifier,
        state_path: PathBuf,
        bus: Bus,
        clock: Clock,
    ) -> Result<Self, StateError> {
        HostState::load_or_new(&state_path, host.host())?;
        Ok(HostAgent {
            bus,
            clock,
            host: Arc::new(host),
            state_path,
            verifier: Arc::new(verifier),
            lock: Arc::new(Mutex::new(())),
            reboots_started: Arc::default(),
            tasks: TaskTracker::new(),
            token: CancellationToken::new(),
        })
    }

    /// Announces the agent (`patch.agent.online.<host>`, naming the pending
    /// reboot if any, which is then cleared; see the module docs), then
    /// takes this host's jobs until `token` fires, then finishes the job in
    /// hand.
    ///
    /// # Errors
    /// [`AgentError::State`] when the state file cannot be read or written
    /// at start, [`AgentError::Bus`] when the announcement cannot be
    /// published or the consumer cannot be set up.
    pub async fn run(mut self, token: CancellationToken) -> Result<(), AgentError> {
        self.token = token.clone();
        let state = HostState::load_or_new(&self.state_path, self.host.host())?;
        let (next, online) = self.host.online(&state, self.clock.now());
        publish_online(&self.bus, online).await?;
        if next != state {
            next.save(&self.state_path)?;
        }
        let (host, tasks) = (self.host.host().to_owned(), self.tasks.clone());
        let served = serve_jobs(self.bus.clone(), &host, self, token).await;
        tasks.close();
        tasks.wait().await;
        Ok(served?)
    }

    /// Runs the reboot command of `job_id` after its result was published:
    /// waits [`ACK_SETTLE`] (nothing when the agent stops first), flushes
    /// the connection, runs the command on a blocking thread holding the job
    /// lock (`guard`); when it fails, announces that with
    /// [`HostAgent::announce_failed_reboot`].
    fn spawn_reboot(&self, job_id: Uuid, guard: OwnedMutexGuard<()>) {
        let agent = self.clone();
        self.tasks.spawn(async move {
            let _one_job_at_a_time = guard;
            if !waited(&agent.token, ACK_SETTLE).await {
                warn!(host = %agent.host.host(), job = %job_id, "agent stopping before the reboot command ran; its next start announces the pending reboot");
                return;
            }
            if let Err(e) = agent.bus.flush().await {
                warn!(host = %agent.host.host(), error = %e, "flush before the reboot failed");
            }
            let host = agent.host.clone();
            let ran = tokio::task::spawn_blocking(move || host.run_reboot())
                .await
                .unwrap_or_else(|e| Err(format!("the reboot command's thread failed: {e}")));
            match ran {
                Ok(detail) => {
                    info!(host = %agent.host.host(), job = %job_id, %detail, "reboot command ran; the host is going down");
                }
                Err(reason) => {
                    error!(host = %agent.host.host(), job = %job_id, %reason, "reboot command failed");
                    if let Err(e) = agent.announce_failed_reboot(&reason).await {
                        error!(host = %agent.host.host(), job = %job_id, error = %e, "could not announce the failed reboot; the next start announces it");
                    }
                }
            }
        });
    }

    /// After the reboot command failed with `reason`: publishes
    /// [`AgentOnline`] with the unchanged boot id, the pending reboot and
    /// `reboot command failed: <reason>`, then saves the state without the
    /// pending reboot.
    ///
    /// # Errors
    /// [`AgentError::State`] for the state file, [`AgentError::Bus`] for
    /// the publish (the pending reboot then stays for the next start).
    async fn announce_failed_reboot(&self, reason: &str) -> Result<(), AgentError> {
        let state = HostState::load_or_new(&self.state_path, self.host.host())?;
        if let Some((next, online)) = self.host.reboot_failed(&state, reason, self.clock.now()) {
            publish_online(&self.bus, online).await?;
            next.save(&self.state_path)?;
        }
        Ok(())
    }
}

impl Handler for HostAgent {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let job = job_of(&d)?;
        let one_job_at_a_time = self.lock.clone().lock_owned().await;
        let (host, path, clock, job, verifier) = (
            self.host.clone(),
            self.state_path.clone(),
            self.clock.clone(),
            job.clone(),
            self.verifier.clone(),
        );
        let (result, pending_reboot) =
            tokio::task::spawn_blocking(move || -> Result<_, StateError> {
                let state = HostState::load_or_new(&path, host.host())?;
                let now = || clock.now();
                let (next, result) =
                    host.handle_verified_job(&state, &job, &verifier, &now, &mut |journal| {
                        journal.save(&path)
                    })?;
                if next != state {
                    next.save(&path)?;
                }
                Ok((result, next.pending_reboot))
            })
            .await
            .map_err(|e| HandleError::Transient(format!("the job's thread failed: {e}")))?
            .map_err(|e| HandleError::Transient(e.to_string()))?;
        info!(
            host = %result.host,
            job = %result.job_id,
            action = ?result.action,
            status = ?result.status,
            dry_run = self.host.dry_run(),
            "job handled"
        );
        let job_id = result.job_id;
        publish_result(&self.bus, result, &d).await?;
        if reboot_due(pending_reboot.as_ref(), job_id, &self.reboots_started) {
            self.spawn_reboot(job_id, one_job_at_a_time);
        }
        Ok(())
    }
}

/// A host agent with the backend its [`Config`] names.
#[derive(Debug, Clone)]
pub enum Agent {
    /// The lab backend.
    Lab(LabAgent),
    /// A package backend.
    Host(HostAgent),
}

impl Agent {
    /// Builds [`LabAgent`] for `lab` and [`HostAgent`] for the package
    /// backends, verifying jobs with the public key files `cfg.verify_key`
    /// (several while deploy's key is rotated).
    ///
    /// # Errors
    /// [`AgentError`] from the configuration (no `verify_key`:
    /// [`ConfigError::NoVerifyKey`]), the key file or the state file.
    pub fn build(cfg: &Config, bus: Bus, clock: Clock) -> Result<Agent, AgentError> {
        cfg.validate()?;
        if cfg.verify_key.is_empty() {
            return Err(ConfigError::NoVerifyKey(cfg.host.clone()).into());
        }
        let verifier = JobVerifier::load_all(&cfg.verify_key)?;
        Agent::build_with_verifier(cfg, verifier, bus, clock)
    }

    /// [`Agent::build`] with the verification key given (`patchflow up`
    /// passes its deploy's public key to its in-process agents);
    /// `cfg.verify_key` is not read.
    ///
    /// # Errors
    /// [`AgentError`] from the configuration or the state file.
    pub fn build_with_verifier(
        cfg: &Config,
        verifier: JobVerifier,
        bus: Bus,
        clock: Clock,
    ) -> Result<Agent, AgentError> {
        cfg.validate()?;
        match cfg.backend {
            Backend::Lab => Ok(Agent::Lab(LabAgent::build(cfg, verifier, bus, clock)?)),
            _ => Ok(Agent::Host(HostAgent::build(cfg, verifier, bus, clock)?)),
        }
    }

    /// Announces the agent, then runs it until `token` fires.
    ///
    /// # Errors
    /// [`AgentError`] when the state file cannot be used at start, the
    /// announcement cannot be published, or the consumer cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), AgentError> {
        match self {
            Agent::Lab(a) => a.run(token).await,
            Agent::Host(a) => a.run(token).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(reboot: Option<RebootRef>) -> AgentOnline {
        AgentOnline {
            host: "web-01".into(),
            boot_id: "boot-1".into(),
            started_at: "2026-12-01T02:10:00Z".parse().unwrap(),
            reboot,
            detail: None,
        }
    }

    fn reboot_ref(job: u128) -> RebootRef {
        RebootRef {
            job_id: Uuid::from_u128(job),
            bundle_id: Uuid::from_u128(0xb0),
            ring: "dev".into(),
            wave: 0,
            boot_id_before: "boot-0".into(),
        }
    }

    #[test]
    fn the_online_event_id_is_derived_from_the_reboot_job_else_given() {
        let plain = Uuid::from_u128(0x77);
        let e = online_event(online(Some(reboot_ref(9))), plain);
        assert_eq!(
            e.id,
            events::derive_id(Uuid::from_u128(9), "agent", "online")
        );
        assert_eq!(e.event_type(), "patch.agent.online.v1");
        assert_eq!(
            e.time,
            "2026-12-01T02:10:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        );
        assert_eq!(
            online_event(online(Some(reboot_ref(9))), Uuid::from_u128(0x78)).id,
            e.id
        );
        assert_eq!(online_event(online(None), plain).id, plain);
    }

    #[test]
    fn a_reboot_starts_once_per_job_in_a_process() {
        let started = std::sync::Mutex::new(BTreeSet::new());
        let pending = reboot_ref(9);
        assert!(!reboot_due(None, pending.job_id, &started));
        assert!(!reboot_due(Some(&pending), Uuid::from_u128(8), &started));
        assert!(reboot_due(Some(&pending), pending.job_id, &started));
        // Redelivered after the reboot started: nothing again.
        assert!(!reboot_due(Some(&pending), pending.job_id, &started));
    }
}
