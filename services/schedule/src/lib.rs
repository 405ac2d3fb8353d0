//! schedule: turns prioritized findings into patch bundles and releases each
//! bundle ring by ring (dev → test → staging → prod) in its maintenance
//! windows, promoting a ring only after the previous one validated and soaked.
//!
//! This crate is the pure core; the bus adapter drives it. Inputs:
//! `patch.scan.completed`, `patch.finding.prioritized.*`,
//! `patch.validation.passed` / `.failed`, `patch.deployment.wave.halted`,
//! operators' `patch.bundle.approved` / `.rejected`, and a periodic clock
//! tick from the single leader. Outputs:
//! `patch.bundle.planned`, `.scheduled`, `.completed`, `.halted`.
//!
//! # Flow (what the adapter does)
//!
//! 1. **Readiness** ([`readiness`]): store each prioritized finding as a
//!    [`PendingItem`] under [`keys::pending`] with *create*; count it with
//!    [`record_prioritized`] only when the create succeeded (when it finds
//!    the key taken, [`recount`] the scan's pending keys); record the
//!    scan's completion with [`record_completed`]. Plan when
//!    [`ScanProgress::is_ready`].
//! 2. **Planning** ([`mod@plan`]): [`plan()`] the scan's pending items, look the
//!    bundle ids up in KV and drop the known ones with [`skip_existing`];
//!    for each remaining plan publish [`BundlePlan::output`], *create* its
//!    [`BundleState`] under [`keys::bundle`]; then store the scan as
//!    [`mark_planned`].
//! 3. **Rollout** ([`rollout`]): on every tick, for every active bundle,
//!    [`on_tick`]; on verdicts, [`on_validation_passed`],
//!    [`on_validation_failed`], [`on_wave_halted`]; on change decisions,
//!    [`on_approved`], [`on_rejected`]. A [`Decision::Apply`] is
//!    published ([`Output::into_event`]) and then stored with
//!    compare-and-set; a [`Decision::Skip`] is acked and counted.
//!
//! # Invariants
//!
//! - Pure and synchronous: no I/O, no clock, no randomness; `now` (UTC) and
//!   the state are passed in, the new state and the outputs come back.
//! - Same content, same bundle: `bundle_id` is a UUIDv5 of the SHA-256 of
//!   the bundle's canonical content (never of the scan or the time), and a
//!   bundle id is planned at most once.
//! - Output event ids depend only on the logical output
//!   (`derive_id(bundle_id, "schedule", "planned" | "<ring>/scheduled" |
//!   "completed" | "<ring>/halted")`), so repeated ticks and redelivered
//!   verdicts republish the same ids.
//! - No host is dropped: a host without a configured ring goes to the default
//!   ring, and the plan says so ([`PlanNote`]).
//! - Completed and halted bundles are final.

pub mod adapter;
pub mod config;
pub mod keys;
pub mod output;
pub mod plan;
pub mod readiness;
pub mod rollout;

#[cfg(test)]
mod test_support;

pub use adapter::ScheduleService;
pub use config::{ApprovalPolicy, Config, ConfigError, FreezeConfig, RingConfig, ScannerSolutions};
pub use output::Output;
pub use plan::{
    BUNDLE_NAMESPACE, BundlePlan, PendingItem, PlanError, PlanNote, PlanOutcome, SkipReason,
    SkippedBundle, approval_requirement, bundle_digest, bundle_id_of, plan, skip_existing,
};
pub use readiness::{ScanProgress, mark_planned, record_completed, record_prioritized, recount};
pub use rollout::{
    ApprovalState, BundleState, BundleStatus, Decision, RingHosts, Skip, on_approved, on_rejected,
    on_tick, on_validation_failed, on_validation_passed, on_wave_halted,
};
