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

use std::path::PathBuf;
use std::sync::Arc;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler};
use events::{AgentJob, AgentResult, Payload, Service, spec};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::backend::{PackageBackend, SystemRunner};
use crate::config::ConfigError;
use crate::host::{Host, HostState, StateError};
use crate::verify::{JobVerifier, KeyError};
use crate::{Backend, Config, LabError, LabState, handle_verified_job, result_event};

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
    verifier: JobVerifier,
    lock: Arc<Mutex<()>>,
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
            verifier,
            lock: Arc::new(Mutex::new(())),
        })
    }

    /// Takes this host's jobs until `token` fires, then finishes the job in hand.
    ///
    /// # Errors
    /// [`BusError`] when the consumer cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let host = self.host.clone();
        serve_jobs(self.bus.clone(), &host, self, token).await
    }
}

impl Handler for LabAgent {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let job = job_of(&d)?;
        let _one_job_at_a_time = self.lock.lock().await;
        let state =
            LabState::load(&self.state_path).map_err(|e| HandleError::Transient(e.to_string()))?;
        let boot_id = format!("boot-{}", uuid::Uuid::new_v4().simple());
        let (after, result) =
            handle_verified_job(&state, job, &self.verifier, self.clock.now(), &boot_id);
        if after != state {
            after
                .save(&self.state_path)
                .map_err(|e| HandleError::Transient(e.to_string()))?;
        }
        info!(host = %self.host, job = %job.job_id, action = ?job.action, status = ?result.status, "job handled");
        publish_result(&self.bus, result, &d).await
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
            .with_hooks(cfg.hooks.clone(), Arc::new(SystemRunner::new()));
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
        })
    }

    /// Takes this host's jobs until `token` fires, then finishes the job in
    /// hand.
    ///
    /// # Errors
    /// [`BusError`] when the consumer cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let host = self.host.host().to_owned();
        serve_jobs(self.bus.clone(), &host, self, token).await
    }
}

impl Handler for HostAgent {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let job = job_of(&d)?;
        let _one_job_at_a_time = self.lock.lock().await;
        let (host, path, clock, job, verifier) = (
            self.host.clone(),
            self.state_path.clone(),
            self.clock.clone(),
            job.clone(),
            self.verifier.clone(),
        );
        let result = tokio::task::spawn_blocking(move || -> Result<_, StateError> {
            let state = HostState::load_or_new(&path, host.host())?;
            let now = || clock.now();
            let (next, result) =
                host.handle_verified_job(&state, &job, &verifier, &now, &mut |journal| {
                    journal.save(&path)
                })?;
            if next != state {
                next.save(&path)?;
            }
            Ok(result)
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
        publish_result(&self.bus, result, &d).await
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
    /// backends, verifying jobs with the public key file `cfg.verify_key`.
    ///
    /// # Errors
    /// [`AgentError`] from the configuration (no `verify_key`:
    /// [`ConfigError::NoVerifyKey`]), the key file or the state file.
    pub fn build(cfg: &Config, bus: Bus, clock: Clock) -> Result<Agent, AgentError> {
        cfg.validate()?;
        let path = cfg
            .verify_key
            .as_deref()
            .ok_or_else(|| ConfigError::NoVerifyKey(cfg.host.clone()))?;
        let verifier = JobVerifier::load(path)?;
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

    /// Runs the agent until `token` fires.
    ///
    /// # Errors
    /// [`BusError`] when the consumer cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        match self {
            Agent::Lab(a) => a.run(token).await,
            Agent::Host(a) => a.run(token).await,
        }
    }
}
