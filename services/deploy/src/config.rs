//! The deploy service's configuration.
//!
//! Only the service's own machinery is configured here: the rollout policy
//! (canary, batch size, failure budget, result timeout) arrives with each
//! `patch.bundle.scheduled` event, set by schedule.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Deploy's configuration, parsed once at the edge (file < env < flags).
///
/// Every field has a default, so `{}` is a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeployConfig {
    /// How often the adapter calls [`crate::RingRun::on_tick`] on every
    /// active ring run, in milliseconds. Result timeouts, window openings and
    /// rollback timeouts are noticed at most this late. Default: 1000.
    pub tick_interval_ms: u64,
    /// The Ed25519 private key that signs every host job: a PKCS#8 PEM file
    /// (`openssl genpkey -algorithm ed25519 -out job-signing.pem`; see
    /// [`crate::signing`]). Agents verify with its public key. Unset:
    /// `patchflow up` / `serve deploy` use `<data_dir>/job-signing.pem`,
    /// creating it (and `job-signing.pub.pem`) when missing.
    pub signing_key: Option<PathBuf>,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            tick_interval_ms: 1000,
            signing_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields_and_unknown_fields_are_refused() {
        let cfg: DeployConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg.tick_interval_ms, 1000);
        let cfg: DeployConfig = serde_json::from_str(r#"{"tick_interval_ms":250}"#).unwrap();
        assert_eq!(cfg.tick_interval_ms, 250);
        assert!(serde_json::from_str::<DeployConfig>(r#"{"tick_ms":250}"#).is_err());
        let cfg: DeployConfig = serde_json::from_str(r#"{"signing_key":"keys/job.pem"}"#).unwrap();
        assert_eq!(cfg.signing_key, Some(PathBuf::from("keys/job.pem")));
    }
}
