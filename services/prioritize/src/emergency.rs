//! The emergency lane, pure: a zero-day (a CVE newly known to be exploited
//! that hits at least one open finding) gets three durable timers, and each
//! stage is met, or escalated once, from the facts the adapter feeds in.
//!
//! DESIGN.md ("The risk policy"): assessment within 4 hours, the test ring
//! within 24, production within 72, all counted from the declaration. The
//! durations and the ring names are the policy's `[emergency]` section
//! ([`EmergencyRule`]).
//!
//! # Stages and what meets them
//!
//! Every affected finding (the open findings of the CVEs at declaration,
//! [`Emergency::findings`]) must be covered; a stage is met when every one
//! of them is:
//!
//! | stage | a finding is covered when |
//! |---|---|
//! | `assess` | it was re-prioritized (done at declaration, before the declaration is published) and a `patch.bundle.planned` contains it, or it was resolved |
//! | `test_ring` | a bundle containing it passed the last wave of its gate ring ([`gate_ring`]: the test ring), or completed, or the finding was resolved |
//! | `production` | a bundle containing it completed (`patch.bundle.completed`), or it was resolved |
//!
//! A bundle planned before the declaration counts (schedule plans a bundle
//! once; the emergency does not need a second one). A finding resolved by a
//! rescan is fixed, whatever the bundles did. The stage is met at the
//! latest of its findings' earliest covering facts, never before the
//! declaration; that fact is the `evidence_event` of
//! `patch.emergency.progressed`.
//!
//! A stage whose timer passed (`now >= due_at`) without being met is
//! escalated exactly once (`patch.emergency.escalated`); if it is met later,
//! it still progresses. An emergency whose three stages are met is closed.
//!
//! Facts are applied idempotently and in any order (a validation may be read
//! before its bundle's plan): every fact keeps its earliest evidence.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use events::{
    EmergencyDeclared, EmergencyEscalated, EmergencyProgressed, EmergencyStage, EmergencyTimer,
    Payload, RingSchedule,
};

use crate::policy::PolicyError;

/// The stages in timer order.
pub const STAGES: [EmergencyStage; 3] = [
    EmergencyStage::Assess,
    EmergencyStage::TestRing,
    EmergencyStage::Production,
];

/// `assess`, `test_ring` or `production` (the serialized names).
pub fn stage_name(stage: EmergencyStage) -> &'static str {
    match stage {
        EmergencyStage::Assess => "assess",
        EmergencyStage::TestRing => "test_ring",
        EmergencyStage::Production => "production",
    }
}

/// The policy's `[emergency]` section: the three timers (hours from the
/// declaration) and which rings are the test and the production ring.
///
/// ```toml
/// [emergency]
/// assess_hours = 4
/// test_ring_hours = 24
/// production_hours = 72
/// test_ring = "test"
/// production_ring = "prod"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmergencyRule {
    /// Hours from the declaration to assess: findings re-prioritized and a
    /// bundle planned (default 4, DESIGN.md).
    pub assess_hours: u32,
    /// Hours from the declaration to a fix validated in the test ring
    /// (default 24).
    pub test_ring_hours: u32,
    /// Hours from the declaration to a fix completed in production, the
    /// bundle's last ring (default 72).
    pub production_hours: u32,
    /// The ring whose validation meets the test-ring stage (default `test`,
    /// the second of DESIGN.md's dev → test → staging → prod).
    pub test_ring: String,
    /// The production ring (default `prod`): a bundle without hosts in the
    /// test ring is gated by its last ring before this one.
    pub production_ring: String,
}

impl Default for EmergencyRule {
    fn default() -> Self {
        EmergencyRule {
            assess_hours: 4,
            test_ring_hours: 24,
            production_hours: 72,
            test_ring: "test".to_owned(),
            production_ring: "prod".to_owned(),
        }
    }
}

impl EmergencyRule {
    /// The timer of `stage`, in hours.
    pub fn hours(&self, stage: EmergencyStage) -> u32 {
        match stage {
            EmergencyStage::Assess => self.assess_hours,
            EmergencyStage::TestRing => self.test_ring_hours,
            EmergencyStage::Production => self.production_hours,
        }
    }

    /// The three timers of an emergency declared at `declared_at` (UTC,
    /// exact hours).
    pub fn timers(&self, declared_at: DateTime<Utc>) -> Vec<EmergencyTimer> {
        STAGES
            .iter()
            .map(|&stage| EmergencyTimer {
                stage,
                due_at: declared_at
                    .checked_add_signed(TimeDelta::hours(i64::from(self.hours(stage))))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            })
            .collect()
    }

    /// Checks that every timer is at least one hour, the timers do not run
    /// backwards (assess ≤ test ring ≤ production) and the ring names are
    /// set and distinct.
    ///
    /// # Errors
    /// [`PolicyError::Invalid`] naming the key.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |field, reason: &str| {
            Err(PolicyError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        for (field, hours) in [
            ("emergency.assess_hours", self.assess_hours),
            ("emergency.test_ring_hours", self.test_ring_hours),
            ("emergency.production_hours", self.production_hours),
        ] {
            if hours == 0 {
                return invalid(field, "must be at least 1 hour");
            }
        }
        if !(self.assess_hours <= self.test_ring_hours
            && self.test_ring_hours <= self.production_hours)
        {
            return invalid(
                "emergency",
                "timers must satisfy assess_hours <= test_ring_hours <= production_hours",
            );
        }
        if self.test_ring.trim().is_empty() {
            return invalid("emergency.test_ring", "must not be empty");
        }
        if self.production_ring.trim().is_empty() {
            return invalid("emergency.production_ring", "must not be empty");
        }
        if self.test_ring == self.production_ring {
            return invalid(
                "emergency",
                "test_ring and production_ring must be different rings",
            );
        }
        Ok(())
    }
}

/// The ring whose last validated wave meets a bundle's test-ring stage,
/// from the bundle's rollout order (`patch.bundle.planned` `rings`; rings
/// without hosts are ignored):
///
/// - the test ring, when the bundle has hosts there;
/// - else the last ring with hosts before the production ring (with no
///   production hosts: the last ring), the last gate the fix passes
///   outside production;
/// - else `None`: the bundle only has production hosts, and only its
///   completion meets the stage.
pub fn gate_ring(rings: &[RingSchedule], rule: &EmergencyRule) -> Option<String> {
    let with_hosts: Vec<&str> = rings
        .iter()
        .filter(|r| !r.hosts.is_empty())
        .map(|r| r.ring.as_str())
        .collect();
    if with_hosts.contains(&rule.test_ring.as_str()) {
        return Some(rule.test_ring.clone());
    }
    let before_production = with_hosts
        .iter()
        .position(|r| *r == rule.production_ring)
        .unwrap_or(with_hosts.len());
    with_hosts
        .get(..before_production)
        .and_then(|pre| pre.last())
        .map(|r| (*r).to_owned())
}

/// An event that moved something forward: its id and its time (the
/// producer's `time`, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// The event id.
    pub event_id: Uuid,
}

/// Keeps the earlier of two pieces of evidence (then the smaller id), so
/// applying facts in any order gives the same result.
fn earliest(slot: &mut Option<Evidence>, new: Option<Evidence>) -> bool {
    match (*slot, new) {
        (_, None) => false,
        (None, Some(n)) => {
            *slot = Some(n);
            true
        }
        (Some(old), Some(n)) if n < old => {
            *slot = Some(n);
            true
        }
        _ => false,
    }
}

/// What prioritize knows of one bundle (KV `bundle.<id>`), whatever order
/// its events arrive in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRecord {
    /// Its `patch.bundle.planned`.
    #[serde(default)]
    pub planned: Option<Evidence>,
    /// Its gate ring ([`gate_ring`]), known once planned.
    #[serde(default)]
    pub gate_ring: Option<String>,
    /// The `patch.validation.passed` of the last wave of each ring.
    #[serde(default)]
    pub ring_passed: BTreeMap<String, Evidence>,
    /// Its `patch.bundle.completed`.
    #[serde(default)]
    pub completed: Option<Evidence>,
}

impl BundleRecord {
    /// Records the plan and its gate ring; `true` when it changed anything.
    pub fn planned(&mut self, evidence: Evidence, gate: Option<String>) -> bool {
        let mut changed = earliest(&mut self.planned, Some(evidence));
        if self.gate_ring.is_none() && gate.is_some() {
            self.gate_ring = gate;
            changed = true;
        }
        changed
    }

    /// Records the pass of `ring`'s last wave; `true` when it changed anything.
    pub fn ring_passed(&mut self, ring: &str, evidence: Evidence) -> bool {
        let mut slot = self.ring_passed.get(ring).copied();
        let changed = earliest(&mut slot, Some(evidence));
        if let (true, Some(e)) = (changed, slot) {
            self.ring_passed.insert(ring.to_owned(), e);
        }
        changed
    }

    /// Records the completion; `true` when it changed anything.
    pub fn completed(&mut self, evidence: Evidence) -> bool {
        earliest(&mut self.completed, Some(evidence))
    }

    /// The pass of its gate ring, once both the plan and the pass are known.
    pub fn gate_passed(&self) -> Option<Evidence> {
        self.gate_ring
            .as_ref()
            .and_then(|g| self.ring_passed.get(g).copied())
    }
}

/// How far one affected finding got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingProgress {
    /// The asset it is on.
    pub asset_id: String,
    /// Earliest plan of a bundle containing it.
    #[serde(default)]
    pub planned: Option<Evidence>,
    /// Earliest gate-ring pass of a bundle containing it.
    #[serde(default)]
    pub gate_passed: Option<Evidence>,
    /// Earliest completion of a bundle containing it.
    #[serde(default)]
    pub completed: Option<Evidence>,
    /// Its resolution by a rescan.
    #[serde(default)]
    pub resolved: Option<Evidence>,
}

impl FindingProgress {
    /// The earliest fact that covers it for `stage` (see the module table).
    pub fn covered(&self, stage: EmergencyStage) -> Option<Evidence> {
        let candidates = match stage {
            EmergencyStage::Assess => [self.planned, self.resolved, None],
            EmergencyStage::TestRing => [self.gate_passed, self.completed, self.resolved],
            EmergencyStage::Production => [self.completed, self.resolved, None],
        };
        candidates.into_iter().flatten().min()
    }
}

/// One stage's timer and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageProgress {
    /// The stage.
    pub stage: EmergencyStage,
    /// Its deadline (UTC).
    pub due_at: DateTime<Utc>,
    /// What met it, once met.
    #[serde(default)]
    pub met: Option<Evidence>,
    /// When its escalation was raised, if it was.
    #[serde(default)]
    pub escalated_at: Option<DateTime<Utc>>,
}

/// What [`Emergency::declare`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    /// The emergency's id (derived from the triggering bulletin).
    pub emergency_id: Uuid,
    /// The exploited CVEs.
    pub cves: Vec<String>,
    /// Why, one line.
    pub reason: String,
    /// The bulletin event.
    pub source_event: Uuid,
    /// When (UTC); the timers run from here.
    pub declared_at: DateTime<Utc>,
    /// The affected open findings and the asset each is on.
    pub findings: BTreeMap<Uuid, String>,
}

/// A declared emergency and its progress (KV `emergency.<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emergency {
    /// The declaration, as published.
    pub declared: EmergencyDeclared,
    /// Every affected finding's progress.
    pub findings: BTreeMap<Uuid, FindingProgress>,
    /// Bundles containing affected findings, with the affected findings each
    /// contains.
    pub bundles: BTreeMap<Uuid, BTreeSet<Uuid>>,
    /// The three stages, in timer order.
    pub stages: Vec<StageProgress>,
}

/// An event the lane publishes after a change.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneOutput {
    /// `patch.emergency.progressed`.
    Progressed(EmergencyProgressed),
    /// `patch.emergency.escalated`.
    Escalated(EmergencyEscalated),
}

impl LaneOutput {
    /// The child key of its derived id under the emergency id:
    /// `progressed/<stage>` or `escalated/<stage>`, so each is published at
    /// most once per stage whoever (handler or tick) finds it first.
    pub fn child_key(&self) -> String {
        match self {
            LaneOutput::Progressed(p) => format!("progressed/{}", stage_name(p.stage)),
            LaneOutput::Escalated(e) => format!("escalated/{}", stage_name(e.stage)),
        }
    }

    /// The payload.
    pub fn into_payload(self) -> Payload {
        match self {
            LaneOutput::Progressed(p) => p.into(),
            LaneOutput::Escalated(e) => e.into(),
        }
    }
}

impl Emergency {
    /// Opens the lane: the declaration with its three timers, every
    /// affected finding not yet covered. Assets and findings are listed
    /// sorted and de-duplicated.
    pub fn declare(d: Declaration, rule: &EmergencyRule) -> Emergency {
        let timers = rule.timers(d.declared_at);
        let assets: BTreeSet<String> = d.findings.values().cloned().collect();
        let stages = timers
            .iter()
            .map(|t| StageProgress {
                stage: t.stage,
                due_at: t.due_at,
                met: None,
                escalated_at: None,
            })
            .collect();
        Emergency {
            declared: EmergencyDeclared {
                emergency_id: d.emergency_id,
                cves: d.cves,
                reason: d.reason,
                source_event: d.source_event,
                declared_at: d.declared_at,
                assets: assets.into_iter().collect(),
                findings: d.findings.keys().copied().collect(),
                timers,
            },
            findings: d
                .findings
                .into_iter()
                .map(|(id, asset_id)| {
                    (
                        id,
                        FindingProgress {
                            asset_id,
                            ..FindingProgress::default()
                        },
                    )
                })
                .collect(),
            bundles: BTreeMap::new(),
            stages,
        }
    }

    /// Notes that `bundle_id` contains `findings`; only affected findings are
    /// kept. Returns `true` when it linked anything new. Link before
    /// [`Emergency::apply_bundle`].
    pub fn link(&mut self, bundle_id: Uuid, findings: impl IntoIterator<Item = Uuid>) -> bool {
        let mut changed = false;
        for f in findings {
            if self.findings.contains_key(&f) {
                changed |= self.bundles.entry(bundle_id).or_default().insert(f);
            }
        }
        changed
    }

    /// Applies what is known of a linked bundle to the findings it contains;
    /// `true` when any finding moved.
    pub fn apply_bundle(&mut self, bundle_id: Uuid, bundle: &BundleRecord) -> bool {
        let Some(contained) = self.bundles.get(&bundle_id) else {
            return false;
        };
        let mut changed = false;
        for f in contained {
            if let Some(p) = self.findings.get_mut(f) {
                changed |= earliest(&mut p.planned, bundle.planned);
                changed |= earliest(&mut p.gate_passed, bundle.gate_passed());
                changed |= earliest(&mut p.completed, bundle.completed);
            }
        }
        changed
    }

    /// Records that an affected finding was resolved; `true` when it moved.
    pub fn apply_resolved(&mut self, finding_id: Uuid, evidence: Evidence) -> bool {
        match self.findings.get_mut(&finding_id) {
            Some(p) => earliest(&mut p.resolved, Some(evidence)),
            None => false,
        }
    }

    /// Whether `bundle_id` contains an affected finding.
    pub fn has_bundle(&self, bundle_id: Uuid) -> bool {
        self.bundles.contains_key(&bundle_id)
    }

    /// Whether every stage is met (the lane is closed).
    pub fn is_closed(&self) -> bool {
        self.stages.iter().all(|s| s.met.is_some())
    }

    /// The fact that met `stage`: the latest of the affected findings'
    /// earliest covering facts, `None` while a finding is uncovered.
    fn coverage(&self, stage: EmergencyStage) -> Result<Evidence, usize> {
        let mut latest: Option<Evidence> = None;
        let mut missing = 0usize;
        for p in self.findings.values() {
            match p.covered(stage) {
                Some(e) => latest = latest.max(Some(e)),
                None => missing += 1,
            }
        }
        match (missing, latest) {
            (0, Some(e)) => Ok(e),
            _ => Err(missing),
        }
    }

    /// Moves the stages forward at `now` (UTC): a stage whose findings are
    /// all covered is met (→ progressed, `met_at` no earlier than the
    /// declaration); a stage past its `due_at` and not met is escalated once
    /// (→ escalated, `escalated_at = now`). Returns what to publish.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<LaneOutput> {
        let mut out = Vec::new();
        for i in 0..self.stages.len() {
            let Some(stage) = self.stages.get(i).map(|s| s.stage) else {
                continue;
            };
            let coverage = self.coverage(stage);
            let total = self.findings.len();
            let declared_at = self.declared.declared_at;
            let emergency_id = self.declared.emergency_id;
            let Some(s) = self.stages.get_mut(i) else {
                continue;
            };
            if s.met.is_some() {
                continue;
            }
            match coverage {
                Ok(evidence) => {
                    s.met = Some(evidence);
                    out.push(LaneOutput::Progressed(EmergencyProgressed {
                        emergency_id,
                        stage,
                        met_at: evidence.at.max(declared_at),
                        evidence_event: evidence.event_id,
                    }));
                }
                Err(missing) if s.escalated_at.is_none() && now >= s.due_at => {
                    s.escalated_at = Some(now);
                    out.push(LaneOutput::Escalated(EmergencyEscalated {
                        emergency_id,
                        stage,
                        due_at: s.due_at,
                        escalated_at: now,
                        reason: escalation_reason(stage, missing, total),
                    }));
                }
                Err(_) => {}
            }
        }
        out
    }
}

/// One line saying what a late stage is missing.
fn escalation_reason(stage: EmergencyStage, missing: usize, total: usize) -> String {
    let what = match stage {
        EmergencyStage::Assess => "are in no planned bundle",
        EmergencyStage::TestRing => "have no fix validated in the test ring",
        EmergencyStage::Production => "have no fix completed in production",
    };
    format!(
        "{}: {missing} of {total} affected findings {what} and are not resolved",
        stage_name(stage)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const T0: &str = "2026-03-01T10:00:00Z";

    fn ev(n: u128, at: &str) -> Evidence {
        Evidence {
            at: utc(at),
            event_id: Uuid::from_u128(n),
        }
    }

    fn f(n: u128) -> Uuid {
        Uuid::from_u128(0xf000 + n)
    }

    fn b(n: u128) -> Uuid {
        Uuid::from_u128(0xb000 + n)
    }

    fn declared() -> Emergency {
        Emergency::declare(
            Declaration {
                emergency_id: Uuid::from_u128(0xe),
                cves: vec!["CVE-2026-0001".to_owned()],
                reason: "CISA KEV added CVE-2026-0001".to_owned(),
                source_event: Uuid::from_u128(0x5),
                declared_at: utc(T0),
                findings: [(f(1), "web-2".to_owned()), (f(2), "web-1".to_owned())]
                    .into_iter()
                    .collect(),
            },
            &EmergencyRule::default(),
        )
    }

    /// A fact fed to the lane.
    enum Fact {
        /// A bundle contains these findings and is known as this record.
        Bundle(Uuid, Vec<Uuid>, BundleRecord),
        /// A finding was resolved.
        Resolved(Uuid, Evidence),
        /// The clock moved (no fact).
        Tick,
    }

    fn planned(e: Evidence, gate: Option<&str>) -> BundleRecord {
        let mut r = BundleRecord::default();
        r.planned(e, gate.map(str::to_owned));
        r
    }

    struct Case {
        name: &'static str,
        /// Facts, each applied then advanced at its instant.
        steps: Vec<(&'static str, Fact)>,
        /// `progressed/<stage>` or `escalated/<stage>` with the event time
        /// (`met_at` or `escalated_at`), in publication order.
        outputs: &'static [(&'static str, &'static str)],
        closed: bool,
    }

    fn check(c: Case) {
        let mut e = declared();
        let mut got = Vec::new();
        for (at, fact) in c.steps {
            match fact {
                Fact::Bundle(id, findings, record) => {
                    e.link(id, findings);
                    e.apply_bundle(id, &record);
                }
                Fact::Resolved(id, evidence) => {
                    e.apply_resolved(id, evidence);
                }
                Fact::Tick => {}
            }
            for o in e.advance(utc(at)) {
                let at = match &o {
                    LaneOutput::Progressed(p) => p.met_at,
                    LaneOutput::Escalated(x) => x.escalated_at,
                };
                got.push((o.child_key(), at));
            }
        }
        let want: Vec<(String, DateTime<Utc>)> = c
            .outputs
            .iter()
            .map(|(k, at)| ((*k).to_owned(), utc(at)))
            .collect();
        assert_eq!(got, want, "{}", c.name);
        assert_eq!(e.is_closed(), c.closed, "{}: closed", c.name);
    }

    #[test]
    fn declaration_lists_assets_findings_and_timers() {
        let e = declared();
        assert_eq!(e.declared.assets, ["web-1", "web-2"]);
        assert_eq!(e.declared.findings, [f(1), f(2)]);
        let timers: Vec<(EmergencyStage, DateTime<Utc>)> = e
            .declared
            .timers
            .iter()
            .map(|t| (t.stage, t.due_at))
            .collect();
        assert_eq!(
            timers,
            [
                (EmergencyStage::Assess, utc("2026-03-01T14:00:00Z")),
                (EmergencyStage::TestRing, utc("2026-03-02T10:00:00Z")),
                (EmergencyStage::Production, utc("2026-03-04T10:00:00Z")),
            ]
        );
    }

    #[test]
    fn stages() {
        let both = || vec![f(1), f(2)];
        check(Case {
            name: "nothing happens: each timer escalates once, on time",
            steps: vec![
                ("2026-03-01T13:59:59Z", Fact::Tick),
                ("2026-03-01T14:00:00Z", Fact::Tick),
                ("2026-03-01T14:00:01Z", Fact::Tick),
                ("2026-03-02T10:00:00Z", Fact::Tick),
                ("2026-03-05T00:00:00Z", Fact::Tick),
                ("2026-03-06T00:00:00Z", Fact::Tick),
            ],
            outputs: &[
                ("escalated/assess", "2026-03-01T14:00:00Z"),
                ("escalated/test_ring", "2026-03-02T10:00:00Z"),
                ("escalated/production", "2026-03-05T00:00:00Z"),
            ],
            closed: false,
        });
        check(Case {
            name: "a bundle planned in time meets assess, no escalation",
            steps: vec![
                (
                    "2026-03-01T11:00:00Z",
                    Fact::Bundle(
                        b(1),
                        both(),
                        planned(ev(1, "2026-03-01T11:00:00Z"), Some("test")),
                    ),
                ),
                ("2026-03-01T15:00:00Z", Fact::Tick),
            ],
            outputs: &[("progressed/assess", "2026-03-01T11:00:00Z")],
            closed: false,
        });
        check(Case {
            name: "a bundle planned before the declaration meets assess at declaration",
            steps: vec![(
                T0,
                Fact::Bundle(
                    b(1),
                    both(),
                    planned(ev(1, "2026-02-20T00:00:00Z"), Some("test")),
                ),
            )],
            outputs: &[("progressed/assess", T0)],
            closed: false,
        });
        check(Case {
            name: "one of two findings planned is not enough",
            steps: vec![
                (
                    "2026-03-01T11:00:00Z",
                    Fact::Bundle(
                        b(1),
                        vec![f(1)],
                        planned(ev(1, "2026-03-01T11:00:00Z"), Some("test")),
                    ),
                ),
                ("2026-03-01T14:00:00Z", Fact::Tick),
                (
                    "2026-03-01T15:00:00Z",
                    Fact::Bundle(
                        b(2),
                        vec![f(2)],
                        planned(ev(2, "2026-03-01T15:00:00Z"), Some("test")),
                    ),
                ),
            ],
            outputs: &[
                ("escalated/assess", "2026-03-01T14:00:00Z"),
                ("progressed/assess", "2026-03-01T15:00:00Z"),
            ],
            closed: false,
        });
        let mut tested = planned(ev(1, "2026-03-01T11:00:00Z"), Some("test"));
        tested.ring_passed("dev", ev(2, "2026-03-01T12:00:00Z"));
        tested.ring_passed("test", ev(3, "2026-03-01T20:00:00Z"));
        let mut done = tested.clone();
        done.completed(ev(4, "2026-03-03T08:00:00Z"));
        check(Case {
            name: "the whole lane in time closes it",
            steps: vec![
                ("2026-03-01T11:00:00Z", Fact::Bundle(b(1), both(), tested)),
                ("2026-03-03T08:00:00Z", Fact::Bundle(b(1), both(), done)),
                ("2026-03-09T00:00:00Z", Fact::Tick),
            ],
            outputs: &[
                ("progressed/assess", "2026-03-01T11:00:00Z"),
                ("progressed/test_ring", "2026-03-01T20:00:00Z"),
                ("progressed/production", "2026-03-03T08:00:00Z"),
            ],
            closed: true,
        });
        let mut other_ring = planned(ev(1, "2026-03-01T11:00:00Z"), Some("test"));
        other_ring.ring_passed("dev", ev(2, "2026-03-01T12:00:00Z"));
        check(Case {
            name: "a pass in another ring is not the test ring",
            steps: vec![
                (
                    "2026-03-01T12:00:00Z",
                    Fact::Bundle(b(1), both(), other_ring),
                ),
                ("2026-03-02T10:00:00Z", Fact::Tick),
            ],
            outputs: &[
                ("progressed/assess", "2026-03-01T11:00:00Z"),
                ("escalated/test_ring", "2026-03-02T10:00:00Z"),
            ],
            closed: false,
        });
        // The validation is read before the plan (another consumer): the
        // pass is kept and counts once the gate ring is known.
        let mut early = BundleRecord::default();
        early.ring_passed("test", ev(3, "2026-03-01T12:00:00Z"));
        let mut late = early.clone();
        late.planned(ev(1, "2026-03-01T11:00:00Z"), Some("test".to_owned()));
        check(Case {
            name: "facts in any order",
            steps: vec![
                ("2026-03-01T12:00:00Z", Fact::Bundle(b(1), both(), early)),
                ("2026-03-01T12:30:00Z", Fact::Bundle(b(1), both(), late)),
            ],
            outputs: &[
                ("progressed/assess", "2026-03-01T11:00:00Z"),
                ("progressed/test_ring", "2026-03-01T12:00:00Z"),
            ],
            closed: false,
        });
        check(Case {
            name: "resolved findings meet every stage",
            steps: vec![
                (
                    "2026-03-01T12:00:00Z",
                    Fact::Resolved(f(1), ev(7, "2026-03-01T12:00:00Z")),
                ),
                (
                    "2026-03-01T13:00:00Z",
                    Fact::Resolved(f(2), ev(8, "2026-03-01T13:00:00Z")),
                ),
            ],
            outputs: &[
                ("progressed/assess", "2026-03-01T13:00:00Z"),
                ("progressed/test_ring", "2026-03-01T13:00:00Z"),
                ("progressed/production", "2026-03-01T13:00:00Z"),
            ],
            closed: true,
        });
        let mut prod_only = planned(ev(1, "2026-03-01T11:00:00Z"), None);
        prod_only.ring_passed("prod", ev(2, "2026-03-02T09:00:00Z"));
        let mut prod_done = prod_only.clone();
        prod_done.completed(ev(3, "2026-03-02T09:00:00Z"));
        check(Case {
            name: "a production-only bundle meets the test ring at completion",
            steps: vec![
                (
                    "2026-03-01T11:00:00Z",
                    Fact::Bundle(b(1), both(), prod_only),
                ),
                (
                    "2026-03-02T09:00:00Z",
                    Fact::Bundle(b(1), both(), prod_done),
                ),
            ],
            outputs: &[
                ("progressed/assess", "2026-03-01T11:00:00Z"),
                ("progressed/test_ring", "2026-03-02T09:00:00Z"),
                ("progressed/production", "2026-03-02T09:00:00Z"),
            ],
            closed: true,
        });
        check(Case {
            name: "an unrelated finding's bundle changes nothing",
            steps: vec![
                (
                    "2026-03-01T11:00:00Z",
                    Fact::Bundle(
                        b(9),
                        vec![f(9)],
                        planned(ev(1, "2026-03-01T11:00:00Z"), Some("test")),
                    ),
                ),
                ("2026-03-01T13:00:00Z", Fact::Tick),
            ],
            outputs: &[],
            closed: false,
        });
    }

    #[test]
    fn escalation_says_what_is_missing() {
        let mut e = declared();
        e.link(b(1), [f(1)]);
        e.apply_bundle(b(1), &planned(ev(1, T0), Some("test")));
        let out = e.advance(utc("2026-03-01T14:00:00Z"));
        let [LaneOutput::Escalated(x)] = out.as_slice() else {
            panic!("{out:?}");
        };
        assert_eq!(x.stage, EmergencyStage::Assess);
        assert_eq!(x.due_at, utc("2026-03-01T14:00:00Z"));
        assert_eq!(
            x.reason,
            "assess: 1 of 2 affected findings are in no planned bundle and are not resolved"
        );
        assert_eq!(e.advance(utc("2026-03-01T15:00:00Z")), vec![]);
    }

    #[test]
    fn gate_rings() {
        let rings = |names: &[(&str, usize)]| -> Vec<RingSchedule> {
            names
                .iter()
                .map(|(r, hosts)| RingSchedule {
                    ring: (*r).to_owned(),
                    hosts: (0..*hosts).map(|h| format!("h{h}")).collect(),
                    window: None,
                    soak_hours: 0,
                })
                .collect()
        };
        let rule = EmergencyRule::default();
        /// (ring, hosts) in rollout order → the gate ring.
        type Row<'a> = (&'a [(&'a str, usize)], Option<&'a str>);
        let table: &[Row<'_>] = &[
            (
                &[("dev", 1), ("test", 2), ("staging", 1), ("prod", 3)],
                Some("test"),
            ),
            (
                &[("dev", 1), ("test", 0), ("staging", 1), ("prod", 3)],
                Some("staging"),
            ),
            (&[("dev", 1), ("prod", 3)], Some("dev")),
            (&[("dev", 0), ("prod", 3)], None),
            (&[("dev", 2), ("staging", 1)], Some("staging")),
            (&[], None),
        ];
        for (names, want) in table {
            assert_eq!(
                gate_ring(&rings(names), &rule).as_deref(),
                *want,
                "{names:?}"
            );
        }
    }

    #[test]
    fn rule_validation_names_the_key() {
        type Edit = fn(&mut EmergencyRule);
        let table: &[(Edit, &str)] = &[
            (|r| r.assess_hours = 0, "emergency.assess_hours"),
            (|r| r.test_ring_hours = 2, "emergency: timers must satisfy"),
            (|r| r.test_ring = " ".to_owned(), "emergency.test_ring"),
            (
                |r| r.production_ring = "test".to_owned(),
                "must be different",
            ),
        ];
        assert_eq!(EmergencyRule::default().validate(), Ok(()));
        for (edit, want) in table {
            let mut r = EmergencyRule::default();
            edit(&mut r);
            let err = r.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
