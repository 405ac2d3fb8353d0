//! patchflow `report`: projects every stream into one SQLite file and answers
//! the operator's questions from it: compliance of each host as of an instant,
//! bundle progress, dead letters, and the hash-chained audit trail of a bundle.
//!
//! The bus adapter (not in this crate) reads each JetStream stream through an
//! ordered consumer started at [`Projection::position`]` + 1` and hands every
//! message to [`Projection::apply`] (or [`Projection::apply_batch`]).
//!
//! # Invariants
//!
//! - **Rebuildable by replay.** The file holds nothing that is not derived
//!   from the events: delete it, replay every stream from sequence 1, and
//!   every query answers the same. Read models that two streams feed (assets)
//!   are merged by event time, never by arrival order, so the interleaving of
//!   streams during a replay does not change an answer.
//! - **Exactly-once effect.** [`Projection::apply`] stores the event, updates
//!   the read models and advances the stream position in one SQLite
//!   transaction, and skips an event whose id or stream sequence it has
//!   already applied. A crash between two events loses nothing and doubles
//!   nothing.
//! - **Tamper evidence.** Each stored event row carries
//!   `hash = SHA-256(previous hash ‖ event JSON)` in application order;
//!   [`Projection::verify_chain`] recomputes the chain and names the first row
//!   that was edited, inserted or removed.
//! - **Pure queries.** Queries take the instant they answer for (`as_of`) as
//!   an argument; nothing here reads the clock.
//! - All instants are UTC.

pub mod adapter;
mod codec;
pub mod decisions;
mod error;
pub mod findings;
pub mod projection;
pub mod query;
pub mod render;
pub mod summary;

pub use adapter::{ReportService, catch_up};
pub use decisions::{FindingDecision, FindingHistory, OpenFindingState, render_explain};
pub use error::ReportError;
pub use findings::{
    FindingFilter, FindingState, ListedFinding, knows_host, list_findings, render_findings,
};
pub use projection::{Applied, BrokenLink, ChainReport, Projection, SCHEMA_VERSION, SkipReason};
pub use query::{
    AuditEntry, BundleStatus, BundleSummary, ComplianceReport, ComplianceStatus, DeadLetter,
    FindingRef, FleetSummary, HostCompliance, OpenFinding, PriorityCounts, RingProgress, RingState,
    RollbackSummary, SeverityCounts, ValidationSummary, WaveState, WaveSummary,
};
pub use render::{audit_json, compliance_json, render_audit, render_compliance};
