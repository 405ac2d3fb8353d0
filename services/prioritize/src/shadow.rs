//! Shadow policy runs: decide the same findings under the policy in force
//! and under a candidate, and report what would change
//! (`patchflow policy diff NEW.toml`). Pure: nothing is published or stored.
//!
//! Each finding is decided twice with [`decide`], with the same intel and
//! the same SLA memory (the decision in force, when there is one), so the
//! comparison follows the service's own clock rules: a candidate that would
//! lengthen a deadline cannot extend one already set on the same clock
//! (the earlier `due_at` is kept), exactly as it would not in production.
//! [`ShadowInput::previous`] `= None` compares the policies as for findings
//! seen for the first time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use events::{FindingObserved, FindingPrioritized, Priority};

use crate::intel::Intel;
use crate::policy::Policy;
use crate::stage::{PreviousDecision, decide};

/// One finding to replay: its latest observation and the SLA memory of the
/// decision in force.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowInput {
    /// The latest `finding.observed` of the finding.
    pub observation: FindingObserved,
    /// The decision in force, as the adapter keeps it; `None` for a
    /// first-time comparison.
    pub previous: Option<PreviousDecision>,
}

/// The SLA memory a stored decision gives the next one (what the adapter
/// keeps per finding).
pub fn memory_of(decision: &FindingPrioritized) -> PreviousDecision {
    PreviousDecision {
        first_observed_at: decision.first_observed_at,
        due_at: decision.due_at,
        priority: decision.priority,
        policy_version: decision.policy_version.clone(),
    }
}

/// A finding whose class or deadline differs between the two policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingChange {
    /// The finding.
    pub finding_id: Uuid,
    /// Its asset.
    pub asset_id: String,
    /// Its scanner check (`nessus 10001`).
    pub check: String,
    /// Class under the policy in force.
    pub current_priority: Priority,
    /// Class under the candidate.
    pub candidate_priority: Priority,
    /// `due_at` under the policy in force (UTC).
    pub current_due_at: DateTime<Utc>,
    /// `due_at` under the candidate (UTC).
    pub candidate_due_at: DateTime<Utc>,
}

impl FindingChange {
    /// `candidate_due_at - current_due_at`, in seconds (negative: earlier).
    pub fn due_shift_seconds(&self) -> i64 {
        (self.candidate_due_at - self.current_due_at).num_seconds()
    }
}

/// How many findings move from one class to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClassMove {
    /// Class under the policy in force.
    pub from: Priority,
    /// Class under the candidate.
    pub to: Priority,
    /// Number of findings.
    pub findings: usize,
}

/// What a candidate policy would change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyDiff {
    /// [`Policy::version`] in force.
    pub current_version: String,
    /// [`Policy::version`] of the candidate.
    pub candidate_version: String,
    /// Findings replayed.
    pub findings: usize,
    /// Findings per class under the policy in force, most urgent first
    /// (`Priority::ALL` order).
    pub current_counts: [usize; 4],
    /// Findings per class under the candidate, same order.
    pub candidate_counts: [usize; 4],
    /// Findings moving from one class to another, by (from, to), most
    /// urgent `from` first.
    pub moves: Vec<ClassMove>,
    /// Every finding whose class or `due_at` differs, by shift of the
    /// deadline (earliest first), then finding id.
    pub changes: Vec<FindingChange>,
}

impl PolicyDiff {
    /// Findings whose `due_at` moves.
    pub fn due_moves(&self) -> impl Iterator<Item = &FindingChange> {
        self.changes
            .iter()
            .filter(|c| c.current_due_at != c.candidate_due_at)
    }
}

fn index(p: Priority) -> usize {
    match p {
        Priority::Critical => 0,
        Priority::High => 1,
        Priority::Medium => 2,
        Priority::Low => 3,
    }
}

/// Decides every input under `current` and `candidate` (same intel, same
/// memory) and collects the differences.
pub fn diff(
    current: &Policy,
    candidate: &Policy,
    intel: &Intel,
    inputs: &[ShadowInput],
) -> PolicyDiff {
    let mut out = PolicyDiff {
        current_version: current.version.clone(),
        candidate_version: candidate.version.clone(),
        findings: inputs.len(),
        current_counts: [0; 4],
        candidate_counts: [0; 4],
        moves: Vec::new(),
        changes: Vec::new(),
    };
    let mut moves: BTreeMap<(Priority, Priority), usize> = BTreeMap::new();
    for input in inputs {
        let previous = input.previous.as_ref();
        let now = decide(current, intel, &input.observation, previous).prioritized;
        let then = decide(candidate, intel, &input.observation, previous).prioritized;
        out.current_counts[index(now.priority)] += 1;
        out.candidate_counts[index(then.priority)] += 1;
        if now.priority != then.priority {
            *moves.entry((now.priority, then.priority)).or_insert(0) += 1;
        }
        if now.priority != then.priority || now.due_at != then.due_at {
            out.changes.push(FindingChange {
                finding_id: now.finding_id,
                asset_id: now.asset.asset_id.clone(),
                check: format!("{} {}", now.check.scanner, now.check.id),
                current_priority: now.priority,
                candidate_priority: then.priority,
                current_due_at: now.due_at,
                candidate_due_at: then.due_at,
            });
        }
    }
    out.moves = moves
        .into_iter()
        .map(|((from, to), findings)| ClassMove { from, to, findings })
        .collect();
    out.changes
        .sort_by_key(|c| (c.due_shift_seconds(), c.finding_id));
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Escapes control characters so event data prints as one inert line.
fn inert(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn shift(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs % 3600 / 60, abs % 60);
    if m == 0 && s == 0 {
        format!("{sign}{h} h")
    } else {
        format!("{sign}{h} h {m} min {s} s")
    }
}

/// The diff as text: a header, a table of counts per class, the moves
/// between classes, every finding whose deadline moves, and the findings
/// that change class only.
pub fn render(d: &PolicyDiff) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(format!(
        "policy diff: {} (in force) -> {} (candidate), {} open finding(s) replayed",
        inert(&d.current_version),
        inert(&d.candidate_version),
        d.findings
    ));
    if d.current_version == d.candidate_version {
        line(format!(
            "note: both policies are named {}: give the candidate its own `version` so its \
             decisions can be told apart once it is in force",
            inert(&d.candidate_version)
        ));
    }
    line(String::new());
    line(format!(
        "{:<8}  {:>7}  {:>9}  {:>6}",
        "class", "current", "candidate", "change"
    ));
    for p in Priority::ALL {
        let (a, b) = (d.current_counts[index(p)], d.candidate_counts[index(p)]);
        let change = b as i64 - a as i64;
        line(format!(
            "{:<8}  {a:>7}  {b:>9}  {:>6}",
            p.as_str(),
            if change == 0 {
                "0".to_owned()
            } else {
                format!("{change:+}")
            }
        ));
    }
    line(String::new());
    if d.moves.is_empty() {
        line("no finding changes class".to_owned());
    } else {
        line("class moves".to_owned());
        for m in &d.moves {
            line(format!(
                "  {:<8} -> {:<8}  {}",
                m.from.as_str(),
                m.to.as_str(),
                m.findings
            ));
        }
    }
    line(String::new());
    let due: Vec<&FindingChange> = d.due_moves().collect();
    if due.is_empty() {
        line("no due date moves".to_owned());
    } else {
        line(format!("due dates that move ({})", due.len()));
        for c in due {
            line(format!(
                "  {}  {}  {}  {} -> {}  due {} -> {} ({})",
                c.finding_id,
                inert(&c.asset_id),
                inert(&c.check),
                c.current_priority.as_str(),
                c.candidate_priority.as_str(),
                rfc3339(c.current_due_at),
                rfc3339(c.candidate_due_at),
                shift(c.due_shift_seconds())
            ));
        }
    }
    let class_only: Vec<&FindingChange> = d
        .changes
        .iter()
        .filter(|c| c.current_due_at == c.candidate_due_at)
        .collect();
    if !class_only.is_empty() {
        line(String::new());
        line(format!(
            "class changes that keep their due date ({}): an earlier deadline on the same clock is never extended",
            class_only.len()
        ));
        for c in class_only {
            line(format!(
                "  {}  {}  {}  {} -> {}  due {}",
                c.finding_id,
                inert(&c.asset_id),
                inert(&c.check),
                c.current_priority.as_str(),
                c.candidate_priority.as_str(),
                rfc3339(c.current_due_at)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use events::{Asset, Check, CvssVector, CvssVersion, Remediation, Severity};

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const T0: &str = "2026-03-01T10:00:00Z";

    /// A finding with a v3.1 vector on an asset of `tier`.
    fn finding(n: u128, vector: &str, tier: Option<u8>) -> FindingObserved {
        FindingObserved {
            finding_id: Uuid::from_u128(n),
            fingerprint: format!("nessus:v1:host-{n}:10001:443/tcp"),
            scan_id: Uuid::from_u128(1000),
            asset: Asset {
                asset_id: format!("host-{n}"),
                tier,
                ..Asset::default()
            },
            check: Check {
                scanner: "nessus".to_owned(),
                id: "10001".to_owned(),
                name: "Example".to_owned(),
                family: None,
            },
            port: 443,
            protocol: "tcp".to_owned(),
            service: None,
            severity: Severity::Medium,
            cves: vec![],
            cwes: vec![],
            cvss: vec![CvssVector {
                version: CvssVersion::V3_1,
                vector: vector.to_owned(),
                reported_score: None,
                source: "nvd".to_owned(),
            }],
            remediation: Remediation::Advisory {
                id: "RHSA-2026:0001".to_owned(),
            },
            observed_at: utc(T0),
            first_observed_at: utc(T0),
            package: None,
            fix_state: None,
            reopened: false,
        }
    }

    const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"; // 8.8
    const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"; // 5.3

    fn inputs(previous_from: Option<&Policy>) -> Vec<ShadowInput> {
        [
            finding(1, HIGH, Some(3)),
            finding(2, HIGH, Some(1)),
            finding(3, MEDIUM, Some(3)),
            finding(4, MEDIUM, Some(4)),
        ]
        .into_iter()
        .map(|observation| ShadowInput {
            previous: previous_from
                .map(|p| memory_of(&decide(p, &Intel::default(), &observation, None).prioritized)),
            observation,
        })
        .collect()
    }

    #[test]
    fn a_candidate_named_like_the_policy_in_force_gets_a_note() {
        let diff = |candidate: &str| PolicyDiff {
            current_version: "default-1".into(),
            candidate_version: candidate.into(),
            findings: 0,
            current_counts: [0; 4],
            candidate_counts: [0; 4],
            moves: Vec::new(),
            changes: Vec::new(),
        };
        let same = render(&diff("default-1"));
        assert!(
            same.contains(
                "note: both policies are named default-1: give the candidate its own `version`"
            ),
            "{same}"
        );
        assert!(!render(&diff("site-2")).contains("note: both policies"));
    }

    #[test]
    fn the_same_policy_changes_nothing() {
        let p = Policy::default();
        let d = diff(&p, &p, &Intel::default(), &inputs(Some(&p)));
        assert_eq!(d.findings, 4);
        assert_eq!(d.current_counts, [1, 1, 1, 1]);
        assert_eq!(d.current_counts, d.candidate_counts);
        assert!(d.moves.is_empty() && d.changes.is_empty());
        assert!(render(&d).contains("\nno finding changes class\n\nno due date moves\n"));
    }

    #[test]
    fn shorter_slas_and_a_stricter_tier_rule_move_classes_and_deadlines() {
        let current = Policy::default();
        let candidate = Policy::from_toml(
            "version = \"site-2\"\n[sla_hours]\nhigh = 120\n[tier]\nlower_tiers = [3, 4]\n",
        )
        .unwrap();
        let d = diff(
            &current,
            &candidate,
            &Intel::default(),
            &inputs(Some(&current)),
        );
        // 1: high tier 3 -> medium, deadline kept (never extended).
        // 2: high tier 1 -> critical under both: no change.
        // 3: medium tier 3 -> low, deadline kept.
        // 4: medium tier 4 -> low under both.
        assert_eq!(d.current_counts, [1, 1, 1, 1]);
        assert_eq!(d.candidate_counts, [1, 0, 1, 2]);
        assert_eq!(
            d.moves,
            vec![
                ClassMove {
                    from: Priority::High,
                    to: Priority::Medium,
                    findings: 1
                },
                ClassMove {
                    from: Priority::Medium,
                    to: Priority::Low,
                    findings: 1
                }
            ]
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json["moves"][0],
            serde_json::json!({"from": "high", "to": "medium", "findings": 1})
        );
        assert_eq!(d.due_moves().count(), 0);
        assert_eq!(d.changes.len(), 2);
        let text = render(&d);
        assert!(
            text.starts_with(
                "policy diff: default-1 (in force) -> site-2 (candidate), 4 open finding(s) replayed\n\n\
                 class     current  candidate  change\n\
                 critical        1          1       0\n\
                 high            1          0      -1\n\
                 medium          1          1       0\n\
                 low             1          2      +1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("class changes that keep their due date (2)"),
            "{text}"
        );

        // Compared as first decisions, the lowered classes get later deadlines.
        let fresh = diff(&current, &candidate, &Intel::default(), &inputs(None));
        let due: Vec<(u128, i64)> = fresh
            .due_moves()
            .map(|c| (c.finding_id.as_u128(), c.due_shift_seconds() / 3600))
            .collect();
        assert_eq!(due, vec![(1, 720 - 168), (3, 2160 - 720)]);
    }

    #[test]
    fn a_stricter_candidate_moves_deadlines_earlier() {
        let current = Policy::default();
        let candidate =
            Policy::from_toml("version = \"strict\"\n[cvss]\nhigh = 5.0\n[sla_hours]\nhigh = 96\n")
                .unwrap();
        let d = diff(
            &current,
            &candidate,
            &Intel::default(),
            &inputs(Some(&current)),
        );
        let due: Vec<(u128, Priority, Priority, i64)> = d
            .due_moves()
            .map(|c| {
                (
                    c.finding_id.as_u128(),
                    c.current_priority,
                    c.candidate_priority,
                    c.due_shift_seconds() / 3600,
                )
            })
            .collect();
        // 4: low (medium lowered by tier 4) -> medium (5.3 is high under
        // the candidate, lowered by tier 4), 2160 h -> 720 h;
        // 3: medium -> high, 720 h -> 96 h; 1: high 168 h -> 96 h;
        // 2: critical (raised by tier 1) under both, 72 h.
        assert_eq!(
            due,
            vec![
                (4, Priority::Low, Priority::Medium, 720 - 2160),
                (3, Priority::Medium, Priority::High, 96 - 720),
                (1, Priority::High, Priority::High, 96 - 168),
            ]
        );
        let text = render(&d);
        assert!(
            text.contains(
                "  00000000-0000-0000-0000-000000000003  host-3  nessus 10001  medium -> high  \
                 due 2026-03-31T10:00:00Z -> 2026-03-05T10:00:00Z (-624 h)\n"
            ),
            "{text}"
        );
    }
}
