//! patchflow end to end: the real binary and every service against a real
//! nats-server (testkit), on real scanner output from the shared corpus.

mod bad_input;
mod common;
mod deploy_files;
mod faults;
mod flow;
mod restart;
mod schemas;
