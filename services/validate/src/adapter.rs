//! The bus adapter of validate: for every `patch.deployment.wave.completed`,
//! run the ring's health checks, read back each host's latest
//! `patch.agent.result.<host>` from the stream, [`decide`], and publish the
//! verdict (and, on failure, `patch.rollback.requested`).
//!
//! Health probes are not deterministic, so the verdict's events are stored
//! under `verdict.<bundle>.<ring>.<wave>` (bucket `<ns>_validate`) *before*
//! they are published: a redelivered wave republishes the stored verdict and
//! never a second, different one.

use std::sync::Arc;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler, StateStore, kv_key};
use events::subject::tail;
use events::{Event, Payload, Service, spec};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{Config, Reported, decide, run_checks};

/// The validate service: build it, then [`ValidateService::run`] it.
#[derive(Debug, Clone)]
pub struct ValidateService {
    bus: Bus,
    clock: Clock,
    cfg: Arc<Config>,
    state: StateStore,
}

impl ValidateService {
    /// Opens the state bucket.
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be created or opened.
    pub async fn build(cfg: Config, bus: Bus, clock: Clock) -> Result<Self, BusError> {
        let state = bus.state(Service::Validate).await?;
        Ok(ValidateService {
            bus,
            clock,
            cfg: Arc::new(cfg),
            state,
        })
    }

    /// Consumes until `token` fires, then drains in-flight work.
    ///
    /// # Errors
    /// [`BusError`] when a consumer cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let bus = self.bus.clone();
        bus::serve(
            &bus,
            Service::Validate,
            spec::consumers(Service::Validate),
            Arc::new(self),
            false,
            token,
        )
        .await
    }
}

impl Handler for ValidateService {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let Payload::WaveCompleted(wave) = &d.event.data else {
            return Err(HandleError::Poison(format!(
                "validate does not consume {}",
                d.event.event_type()
            )));
        };
        let key = kv_key(&[
            "verdict",
            &wave.bundle_id.to_string(),
            &wave.ring,
            &wave.wave.to_string(),
        ]);
        let stored = self.state.load::<Vec<Event>>(&key).await?;
        let events = match stored.value {
            Some(events) => events,
            None => {
                let checks = run_checks(self.cfg.checks_for_ring(&wave.ring)).await;
                let mut reported: Vec<Reported> = Vec::with_capacity(wave.hosts.len());
                for outcome in &wave.hosts {
                    let last = self
                        .bus
                        .last_event(&spec::AGENT_RESULTS, &tail::agent_result(&outcome.host))
                        .await?;
                    let result = last.and_then(|(_, e)| match e.data {
                        Payload::AgentResult(r) => Some((e.id, r)),
                        _ => None,
                    });
                    reported.push((outcome.host.clone(), result));
                }
                let verdict = decide(wave, checks, &reported);
                info!(bundle = %wave.bundle_id, ring = %wave.ring, wave = wave.wave, passed = verdict.passed(), "verdict");
                let events = verdict.into_events(
                    self.clock.now(),
                    Some(bus::trace::child(d.event.traceparent.as_deref())),
                );
                match self.state.save(&key, &events, 0).await {
                    Ok(_) => events,
                    // Another instance decided first: publish its verdict.
                    Err(BusError::Conflict { .. }) => {
                        return Err(HandleError::Transient("verdict stored concurrently".into()));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        self.bus.publish_all(&events).await?;
        Ok(())
    }
}
