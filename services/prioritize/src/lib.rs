//! The prioritize service: turns each observed finding into a priority
//! class, an SLA deadline and the reasons for both.
//!
//! Inputs are the finding (`patch.finding.observed`, with the asset snapshot
//! ingest attached), the risk [`policy::Policy`] and the intel tables
//! ([`intel::Intel`]: CISA KEV, FIRST EPSS). The output is the payload of
//! `patch.finding.prioritized.<priority>` plus the small per-finding state
//! ([`stage::PreviousDecision`]) the adapter keeps for the next decision.
//!
//! - [`cvss`]: strict CVSS v2/v3.0/v3.1/v4.0 scoring over the `cvss` crate.
//! - [`intel`]: KEV and EPSS loaders that validate before they return.
//! - [`policy`]: the versioned TOML policy with DESIGN.md's defaults.
//! - [`stage`]: the pure decision, [`stage::decide`].
//! - [`config`]: paths of the policy and intel files, and their loader.
//!
//! # Invariants
//!
//! - [`stage::decide`] is pure: no I/O, no clock, no randomness. The same
//!   policy, intel, finding and previous decision give the same output.
//! - Every decision carries its reasons, in rule order, and the
//!   [`policy::Policy::version`] it was made under; the inputs it used
//!   (scored vector, EPSS reading with its date and model, KEV entry with
//!   its catalog version) are recorded with it.
//! - The score computed from a vector wins over any score or label the
//!   scanner printed; disagreements are recorded, not hidden. A vector that
//!   does not parse strictly (missing, repeated or unknown metric) is never
//!   scored.
//! - The EPSS rule reads the probability, never the percentile.
//! - The SLA clock starts at the finding's first observation on the asset
//!   (UTC); for the same clock a new decision never moves `due_at` later.
//! - A failed KEV or EPSS load is an error for the caller to report; it
//!   never yields an empty table, so a broken feed cannot wipe the intel the
//!   service already holds.

pub mod adapter;
pub mod config;
pub mod cvss;
pub mod intel;
pub mod policy;
pub mod stage;

pub use adapter::PrioritizeService;
pub use config::{Config, ConfigError};
pub use intel::{EpssTable, Intel, IntelError, KevCatalog, load_epss, load_kev};
pub use policy::{Policy, PolicyError};
pub use stage::{Decision, PreviousDecision, decide};
