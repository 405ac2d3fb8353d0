//! The bus adapter of deploy: consumes released rings, agent results,
//! verdicts and rollback requests, and ticks (as the lease holder) to time
//! out silent hosts and resume paused rings. Order per input: decide →
//! publish jobs and progress events, awaiting every PubAck → store the ring
//! run with compare-and-set → ack. State is handled one message at a time per
//! process, and only the lease holder ticks, so a wave is finished once.
//! Every `patch.agent.job.<host>` is signed ([`JobSigner`]) right before it
//! is published.
//!
//! KV layout (bucket `<ns>_deploy`): `run.<bundle>.<ring>` [`RingRun`],
//! `index.waking`, the runs that wait for a deadline (read by the tick), and
//! `early.run.<bundle>.<ring>`: agent results that arrived before their ring
//! run was stored (deploy crashed after sending a wave's jobs and before
//! storing the run; the agents answered while it was down, and the
//! redelivered `bundle.scheduled` comes back after the results). They are
//! replayed into the run when it starts, then deleted; kept results whose
//! run has not started within [`DeployConfig::early_results_keep_hours`] are
//! dropped by the lease holder's tick (at most once an hour, never in the
//! first hour after a start, while the backlog that may hold their
//! `bundle.scheduled` is still being read).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler, StateStore};
use chrono::{DateTime, TimeDelta, Utc};
use events::{Event, Payload, Service, spec};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::webhook::StepRunner;
use crate::{Decision, DeployConfig, JobSigner, Output, RingRun, input_key};

const WAKING: &str = "index.waking";

/// Webhook steps the step runner makes at once. A step waits for its lane
/// (a hash of its bundle and host), and one read after its due time is not
/// run: enough lanes keep one slow or retrying webhook from making other
/// hosts' steps late.
pub const STEP_RUNNER_LANES: usize = 64;

/// The KV key of the results kept for the run under `run_key`.
fn early_key(run_key: &str) -> String {
    format!("{EARLY_PREFIX}{run_key}")
}

/// The prefix of [`early_key`]s.
const EARLY_PREFIX: &str = "early.";

/// How often the tick looks for kept results whose run never started.
const EARLY_SWEEP_EVERY: TimeDelta = TimeDelta::hours(1);

/// Whether results kept for a run that has not started are past keeping:
/// the newest of `kept` (by event time, UTC) is more than `keep_hours`
/// hours before `now`. An empty list is past keeping.
pub fn early_results_expired(kept: &[Event], now: DateTime<Utc>, keep_hours: u32) -> bool {
    let newest = kept.iter().map(|e| e.time).max();
    newest.is_none_or(|t| t + TimeDelta::hours(i64::from(keep_hours)) < now)
}

/// The deploy service: build it, then [`DeployService::run`] it.
#[derive(Debug, Clone)]
pub struct DeployService {
    bus: Bus,
    clock: Clock,
    cfg: Arc<DeployConfig>,
    signer: Arc<JobSigner>,
    state: StateStore,
    steps: StepRunner,
    /// When the tick may next look for expired early results (UTC); the
    /// first look is [`EARLY_SWEEP_EVERY`] after the service is built.
    next_early_sweep: Arc<std::sync::Mutex<DateTime<Utc>>>,
}

impl DeployService {
    /// Opens the state bucket; `signer` signs every job this service
    /// publishes (the caller loads it from [`DeployConfig::signing_key`]).
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be created or opened.
    pub async fn build(
        cfg: DeployConfig,
        signer: JobSigner,
        bus: Bus,
        clock: Clock,
    ) -> Result<Self, BusError> {
        let state = bus.state(Service::Deploy).await?;
        let next_early_sweep = Arc::new(std::sync::Mutex::new(clock.now() + EARLY_SWEEP_EVERY));
        Ok(DeployService {
            next_early_sweep,
            steps: StepRunner::new(bus.clone(), clock.clone(), cfg.saga.clone()),
            bus,
            clock,
            cfg: Arc::new(cfg),
            signer: Arc::new(signer),
            state,
        })
    }

    /// Consumes and ticks until `token` fires, then drains in-flight work.
    /// The step runner ([`crate::webhook`]) runs beside, on its own
    /// consumer, up to [`STEP_RUNNER_LANES`] webhook steps at once (the
    /// steps of one host in one bundle one after the other).
    ///
    /// # Errors
    /// [`BusError`] when a consumer or the lease bucket cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let steps = bus::serve(
            &self.bus,
            Service::Deploy,
            vec![spec::deploy_step_runner_consumer()],
            Arc::new(self.steps.clone()),
            bus::ServeOptions {
                serial: false,
                lanes: STEP_RUNNER_LANES,
                lanes_stream: None,
            },
            token.clone(),
        );
        let runs = self.clone().run_rings(token);
        let (steps, runs) = tokio::join!(steps, runs);
        steps.and(runs)
    }

    async fn run_rings(self, token: CancellationToken) -> Result<(), BusError> {
        let period = Duration::from_millis(self.cfg.tick_interval_ms.max(10));
        let ticker = self.clone();
        bus::serve_and_tick(
            &self.bus,
            Service::Deploy,
            spec::consumers(Service::Deploy),
            Arc::new(self.clone()),
            true,
            period,
            move || {
                let s = ticker.clone();
                async move { s.tick().await }
            },
            token,
        )
        .await
    }

    async fn tick(&self) -> Result<(), BusError> {
        let waking = self.state.load::<BTreeSet<String>>(WAKING).await?;
        for key in waking.value.unwrap_or_default() {
            let stored = self.state.load::<RingRun>(&key).await?;
            let Some(mut run) = stored.value else {
                self.set_waking(&key, false).await?;
                continue;
            };
            let now = self.clock.now();
            if run.wakes_at().is_none_or(|t| t > now) {
                continue;
            }
            let decision = match run.on_tick(now) {
                Ok(d) => d,
                Err(e) => {
                    warn!(run = %key, error = %e, "tick failed on the stored run");
                    continue;
                }
            };
            match self
                .commit(&key, stored.revision, true, run, decision, None)
                .await
            {
                Ok(()) | Err(BusError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.sweep_early_results().await
    }

    /// Drops the kept early results of runs that never started
    /// ([`early_results_expired`]), when a sweep is due.
    async fn sweep_early_results(&self) -> Result<(), BusError> {
        let now = self.clock.now();
        {
            let mut next = self
                .next_early_sweep
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if now < *next {
                return Ok(());
            }
            *next = now + EARLY_SWEEP_EVERY;
        }
        for key in self.state.keys_with_prefix(EARLY_PREFIX).await? {
            let kept = self.state.load::<Vec<Event>>(&key).await?;
            let Some(events) = kept.value else {
                continue;
            };
            if !early_results_expired(&events, now, self.cfg.early_results_keep_hours) {
                continue;
            }
            warn!(
                key = %key,
                results = events.len(),
                keep_hours = self.cfg.early_results_keep_hours,
                "dropping agent results whose ring run never started (they stay in the results stream)"
            );
            match self.state.delete(&key, kept.revision).await {
                Ok(()) | Err(BusError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Publishes a decision's outputs, stores the run, keeps the waking index.
    async fn commit(
        &self,
        key: &str,
        revision: u64,
        was_waking: bool,
        run: RingRun,
        decision: Decision,
        traceparent: Option<&str>,
    ) -> Result<(), BusError> {
        let outputs = match decision {
            Decision::Advance(outputs) => outputs,
            Decision::Skip { reason } => {
                debug!(run = %key, %reason, "skip");
                return Ok(());
            }
        };
        self.publish(outputs, traceparent).await?;
        self.state.save(key, &run, revision).await?;
        let waking = run.wakes_at().is_some();
        if waking != was_waking {
            self.set_waking(key, waking).await?;
        }
        Ok(())
    }

    async fn publish(
        &self,
        mut outputs: Vec<Output>,
        traceparent: Option<&str>,
    ) -> Result<(), BusError> {
        self.signer.sign_outputs(&mut outputs);
        let now = self.clock.now();
        let events: Vec<_> = outputs
            .into_iter()
            .map(|o| {
                let mut e = o.into_event(now);
                e.traceparent = Some(bus::trace::child(traceparent));
                e
            })
            .collect();
        self.bus.publish_all(&events).await
    }

    async fn set_waking(&self, key: &str, waking: bool) -> Result<(), BusError> {
        self.state
            .modify::<BTreeSet<String>>(WAKING, |set| {
                if waking {
                    set.insert(key.to_owned())
                } else {
                    set.remove(key)
                }
            })
            .await
    }
}

impl Handler for DeployService {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        if let Payload::HostStepFinished(f) = &d.event.data
            && !f.step.is_webhook()
        {
            // Deploy's own record of an agent step's end: nothing to decide,
            // and no state to load for it.
            return Ok(());
        }
        let Some(key) = input_key(&d.event.data) else {
            if let Payload::AgentOnline(o) = &d.event.data {
                debug!(host = %o.host, boot_id = %o.boot_id, "agent online; no reboot awaited");
                return Ok(());
            }
            return Err(HandleError::Poison(format!(
                "deploy does not consume {}",
                d.event.event_type()
            )));
        };
        let now = self.clock.now();
        let traceparent = d.event.traceparent.as_deref();
        let stored = self.state.load::<RingRun>(&key).await?;
        match (stored.value, &d.event.data) {
            (None, Payload::BundleScheduled(s)) => {
                let (mut run, mut outputs) = RingRun::start_with_saga(s, self.cfg.saga.plan(), now)
                    .map_err(|e| {
                        HandleError::Poison(format!(
                            "cannot roll out {} in {}: {e}",
                            s.bundle_id, s.ring
                        ))
                    })?;
                info!(bundle = %s.bundle_id, ring = %s.ring, hosts = s.hosts.len(), "ring rollout started");
                let early = self.state.load::<Vec<Event>>(&early_key(&key)).await?;
                for e in early.value.iter().flatten() {
                    match run.on_event(e, now) {
                        Ok(Decision::Advance(more)) => {
                            info!(run = %key, event = %e.id, "result that arrived before the run taken");
                            outputs.extend(more);
                        }
                        Ok(Decision::Skip { reason }) => {
                            debug!(run = %key, event = %e.id, %reason, "early result skipped")
                        }
                        Err(err) => {
                            warn!(run = %key, event = %e.id, error = %err, "early result refused")
                        }
                    }
                }
                self.commit(&key, 0, false, run, Decision::Advance(outputs), traceparent)
                    .await?;
                if early.value.is_some() {
                    // Stored and published: the kept results are in the run now.
                    // A failed delete leaves a key nothing reads again.
                    if let Err(e) = self.state.delete(&early_key(&key), early.revision).await {
                        warn!(run = %key, error = %e, "could not delete the early results");
                    }
                }
                Ok(())
            }
            (
                None,
                Payload::AgentResult(_) | Payload::AgentOnline(_) | Payload::HostStepFinished(_),
            ) => {
                // The run is not stored yet: keep the result until it starts.
                warn!(run = %key, event = %d.event.id, "agent result before its ring run is stored; kept until the run starts");
                let event = d.event.clone();
                self.state
                    .modify::<Vec<Event>>(&early_key(&key), |kept| {
                        if kept.iter().any(|e| e.id == event.id) {
                            return false;
                        }
                        kept.push(event.clone());
                        true
                    })
                    .await?;
                Ok(())
            }
            (None, _) => {
                // A result or verdict for a run this deploy never started.
                warn!(run = %key, event = %d.event.id, kind = d.event.event_type(), "no ring run for this input, ignored");
                Ok(())
            }
            (Some(mut run), _) => {
                let was_waking = run.wakes_at().is_some();
                let decision = run.on_event(&d.event, now).map_err(|e| {
                    HandleError::Poison(format!("{} on run {key}: {e}", d.event.event_type()))
                })?;
                if let (Payload::AgentOnline(o), Decision::Skip { reason }) =
                    (&d.event.data, &decision)
                {
                    // A host back after its saga gave up on it: say so where
                    // operators look, next to the trail's "online" line.
                    info!(run = %key, host = %o.host, %reason, "agent announcement changes nothing");
                }
                self.commit(
                    &key,
                    stored.revision,
                    was_waking,
                    run,
                    decision,
                    traceparent,
                )
                .await?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use events::{AgentOnline, Event, Payload, Service};
    use uuid::Uuid;

    use super::early_results_expired;

    fn at(t: DateTime<Utc>) -> Event {
        Event::new(
            Uuid::nil(),
            Service::Agent,
            t,
            Payload::AgentOnline(AgentOnline {
                host: "h01".into(),
                boot_id: "b".into(),
                started_at: t,
                reboot: None,
                detail: None,
            }),
        )
    }

    #[test]
    fn early_results_expire_after_the_newest_is_older_than_the_keep() {
        let t0: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
        let h = TimeDelta::hours;
        let kept = [at(t0), at(t0 + h(5))];
        let check = |now: DateTime<Utc>, keep: u32| early_results_expired(&kept, now, keep);
        assert!(!check(t0 + h(5), 24));
        assert!(
            !check(t0 + h(29), 24),
            "exactly 24 h after the newest is still kept"
        );
        assert!(check(t0 + h(29) + TimeDelta::seconds(1), 24));
        assert!(
            !check(t0 + h(28), 24),
            "measured from the newest, not the oldest"
        );
        assert!(check(t0 + h(6), 0));
        assert!(
            early_results_expired(&[], t0, 24),
            "nothing kept is nothing to keep"
        );
    }
}
