//! The patchflow host agent (`patchflow agent --host ID --verify-key FILE
//! --backend lab|apt|dnf|yum|zypper [--state FILE] [--dry-run]`).
//!
//! An agent runs on one managed machine. It takes the jobs deploy addresses
//! to its host (`patch.agent.job.<host>`), applies or rolls back their
//! remediations or reboots the host, and reports each job's outcome and the
//! host's inventory (`patch.agent.result.<host>`). At every start it
//! announces itself with the host's boot id (`patch.agent.online.<host>`),
//! naming the reboot job it came back from, if any (see [`adapter`]).
//!
//! This crate holds the agent's pure job handling and its backends; the bus
//! adapter (consume jobs, publish results) lives beside it and calls
//! [`lab::handle_job`] (lab) or [`host::Host::handle_job`] (real backends).
//!
//! Backends:
//! - [`lab`]: one simulated host whose state (packages, applied remediations,
//!   boot id, fail mode) lives in a JSON state file. Applying a job really
//!   changes that file, so a lab fleet exercises the whole pipeline, including
//!   failures and rollbacks, without touching a real machine.
//! - real package managers behind one [`backend::PackageBackend`] trait:
//!   [`apt`] (Debian, Ubuntu), [`rpm::Dnf`] (`dnf` and `yum`, RHEL family),
//!   [`zypper`] (SUSE). [`host`] handles jobs with them: plan, simulate
//!   (the whole of a `--dry-run`), apply, read versions back, check for a
//!   needed reboot, and record previous versions for rollback in a small
//!   local state file.
//!
//! # Invariants
//!
//! - The agent never runs a shell string from the bus. A job is a list of
//!   typed [`events::Remediation`]s, and the only operations are package
//!   operations (install or restore a version, record or drop an applied
//!   remediation key), and a reboot runs only the command of the agent's own
//!   configuration ([`Config::reboot`]), after the reboot job's result is
//!   published. Apply jobs never reboot: their result says
//!   `reboot_required` and deploy sends a reboot job.
//! - A job is taken only when deploy's Ed25519 signature over it verifies
//!   with the agent's configured public key ([`verify`]); a job with a
//!   missing, malformed or foreign signature is refused before anything
//!   runs, and the refusal result says why.
//! - A job for another host, or one received after its `expires_at`, is
//!   refused and changes nothing.
//! - A job is atomic: it either applies completely or leaves the host's
//!   packages and applied remediations exactly as they were.
//! - A job id is handled once: a redelivered job returns the recorded result
//!   and is not applied again.
//! - The lab state file is replaced atomically (temporary file in the same
//!   directory, then rename): a crash leaves the old or the new state, never
//!   a torn file.
//! - [`lab::handle_job`] and [`lab::complete_reboot`] are pure: time and the
//!   next boot id are passed in; waiting and publishing live in [`adapter`].
//! - Real backends build argv vectors from validated names, versions and
//!   advisory ids only ([`backend`]); a scanner's solution text is reported
//!   as not applicable and never run. A `--dry-run` agent runs only the
//!   package manager's simulation and writes nothing.

pub mod adapter;
pub mod apt;
pub mod backend;
pub mod config;
pub mod host;
pub mod lab;
pub mod rpm;
pub mod verify;
pub mod zypper;

pub use adapter::{Agent, AgentError, HostAgent, LabAgent};
pub use backend::{Manager, PackageBackend};
pub use config::{Backend, Config, Hooks};
pub use host::{Host, HostState};
pub use lab::{
    AppliedRemediation, FailMode, LabError, LabState, handle_job, handle_verified_job, result_event,
};
pub use verify::{JobVerifier, SignatureError};
