//! The patchflow host agent (`patchflow agent --host ID --backend lab --state FILE`).
//!
//! An agent runs on one managed machine. It takes the jobs deploy addresses
//! to its host (`patch.agent.job.<host>`), applies or rolls back their
//! remediations, and reports each job's outcome and the host's inventory
//! (`patch.agent.result.<host>`).
//!
//! This crate holds the agent's pure job handling and its backends; the bus
//! adapter (consume jobs, publish results) lives beside it and calls
//! [`lab::handle_job`] with the clock reading and a fresh boot id.
//!
//! Backends:
//! - [`lab`]: one simulated host whose state (packages, applied remediations,
//!   boot id, fail mode) lives in a JSON state file. Applying a job really
//!   changes that file, so a lab fleet exercises the whole pipeline, including
//!   failures and rollbacks, without touching a real machine.
//!
//! # Invariants
//!
//! - The agent never runs a shell string from the bus. A job is a list of
//!   typed [`events::Remediation`]s, and the only operations are package
//!   operations (install or restore a version, record or drop an applied
//!   remediation key, reboot).
//! - A job for another host, or one received after its `expires_at`, is
//!   refused and changes nothing.
//! - A job is atomic: it either applies completely or leaves the host's
//!   packages and applied remediations exactly as they were.
//! - A job id is handled once: a redelivered job returns the recorded result
//!   and is not applied again.
//! - The lab state file is replaced atomically (temporary file in the same
//!   directory, then rename): a crash leaves the old or the new state, never
//!   a torn file.
//! - [`lab::handle_job`] is pure: time and the next boot id are passed in.

pub mod adapter;
pub mod config;
pub mod lab;

pub use adapter::LabAgent;
pub use config::{Backend, Config};
pub use lab::{AppliedRemediation, FailMode, LabError, LabState, handle_job, result_event};
