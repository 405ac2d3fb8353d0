//! The emergency lane on the bus: declaring, feeding bundle facts to open
//! emergencies, and publishing progressions and escalations through the
//! stored outbox (store → publish → clear), so each is published once.

use std::collections::{BTreeMap, BTreeSet};

use bus::{BusError, HandleError};
use events::{BundleCompleted, BundlePlanned, Event, Service, ValidationPassed, derive_id};
use tracing::{info, warn};
use uuid::Uuid;

use super::{PrioritizeService, StoredEmergency, keys};
use crate::emergency::{self, Declaration, Emergency, Evidence, LaneOutput};
use crate::reassess::FindingRecord;

/// The event of one lane output: id `derive_id(emergency_id, "prioritize",
/// "progressed/<stage>" | "escalated/<stage>")`.
fn lane_event(emergency_id: Uuid, output: LaneOutput, now: chrono::DateTime<chrono::Utc>) -> Event {
    let mut e = Event::new(
        derive_id(
            emergency_id,
            Service::Prioritize.as_str(),
            &output.child_key(),
        ),
        Service::Prioritize,
        now,
        output.into_payload(),
    );
    e.traceparent = Some(bus::trace::child(None));
    e
}

fn evidence(e: &Event) -> Evidence {
    Evidence {
        at: e.time,
        event_id: e.id,
    }
}

impl PrioritizeService {
    /// Opens the lane for `cves` (those not already in an open emergency)
    /// when they hit at least one open finding without an active exception:
    /// re-prioritization of those findings has already been published by
    /// the caller. The declaration's id is `derive_id(bulletin,
    /// "prioritize", "emergency")`; bundles already planned with the
    /// findings count at once.
    pub(super) async fn declare(
        &self,
        parent: &Event,
        cves: Vec<String>,
        reason: String,
        by_cve: &BTreeMap<String, BTreeSet<Uuid>>,
    ) -> Result<(), HandleError> {
        let emergency_id = derive_id(parent.id, Service::Prioritize.as_str(), "emergency");
        let key = keys::emergency(emergency_id);
        let existing = self.state.load::<StoredEmergency>(&key).await?;
        if let Some(stored) = existing.value {
            // A redelivery: finish what the first delivery started.
            self.remember_emergency(emergency_id).await?;
            self.flush(&key, stored, existing.revision).await?;
            return Ok(());
        }
        let mut taken = BTreeSet::new();
        for id in self.open_emergencies().await? {
            if let Some(s) = self
                .state
                .load::<StoredEmergency>(&keys::emergency(id))
                .await?
                .value
            {
                taken.extend(s.emergency.declared.cves);
            }
        }
        let cves: Vec<String> = cves.into_iter().filter(|c| !taken.contains(c)).collect();
        let now = self.clock.now();
        let mut affected: BTreeMap<Uuid, String> = BTreeMap::new();
        let mut records: Vec<(Uuid, FindingRecord)> = Vec::new();
        let ids: BTreeSet<Uuid> = cves
            .iter()
            .filter_map(|c| by_cve.get(c))
            .flatten()
            .copied()
            .collect();
        for id in ids {
            let Some(r) = self
                .state
                .load::<FindingRecord>(&keys::finding(id))
                .await?
                .value
            else {
                continue;
            };
            if !r.is_open() || self.covering(id, r.cves(), now).await?.is_some() {
                continue;
            }
            affected.insert(id, r.asset_id().to_owned());
            records.push((id, r));
        }
        if affected.is_empty() {
            info!(?cves, "exploited CVE hits no open finding: no emergency");
            return Ok(());
        }
        let mut lane = Emergency::declare(
            Declaration {
                emergency_id,
                cves,
                reason,
                source_event: parent.id,
                declared_at: now,
                findings: affected,
            },
            &self.policy.emergency,
        );
        for (id, r) in &records {
            for b in &r.bundles {
                lane.link(*b, [*id]);
            }
        }
        let linked: Vec<Uuid> = lane.bundles.keys().copied().collect();
        for b in linked {
            if let Some(bundle) = self
                .state
                .load::<emergency::BundleRecord>(&keys::bundle(b))
                .await?
                .value
            {
                lane.apply_bundle(b, &bundle);
            }
        }
        let mut declared = Event::derived(
            parent,
            Service::Prioritize,
            "emergency",
            now,
            lane.declared.clone(),
        );
        declared.traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        let mut outbox = vec![declared];
        outbox.extend(
            lane.advance(now)
                .into_iter()
                .map(|o| lane_event(emergency_id, o, now)),
        );
        info!(
            emergency = %emergency_id,
            cves = ?lane.declared.cves,
            assets = ?lane.declared.assets,
            "emergency declared"
        );
        let closed = lane.is_closed();
        let stored = StoredEmergency {
            emergency: lane,
            outbox,
        };
        self.remember_emergency(emergency_id).await?;
        match self.state.save(&key, &stored, 0).await {
            Ok(revision) => self.flush(&key, stored, revision).await?,
            Err(BusError::Conflict { .. }) => {
                let again = self.state.load::<StoredEmergency>(&key).await?;
                if let Some(s) = again.value {
                    self.flush(&key, s, again.revision).await?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        if closed {
            self.forget_emergency(emergency_id).await?;
        }
        Ok(())
    }

    /// Publishes a stored emergency's outbox, then stores it cleared. A
    /// conflict on the clear is left alone: whoever won republishes the
    /// same ids, which the stream's duplicate window and every consumer's
    /// id check drop.
    async fn flush(
        &self,
        key: &str,
        mut stored: StoredEmergency,
        revision: u64,
    ) -> Result<(), BusError> {
        if stored.outbox.is_empty() {
            return Ok(());
        }
        self.bus.publish_all(&stored.outbox).await?;
        stored.outbox.clear();
        match self.state.save(key, &stored, revision).await {
            Ok(_) | Err(BusError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Applies `change` to an open emergency, advances its timers at the
    /// clock's now, stores what is to publish, publishes it; closes the
    /// lane when every stage is met. Retries compare-and-set conflicts.
    pub(super) async fn update_emergency(
        &self,
        id: Uuid,
        mut change: impl FnMut(&mut Emergency) -> bool,
    ) -> Result<(), BusError> {
        let key = keys::emergency(id);
        let mut last = None;
        for _ in 0..super::CAS_ATTEMPTS {
            let stored = self.state.load::<StoredEmergency>(&key).await?;
            let Some(mut s) = stored.value else {
                warn!(emergency = %id, "indexed emergency has no state; dropped from the index");
                self.forget_emergency(id).await?;
                return Ok(());
            };
            let now = self.clock.now();
            let changed = change(&mut s.emergency);
            let outputs = s.emergency.advance(now);
            if !changed && outputs.is_empty() {
                return self.flush(&key, s, stored.revision).await;
            }
            s.outbox
                .extend(outputs.into_iter().map(|o| lane_event(id, o, now)));
            let closed = s.emergency.is_closed();
            match self.state.save(&key, &s, stored.revision).await {
                Ok(revision) => {
                    self.flush(&key, s, revision).await?;
                    if closed {
                        self.forget_emergency(id).await?;
                    }
                    return Ok(());
                }
                Err(e @ BusError::Conflict { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| BusError::Conflict {
            bucket: self.state.bucket().to_owned(),
            key,
            revision: 0,
        }))
    }

    async fn remember_emergency(&self, id: Uuid) -> Result<(), BusError> {
        self.modify::<BTreeSet<Uuid>>(keys::EMERGENCIES, |s| s.insert(id))
            .await
            .map(|_| ())
    }

    async fn forget_emergency(&self, id: Uuid) -> Result<(), BusError> {
        self.modify::<BTreeSet<Uuid>>(keys::EMERGENCIES, |s| s.remove(&id))
            .await
            .map(|_| ())
    }

    /// Feeds a bundle's knowledge to every open emergency containing it.
    async fn bundle_to_emergencies(
        &self,
        bundle_id: Uuid,
        record: &emergency::BundleRecord,
        findings: &BTreeSet<Uuid>,
    ) -> Result<(), BusError> {
        for id in self.open_emergencies().await? {
            self.update_emergency(id, |e| {
                let linked = e.link(bundle_id, findings.iter().copied());
                let applied = e.apply_bundle(bundle_id, record);
                linked || applied
            })
            .await?;
        }
        Ok(())
    }

    /// `patch.bundle.planned`: remember the plan and its gate ring, feed
    /// open emergencies, and note the bundle on each finding it contains
    /// (an emergency declared later finds it there).
    pub(super) async fn on_bundle_planned(
        &self,
        parent: &Event,
        b: &BundlePlanned,
    ) -> Result<(), HandleError> {
        let gate = emergency::gate_ring(&b.rings, &self.policy.emergency);
        let ev = evidence(parent);
        let record = self
            .modify_bundle(b.bundle_id, |r| r.planned(ev, gate.clone()))
            .await?;
        let findings: BTreeSet<Uuid> = b
            .targets
            .iter()
            .flat_map(|t| t.findings.iter().copied())
            .collect();
        self.bundle_to_emergencies(b.bundle_id, &record, &findings)
            .await?;
        for f in findings {
            self.note_bundle(f, b.bundle_id).await?;
        }
        Ok(())
    }

    /// Adds `bundle_id` to a finding's record (unknown findings are skipped).
    async fn note_bundle(&self, finding: Uuid, bundle_id: Uuid) -> Result<(), BusError> {
        let key = keys::finding(finding);
        let mut last = None;
        for _ in 0..super::CAS_ATTEMPTS {
            let stored = self.state.load::<FindingRecord>(&key).await?;
            let Some(mut r) = stored.value else {
                return Ok(());
            };
            if !r.bundles.insert(bundle_id) {
                return Ok(());
            }
            match self.state.save(&key, &r, stored.revision).await {
                Ok(_) => return Ok(()),
                Err(e @ BusError::Conflict { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| BusError::Conflict {
            bucket: self.state.bucket().to_owned(),
            key,
            revision: 0,
        }))
    }

    /// `patch.validation.passed`: the pass of a ring's last wave.
    pub(super) async fn on_validation_passed(
        &self,
        parent: &Event,
        v: &ValidationPassed,
    ) -> Result<(), HandleError> {
        if !v.last_wave_in_ring {
            return Ok(());
        }
        let ev = evidence(parent);
        let record = self
            .modify_bundle(v.bundle_id, |r| r.ring_passed(&v.ring, ev))
            .await?;
        self.bundle_to_emergencies(v.bundle_id, &record, &BTreeSet::new())
            .await?;
        Ok(())
    }

    /// `patch.bundle.completed`: every ring of the bundle validated.
    pub(super) async fn on_bundle_completed(
        &self,
        parent: &Event,
        c: &BundleCompleted,
    ) -> Result<(), HandleError> {
        let ev = evidence(parent);
        let record = self.modify_bundle(c.bundle_id, |r| r.completed(ev)).await?;
        self.bundle_to_emergencies(c.bundle_id, &record, &BTreeSet::new())
            .await?;
        Ok(())
    }
}
