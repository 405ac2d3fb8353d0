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
//! - [`shadow`]: a candidate policy replayed next to the one in force
//!   (`patchflow policy diff`), publishing nothing.
//! - [`ssvc`]: the CISA SSVC deployer decision tree, the policy's
//!   alternative mode.
//! - [`stage`]: the pure decision, [`stage::decide`] ([`stage::assess`]
//!   decides without rendering; `decide` renders the payload from it).
//! - [`reassess`]: deciding open findings again on new intel or an
//!   exception change, from what is kept per finding.
//! - [`emergency`]: the zero-day lane's stages and durable timers.
//! - [`exceptions`]: risk acceptances, their coverage and expiry.
//! - [`config`]: paths of the policy and intel files, and their loader.
//! - [`adapter`]: the bus glue and its KV layout.
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
//! - The EPSS rule compares the probability with its threshold, never the
//!   percentile; only a policy that sets `epss.percentile_threshold` also
//!   raises on the percentile (one raise either way).
//! - The SLA clock starts at the finding's first observation on the asset
//!   (UTC); for the same clock a new decision never moves `due_at` later.
//! - A failed KEV or EPSS load is an error for the caller to report; it
//!   never yields an empty table, so a broken feed cannot wipe the intel the
//!   service already holds.
//! - A re-decision is published only when class, `due_at` or exception
//!   changed, and names the decision it replaces (`previous`, with that
//!   decision's policy version).
//! - An emergency stage is escalated at most once; its events are stored
//!   before they are published, so a crash or a restart of every service
//!   neither loses nor repeats them.

pub mod adapter;
pub mod config;
pub mod cvss;
pub mod emergency;
pub mod exceptions;
pub mod intel;
pub mod policy;
pub mod reassess;
pub mod shadow;
pub mod ssvc;
pub mod stage;

pub use adapter::PrioritizeService;
pub use config::{Config, ConfigError};
pub use intel::{EpssTable, Intel, IntelError, KevCatalog, load_epss, load_kev};
pub use policy::{Policy, PolicyError};
pub use stage::{Decision, PreviousDecision, decide};
