//! deploy: rolls each scheduled ring of a bundle out in waves (a canary, then
//! batches), sends one job per host, enforces the failure budget, and runs
//! rollbacks.
//!
//! Consumes `patch.bundle.scheduled`, `patch.agent.result.<host>`,
//! `patch.validation.passed`, `patch.rollback.requested` and a periodic tick;
//! produces `patch.deployment.wave.started` / `.completed` / `.halted`,
//! `patch.agent.job.<host>` (apply and rollback), `patch.rollback.requested`
//! (on a halt) and `patch.rollback.completed`.
//!
//! This crate is the pure core; the bus adapter drives it:
//!
//! - [`waves`] cuts a ring into waves;
//! - [`budget`] decides when a ring halts (OC-14);
//! - [`run`] holds [`RingRun`], the per-(bundle, ring) state machine;
//! - [`output`] names the outputs and derives their ids;
//! - [`signing`] signs the host jobs (Ed25519) at the edge;
//! - [`config`] holds [`DeployConfig`].
//!
//! # Invariants
//!
//! - Pure and synchronous: no I/O, no clock, no randomness. `now` (UTC) and
//!   input event ids are passed in.
//! - One ring run per (bundle, ring), stored under
//!   [`run::state_key`] (`run.<bundle_id>.<ring>`) in the deploy KV bucket and
//!   updated with compare-and-set; a [`Decision::Skip`] changes nothing and
//!   needs no write.
//! - An output's id is `derive_id(bundle_id, "deploy", <logical key>)`
//!   ([`output`]), independent of the input that produced it, so a
//!   redelivered input, a racing tick or a retry after a CAS conflict
//!   re-emits the same ids.
//! - No new host starts outside the ring's window (the released instance or
//!   a later opening of its window set); waves already started run to the end.
//! - The failure budget counts hosts attempted so far in the ring (completed
//!   waves), halting only when strictly more than `max_failed_percent` failed.

pub mod adapter;
pub mod budget;
pub mod config;
pub mod output;
pub mod run;
pub mod saga;
pub mod signing;
pub mod waves;
pub mod webhook;

pub use adapter::DeployService;
pub use config::DeployConfig;
pub use output::{Output, to_events};
pub use run::{
    Decision, DeployError, HostJob, RingOutcome, RingRun, RollbackRun, RunStatus, input_key,
    state_key,
};
pub use signing::{JobSigner, KeyError};
