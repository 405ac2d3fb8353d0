//! Planning: a ready scan's prioritized findings become patch bundles, one per
//! priority class, each with a projected ring-by-ring rollout.
//!
//! A bundle is one set of remediations for a set of hosts (DESIGN.md). For
//! each priority class present among the scan's findings, [`plan`] builds:
//!
//! - **exposures** first: findings of one host that share a CVE are planned
//!   as one ([`correlate`]: one priority, one deadline, one remediation),
//!   each keeping its finding id;
//! - **remediations**: the findings' remediations, de-duplicated by
//!   [`Remediation::key`] and sorted by it (two remediations with one key but
//!   different details, e.g. reworded solution text, keep the smaller one in
//!   `Ord`, so the choice does not depend on arrival order);
//! - **targets**: one per host, with its ring, the sorted keys of the
//!   remediations it needs and the sorted finding ids it fixes; sorted by the
//!   ring's position in the rollout order, then by asset id;
//! - **deadline**: the earliest `due_at` of its findings (UTC);
//! - **digest**: lower-case hex SHA-256 of the canonical JSON of
//!   `(priority, remediations, targets)` ([`bundle_digest`]); neither the
//!   scan id nor any time enters it, so the same content always gives the
//!   same digest, and **bundle_id** = UUIDv5([`BUNDLE_NAMESPACE`], digest);
//! - **rings**: the projected rollout ([`events::RingSchedule`] per configured
//!   ring, in rollout order) and **sla_at_risk**.
//!
//! # Ring of a host
//!
//! A host's ring is its asset's ring (`Asset::ring`, from inventory). A host
//! with no ring, or a ring the configuration does not list, goes to
//! [`Config::default_ring`], and a [`PlanNote::DefaultRing`] says so. When the
//! findings of one host name different rings (inventory changed between
//! decisions), the ring latest in the rollout order among the configured ones
//! wins (the most cautious: it is rolled out after the others validated), and
//! a [`PlanNote::RingConflict`] says so. The ring is resolved once per host
//! over the whole scan, so a host sits in the same ring in every bundle. No
//! host is ever dropped.
//!
//! # Projection
//!
//! Rings are walked in configuration order. A ring without hosts of the
//! bundle is listed with empty `hosts`, `window: None`, and skipped. For a
//! ring with hosts, `earliest` is the planning instant `now` for the first
//! such ring, else the previous ring's projected start plus that ring's
//! `soak_hours`; its window is [`calendar::Windows::current_or_next`]`(earliest)`
//! and its projected start is `max(earliest, window.opens_at)` (a window
//! already open at `earliest` starts at `earliest`). The projection assumes a
//! ring's rollout and validation take no time inside its window (and that
//! a needed approval arrives in time); real rollouts only move later. The
//! window is a start interval: the ring's cutoff and freezes are applied.
//! `sla_at_risk` is `deadline < projected start of the last ring with hosts`.
//!
//! # Manual tasks
//!
//! A remediation is a package with a target version (Trivy, Grype, OSV,
//! CSAF, Nessus "Should be:" lines) or an advisory / KB id the host's backend
//! resolves (`dnf upgrade --advisory`); both go to the hosts. A finding
//! whose remediation is only the scanner's solution text is planned as a
//! [`events::ManualTask`] of its bundle (`manual_tasks`, part of the
//! digest), reported and never sent to a host, unless
//! [`crate::config::ScannerSolutions::SendToAgent`] (lab drills). Its
//! deadline still counts for the bundle's.
//!
//! # Change approval
//!
//! [`approval_requirement`]: a bundle with hosts in a ring that needs an
//! approval ([`Config::needs_approval`]) and that is not a standard change
//! ([`crate::config::ApprovalPolicy`]) is planned with `approval` set and
//! its state [`ApprovalState::Pending`]; schedule holds those rings until a
//! `patch.bundle.approved` arrives ([`crate::rollout`]).
//!
//! # Planned once
//!
//! The same content always yields the same `bundle_id`, so a later scan that
//! finds exactly the same open work re-derives an existing bundle. The adapter
//! looks the ids up in its KV state and passes the answer to
//! [`skip_existing`], which keeps such a bundle out of the plans with
//! [`SkipReason::AlreadyPlanned`] (to log and count): it is never planned or
//! published again, whatever its status.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use calendar::Windows as _;
use chrono::{DateTime, Utc};
use events::{
    ApprovalRequirement, BundlePlanned, BundleTarget, FindingPrioritized, HostJobSpec, ManualTask,
    Priority, Remediation, RingSchedule,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::{Config, ConfigError, ScannerSolutions};
use crate::output::Output;
use crate::rollout::{ApprovalState, BundleState, RingHosts};

/// The UUIDv5 namespace of bundle ids:
/// `8970072c-82e2-55e2-a244-a305d57b3fb7` = UUIDv5(`NAMESPACE_URL`,
/// `"urn:patchflow:bundle"`). `bundle_id = Uuid::new_v5(&BUNDLE_NAMESPACE,
/// digest.as_bytes())` with the lower-case hex digest.
pub const BUNDLE_NAMESPACE: Uuid = Uuid::from_u128(0x8970_072c_82e2_55e2_a244_a305_d57b_3fb7);

/// One prioritized finding waiting for its scan to be planned: the part of a
/// `patch.finding.prioritized` that planning needs, stored by the adapter
/// under [`crate::keys::pending`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PendingItem {
    /// The finding.
    pub finding_id: Uuid,
    /// The host (agent subject key).
    pub asset_id: String,
    /// The host's ring from inventory; `None` = unknown (goes to
    /// [`Config::default_ring`]).
    pub ring: Option<String>,
    /// What fixes it.
    pub remediation: Remediation,
    /// Its priority class.
    pub priority: Priority,
    /// Its SLA deadline (UTC).
    pub due_at: DateTime<Utc>,
    /// The active risk acceptance of its latest decision: an excepted
    /// finding is left out of every bundle ([`plan()`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<Uuid>,
    /// Its CVE ids: findings of one host that share one are one exposure
    /// ([`correlate`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cves: Vec<String>,
}

impl From<&FindingPrioritized> for PendingItem {
    /// Takes the ring from the asset snapshot, else from the decision inputs.
    fn from(f: &FindingPrioritized) -> Self {
        PendingItem {
            finding_id: f.finding_id,
            asset_id: f.asset.asset_id.clone(),
            ring: f.asset.ring.clone().or_else(|| f.inputs.ring.clone()),
            remediation: f.remediation.clone(),
            priority: f.priority,
            due_at: f.due_at,
            exception_id: f.exception_id,
            cves: f.cves.clone(),
        }
    }
}

/// A fact about ring placement an operator should see (log it with the
/// bundle id; nothing is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanNote {
    /// The host had no ring, or one the configuration does not list, and was
    /// placed in the default ring.
    DefaultRing {
        /// The host.
        asset_id: String,
        /// The ring its findings named (`None` = no ring known).
        requested: Option<String>,
        /// The ring it was placed in ([`Config::default_ring`]).
        assigned: String,
    },
    /// The host's findings named different rings; the latest configured ring
    /// in rollout order was chosen (else the default ring).
    RingConflict {
        /// The host.
        asset_id: String,
        /// Every ring its findings named, sorted (`None` = no ring known).
        requested: Vec<Option<String>>,
        /// The ring it was placed in.
        assigned: String,
    },
}

impl fmt::Display for PlanNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanNote::DefaultRing {
                asset_id,
                requested: Some(ring),
                assigned,
            } => write!(
                f,
                "host {asset_id}: ring {ring:?} is not configured, placed in default ring {assigned:?}"
            ),
            PlanNote::DefaultRing {
                asset_id,
                requested: None,
                assigned,
            } => write!(
                f,
                "host {asset_id}: no ring known, placed in default ring {assigned:?}"
            ),
            PlanNote::RingConflict {
                asset_id,
                requested,
                assigned,
            } => write!(
                f,
                "host {asset_id}: findings name rings {requested:?}, placed in {assigned:?}"
            ),
        }
    }
}

/// One planned bundle: the `patch.bundle.planned` payload, the bundle's
/// initial rollout state and the placement notes of its hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct BundlePlan {
    /// The `patch.bundle.planned` payload.
    pub planned: BundlePlanned,
    /// The state to *create* under [`crate::keys::bundle`]: waiting for the
    /// first ring with hosts, not before the planning instant.
    pub state: BundleState,
    /// Ring placement notes for the bundle's hosts, sorted by asset id.
    pub notes: Vec<PlanNote>,
}

impl BundlePlan {
    /// The bundle's id.
    pub fn bundle_id(&self) -> Uuid {
        self.planned.bundle_id
    }

    /// The `patch.bundle.planned` output (event id `derive_id(bundle_id,
    /// "schedule", "planned")`).
    pub fn output(&self) -> Output {
        Output::Planned(self.planned.clone())
    }
}

/// Why a computed bundle is not planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A bundle with the same content (hence the same id) already exists.
    AlreadyPlanned,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::AlreadyPlanned => {
                f.write_str("a bundle with the same content is already planned")
            }
        }
    }
}

/// A computed bundle that is not planned, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedBundle {
    /// The bundle's id.
    pub bundle_id: Uuid,
    /// The scan that re-derived it.
    pub scan_id: Uuid,
    /// Its priority class.
    pub priority: Priority,
    /// Why it is skipped.
    pub reason: SkipReason,
}

/// The plans to publish and the bundles left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanOutcome {
    /// Bundles to publish (`patch.bundle.planned`) and create in KV.
    pub planned: Vec<BundlePlan>,
    /// Bundles not planned, with the reason.
    pub skipped: Vec<SkippedBundle>,
}

/// Planning could not run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The configuration is invalid ([`Config::validate`]).
    #[error("invalid schedule configuration: {0}")]
    Config(#[from] ConfigError),
    /// The canonical content could not be serialised for its digest.
    #[error("serialise bundle content for its digest: {0}")]
    Digest(#[source] serde_json::Error),
}

/// The canonical content a bundle's digest is computed over.
#[derive(Serialize)]
struct CanonicalContent<'a> {
    priority: Priority,
    remediations: &'a [Remediation],
    targets: &'a [BundleTarget],
    #[serde(skip_serializing_if = "<[ManualTask]>::is_empty")]
    manual_tasks: &'a [ManualTask],
}

/// The digest of a bundle's content: lower-case hex SHA-256 of the compact
/// JSON `{"priority":…,"remediations":[…],"targets":[…]}` (fields in this
/// order, remediations and targets as serialised by `events`, no
/// whitespace). `remediations` and `targets` must already be in canonical
/// order (as [`plan`] builds them).
///
/// # Errors
/// [`PlanError::Digest`] if serialisation fails (it does not for these
/// types).
pub fn bundle_digest(
    priority: Priority,
    remediations: &[Remediation],
    targets: &[BundleTarget],
) -> Result<String, PlanError> {
    bundle_digest_with_tasks(priority, remediations, targets, &[])
}

/// [`bundle_digest`] of a bundle with manual tasks: the canonical JSON gets
/// a fourth field, `"manual_tasks":[…]` (sorted, as [`plan`] builds them),
/// when there is at least one, so a bundle without any keeps the digest
/// [`bundle_digest`] gives.
///
/// # Errors
/// As [`bundle_digest`].
pub fn bundle_digest_with_tasks(
    priority: Priority,
    remediations: &[Remediation],
    targets: &[BundleTarget],
    manual_tasks: &[ManualTask],
) -> Result<String, PlanError> {
    let json = serde_json::to_vec(&CanonicalContent {
        priority,
        remediations,
        targets,
        manual_tasks,
    })
    .map_err(PlanError::Digest)?;
    Ok(hex::encode(Sha256::digest(&json)))
}

/// The bundle id of a digest: UUIDv5([`BUNDLE_NAMESPACE`], digest).
pub fn bundle_id_of(digest: &str) -> Uuid {
    Uuid::new_v5(&BUNDLE_NAMESPACE, digest.as_bytes())
}

/// Plans the bundles of scan `scan_id` from its pending items, at `now`
/// (UTC, the planning instant: the first ring's earliest start).
///
/// Returns one [`BundlePlan`] per priority class present, most urgent first;
/// no items, no bundles. Items are put in canonical order first and
/// de-duplicated by finding id, so the result does not depend on the order
/// or repetition of `items`; items under a risk acceptance
/// ([`PendingItem::exception_id`]) are left out. See the module docs for
/// grouping, ids, ring placement and projection.
///
/// # Errors
/// [`PlanError::Config`] when `cfg` does not pass [`Config::validate`].
pub fn plan(
    scan_id: Uuid,
    items: &[PendingItem],
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<BundlePlan>, PlanError> {
    cfg.validate()?;
    let mut items: Vec<&PendingItem> = items.iter().collect();
    items.sort();
    items.dedup_by_key(|i| i.finding_id);
    items.retain(|i| i.exception_id.is_none());
    let correlated = correlate(&items);
    let items: Vec<&PendingItem> = correlated.iter().collect();

    let placement = place_hosts(&items, cfg);
    let mut by_priority: BTreeMap<Priority, Vec<&PendingItem>> = BTreeMap::new();
    for item in items {
        by_priority.entry(item.priority).or_default().push(item);
    }
    let mut plans = Vec::with_capacity(by_priority.len());
    for (priority, group) in by_priority {
        if let Some(p) = plan_bundle(scan_id, priority, &group, &placement, cfg, now)? {
            plans.push(p);
        }
    }
    Ok(plans)
}

/// Plans each exposure once: findings of one host that share a CVE
/// ([`events::exposure`]; a Nessus and a Qualys finding of one CVE, two
/// checks of one scanner) get the group's most urgent priority and earliest
/// `due_at`, so they land in one bundle, and one remediation: the group's
/// package upgrades when it has any (a finding with its own package keeps
/// it — each named package must be upgraded — the others take the first
/// package by key), else the smallest advisory by key, else the smallest
/// scanner solution by key. Each finding keeps its id. `items` are in
/// canonical order; so is the result.
pub fn correlate(items: &[&PendingItem]) -> Vec<PendingItem> {
    let keys: Vec<(&str, &[String])> = items
        .iter()
        .map(|i| (i.asset_id.as_str(), i.cves.as_slice()))
        .collect();
    let groups = events::exposure::groups(&keys);
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        members.entry(*g).or_default().push(i);
    }
    let mut out: Vec<PendingItem> = items.iter().map(|i| (*i).clone()).collect();
    for group in members.values().filter(|m| m.len() > 1) {
        let of = |i: &usize| items.get(*i).copied();
        let Some(priority) = group.iter().filter_map(of).map(|i| i.priority).min() else {
            continue;
        };
        let Some(due_at) = group.iter().filter_map(of).map(|i| i.due_at).min() else {
            continue;
        };
        let rank = |r: &Remediation| match r {
            Remediation::Package { .. } => 0,
            Remediation::Advisory { .. } => 1,
            Remediation::Solution { .. } => 2,
        };
        let best = group
            .iter()
            .filter_map(of)
            .map(|i| &i.remediation)
            .min_by(|a, b| (rank(a), a.key()).cmp(&(rank(b), b.key())))
            .cloned();
        for i in group {
            if let Some(item) = out.get_mut(*i) {
                item.priority = priority;
                item.due_at = due_at;
                if let Some(best) = &best {
                    let keeps_own = rank(&item.remediation) == 0;
                    if !keeps_own {
                        item.remediation = best.clone();
                    }
                }
            }
        }
    }
    out
}

/// Splits `plans` into those to publish and those whose bundle already
/// exists (`exists(bundle_id)` is the adapter's KV lookup of
/// [`crate::keys::bundle`]).
pub fn skip_existing(plans: Vec<BundlePlan>, mut exists: impl FnMut(Uuid) -> bool) -> PlanOutcome {
    let mut out = PlanOutcome::default();
    for p in plans {
        if exists(p.bundle_id()) {
            out.skipped.push(SkippedBundle {
                bundle_id: p.bundle_id(),
                scan_id: p.planned.scan_id,
                priority: p.planned.priority,
                reason: SkipReason::AlreadyPlanned,
            });
        } else {
            out.planned.push(p);
        }
    }
    out
}

/// Each host's ring and, when it was not simply its configured ring, a note.
fn place_hosts(
    items: &[&PendingItem],
    cfg: &Config,
) -> BTreeMap<String, (String, Option<PlanNote>)> {
    let mut requested: BTreeMap<&str, BTreeSet<Option<&str>>> = BTreeMap::new();
    for i in items {
        requested
            .entry(&i.asset_id)
            .or_default()
            .insert(i.ring.as_deref());
    }
    requested
        .into_iter()
        .map(|(asset_id, rings)| {
            let known = rings
                .iter()
                .flatten()
                .filter_map(|r| cfg.ring_index(r).map(|idx| (idx, *r)))
                .max();
            let assigned = known.map_or_else(|| cfg.default_ring.clone(), |(_, r)| r.to_owned());
            let note = if rings.len() > 1 {
                Some(PlanNote::RingConflict {
                    asset_id: asset_id.to_owned(),
                    requested: rings.iter().map(|r| r.map(str::to_owned)).collect(),
                    assigned: assigned.clone(),
                })
            } else if known.is_none() {
                Some(PlanNote::DefaultRing {
                    asset_id: asset_id.to_owned(),
                    requested: rings.iter().flatten().next().map(|r| (*r).to_owned()),
                    assigned: assigned.clone(),
                })
            } else {
                None
            };
            (asset_id.to_owned(), (assigned, note))
        })
        .collect()
}

fn plan_bundle(
    scan_id: Uuid,
    priority: Priority,
    group: &[&PendingItem],
    placement: &BTreeMap<String, (String, Option<PlanNote>)>,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Option<BundlePlan>, PlanError> {
    let Some(deadline) = group.iter().map(|i| i.due_at).min() else {
        return Ok(None);
    };
    let (automated, manual): (Vec<&PendingItem>, Vec<&PendingItem>) = group
        .iter()
        .copied()
        .partition(|i| !is_manual(&i.remediation, cfg));

    let mut remediations: Vec<Remediation> =
        automated.iter().map(|i| i.remediation.clone()).collect();
    remediations.sort_by(|a, b| a.key().cmp(&b.key()).then_with(|| a.cmp(b)));
    remediations.dedup_by(|a, b| a.key() == b.key());
    let by_key: BTreeMap<String, &Remediation> =
        remediations.iter().map(|r| (r.key(), r)).collect();

    let mut per_host: BTreeMap<&str, (BTreeSet<String>, BTreeSet<Uuid>)> = BTreeMap::new();
    for i in &automated {
        let entry = per_host.entry(&i.asset_id).or_default();
        entry.0.insert(i.remediation.key());
        entry.1.insert(i.finding_id);
    }
    let mut notes = Vec::new();
    let mut targets: Vec<(usize, BundleTarget)> = per_host
        .into_iter()
        .map(|(asset_id, (keys, findings))| {
            let ring = match placement.get(asset_id) {
                Some((ring, note)) => {
                    notes.extend(note.iter().cloned());
                    ring.clone()
                }
                None => cfg.default_ring.clone(),
            };
            let order = cfg.ring_index(&ring).unwrap_or(usize::MAX);
            let target = BundleTarget {
                asset_id: asset_id.to_owned(),
                ring,
                remediations: keys.into_iter().collect(),
                findings: findings.into_iter().collect(),
            };
            (order, target)
        })
        .collect();
    targets.sort_by(|(oa, a), (ob, b)| (oa, &a.asset_id).cmp(&(ob, &b.asset_id)));
    let targets: Vec<BundleTarget> = targets.into_iter().map(|(_, t)| t).collect();
    let manual_tasks = manual_tasks(&manual);

    let digest = bundle_digest_with_tasks(priority, &remediations, &targets, &manual_tasks)?;
    let bundle_id = bundle_id_of(&digest);

    let ring_hosts: Vec<RingHosts> = cfg
        .rings
        .iter()
        .map(|rc| RingHosts {
            ring: rc.name.clone(),
            hosts: targets
                .iter()
                .filter(|t| t.ring == rc.name)
                .map(|t| HostJobSpec {
                    asset_id: t.asset_id.clone(),
                    remediations: t
                        .remediations
                        .iter()
                        .filter_map(|k| by_key.get(k).map(|r| (*r).clone()))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let (rings, last_start) = project(&ring_hosts, cfg, now)?;
    let sla_at_risk = last_start.is_some_and(|start| deadline < start);
    let approval = approval_requirement(priority, &remediations, &ring_hosts, cfg);

    let mut state = BundleState::new(bundle_id, priority, ring_hosts, now);
    if approval.is_some() {
        state.approval = ApprovalState::Pending;
    }
    let planned = BundlePlanned {
        bundle_id,
        digest,
        scan_id,
        priority,
        deadline,
        remediations,
        targets,
        rings,
        sla_at_risk,
        manual_tasks,
        approval,
    };
    Ok(Some(BundlePlan {
        planned,
        state,
        notes,
    }))
}

/// Whether `r` is planned as a manual task: a scanner's solution text,
/// unless the configuration sends those to (lab) agents.
fn is_manual(r: &Remediation, cfg: &Config) -> bool {
    matches!(r, Remediation::Solution { .. })
        && cfg.scanner_solutions == ScannerSolutions::ManualTask
}

/// One manual task per remediation key, with its hosts and findings, sorted
/// by key.
fn manual_tasks(items: &[&PendingItem]) -> Vec<ManualTask> {
    let mut by_key: BTreeMap<String, (Remediation, BTreeSet<String>, BTreeSet<Uuid>)> =
        BTreeMap::new();
    for i in items {
        let entry = by_key
            .entry(i.remediation.key())
            .or_insert_with(|| (i.remediation.clone(), BTreeSet::new(), BTreeSet::new()));
        // The smallest of two remediations sharing a key, as for packages.
        if i.remediation < entry.0 {
            entry.0 = i.remediation.clone();
        }
        entry.1.insert(i.asset_id.clone());
        entry.2.insert(i.finding_id);
    }
    by_key
        .into_values()
        .map(|(remediation, hosts, findings)| ManualTask {
            remediation,
            hosts: hosts.into_iter().collect(),
            findings: findings.into_iter().collect(),
        })
        .collect()
}

/// Whether the bundle needs a change approval, before which of its rings,
/// and why (see [`crate::config::ApprovalPolicy`]): `None` for a standard
/// change (a standard priority, no remediation that may reboot) or when no
/// ring with hosts needs an approval.
pub fn approval_requirement(
    priority: Priority,
    remediations: &[Remediation],
    ring_hosts: &[RingHosts],
    cfg: &Config,
) -> Option<ApprovalRequirement> {
    let rings: Vec<String> = ring_hosts
        .iter()
        .filter(|r| !r.hosts.is_empty() && cfg.needs_approval(&r.ring))
        .map(|r| r.ring.clone())
        .collect();
    if rings.is_empty() {
        return None;
    }
    let policy = &cfg.approval;
    let mut reasons = Vec::new();
    if !policy.standard_priorities.contains(&priority) {
        reasons.push(format!(
            "priority {} is not a standard change",
            priority.as_str()
        ));
    }
    for r in remediations {
        match r {
            Remediation::Package { name, .. } if policy.package_needs_reboot(name) => {
                reasons.push(format!("{} needs a reboot", r.key()));
            }
            Remediation::Package { .. } => {}
            Remediation::Advisory { .. } => reasons.push(format!(
                "{} may need a reboot (the host resolves its packages)",
                r.key()
            )),
            Remediation::Solution { .. } => reasons.push(format!(
                "{} may need a reboot (a scanner solution is opaque)",
                r.key()
            )),
        }
    }
    (!reasons.is_empty()).then_some(ApprovalRequirement { rings, reasons })
}

/// The projected rollout (see the module docs) and the projected start of
/// the last ring with hosts.
fn project(
    ring_hosts: &[RingHosts],
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<(Vec<RingSchedule>, Option<DateTime<Utc>>), ConfigError> {
    let mut rings = Vec::with_capacity(ring_hosts.len());
    let mut earliest = now;
    let mut last_start = None;
    for rh in ring_hosts {
        let Some(rc) = cfg.ring(&rh.ring) else {
            continue;
        };
        let hosts: Vec<String> = rh.hosts.iter().map(|h| h.asset_id.clone()).collect();
        if hosts.is_empty() {
            rings.push(RingSchedule {
                ring: rc.name.clone(),
                hosts,
                window: None,
                soak_hours: rc.soak_hours,
            });
            continue;
        }
        let window = cfg
            .windows_of(rc)?
            .current_or_next(earliest)
            .map_err(|source| ConfigError::Window {
                ring: rc.name.clone(),
                source,
            })?;
        let start = earliest.max(window.opens_at);
        rings.push(RingSchedule {
            ring: rc.name.clone(),
            hosts,
            window: Some(window),
            soak_hours: rc.soak_hours,
        });
        last_start = Some(start);
        earliest = rc.soak_end(start);
    }
    Ok((rings, last_start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RingConfig;
    use crate::test_support::{berlin, item, pkg, utc};

    fn plans(items: &[PendingItem], cfg: &Config, now: &str) -> Vec<BundlePlan> {
        match plan(Uuid::from_u128(0x5ca9), items, cfg, utc(now)) {
            Ok(p) => p,
            Err(e) => panic!("plan failed: {e}"),
        }
    }

    #[test]
    fn bundle_namespace_is_the_documented_v5() {
        assert_eq!(
            BUNDLE_NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:patchflow:bundle")
        );
    }

    /// What one planned bundle must look like.
    struct Want<'a> {
        priority: Priority,
        remediations: &'a [&'a str],
        /// (asset, ring, remediation keys, finding ids)
        targets: &'a [(&'a str, &'a str, &'a [&'a str], &'a [u128])],
        deadline: &'a str,
    }

    /// Plans with scanner solutions sent to agents, so every remediation of
    /// the table is a bundle remediation (manual tasks have their own test).
    fn check(name: &str, items: &[PendingItem], want: &[Want<'_>]) {
        let cfg = Config {
            scanner_solutions: ScannerSolutions::SendToAgent,
            ..Config::default()
        };
        let got = plans(items, &cfg, "2026-11-29T12:00:00Z");
        assert_eq!(got.len(), want.len(), "{name}: bundle count");
        for (g, w) in got.iter().zip(want) {
            let p = &g.planned;
            assert_eq!(p.priority, w.priority, "{name}");
            let keys: Vec<String> = p.remediations.iter().map(Remediation::key).collect();
            assert_eq!(keys, w.remediations, "{name}: remediations");
            let targets: Vec<(&str, &str, Vec<&str>, Vec<Uuid>)> = p
                .targets
                .iter()
                .map(|t| {
                    (
                        t.asset_id.as_str(),
                        t.ring.as_str(),
                        t.remediations.iter().map(String::as_str).collect(),
                        t.findings.clone(),
                    )
                })
                .collect();
            let want_targets: Vec<(&str, &str, Vec<&str>, Vec<Uuid>)> = w
                .targets
                .iter()
                .map(|(a, r, k, f)| {
                    (
                        *a,
                        *r,
                        k.to_vec(),
                        f.iter().map(|n| Uuid::from_u128(*n)).collect(),
                    )
                })
                .collect();
            assert_eq!(targets, want_targets, "{name}: targets");
            assert_eq!(p.deadline, utc(w.deadline), "{name}: deadline");
            assert_eq!(p.scan_id, Uuid::from_u128(0x5ca9), "{name}: scan id");
            assert_eq!(p.digest.len(), 64, "{name}: hex sha-256");
            assert_eq!(p.bundle_id, bundle_id_of(&p.digest), "{name}: id of digest");
            assert_eq!(p.bundle_id, g.state.bundle_id, "{name}: state id");
        }
    }

    #[test]
    fn findings_sharing_a_cve_on_a_host_are_planned_as_one_exposure() {
        let (d1, d2) = ("2026-12-01T00:00:00Z", "2026-12-20T00:00:00Z");
        let nessus = || Remediation::Solution {
            scanner: "nessus".into(),
            check_id: "10001".into(),
            text: "Upgrade.".into(),
        };
        let qualys = || Remediation::Solution {
            scanner: "qualys".into(),
            check_id: "38739".into(),
            text: "Upgrade.".into(),
        };
        // An item of CVE `cve` on `host`, in ring prod.
        let on = |n: u128, host: &str, r: Remediation, p: Priority, due: &str, cve: &str| {
            let mut i = item(n, host, Some("prod"), r, p, due);
            i.cves = vec![cve.to_owned()];
            i
        };
        let openssl = || pkg("openssl", "3.0.13");
        check(
            "Nessus and Qualys on one CVE: one remediation, the most urgent class",
            &[
                on(1, "web-1", nessus(), Priority::High, d1, "CVE-1"),
                on(2, "web-1", qualys(), Priority::Medium, d2, "cve-1"),
            ],
            &[Want {
                priority: Priority::High,
                remediations: &["nessus:10001"],
                targets: &[("web-1", "prod", &["nessus:10001"], &[1, 2])],
                deadline: d1,
            }],
        );
        check(
            "a package upgrade wins over scanner solutions; another host is another exposure",
            &[
                on(1, "web-1", nessus(), Priority::Medium, d2, "CVE-1"),
                on(2, "web-1", openssl(), Priority::Medium, d2, "CVE-1"),
                on(3, "web-2", nessus(), Priority::Medium, d2, "CVE-1"),
            ],
            &[Want {
                priority: Priority::Medium,
                remediations: &["nessus:10001", "pkg:openssl@3.0.13"],
                targets: &[
                    ("web-1", "prod", &["pkg:openssl@3.0.13"], &[1, 2]),
                    ("web-2", "prod", &["nessus:10001"], &[3]),
                ],
                deadline: d2,
            }],
        );
        let libssl = || pkg("libssl3", "3.0.13");
        let both = ["pkg:libssl3@3.0.13", "pkg:openssl@3.0.13"];
        check(
            "two packages fixing one CVE are both needed",
            &[
                on(1, "web-1", libssl(), Priority::High, d1, "CVE-1"),
                on(2, "web-1", openssl(), Priority::High, d1, "CVE-1"),
            ],
            &[Want {
                priority: Priority::High,
                remediations: &both,
                targets: &[("web-1", "prod", &both, &[1, 2])],
                deadline: d1,
            }],
        );
    }

    #[test]
    fn excepted_findings_are_left_out() {
        let d = "2026-12-01T00:00:00Z";
        let openssl = || pkg("openssl", "3.0.13");
        let mut excepted = item(2, "web-2", Some("prod"), openssl(), Priority::High, d);
        excepted.exception_id = Some(Uuid::from_u128(0xe));
        check(
            "an excepted finding is in no bundle",
            &[
                item(1, "web-1", Some("prod"), openssl(), Priority::High, d),
                excepted.clone(),
            ],
            &[Want {
                priority: Priority::High,
                remediations: &["pkg:openssl@3.0.13"],
                targets: &[("web-1", "prod", &["pkg:openssl@3.0.13"], &[1])],
                deadline: d,
            }],
        );
        check("only excepted findings: no bundle", &[excepted], &[]);
    }

    #[test]
    fn grouping_dedup_and_per_host_keys() {
        let d = "2026-12-01T00:00:00Z";
        check(
            "one bundle per priority class, most urgent first",
            &[
                item(
                    1,
                    "web-1",
                    Some("prod"),
                    pkg("openssl", "3.0.13"),
                    Priority::Low,
                    d,
                ),
                item(
                    2,
                    "web-1",
                    Some("prod"),
                    pkg("bash", "5.2"),
                    Priority::Critical,
                    d,
                ),
                item(3, "db-1", Some("dev"), pkg("curl", "8.5"), Priority::Low, d),
            ],
            &[
                Want {
                    priority: Priority::Critical,
                    remediations: &["pkg:bash@5.2"],
                    targets: &[("web-1", "prod", &["pkg:bash@5.2"], &[2])],
                    deadline: d,
                },
                Want {
                    priority: Priority::Low,
                    remediations: &["pkg:curl@8.5", "pkg:openssl@3.0.13"],
                    targets: &[
                        ("db-1", "dev", &["pkg:curl@8.5"], &[3]),
                        ("web-1", "prod", &["pkg:openssl@3.0.13"], &[1]),
                    ],
                    deadline: d,
                },
            ],
        );
        check(
            "same remediation on many hosts is listed once; deadline is the earliest due_at",
            &[
                item(
                    1,
                    "b-2",
                    Some("test"),
                    pkg("openssl", "3.0.13"),
                    Priority::High,
                    "2026-12-09T00:00:00Z",
                ),
                item(
                    2,
                    "a-1",
                    Some("test"),
                    pkg("openssl", "3.0.13"),
                    Priority::High,
                    "2026-12-03T00:00:00Z",
                ),
                item(
                    3,
                    "a-1",
                    Some("test"),
                    pkg("zlib", "1.3.1"),
                    Priority::High,
                    "2026-12-05T00:00:00Z",
                ),
                item(
                    4,
                    "c-3",
                    Some("dev"),
                    pkg("openssl", "3.0.13"),
                    Priority::High,
                    "2026-12-04T00:00:00Z",
                ),
                // the same finding delivered twice counts once
                item(
                    4,
                    "c-3",
                    Some("dev"),
                    pkg("openssl", "3.0.13"),
                    Priority::High,
                    "2026-12-04T00:00:00Z",
                ),
            ],
            &[Want {
                priority: Priority::High,
                remediations: &["pkg:openssl@3.0.13", "pkg:zlib@1.3.1"],
                targets: &[
                    ("c-3", "dev", &["pkg:openssl@3.0.13"], &[4]),
                    (
                        "a-1",
                        "test",
                        &["pkg:openssl@3.0.13", "pkg:zlib@1.3.1"],
                        &[2, 3],
                    ),
                    ("b-2", "test", &["pkg:openssl@3.0.13"], &[1]),
                ],
                deadline: "2026-12-03T00:00:00Z",
            }],
        );
        check(
            "hosts without a configured ring go to the default ring",
            &[
                item(1, "x", None, pkg("a", "1"), Priority::Medium, d),
                item(2, "y", Some("qa"), pkg("a", "1"), Priority::Medium, d),
                item(3, "z", Some("dev"), pkg("a", "1"), Priority::Medium, d),
            ],
            &[Want {
                priority: Priority::Medium,
                remediations: &["pkg:a@1"],
                targets: &[
                    ("z", "dev", &["pkg:a@1"], &[3]),
                    ("x", "prod", &["pkg:a@1"], &[1]),
                    ("y", "prod", &["pkg:a@1"], &[2]),
                ],
                deadline: d,
            }],
        );
        let solution = |text: &str| Remediation::Solution {
            scanner: "nessus".into(),
            check_id: "12345".into(),
            text: text.into(),
        };
        check(
            "one key with reworded details is one remediation",
            &[
                item(
                    1,
                    "a",
                    Some("dev"),
                    solution("Upgrade to 2.0."),
                    Priority::Low,
                    d,
                ),
                item(
                    2,
                    "b",
                    Some("dev"),
                    solution("Upgrade to 2.0"),
                    Priority::Low,
                    d,
                ),
            ],
            &[Want {
                priority: Priority::Low,
                remediations: &["nessus:12345"],
                targets: &[
                    ("a", "dev", &["nessus:12345"], &[1]),
                    ("b", "dev", &["nessus:12345"], &[2]),
                ],
                deadline: d,
            }],
        );
        let kept = plans(
            &[
                item(
                    1,
                    "a",
                    Some("dev"),
                    solution("Upgrade to 2.0."),
                    Priority::Low,
                    d,
                ),
                item(
                    2,
                    "b",
                    Some("dev"),
                    solution("Upgrade to 2.0"),
                    Priority::Low,
                    d,
                ),
            ],
            &Config::default(),
            "2026-11-29T12:00:00Z",
        );
        // By default a scanner solution is a manual task; the smaller of two
        // with one key is kept there too.
        assert!(kept[0].planned.remediations.is_empty());
        let tasks: Vec<&Remediation> = kept[0]
            .planned
            .manual_tasks
            .iter()
            .map(|t| &t.remediation)
            .collect();
        assert_eq!(tasks, vec![&solution("Upgrade to 2.0")]);
        check("no items, no bundles", &[], &[]);
    }

    #[test]
    fn ring_placement_is_reported_never_silent() {
        let d = "2026-12-01T00:00:00Z";
        let got = plans(
            &[
                item(1, "x", None, pkg("a", "1"), Priority::Medium, d),
                item(2, "y", Some("qa"), pkg("a", "1"), Priority::Medium, d),
                item(3, "z", Some("dev"), pkg("a", "1"), Priority::Medium, d),
                item(4, "w", Some("dev"), pkg("b", "1"), Priority::Medium, d),
                item(5, "w", Some("staging"), pkg("c", "1"), Priority::Medium, d),
            ],
            &Config::default(),
            "2026-11-29T12:00:00Z",
        );
        let notes: Vec<String> = got
            .iter()
            .flat_map(|p| p.notes.iter().map(ToString::to_string))
            .collect();
        assert_eq!(
            notes,
            vec![
                "host w: findings name rings [Some(\"dev\"), Some(\"staging\")], placed in \"staging\"",
                "host x: no ring known, placed in default ring \"prod\"",
                "host y: ring \"qa\" is not configured, placed in default ring \"prod\"",
            ]
        );
        let w = got
            .iter()
            .flat_map(|p| &p.planned.targets)
            .find(|t| t.asset_id == "w")
            .map(|t| t.ring.clone());
        assert_eq!(w.as_deref(), Some("staging"));
    }

    #[test]
    fn same_content_same_id_different_content_different_id() {
        let d = "2026-12-01T00:00:00Z";
        let a = vec![
            item(
                1,
                "web-1",
                Some("prod"),
                pkg("openssl", "3.0.13"),
                Priority::High,
                d,
            ),
            item(
                2,
                "web-2",
                Some("dev"),
                pkg("openssl", "3.0.13"),
                Priority::High,
                d,
            ),
        ];
        let mut reversed = a.clone();
        reversed.reverse();
        let first = plans(&a, &Config::default(), "2026-11-29T12:00:00Z");
        // another scan, another time, other order: same content, same id
        let again = match plan(
            Uuid::from_u128(0xbeef),
            &reversed,
            &Config::default(),
            utc("2027-02-01T00:00:00Z"),
        ) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let ids = |p: &[BundlePlan]| -> Vec<(Uuid, String)> {
            p.iter()
                .map(|b| (b.bundle_id(), b.planned.digest.clone()))
                .collect()
        };
        assert_eq!(ids(&first), ids(&again));
        assert_eq!(first.len(), 1);

        let variants: Vec<(&str, Vec<PendingItem>)> = vec![
            (
                "other fixed version",
                vec![
                    item(
                        1,
                        "web-1",
                        Some("prod"),
                        pkg("openssl", "3.0.14"),
                        Priority::High,
                        d,
                    ),
                    item(
                        2,
                        "web-2",
                        Some("dev"),
                        pkg("openssl", "3.0.13"),
                        Priority::High,
                        d,
                    ),
                ],
            ),
            (
                "other host",
                vec![
                    item(
                        1,
                        "web-3",
                        Some("prod"),
                        pkg("openssl", "3.0.13"),
                        Priority::High,
                        d,
                    ),
                    item(
                        2,
                        "web-2",
                        Some("dev"),
                        pkg("openssl", "3.0.13"),
                        Priority::High,
                        d,
                    ),
                ],
            ),
            (
                "other ring",
                vec![
                    item(
                        1,
                        "web-1",
                        Some("test"),
                        pkg("openssl", "3.0.13"),
                        Priority::High,
                        d,
                    ),
                    item(
                        2,
                        "web-2",
                        Some("dev"),
                        pkg("openssl", "3.0.13"),
                        Priority::High,
                        d,
                    ),
                ],
            ),
            (
                "other priority",
                vec![
                    item(
                        1,
                        "web-1",
                        Some("prod"),
                        pkg("openssl", "3.0.13"),
                        Priority::Critical,
                        d,
                    ),
                    item(
                        2,
                        "web-2",
                        Some("dev"),
                        pkg("openssl", "3.0.13"),
                        Priority::Critical,
                        d,
                    ),
                ],
            ),
            (
                "other finding",
                vec![
                    item(
                        1,
                        "web-1",
                        Some("prod"),
                        pkg("openssl", "3.0.13"),
                        Priority::High,
                        d,
                    ),
                    item(
                        3,
                        "web-2",
                        Some("dev"),
                        pkg("openssl", "3.0.13"),
                        Priority::High,
                        d,
                    ),
                ],
            ),
        ];
        for (name, items) in variants {
            let other = plans(&items, &Config::default(), "2026-11-29T12:00:00Z");
            assert_eq!(other.len(), 1, "{name}");
            assert_ne!(ids(&other), ids(&first), "{name}");
        }

        // a due date is not content: same id
        let later = vec![
            item(
                1,
                "web-1",
                Some("prod"),
                pkg("openssl", "3.0.13"),
                Priority::High,
                "2027-01-01T00:00:00Z",
            ),
            item(
                2,
                "web-2",
                Some("dev"),
                pkg("openssl", "3.0.13"),
                Priority::High,
                d,
            ),
        ];
        assert_eq!(
            ids(&plans(&later, &Config::default(), "2026-11-29T12:00:00Z")),
            ids(&first)
        );
    }

    #[test]
    fn digest_is_sha256_of_the_documented_canonical_json() {
        let targets = vec![BundleTarget {
            asset_id: "web-1".into(),
            ring: "prod".into(),
            remediations: vec!["pkg:openssl@3.0.13".into()],
            findings: vec![Uuid::from_u128(1)],
        }];
        let json = concat!(
            r#"{"priority":"high","remediations":[{"kind":"package","name":"openssl","fixed_version":"3.0.13"}],"#,
            r#""targets":[{"asset_id":"web-1","ring":"prod","remediations":["pkg:openssl@3.0.13"],"#,
            r#""findings":["00000000-0000-0000-0000-000000000001"]}]}"#
        );
        let want = hex::encode(Sha256::digest(json.as_bytes()));
        let got = bundle_digest(Priority::High, &[pkg("openssl", "3.0.13")], &targets)
            .map_err(|e| e.to_string());
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn existing_bundles_are_skipped_with_a_reason() {
        let d = "2026-12-01T00:00:00Z";
        let p = plans(
            &[
                item(1, "a", Some("dev"), pkg("x", "1"), Priority::High, d),
                item(2, "a", Some("dev"), pkg("y", "1"), Priority::Low, d),
            ],
            &Config::default(),
            "2026-11-29T12:00:00Z",
        );
        let high = p[0].bundle_id();
        let low = p[1].bundle_id();
        let out = skip_existing(p, |id| id == high);
        let kept: Vec<Uuid> = out.planned.iter().map(BundlePlan::bundle_id).collect();
        assert_eq!(kept, vec![low]);
        assert_eq!(
            out.skipped,
            vec![SkippedBundle {
                bundle_id: high,
                scan_id: Uuid::from_u128(0x5ca9),
                priority: Priority::High,
                reason: SkipReason::AlreadyPlanned,
            }]
        );
        assert_eq!(
            SkipReason::AlreadyPlanned.to_string(),
            "a bundle with the same content is already planned"
        );
    }

    /// (ring, projected window (opens, closes), host count)
    type ProjectedRing = (String, Option<(DateTime<Utc>, DateTime<Utc>)>, usize);

    /// Plans one bundle with a host in each of `rings` (due at `deadline`) and
    /// compares the projected window of every configured ring.
    fn check_projection(
        name: &str,
        cfg: &Config,
        now: &str,
        rings: &[&str],
        want: &[(&str, Option<(&str, &str)>)],
    ) {
        let items: Vec<PendingItem> = rings
            .iter()
            .enumerate()
            .map(|(n, r)| {
                item(
                    n as u128 + 1,
                    &format!("{r}-host"),
                    Some(r),
                    pkg("openssl", "3.0.13"),
                    Priority::High,
                    "2030-01-01T00:00:00Z",
                )
            })
            .collect();
        let got = plans(&items, cfg, now);
        assert_eq!(got.len(), 1, "{name}");
        let got: Vec<ProjectedRing> = got[0]
            .planned
            .rings
            .iter()
            .map(|r| {
                (
                    r.ring.clone(),
                    r.window.map(|w| (w.opens_at, w.closes_at)),
                    r.hosts.len(),
                )
            })
            .collect();
        let want: Vec<ProjectedRing> = want
            .iter()
            .map(|(r, w)| {
                (
                    (*r).to_owned(),
                    w.map(|(o, c)| (utc(o), utc(c))),
                    usize::from(w.is_some()),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }

    #[test]
    fn projection_in_europe_berlin_weekly_windows() {
        let all = ["dev", "test", "staging", "prod"];
        check_projection(
            "winter (UTC+1), planned on the Sunday before",
            &berlin(1, 1),
            "2026-11-29T12:00:00Z",
            &all,
            &[
                (
                    "dev",
                    Some(("2026-11-30T01:00:00Z", "2026-11-30T03:00:00Z")),
                ),
                (
                    "test",
                    Some(("2026-11-30T03:00:00Z", "2026-11-30T05:00:00Z")),
                ),
                (
                    "staging",
                    Some(("2026-11-30T05:00:00Z", "2026-11-30T07:00:00Z")),
                ),
                (
                    "prod",
                    Some(("2026-11-30T07:00:00Z", "2026-11-30T09:00:00Z")),
                ),
            ],
        );
        check_projection(
            "summer time (UTC+2) starts the Sunday before",
            &berlin(1, 1),
            "2026-03-28T12:00:00Z",
            &all,
            &[
                (
                    "dev",
                    Some(("2026-03-30T00:00:00Z", "2026-03-30T02:00:00Z")),
                ),
                (
                    "test",
                    Some(("2026-03-30T02:00:00Z", "2026-03-30T04:00:00Z")),
                ),
                (
                    "staging",
                    Some(("2026-03-30T04:00:00Z", "2026-03-30T06:00:00Z")),
                ),
                (
                    "prod",
                    Some(("2026-03-30T06:00:00Z", "2026-03-30T08:00:00Z")),
                ),
            ],
        );
        check_projection(
            "planned inside dev's window: dev starts now, test inside its open window",
            &berlin(1, 1),
            "2026-11-30T02:30:00Z",
            &all,
            &[
                (
                    "dev",
                    Some(("2026-11-30T01:00:00Z", "2026-11-30T03:00:00Z")),
                ),
                (
                    "test",
                    Some(("2026-11-30T03:00:00Z", "2026-11-30T05:00:00Z")),
                ),
                (
                    "staging",
                    Some(("2026-11-30T05:00:00Z", "2026-11-30T07:00:00Z")),
                ),
                (
                    "prod",
                    Some(("2026-11-30T07:00:00Z", "2026-11-30T09:00:00Z")),
                ),
            ],
        );
        check_projection(
            "a 4 h staging soak misses prod's window: a week later",
            &berlin(1, 4),
            "2026-11-29T12:00:00Z",
            &all,
            &[
                (
                    "dev",
                    Some(("2026-11-30T01:00:00Z", "2026-11-30T03:00:00Z")),
                ),
                (
                    "test",
                    Some(("2026-11-30T03:00:00Z", "2026-11-30T05:00:00Z")),
                ),
                (
                    "staging",
                    Some(("2026-11-30T05:00:00Z", "2026-11-30T07:00:00Z")),
                ),
                (
                    "prod",
                    Some(("2026-12-07T07:00:00Z", "2026-12-07T09:00:00Z")),
                ),
            ],
        );
        check_projection(
            "rings without hosts have no window and are skipped",
            &berlin(1, 1),
            "2026-11-29T12:00:00Z",
            &["dev", "prod"],
            &[
                (
                    "dev",
                    Some(("2026-11-30T01:00:00Z", "2026-11-30T03:00:00Z")),
                ),
                ("test", None),
                ("staging", None),
                (
                    "prod",
                    Some(("2026-11-30T07:00:00Z", "2026-11-30T09:00:00Z")),
                ),
            ],
        );
        check_projection(
            "always-open rings start at now, then after each soak",
            &Config::default(),
            "2026-11-29T12:00:00Z",
            &["test", "staging", "prod"],
            &[
                ("dev", None),
                (
                    "test",
                    Some(("2026-11-29T12:00:00Z", "2126-11-05T12:00:00Z")),
                ),
                (
                    "staging",
                    Some(("2026-11-30T12:00:00Z", "2126-11-06T12:00:00Z")),
                ),
                (
                    "prod",
                    Some(("2026-12-02T12:00:00Z", "2126-11-08T12:00:00Z")),
                ),
            ],
        );
    }

    #[test]
    fn sla_at_risk_at_the_boundary() {
        // prod opens at 2026-11-30T07:00:00Z (see the projection test)
        let cases = [
            ("2026-11-30T07:00:00Z", false, "due exactly when prod opens"),
            (
                "2026-11-30T06:59:59Z",
                true,
                "due a second before prod opens",
            ),
            ("2026-12-30T00:00:00Z", false, "due long after"),
        ];
        for (due, at_risk, name) in cases {
            let items = [
                item(
                    1,
                    "d",
                    Some("dev"),
                    pkg("a", "1"),
                    Priority::Critical,
                    "2027-01-01T00:00:00Z",
                ),
                item(2, "p", Some("prod"), pkg("a", "1"), Priority::Critical, due),
            ];
            let got = plans(&items, &berlin(1, 1), "2026-11-29T12:00:00Z");
            assert_eq!(got[0].planned.deadline, utc(due), "{name}");
            assert_eq!(got[0].planned.sla_at_risk, at_risk, "{name}");
        }
        // only dev has hosts: the last ring with hosts is dev (01:00Z)
        let items = [item(
            1,
            "d",
            Some("dev"),
            pkg("a", "1"),
            Priority::Critical,
            "2026-11-30T02:00:00Z",
        )];
        assert!(
            !plans(&items, &berlin(1, 1), "2026-11-29T12:00:00Z")[0]
                .planned
                .sla_at_risk
        );
        // planned inside prod's open window (07:00Z-09:00Z): prod starts at
        // the planning instant, not at the window's opening
        for (due, at_risk) in [
            ("2026-11-30T07:29:59Z", true),
            ("2026-11-30T07:30:00Z", false),
        ] {
            let items = [item(
                1,
                "p",
                Some("prod"),
                pkg("a", "1"),
                Priority::Critical,
                due,
            )];
            let got = plans(&items, &berlin(1, 1), "2026-11-30T07:30:00Z");
            assert_eq!(
                got[0].planned.sla_at_risk, at_risk,
                "inside the window, due {due}"
            );
        }
    }

    #[test]
    fn initial_state_waits_for_the_first_ring_with_hosts() {
        let items = [item(
            1,
            "s",
            Some("staging"),
            pkg("a", "1"),
            Priority::Low,
            "2027-01-01T00:00:00Z",
        )];
        let p = plans(&items, &Config::default(), "2026-11-29T12:00:00Z");
        let state = &p[0].state;
        assert_eq!(
            state.status,
            crate::BundleStatus::WaitingForWindow {
                ring_index: 2,
                not_before: utc("2026-11-29T12:00:00Z")
            }
        );
        let rings: Vec<(&str, usize)> = state
            .rings
            .iter()
            .map(|r| (r.ring.as_str(), r.hosts.len()))
            .collect();
        assert_eq!(
            rings,
            vec![("dev", 0), ("test", 0), ("staging", 1), ("prod", 0)]
        );
        assert_eq!(
            state.rings[2].hosts,
            vec![HostJobSpec {
                asset_id: "s".into(),
                remediations: vec![pkg("a", "1")]
            }]
        );
    }

    #[test]
    fn invalid_config_is_an_error_not_a_panic() {
        let mut cfg = Config::default();
        cfg.rings.push(RingConfig::always_open("dev", 1));
        let got = plan(Uuid::nil(), &[], &cfg, utc("2026-01-01T00:00:00Z"));
        assert_eq!(
            got.err().map(|e| e.to_string()).as_deref(),
            Some("invalid schedule configuration: rings: ring \"dev\" is listed more than once")
        );
    }

    #[test]
    fn scanner_solutions_are_manual_tasks_never_dropped() {
        let d = "2026-12-01T00:00:00Z";
        let fix = || Remediation::Solution {
            scanner: "nessus".into(),
            check_id: "187315".into(),
            text: "Disable the affected algorithms.".into(),
        };
        let items = [
            item(
                1,
                "a",
                Some("dev"),
                pkg("openssl", "3.0.13"),
                Priority::Medium,
                d,
            ),
            item(
                2,
                "a",
                Some("dev"),
                fix(),
                Priority::Medium,
                "2026-11-30T00:00:00Z",
            ),
            item(3, "b", Some("prod"), fix(), Priority::Medium, d),
        ];
        let p = plans(&items, &Config::default(), "2026-11-29T12:00:00Z");
        assert_eq!(p.len(), 1);
        let b = &p[0].planned;
        let keys: Vec<String> = b.remediations.iter().map(Remediation::key).collect();
        assert_eq!(keys, vec!["pkg:openssl@3.0.13"]);
        let hosts: Vec<&str> = b.targets.iter().map(|t| t.asset_id.as_str()).collect();
        assert_eq!(hosts, vec!["a"], "b has nothing an agent can apply");
        assert_eq!(
            b.manual_tasks,
            vec![ManualTask {
                remediation: fix(),
                hosts: vec!["a".into(), "b".into()],
                findings: vec![Uuid::from_u128(2), Uuid::from_u128(3)],
            }]
        );
        assert_eq!(
            b.deadline,
            utc("2026-11-30T00:00:00Z"),
            "manual tasks count"
        );
        // The tasks are content: the same automated part without them is
        // another bundle.
        let without = plans(&items[..1], &Config::default(), "2026-11-29T12:00:00Z");
        assert_ne!(without[0].bundle_id(), p[0].bundle_id());
        assert_eq!(
            Ok(b.digest.clone()),
            bundle_digest_with_tasks(
                Priority::Medium,
                &b.remediations,
                &b.targets,
                &b.manual_tasks
            )
            .map_err(|e| e.to_string())
        );
        // Only manual work: a bundle with no host to roll out to.
        let only = plans(&items[2..], &Config::default(), "2026-11-29T12:00:00Z");
        assert!(only[0].planned.targets.is_empty());
        assert_eq!(only[0].planned.manual_tasks.len(), 1);
        assert!(only[0].state.rings.iter().all(|r| r.hosts.is_empty()));
    }

    #[test]
    fn approval_requirement_table() {
        let ring_hosts = |rings: &[&str]| -> Vec<RingHosts> {
            ["dev", "test", "staging", "prod"]
                .iter()
                .map(|r| RingHosts {
                    ring: (*r).into(),
                    hosts: if rings.contains(r) {
                        vec![HostJobSpec {
                            asset_id: format!("{r}-1"),
                            remediations: vec![],
                        }]
                    } else {
                        vec![]
                    },
                })
                .collect()
        };
        let advisory = Remediation::Advisory {
            id: "RHSA-2024:4420".into(),
        };
        let mut two_rings = Config::default();
        two_rings.approval.rings = Some(vec!["staging".into(), "prod".into()]);
        let mut off = Config::default();
        off.approval.rings = Some(vec![]);
        let d = Config::default();
        // (name, config, priority, remediations, rings with hosts, want)
        type Row<'a> = (
            &'a str,
            &'a Config,
            Priority,
            Vec<Remediation>,
            &'a [&'a str],
            Option<(Vec<&'a str>, Vec<&'a str>)>,
        );
        let table: Vec<Row<'_>> = vec![
            (
                "low, plain package: standard",
                &d,
                Priority::Low,
                vec![pkg("openssl", "3.0.13")],
                &["dev", "prod"],
                None,
            ),
            (
                "medium, plain package: standard",
                &d,
                Priority::Medium,
                vec![pkg("nginx", "1.25.3")],
                &["prod"],
                None,
            ),
            (
                "high",
                &d,
                Priority::High,
                vec![pkg("openssl", "3.0.13")],
                &["dev", "prod"],
                Some((vec!["prod"], vec!["priority high is not a standard change"])),
            ),
            (
                "kernel needs a reboot",
                &d,
                Priority::Low,
                vec![
                    pkg("kernel-core", "5.14.0-427.el9"),
                    pkg("openssl", "3.0.13"),
                ],
                &["prod"],
                Some((
                    vec!["prod"],
                    vec!["pkg:kernel-core@5.14.0-427.el9 needs a reboot"],
                )),
            ),
            (
                "debian kernel image",
                &d,
                Priority::Medium,
                vec![pkg("linux-image-6.1.0-18-amd64", "6.1.76-1")],
                &["prod"],
                Some((
                    vec!["prod"],
                    vec!["pkg:linux-image-6.1.0-18-amd64@6.1.76-1 needs a reboot"],
                )),
            ),
            (
                "advisory may reboot",
                &d,
                Priority::Critical,
                vec![advisory.clone()],
                &["prod"],
                Some((
                    vec!["prod"],
                    vec![
                        "priority critical is not a standard change",
                        "advisory:RHSA-2024:4420 may need a reboot (the host resolves its packages)",
                    ],
                )),
            ),
            (
                "high without production hosts",
                &d,
                Priority::High,
                vec![pkg("openssl", "3")],
                &["dev", "staging"],
                None,
            ),
            (
                "two approval rings",
                &two_rings,
                Priority::High,
                vec![pkg("openssl", "3")],
                &["dev", "staging", "prod"],
                Some((
                    vec!["staging", "prod"],
                    vec!["priority high is not a standard change"],
                )),
            ),
            (
                "approvals off",
                &off,
                Priority::Critical,
                vec![advisory],
                &["prod"],
                None,
            ),
        ];
        for (name, cfg, priority, remediations, rings, want) in table {
            let got = approval_requirement(priority, &remediations, &ring_hosts(rings), cfg);
            let want = want.map(|(r, why)| ApprovalRequirement {
                rings: r.iter().map(|s| (*s).to_owned()).collect(),
                reasons: why.iter().map(|s| (*s).to_owned()).collect(),
            });
            assert_eq!(got, want, "{name}");
        }
    }
}
