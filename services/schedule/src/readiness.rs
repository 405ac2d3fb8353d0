//! When a scan is ready to plan: its `patch.scan.completed` arrived and as
//! many of its `patch.finding.prioritized` decisions have been recorded as it
//! announced findings.
//!
//! Both inputs come through different streams, so either may arrive first,
//! and either may be redelivered. The adapter keeps one [`ScanProgress`] per
//! scan (KV key [`crate::keys::scan`]) and one stored
//! [`crate::plan::PendingItem`] per prioritized finding (KV key
//! [`crate::keys::pending`], written with *create*, so a redelivered decision
//! finds its key taken and is not counted twice).
//!
//! Readiness is a property of the state, not of the input that completed it
//! ([`ScanProgress::is_ready`]): a redelivered input after a crash between
//! "state stored" and "bundles planned" reports the scan ready again, and the
//! deterministic planning republishes the same bundle ids. When a pending
//! key's *create* finds the key taken, the adapter recounts the scan's
//! pending keys ([`recount`]): the take may be its own, from a crash before
//! the progress was stored.

use events::ScanCompleted;
use serde::{Deserialize, Serialize};

/// How far a scan's findings have arrived at schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScanProgress {
    /// Number of findings the scan published (`ScanCompleted::findings`);
    /// `None` until `patch.scan.completed` arrived.
    pub expected: Option<u64>,
    /// Number of distinct prioritized findings of the scan recorded so far.
    pub recorded: u64,
    /// Whether the scan's bundles were planned; a planned scan is never
    /// ready again.
    pub planned: bool,
}

impl ScanProgress {
    /// Ready to plan: `patch.scan.completed` arrived, at least `expected`
    /// findings are recorded, and the scan was not planned yet. A scan with 0
    /// findings is ready as soon as it completed (and plans nothing).
    ///
    /// `recorded > expected` cannot happen with a well-behaved ingest (it
    /// publishes each finding of a scan once); if it does, the scan is still
    /// ready, and every recorded item is planned.
    pub fn is_ready(&self) -> bool {
        !self.planned && self.expected.is_some_and(|n| self.recorded >= n)
    }
}

/// Records one `patch.finding.prioritized` of the scan.
///
/// `newly_created` is true when the adapter's *create* of the finding's
/// pending key succeeded (first delivery), false when the key already
/// existed (redelivery, replay): only new items are counted. Returns the new
/// progress and [`ScanProgress::is_ready`] of it.
pub fn record_prioritized(progress: ScanProgress, newly_created: bool) -> (ScanProgress, bool) {
    let mut next = progress;
    if newly_created {
        next.recorded = next.recorded.saturating_add(1);
    }
    (next, next.is_ready())
}

/// Sets `recorded` from the number of the scan's stored pending items (the
/// keys under [`crate::keys::pending_filter`]), never lowering it. Returns
/// the new progress and [`ScanProgress::is_ready`] of it.
///
/// The recovery path for a crash between *create* of a pending key and the
/// CAS of the progress: the redelivered decision finds its key taken
/// (`newly_created = false`) and [`record_prioritized`] does not count it,
/// so the adapter recounts the keys whenever a create finds its key taken.
pub fn recount(progress: ScanProgress, stored_items: u64) -> (ScanProgress, bool) {
    let next = ScanProgress {
        recorded: progress.recorded.max(stored_items),
        ..progress
    };
    (next, next.is_ready())
}

/// Records the scan's `patch.scan.completed`: `expected` becomes its
/// `findings` count (a redelivery sets the same value). Returns the new
/// progress and [`ScanProgress::is_ready`] of it.
pub fn record_completed(progress: ScanProgress, completed: &ScanCompleted) -> (ScanProgress, bool) {
    let next = ScanProgress {
        expected: Some(completed.findings),
        ..progress
    };
    (next, next.is_ready())
}

/// Marks the scan planned, after its bundles were published and stored: it
/// is never ready again, and late or replayed decisions of the scan are
/// ignored by readiness.
pub fn mark_planned(progress: ScanProgress) -> ScanProgress {
    ScanProgress {
        planned: true,
        ..progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::ScanScope;
    use uuid::Uuid;

    fn completed(findings: u64) -> ScanCompleted {
        ScanCompleted {
            scan_id: Uuid::from_u128(1),
            object: "scan-1".into(),
            format: "nessus".into(),
            scope: ScanScope::Full,
            hosts: vec!["web-1".into()],
            findings,
            info_facts: 0,
            started_at: None,
            finished_at: None,
            resolved: 0,
        }
    }

    /// One input of a scan's readiness.
    #[derive(Clone, Copy)]
    enum In {
        /// A prioritized finding; `true` = its pending key was newly created.
        Prioritized(bool),
        /// The scan completed with this many findings.
        Completed(u64),
        /// The adapter planned the scan.
        Planned,
        /// The adapter counted this many stored pending items.
        Recount(u64),
    }

    /// Feeds `inputs` in order and compares the readiness after each one and
    /// the final progress.
    fn check(name: &str, inputs: &[In], ready_after_each: &[bool], last: ScanProgress) {
        let mut p = ScanProgress::default();
        let mut got = Vec::new();
        for input in inputs {
            let (next, ready) = match *input {
                In::Prioritized(new) => record_prioritized(p, new),
                In::Completed(n) => record_completed(p, &completed(n)),
                In::Recount(n) => recount(p, n),
                In::Planned => {
                    let next = mark_planned(p);
                    (next, next.is_ready())
                }
            };
            assert_eq!(ready, next.is_ready(), "{name}: returned flag = state");
            got.push(ready);
            p = next;
        }
        assert_eq!(got, ready_after_each, "{name}: readiness after each input");
        assert_eq!(p, last, "{name}: final progress");
    }

    fn progress(expected: Option<u64>, recorded: u64, planned: bool) -> ScanProgress {
        ScanProgress {
            expected,
            recorded,
            planned,
        }
    }

    #[test]
    fn readiness_table() {
        use In::*;
        check(
            "completed first, then findings",
            &[Completed(2), Prioritized(true), Prioritized(true)],
            &[false, false, true],
            progress(Some(2), 2, false),
        );
        check(
            "findings first, then completed",
            &[Prioritized(true), Prioritized(true), Completed(2)],
            &[false, false, true],
            progress(Some(2), 2, false),
        );
        check(
            "redelivered finding is not counted",
            &[
                Completed(3),
                Prioritized(true),
                Prioritized(false),
                Prioritized(true),
            ],
            &[false, false, false, false],
            progress(Some(3), 2, false),
        );
        check(
            "redelivered completed keeps the count and stays ready",
            &[Prioritized(true), Completed(1), Completed(1)],
            &[false, true, true],
            progress(Some(1), 1, false),
        );
        check(
            "scan with no findings is ready at once",
            &[Completed(0)],
            &[true],
            progress(Some(0), 0, false),
        );
        check(
            "planned scan is never ready again",
            &[
                Completed(1),
                Prioritized(true),
                Planned,
                Prioritized(false),
                Prioritized(true),
                Completed(1),
            ],
            &[false, true, false, false, false, false],
            progress(Some(1), 2, true),
        );
        check(
            "a crash after create but before the progress CAS is recovered by a recount",
            &[
                Completed(2),
                Prioritized(true),
                // second item's key was created, then the CAS was lost;
                // its redelivery finds the key taken
                Prioritized(false),
                Recount(2),
                Recount(1),
            ],
            &[false, false, false, true, true],
            progress(Some(2), 2, false),
        );
        check(
            "findings without completed are never ready",
            &[Prioritized(true), Prioritized(true)],
            &[false, false],
            progress(None, 2, false),
        );
    }
}
