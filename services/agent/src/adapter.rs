//! The bus adapter of the host agent (lab backend): a durable consumer on
//! `patch.agent.job.<host>` only; each job is applied to the state file
//! ([`handle_job`]), the new state is saved atomically, and only then is
//! `patch.agent.result.<host>` published and the job acked. A redelivered
//! job is answered from the state's history and never applied twice.

use std::path::PathBuf;
use std::sync::Arc;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler};
use events::{Payload, Service, spec};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{Config, LabError, LabState, handle_job, result_event};

/// A lab agent for one host: build it, then [`LabAgent::run`] it.
#[derive(Debug, Clone)]
pub struct LabAgent {
    bus: Bus,
    clock: Clock,
    host: String,
    state_path: PathBuf,
    lock: Arc<Mutex<()>>,
}

impl LabAgent {
    /// Checks that the state file is readable and belongs to `cfg.host`.
    ///
    /// # Errors
    /// [`LabError`] when the file is missing, unreadable, or for another host.
    pub fn build(cfg: &Config, bus: Bus, clock: Clock) -> Result<Self, LabError> {
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
            lock: Arc::new(Mutex::new(())),
        })
    }

    /// Takes this host's jobs until `token` fires, then finishes the job in hand.
    ///
    /// # Errors
    /// [`BusError`] when the consumer cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let bus = self.bus.clone();
        let consumer = spec::agent_consumer(&self.host);
        bus::serve(
            &bus,
            Service::Agent,
            vec![consumer],
            Arc::new(self),
            true,
            token,
        )
        .await
    }
}

impl Handler for LabAgent {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let Payload::AgentJob(job) = &d.event.data else {
            return Err(HandleError::Poison(format!(
                "the agent does not consume {}",
                d.event.event_type()
            )));
        };
        let _one_job_at_a_time = self.lock.lock().await;
        let state =
            LabState::load(&self.state_path).map_err(|e| HandleError::Transient(e.to_string()))?;
        let boot_id = format!("boot-{}", uuid::Uuid::new_v4().simple());
        let (after, result) = handle_job(&state, job, self.clock.now(), &boot_id);
        if after != state {
            after
                .save(&self.state_path)
                .map_err(|e| HandleError::Transient(e.to_string()))?;
        }
        info!(host = %self.host, job = %job.job_id, action = ?job.action, status = ?result.status, "job handled");
        let event = result_event(
            result,
            Some(bus::trace::child(d.event.traceparent.as_deref())),
        );
        self.bus.publish(&event).await?;
        Ok(())
    }
}
