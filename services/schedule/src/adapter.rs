//! The bus adapter of schedule: consumes scan completions, prioritized
//! findings, verdicts, halted waves and operators' change approvals and
//! rejections; ticks (as the lease holder) to
//! release rings when their windows open. Order per input: decide → publish
//! and await every PubAck → store state with compare-and-set → ack.
//!
//! KV layout (bucket `<ns>_schedule`): `scan.<id>` [`ScanProgress`],
//! `pending.<scan>.<finding>` [`PendingItem`], `bundle.<id>` [`BundleState`],
//! and `index.active`, the set of bundles still rolling out, read by the tick.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler, StateStore};
use events::{Payload, Service, spec};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::{
    BundleState, Config, Decision, Output, PendingItem, ScanProgress, keys, mark_planned,
    on_approved, on_rejected, on_tick, on_validation_failed, on_validation_passed, on_wave_halted,
    plan, record_completed, record_prioritized, recount, skip_existing,
};

const ACTIVE: &str = "index.active";

/// The schedule service: build it, then [`ScheduleService::run`] it.
#[derive(Debug, Clone)]
pub struct ScheduleService {
    bus: Bus,
    clock: Clock,
    cfg: Arc<Config>,
    state: StateStore,
}

impl ScheduleService {
    /// Opens the state bucket.
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be created or opened.
    pub async fn build(cfg: Config, bus: Bus, clock: Clock) -> Result<Self, BusError> {
        let state = bus.state(Service::Schedule).await?;
        Ok(ScheduleService {
            bus,
            clock,
            cfg: Arc::new(cfg),
            state,
        })
    }

    /// Consumes and ticks until `token` fires, then drains in-flight work.
    ///
    /// # Errors
    /// [`BusError`] when a consumer or the lease bucket cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let period = Duration::from_millis(self.cfg.tick_interval_ms.max(10));
        let ticker = self.clone();
        bus::serve_and_tick(
            &self.bus,
            Service::Schedule,
            spec::consumers(Service::Schedule),
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

    /// One clock tick: offers every active bundle the current instant.
    async fn tick(&self) -> Result<(), BusError> {
        let active = self.state.load::<BTreeSet<Uuid>>(ACTIVE).await?;
        for bundle_id in active.value.unwrap_or_default() {
            let key = keys::bundle(bundle_id);
            let stored = self.state.load::<BundleState>(&key).await?;
            let Some(state) = stored.value else { continue };
            let now = self.clock.now();
            let decision = match on_tick(&state, &self.cfg, now) {
                Ok(d) => d,
                Err(e) => {
                    warn!(%bundle_id, error = %e, "window configuration does not resolve");
                    continue;
                }
            };
            match self.apply(&key, stored.revision, decision, None).await {
                Ok(()) | Err(BusError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Publishes a decision's outputs, stores its state, and keeps the active
    /// index in step.
    async fn apply(
        &self,
        key: &str,
        revision: u64,
        decision: Decision,
        traceparent: Option<&str>,
    ) -> Result<(), BusError> {
        let Decision::Apply { state, outputs } = decision else {
            if let Decision::Skip { reason } = decision {
                debug!(key, ?reason, "skip");
            }
            return Ok(());
        };
        self.publish(outputs, traceparent).await?;
        self.state.save(key, &state, revision).await?;
        if !state.is_active() {
            self.state
                .modify::<BTreeSet<Uuid>>(ACTIVE, |set| set.remove(&state.bundle_id))
                .await?;
        }
        Ok(())
    }

    async fn publish(
        &self,
        outputs: Vec<Output>,
        traceparent: Option<&str>,
    ) -> Result<(), BusError> {
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

    async fn on_prioritized(
        &self,
        d: &Delivery,
        item: PendingItem,
        scan_id: Uuid,
    ) -> Result<(), HandleError> {
        let pending_key = keys::pending(scan_id, item.finding_id);
        let created = match self.state.save(&pending_key, &item, 0).await {
            Ok(_) => true,
            Err(BusError::Conflict { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        if !created {
            // A later decision on the same finding of the same scan (an
            // exception granted, new intel) replaces the waiting one.
            let stored = self.state.load::<PendingItem>(&pending_key).await?;
            if stored.value.as_ref() != Some(&item) {
                self.state
                    .save(&pending_key, &item, stored.revision)
                    .await?;
            }
        }
        let progress_key = keys::scan(scan_id);
        let stored = self.state.load::<ScanProgress>(&progress_key).await?;
        let progress = stored.value.unwrap_or_default();
        let (progress, ready) = if created {
            record_prioritized(progress, true)
        } else {
            // A redelivery after a crash between the two writes: count what is stored.
            let stored_items = self.pending_keys(scan_id).await?.len() as u64;
            recount(progress, stored_items)
        };
        self.state
            .save(&progress_key, &progress, stored.revision)
            .await?;
        if ready {
            self.plan_scan(d, scan_id).await?;
        }
        Ok(())
    }

    async fn pending_keys(&self, scan_id: Uuid) -> Result<Vec<String>, BusError> {
        let prefix = keys::pending_filter(scan_id);
        let prefix = prefix.trim_end_matches('*');
        self.state.keys_with_prefix(prefix).await
    }

    async fn plan_scan(&self, d: &Delivery, scan_id: Uuid) -> Result<(), HandleError> {
        let progress_key = keys::scan(scan_id);
        let stored = self.state.load::<ScanProgress>(&progress_key).await?;
        let Some(progress) = stored.value else {
            return Ok(());
        };
        if progress.planned || !progress.is_ready() {
            return Ok(());
        }
        let mut items = Vec::new();
        for key in self.pending_keys(scan_id).await? {
            if let Some(item) = self.state.load::<PendingItem>(&key).await?.value {
                items.push(item);
            }
        }
        let now = self.clock.now();
        let plans = plan(scan_id, &items, &self.cfg, now)
            .map_err(|e| HandleError::Poison(format!("cannot plan scan {scan_id}: {e}")))?;
        let mut existing = BTreeSet::new();
        for p in &plans {
            if self
                .state
                .load::<BundleState>(&keys::bundle(p.bundle_id()))
                .await?
                .value
                .is_some()
            {
                existing.insert(p.bundle_id());
            }
        }
        let outcome = skip_existing(plans, |id| existing.contains(&id));
        for skipped in &outcome.skipped {
            info!(scan = %scan_id, ?skipped, "bundle not planned again");
        }
        let outputs: Vec<Output> = outcome.planned.iter().map(|p| p.output()).collect();
        self.publish(outputs, d.event.traceparent.as_deref())
            .await?;
        for p in &outcome.planned {
            for note in &p.notes {
                info!(bundle = %p.bundle_id(), %note, "ring placement");
            }
            match self
                .state
                .save(&keys::bundle(p.bundle_id()), &p.state, 0)
                .await
            {
                Ok(_) | Err(BusError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let ids: Vec<Uuid> = outcome.planned.iter().map(|p| p.bundle_id()).collect();
        if !ids.is_empty() {
            self.state
                .modify::<BTreeSet<Uuid>>(ACTIVE, |set| {
                    let before = set.len();
                    set.extend(ids.iter().copied());
                    set.len() != before
                })
                .await?;
        }
        self.state
            .save(&progress_key, &mark_planned(progress), stored.revision)
            .await?;
        info!(scan = %scan_id, bundles = ids.len(), findings = items.len(), "scan planned");
        Ok(())
    }

    async fn on_bundle_input(&self, d: &Delivery, bundle_id: Uuid) -> Result<(), HandleError> {
        let key = keys::bundle(bundle_id);
        let stored = self.state.load::<BundleState>(&key).await?;
        let Some(state) = stored.value else {
            return Err(HandleError::Poison(format!("unknown bundle {bundle_id}")));
        };
        let now = self.clock.now();
        let decision = match &d.event.data {
            Payload::ValidationPassed(v) => on_validation_passed(&state, v, &self.cfg, now),
            Payload::ValidationFailed(v) => on_validation_failed(&state, v),
            Payload::WaveHalted(w) => on_wave_halted(&state, w),
            Payload::BundleApproved(a) => on_approved(&state, a, d.event.id),
            Payload::BundleRejected(r) => on_rejected(&state, r),
            _ => return Ok(()),
        };
        self.apply(
            &key,
            stored.revision,
            decision,
            d.event.traceparent.as_deref(),
        )
        .await
        .map_err(HandleError::from)
    }
}

impl Handler for ScheduleService {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        match &d.event.data {
            Payload::FindingPrioritized(f) => {
                let item = PendingItem::from(f);
                self.on_prioritized(&d, item, f.scan_id).await
            }
            Payload::ScanCompleted(c) => {
                let key = keys::scan(c.scan_id);
                let stored = self.state.load::<ScanProgress>(&key).await?;
                let (progress, ready) = record_completed(stored.value.unwrap_or_default(), c);
                self.state.save(&key, &progress, stored.revision).await?;
                if ready {
                    self.plan_scan(&d, c.scan_id).await?;
                }
                Ok(())
            }
            Payload::ValidationPassed(v) => self.on_bundle_input(&d, v.bundle_id).await,
            Payload::ValidationFailed(v) => self.on_bundle_input(&d, v.bundle_id).await,
            Payload::WaveHalted(w) => self.on_bundle_input(&d, w.bundle_id).await,
            Payload::BundleApproved(a) => self.on_bundle_input(&d, a.bundle_id).await,
            Payload::BundleRejected(r) => self.on_bundle_input(&d, r.bundle_id).await,
            other => Err(HandleError::Poison(format!(
                "schedule does not consume {}",
                other.event_type()
            ))),
        }
    }
}
