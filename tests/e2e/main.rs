//! patchflow end to end: the real binary and every service against a real
//! nats-server (testkit), on real scanner output from the shared corpus.

mod bad_input;
mod common;
mod cvss;
mod deploy_files;
mod deploy_restart;
mod emergency;
mod expected;
mod explain;
mod faults;
mod flow;
mod ingest;
mod reboot_saga;
mod restart;
mod rollout_rings;
mod schemas;
mod signals;
