//! The bus adapter of prioritize.
//!
//! Consumers ([`events::spec::consumers`]): findings observed and resolved;
//! bulletins (KEV additions, reloaded KEV/EPSS catalogs, advisories);
//! exceptions granted and revoked; bundles planned and completed;
//! validations passed. A clock tick, run only by the holder of the
//! `prioritize` lease ([`bus::serve_and_tick`]), expires exceptions and
//! moves the emergency timers.
//!
//! - **Observation** ([`PrioritizeService`] handles `patch.finding.observed`):
//!   load the finding's record, [`decide`], mark the active exception,
//!   publish `patch.finding.prioritized.<priority>` (id
//!   `derive_id(observation, "prioritize", "prioritized")`) and await its
//!   PubAck, index the finding under its CVEs, store the record with
//!   compare-and-set, ack. A redelivered observation re-decides with the
//!   stored clock, which yields the same `due_at` and the same output id.
//! - **Intel** ([`crate::reassess`]): a KEV addition or a reloaded catalog
//!   re-decides every open finding of the CVEs it changed; a delta is
//!   published only when class or `due_at` moved (`trigger: intel`,
//!   `previous` set). An advisory stating exploitation in the wild (or
//!   withdrawn) re-decides the open findings of its CVEs the same way
//!   (`source: advisory`). A KEV addition or an advisory stating
//!   exploitation that hits an open finding opens the emergency lane.
//! - **Emergencies** ([`crate::emergency`]): stored with an outbox of events
//!   still to publish (store, then publish, then clear), so a declaration,
//!   a progression or an escalation is published exactly once per stage,
//!   across crashes and restarts; the tick escalates timers that passed.
//! - **Exceptions** ([`crate::exceptions`]): a grant or a revocation, and an
//!   expiry found by the tick, re-publish the decisions they cover
//!   (`trigger: exception`); an expired exception gives the finding back its
//!   original SLA clock.
//!
//! # KV layout (bucket `<ns>_prioritize`)
//!
//! | key | value |
//! |---|---|
//! | `finding.<finding id>` | [`FindingRecord`]: last decision (SLA clock, class, policy version), last observation, resolution, bundles, exception |
//! | `cve.<CVE>.<finding id>` | the finding id: index of **open** findings by CVE (upper case) |
//! | `intel.kev_added` | CVE → [`events::KevInput`]: KEV additions, re-applied after a restart |
//! | `intel.exploited` | CVE → [`crate::intel::ExploitedAdvisory`]: CVEs an advisory states exploited, re-applied after a restart |
//! | `intel.catalog.kev`, `intel.catalog.epss` | the last applied [`events::CatalogLoaded`], reloaded from the object store at start |
//! | `intel.changes.kev`, `intel.changes.epss` | the CVEs the last catalog changed and whether their findings were decided again (a retry resumes them) |
//! | `bundle.<bundle id>` | [`BundleRecord`] |
//! | `emergency.<emergency id>` | [`StoredEmergency`] |
//! | `index.emergencies` | ids of the emergencies not yet closed |
//! | `exception.<exception id>` | [`crate::exceptions::ExceptionRecord`] |
//! | `index.exceptions` | the active exceptions ([`ExceptionIndex`]) |
//!
//! Listing a CVE's findings reads every key of the bucket (the bus offers no
//! filtered listing): it happens per bulletin, exception grant or
//! emergency, never per observation.

mod bulletins;

pub use bulletins::intel_in_force;
mod exceptions;
mod lane;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler, StateStore, kv_key};
use events::{
    CatalogKind, DecisionTrigger, Event, FindingObserved, FindingResolved, Payload, Service, spec,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::warn;
use uuid::Uuid;

use crate::emergency::{BundleRecord, Emergency};
use crate::exceptions::ExceptionIndex;
use crate::reassess::{self, FindingRecord, IndexChange};
use crate::{Intel, Policy, decide};

/// Findings handled at once per process: observations and resolutions of
/// different findings run in parallel (their KV round trips and PubAcks
/// overlap), those of one finding one at a time and in stream order
/// ([`bus::ServeOptions::keyed`]). Bulletins, exceptions and bundles are
/// handled in order.
pub const OBSERVATION_LANES: usize = 64;

/// How often the lease holder ticks (exception expiry, emergency timers).
/// Well under the lease's 15 s time-to-live.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

/// How long a process trusts its copy of the active exceptions before
/// reading `index.exceptions` again: another instance's grant reaches this
/// one's observations within this time.
pub const EXCEPTION_CACHE_TTL: Duration = Duration::from_secs(1);

/// Compare-and-set attempts on one key before the input is retried whole.
const CAS_ATTEMPTS: usize = 8;

/// Keys of the state bucket (see the module docs).
pub mod keys {
    use super::*;

    /// `finding.<id>`.
    pub fn finding(id: Uuid) -> String {
        kv_key(&["finding", &id.to_string()])
    }

    /// `cve.<CVE>.<finding id>` (CVE upper case).
    pub fn cve(cve: &str, finding: Uuid) -> String {
        kv_key(&["cve", &cve.to_ascii_uppercase(), &finding.to_string()])
    }

    /// The prefix of every CVE index key.
    pub const CVE_PREFIX: &str = "cve.";

    /// `bundle.<id>`.
    pub fn bundle(id: Uuid) -> String {
        kv_key(&["bundle", &id.to_string()])
    }

    /// `emergency.<id>`.
    pub fn emergency(id: Uuid) -> String {
        kv_key(&["emergency", &id.to_string()])
    }

    /// `exception.<id>`.
    pub fn exception(id: Uuid) -> String {
        kv_key(&["exception", &id.to_string()])
    }

    /// `intel.catalog.kev` or `intel.catalog.epss`.
    pub fn catalog(kind: CatalogKind) -> String {
        match kind {
            CatalogKind::Kev => "intel.catalog.kev".to_owned(),
            CatalogKind::Epss => "intel.catalog.epss".to_owned(),
        }
    }

    /// `intel.changes.kev` or `intel.changes.epss`: the CVEs the last
    /// catalog changed, until their findings were decided again.
    pub fn catalog_changes(kind: CatalogKind) -> String {
        match kind {
            CatalogKind::Kev => "intel.changes.kev".to_owned(),
            CatalogKind::Epss => "intel.changes.epss".to_owned(),
        }
    }

    /// KEV additions by CVE.
    pub const KEV_ADDED: &str = "intel.kev_added";
    /// CVEs stated exploited by an advisory, by CVE.
    pub const EXPLOITED: &str = "intel.exploited";
    /// Open emergencies.
    pub const EMERGENCIES: &str = "index.emergencies";
    /// Active exceptions.
    pub const EXCEPTIONS: &str = "index.exceptions";
}

/// An emergency and the events about it not yet published (KV
/// `emergency.<id>`): stored before publishing, cleared after, so a crash
/// in between republishes the very same events (same ids, same content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEmergency {
    /// The lane.
    pub emergency: Emergency,
    /// Events to publish.
    #[serde(default)]
    pub outbox: Vec<Event>,
}

#[derive(Debug, Default)]
struct ExceptionCache {
    index: ExceptionIndex,
    fetched: Option<Instant>,
}

/// The prioritize service: build it, then [`PrioritizeService::run`] it.
#[derive(Clone)]
pub struct PrioritizeService {
    bus: Bus,
    clock: Clock,
    policy: Arc<Policy>,
    intel: Arc<RwLock<Intel>>,
    state: StateStore,
    exceptions: Arc<Mutex<ExceptionCache>>,
}

impl std::fmt::Debug for PrioritizeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrioritizeService")
            .field("policy", &self.policy.version)
            .finish_non_exhaustive()
    }
}

impl PrioritizeService {
    /// Opens the state bucket and restores the intel the bus delivered
    /// before a restart (catalogs reloaded from the object store when newer
    /// than the configured files, then the KEV additions). `policy` and
    /// `intel` are loaded at the edge ([`crate::Config::load`]).
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be created, opened or read. A
    /// stored catalog that can no longer be loaded is logged and skipped.
    pub async fn build(
        policy: Policy,
        intel: Intel,
        bus: Bus,
        clock: Clock,
    ) -> Result<Self, BusError> {
        let state = bus.state(Service::Prioritize).await?;
        let svc = PrioritizeService {
            bus,
            clock,
            policy: Arc::new(policy),
            intel: Arc::new(RwLock::new(intel)),
            state,
            exceptions: Arc::default(),
        };
        svc.restore_intel().await?;
        Ok(svc)
    }

    /// Consumes and ticks until `token` fires, then drains in-flight work.
    ///
    /// # Errors
    /// [`BusError`] when a consumer or the lease bucket cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let bus = self.bus.clone();
        let ticker = self.clone();
        bus::serve_and_tick(
            &bus,
            Service::Prioritize,
            spec::consumers(Service::Prioritize),
            Arc::new(self),
            bus::ServeOptions::keyed(OBSERVATION_LANES).only_on(&spec::FINDINGS),
            TICK_INTERVAL,
            move || {
                let s = ticker.clone();
                async move { s.tick().await }
            },
            token,
        )
        .await
    }

    /// One tick of the lease holder: expire exceptions, then move every
    /// open emergency's timers.
    async fn tick(&self) -> Result<(), BusError> {
        self.expire_exceptions().await?;
        for id in self.open_emergencies().await? {
            match self.update_emergency(id, |_| false).await {
                Ok(()) | Err(BusError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn on_observed(&self, parent: &Event, f: &FindingObserved) -> Result<(), HandleError> {
        let key = keys::finding(f.finding_id);
        let stored = self.state.load::<FindingRecord>(&key).await?;
        let now = self.clock.now();
        let exception = self.covering(f.finding_id, &f.cves, now).await?;
        let mut decision = {
            let intel = self.intel.read().unwrap_or_else(PoisonError::into_inner);
            decide(
                &self.policy,
                &intel,
                f,
                stored.value.as_ref().map(|r| &r.decision),
            )
        };
        decision.prioritized.exception_id = exception;
        let (record, index) = reassess::observe(stored.value.as_ref(), f, &decision);
        let mut out = Event::derived(
            parent,
            Service::Prioritize,
            "prioritized",
            now,
            decision.prioritized,
        );
        out.traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        self.bus.publish(&out).await?;
        self.apply_index(f.finding_id, &index).await?;
        if stored.value.as_ref() != Some(&record) {
            self.state.save(&key, &record, stored.revision).await?;
        }
        Ok(())
    }

    async fn on_resolved(&self, parent: &Event, r: &FindingResolved) -> Result<(), HandleError> {
        let key = keys::finding(r.finding_id);
        let stored = self.state.load::<FindingRecord>(&key).await?;
        let Some((record, removed)) = reassess::resolve(stored.value.as_ref(), r) else {
            return Ok(());
        };
        let change = IndexChange {
            add: Vec::new(),
            remove: removed,
        };
        self.apply_index(r.finding_id, &change).await?;
        let evidence = crate::emergency::Evidence {
            at: parent.time,
            event_id: parent.id,
        };
        for id in self.open_emergencies().await? {
            self.update_emergency(id, |e| e.apply_resolved(r.finding_id, evidence))
                .await?;
        }
        self.state.save(&key, &record, stored.revision).await?;
        Ok(())
    }

    /// Writes and deletes the CVE index keys of one finding.
    async fn apply_index(&self, finding: Uuid, change: &IndexChange) -> Result<(), BusError> {
        let keys: Vec<String> = change
            .add
            .iter()
            .map(|cve| keys::cve(cve, finding))
            .collect();
        let puts = keys.iter().map(|key| self.state.put(key, &finding));
        futures::future::try_join_all(puts).await?;
        for cve in &change.remove {
            let key = keys::cve(cve, finding);
            let current = self.state.load::<Uuid>(&key).await?;
            if current.value.is_some() {
                match self.state.delete(&key, current.revision).await {
                    Ok(()) | Err(BusError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The open findings indexed under each of `cves` (upper case).
    async fn findings_with(
        &self,
        cves: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, BTreeSet<Uuid>>, BusError> {
        let mut out: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
        if cves.is_empty() {
            return Ok(out);
        }
        for key in self.state.keys_with_prefix(keys::CVE_PREFIX).await? {
            let mut parts = key.split('.').skip(1);
            let (Some(cve), Some(id)) = (parts.next(), parts.next()) else {
                continue;
            };
            if let (true, Ok(id)) = (cves.contains(cve), id.parse::<Uuid>()) {
                out.entry(cve.to_owned()).or_default().insert(id);
            }
        }
        Ok(out)
    }

    /// Decides open findings again (see [`reassess::redecide`]) and
    /// publishes each changed decision as a delta derived from `parent`.
    /// Returns how many were published.
    async fn redecide_all(
        &self,
        parent: &Event,
        ids: impl IntoIterator<Item = Uuid>,
        trigger: impl Fn(&FindingRecord) -> DecisionTrigger,
    ) -> Result<usize, BusError> {
        self.redecide_each(parent, ids, &trigger, false).await
    }

    /// [`Self::redecide_all`] publishing every open finding's decision,
    /// changed or not ([`reassess::restate`]): for the end of an exception.
    async fn restate_all(
        &self,
        parent: &Event,
        ids: impl IntoIterator<Item = Uuid>,
        trigger: impl Fn(&FindingRecord) -> DecisionTrigger,
    ) -> Result<usize, BusError> {
        self.redecide_each(parent, ids, &trigger, true).await
    }

    async fn redecide_each(
        &self,
        parent: &Event,
        ids: impl IntoIterator<Item = Uuid>,
        trigger: &impl Fn(&FindingRecord) -> DecisionTrigger,
        restate: bool,
    ) -> Result<usize, BusError> {
        let mut published = 0;
        for id in ids {
            if self.redecide_one(parent, id, trigger, restate).await? {
                published += 1;
            }
        }
        Ok(published)
    }

    async fn redecide_one(
        &self,
        parent: &Event,
        id: Uuid,
        trigger: &impl Fn(&FindingRecord) -> DecisionTrigger,
        restate: bool,
    ) -> Result<bool, BusError> {
        let key = keys::finding(id);
        let mut last = None;
        for _ in 0..CAS_ATTEMPTS {
            let stored = self.state.load::<FindingRecord>(&key).await?;
            let Some(record) = stored.value else {
                return Ok(false);
            };
            if !record.is_open() {
                return Ok(false);
            }
            let now = self.clock.now();
            let exception = self.covering(id, record.cves(), now).await?;
            let decision = {
                let intel = self.intel.read().unwrap_or_else(PoisonError::into_inner);
                if restate {
                    reassess::restate(&self.policy, &intel, &record, trigger(&record), exception)
                } else {
                    reassess::redecide(&self.policy, &intel, &record, trigger(&record), exception)
                }
            };
            let Some(d) = decision else {
                return Ok(false);
            };
            // The outcome is part of the key: a retry that decides the same
            // republishes the same id, one that decides differently is a
            // new decision.
            let child = format!(
                "redecided/{id}/{}/{}/{}",
                d.state.priority.as_str(),
                d.state.due_at.timestamp(),
                exception.map(|e| e.to_string()).unwrap_or_default()
            );
            let state = d.state.clone();
            let mut out = Event::derived(parent, Service::Prioritize, &child, now, d.prioritized);
            out.traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
            self.bus.publish(&out).await?;
            let next = FindingRecord {
                decision: state,
                exception_id: exception,
                ..record
            };
            match self.state.save(&key, &next, stored.revision).await {
                Ok(_) => return Ok(true),
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

    /// The active exception covering a finding at `now`, from the cache
    /// when it is fresh ([`EXCEPTION_CACHE_TTL`]).
    async fn covering(
        &self,
        finding: Uuid,
        cves: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Uuid>, BusError> {
        {
            let cache = self
                .exceptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if cache
                .fetched
                .is_some_and(|t| t.elapsed() < EXCEPTION_CACHE_TTL)
            {
                return Ok(crate::exceptions::covering(
                    &cache.index,
                    finding,
                    cves,
                    now,
                ));
            }
        }
        let index = self
            .state
            .load::<ExceptionIndex>(keys::EXCEPTIONS)
            .await?
            .value
            .unwrap_or_default();
        let hit = crate::exceptions::covering(&index, finding, cves, now);
        self.cache_exceptions(index);
        Ok(hit)
    }

    fn cache_exceptions(&self, index: ExceptionIndex) {
        let mut cache = self
            .exceptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache.index = index;
        cache.fetched = Some(Instant::now());
    }

    /// Read-modify-write of one key with compare-and-set, retried on
    /// conflicts; returns the value as stored (or as found, when `change`
    /// changed nothing).
    async fn modify<T>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut T) -> bool,
    ) -> Result<T, BusError>
    where
        T: Serialize + DeserializeOwned + Default,
    {
        let mut last = None;
        for _ in 0..CAS_ATTEMPTS {
            let current = self.state.load::<T>(key).await?;
            let mut value = current.value.unwrap_or_default();
            if !change(&mut value) {
                return Ok(value);
            }
            match self.state.save(key, &value, current.revision).await {
                Ok(_) => return Ok(value),
                Err(e @ BusError::Conflict { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| BusError::Conflict {
            bucket: self.state.bucket().to_owned(),
            key: key.to_owned(),
            revision: 0,
        }))
    }

    /// Ids of the emergencies not yet closed.
    async fn open_emergencies(&self) -> Result<BTreeSet<Uuid>, BusError> {
        Ok(self
            .state
            .load::<BTreeSet<Uuid>>(keys::EMERGENCIES)
            .await?
            .value
            .unwrap_or_default())
    }

    /// Stored bundle knowledge, after `change`.
    async fn modify_bundle(
        &self,
        bundle_id: Uuid,
        change: impl FnMut(&mut BundleRecord) -> bool,
    ) -> Result<BundleRecord, BusError> {
        self.modify(&keys::bundle(bundle_id), change).await
    }
}

impl Handler for PrioritizeService {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let e = &d.event;
        match &e.data {
            Payload::FindingObserved(f) => self.on_observed(e, f).await,
            Payload::FindingResolved(r) => self.on_resolved(e, r).await,
            Payload::KevAdded(k) => self.on_kev_added(e, k).await,
            Payload::CatalogLoaded(c) => self.on_catalog_loaded(e, c).await,
            Payload::AdvisoryPublished(a) => self.on_advisory(e, a).await,
            Payload::ExceptionGranted(g) => self.on_exception_granted(e, g).await,
            Payload::ExceptionRevoked(r) => self.on_exception_revoked(e, r).await,
            Payload::BundlePlanned(b) => self.on_bundle_planned(e, b).await,
            Payload::ValidationPassed(v) => self.on_validation_passed(e, v).await,
            Payload::BundleCompleted(c) => self.on_bundle_completed(e, c).await,
            other => Err(HandleError::Poison(format!(
                "prioritize does not consume {}",
                other.event_type()
            ))),
        }
    }
}

/// Logs a stored catalog that could not be restored.
fn restore_failed(kind: CatalogKind, object: &str, error: &dyn std::fmt::Display) {
    warn!(?kind, object, %error, "stored catalog not restored; keeping the configured table");
}
