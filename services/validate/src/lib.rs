//! The validation gate: after each deployment wave, health checks and a
//! read-back of the agents' reported state decide whether the rollout goes
//! on (`patch.validation.passed`) or stops and rolls the wave back
//! (`patch.validation.failed` + `patch.rollback.requested`).
//!
//! - [`config`]: the health checks, per ring.
//! - [`checks`]: the real probes (HTTP status, TCP connect), async.
//! - [`stage`]: the pure decision ([`stage::decide`]) and its output events.
//!
//! The bus adapter consumes `patch.deployment.wave.completed`, runs the
//! ring's checks, reads back each host's latest `patch.agent.result`, calls
//! [`stage::decide`] and publishes [`stage::Verdict::into_events`].
//!
//! # Invariants
//!
//! - [`stage::decide`] is pure and synchronous: probe results and read-back
//!   come in as data, no clock, no I/O.
//! - A wave passes only when every configured check of its ring passed and
//!   every host that reported success holds, in the state its agent
//!   reported for the very job the wave sent, every remediation key it was
//!   given. Anything else fails it, with one reason line per failure.
//! - A failed gate asks to roll back every host of the wave that reported
//!   success: they applied the change under suspicion.
//! - Output ids are derived from (bundle, ring, wave, outcome), so a
//!   redelivered wave yields the same event ids.
//! - A probe never returns a Rust error: a failing target is evidence
//!   (`ok: false` with the reason), not broken machinery.

pub mod adapter;
pub mod checks;
pub mod config;
pub mod stage;

pub use adapter::ValidateService;
pub use checks::{http_check, run_check, run_checks, tcp_check};
pub use config::{CheckConfig, CheckKind, Config, ConfigError};
pub use stage::{Reported, Verdict, decide};
