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
//! - [`trivy`], [`grype`], [`sarif`]: the JSON formats of software and code
//!   scanners, streamed element by element over [`jsonpull`], with what
//!   they share (artifact assets, versioned fingerprints) in [`software`];
//!   [`generic`]: the documented CSV/JSON format for any other scanner.
//! - [`qualys`] (ASSET_DATA_REPORT and SCAN XML), [`qualys_csv`],
//!   [`openvas`] (GVM report XML), [`openvas_csv`], [`nexpose`] (XML Export
//!   1.0/2.0): the network scanners' XML and CSV exports, sharing compact
//!   per-host detections, their join to the check definitions and the
//!   `<scanner>:v1:<asset>:<check>:<port>/<protocol>` fingerprints in
//!   [`scanner`].
//! - [`inventory`]: the inventory file (CSV or JSON: ring, tier, exposure,
//!   owner, window, and identifiers).
//! - [`identity`]: the asset-id rule, and the finding fingerprint rule every
//!   format follows (`<source>:v<N>:<asset_id>:<locator>`).
//! - [`reconcile`]: which known asset a scanned host is (agent id, FQDN,
//!   host name, IP, MAC, in that order of trust).
//! - [`coverage`], [`resolve`]: what a scan covered, and the life of a
//!   finding across scans (observed, resolved by a full rescan that covered
//!   it, reopened with a new SLA clock).
//! - [`feed`]: bulletin and intel feeds (KEV, EPSS, CSAF, OSV), loaded from
//!   a file or polled over HTTP(S), validated whole, then published.
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
//! - A finding's identity is its versioned fingerprint ([`identity`]; for
//!   Nessus `nessus:v1:<asset_id>:<pluginID>:<port>/<protocol>`,
//!   [`normalize::fingerprint`]) on the reconciled asset id, and its id a
//!   UUIDv5 of that under [`normalize::FINDING_NAMESPACE`]; informational
//!   items (Nessus severity 0) are facts about the asset, never findings.
//! - Absence proves resolution only when a `full` scan covered the finding
//!   ([`coverage`]); `docs/finding-identity.md` has the whole rule.
//! - All instants are UTC.

pub mod adapter;
pub mod coverage;
pub mod feed;
pub mod format;
pub mod generic;
pub mod grype;
pub mod identity;
pub mod inventory;
pub mod jsonpull;
pub mod nessus;
pub mod nexpose;
pub mod normalize;
pub mod openvas;
pub mod openvas_csv;
pub mod qualys;
pub mod qualys_csv;
pub mod reconcile;
pub mod resolve;
pub mod sarif;
pub mod scanner;
pub mod software;
pub mod trivy;
mod xmlpull;

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
        /// Path of the inventory file, CSV or JSON ([`crate::inventory`]
        /// describes both). `None` (the default): assets carry only what
        /// scanners and CMDB upserts report.
        pub inventory: Option<PathBuf>,
        /// `[[ingest.feeds]]`: bulletin and intel feeds to poll
        /// ([`crate::feed::FeedConfig`]); none by default.
        pub feeds: Vec<crate::feed::FeedConfig>,
    }

    impl Config {
        /// Checks every feed entry.
        ///
        /// # Errors
        /// The first invalid `[[ingest.feeds]]` entry, with its reason.
        pub fn validate(&self) -> Result<(), String> {
            self.feeds
                .iter()
                .try_for_each(crate::feed::FeedConfig::validate)
        }
    }
}
