//! ingest: turns scan reports and the asset inventory into normalized
//! patchflow events.
//!
//! This crate holds the pure part of the ingest service; the bus adapter that
//! reads `patch.scan.submitted`, streams the report from the object store and
//! publishes the results is built on top of it.
//!
//! - [`nessus`]: a streaming Nessus v2 parser ([`nessus::NessusReader`],
//!   one host at a time) and a validating pass ([`nessus::check`]).
//! - [`normalize`]: a parsed host → its [`events::Asset`], scan time,
//!   findings ([`normalize::Observation`] → [`events::FindingObserved`]) and
//!   informational facts ([`events::AssetFact`]).
//! - [`inventory`]: the inventory CSV and the join of scanner assets onto it.
//! - [`identity`]: the asset-id rule shared by both sides of that join.
//! - [`config`]: the service's typed configuration.
//!
//! # Invariants
//!
//! - Pure and synchronous: no clock, no I/O beyond the reader handed in, no
//!   randomness. Time comes in as arguments (`fallback_time`), ids are
//!   derived (UUIDv5), so ingesting the same report twice yields the same
//!   findings and ids.
//! - A report is used whole or not at all: [`nessus::check`] validates every
//!   host and item before anything is published, and every rejection carries
//!   a one-line reason for `patch.scan.rejected`. No input panics.
//! - Streaming: a report is never held in memory whole, nor read line by line
//!   (some exports are one 255 KB line).
//! - A finding's identity is `nessus:v1:<asset_id>:<pluginID>:<port>/<protocol>`
//!   ([`normalize::fingerprint`]) and its id a UUIDv5 of that under
//!   [`normalize::FINDING_NAMESPACE`]; informational items (Nessus severity
//!   0) are facts about the asset, never findings.
//! - All instants are UTC.

pub mod adapter;
pub mod format;
pub mod identity;
pub mod inventory;
pub mod nessus;
pub mod normalize;

pub mod config {
    //! The ingest service's configuration: one typed struct, parsed once at
    //! the edge (file < env < flags) and passed down.

    use std::path::PathBuf;

    use serde::{Deserialize, Serialize};

    /// Ingest configuration.
    ///
    /// Defaults (`Config::default()`, and every field missing from a file):
    /// no inventory.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub struct Config {
        /// Path of the inventory CSV ([`crate::inventory`] describes the
        /// format). `None` (the default): assets carry only what scanners
        /// report, with no ring, tier, exposure, owner or window.
        pub inventory: Option<PathBuf>,
    }
}
