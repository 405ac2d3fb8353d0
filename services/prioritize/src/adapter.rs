//! The bus adapter of prioritize: for every `patch.finding.observed`, load the
//! finding's previous decision, [`decide`], publish
//! `patch.finding.prioritized.<priority>` and await its PubAck, store the
//! decision's SLA clock with compare-and-set, then ack.
//!
//! KV layout (bucket `<ns>_prioritize`): `finding.<finding id>`
//! [`PreviousDecision`]. A redelivered observation re-decides with the stored
//! clock, which yields the same `due_at` and the same output id.

use std::sync::Arc;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler, StateStore, kv_key};
use events::{Event, Payload, Service, spec};
use tokio_util::sync::CancellationToken;

use crate::{Intel, Policy, PreviousDecision, decide};

/// The prioritize service: build it, then [`PrioritizeService::run`] it.
#[derive(Clone)]
pub struct PrioritizeService {
    bus: Bus,
    clock: Clock,
    policy: Arc<Policy>,
    intel: Arc<Intel>,
    state: StateStore,
}

impl std::fmt::Debug for PrioritizeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrioritizeService")
            .field("policy", &self.policy.version)
            .finish_non_exhaustive()
    }
}

impl PrioritizeService {
    /// Opens the state bucket. `policy` and `intel` are loaded at the edge
    /// ([`crate::Config::load`]).
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be created or opened.
    pub async fn build(
        policy: Policy,
        intel: Intel,
        bus: Bus,
        clock: Clock,
    ) -> Result<Self, BusError> {
        let state = bus.state(Service::Prioritize).await?;
        Ok(PrioritizeService {
            bus,
            clock,
            policy: Arc::new(policy),
            intel: Arc::new(intel),
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
            Service::Prioritize,
            spec::consumers(Service::Prioritize),
            Arc::new(self),
            false,
            token,
        )
        .await
    }
}

impl Handler for PrioritizeService {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let Payload::FindingObserved(finding) = &d.event.data else {
            return Err(HandleError::Poison(format!(
                "prioritize does not consume {}",
                d.event.event_type()
            )));
        };
        let key = kv_key(&["finding", &finding.finding_id.to_string()]);
        let previous = self.state.load::<PreviousDecision>(&key).await?;
        let decision = decide(&self.policy, &self.intel, finding, previous.value.as_ref());
        let mut out = Event::derived(
            &d.event,
            Service::Prioritize,
            "prioritized",
            self.clock.now(),
            decision.prioritized,
        );
        out.traceparent = Some(bus::trace::child(d.event.traceparent.as_deref()));
        self.bus.publish(&out).await?;
        if previous.value.as_ref() != Some(&decision.state) {
            self.state
                .save(&key, &decision.state, previous.revision)
                .await?;
        }
        Ok(())
    }
}
