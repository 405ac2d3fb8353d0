//! Configuration of the prioritize service: where its policy and intel files
//! are, and the loader that turns them into a [`Policy`] and an [`Intel`].
//!
//! A path that is configured must load: a failed KEV or EPSS load is an
//! error naming the file, never an empty table. A path that is not
//! configured leaves the default policy or an absent table (its rule is
//! then silent).

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::intel::{EpssTable, Intel, IntelError, KevCatalog, load_epss, load_kev};
use crate::policy::{Policy, PolicyError};

/// Paths of the prioritize service's inputs. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The risk policy TOML file; `None` → [`Policy::default`] (DESIGN.md).
    pub policy: Option<PathBuf>,
    /// A CISA KEV JSON catalog; `None` → no KEV table.
    pub kev: Option<PathBuf>,
    /// A FIRST EPSS CSV, plain or `.gz`; `None` → no EPSS table.
    pub epss: Option<PathBuf>,
    /// The score date (UTC) to assume for an EPSS file that states none
    /// (EPSS v1 files); ignored when the file has its own.
    pub epss_score_date: Option<DateTime<Utc>>,
}

/// Why the configured inputs could not be loaded; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be opened or read.
    #[error("read {what} {}: {source}", .path.display())]
    Read {
        /// `policy`, `KEV catalog` or `EPSS file`.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The policy file is invalid.
    #[error("{}: {source}", .path.display())]
    Policy {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: PolicyError,
    },
    /// A KEV or EPSS file is unusable.
    #[error("{}: {source}", .path.display())]
    Intel {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: IntelError,
    },
}

impl Config {
    /// Loads the policy and every configured intel table.
    ///
    /// # Errors
    /// The first [`ConfigError`] met, in the order policy, KEV, EPSS.
    pub fn load(&self) -> Result<(Policy, Intel), ConfigError> {
        let policy = match &self.policy {
            Some(path) => load_policy_file(path)?,
            None => Policy::default(),
        };
        let kev = self.kev.as_deref().map(load_kev_file).transpose()?;
        let epss = self
            .epss
            .as_deref()
            .map(|p| load_epss_file(p, self.epss_score_date))
            .transpose()?;
        Ok((
            policy,
            Intel {
                kev,
                epss,
                ..Intel::default()
            },
        ))
    }
}

/// Reads and validates a policy TOML file.
///
/// # Errors
/// [`ConfigError::Read`] or [`ConfigError::Policy`].
pub fn load_policy_file(path: &Path) -> Result<Policy, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        what: "policy",
        path: path.to_owned(),
        source,
    })?;
    Policy::from_toml(&text).map_err(|source| ConfigError::Policy {
        path: path.to_owned(),
        source,
    })
}

/// Loads a CISA KEV JSON catalog file (see [`load_kev`]).
///
/// # Errors
/// [`ConfigError::Read`] or [`ConfigError::Intel`].
pub fn load_kev_file(path: &Path) -> Result<KevCatalog, ConfigError> {
    let file = File::open(path).map_err(|source| ConfigError::Read {
        what: "KEV catalog",
        path: path.to_owned(),
        source,
    })?;
    load_kev(file).map_err(|source| ConfigError::Intel {
        path: path.to_owned(),
        source,
    })
}

/// Loads a FIRST EPSS CSV file, plain or gzip (see [`load_epss`]).
///
/// # Errors
/// [`ConfigError::Read`] or [`ConfigError::Intel`].
pub fn load_epss_file(
    path: &Path,
    fallback_score_date: Option<DateTime<Utc>>,
) -> Result<EpssTable, ConfigError> {
    let file = File::open(path).map_err(|source| ConfigError::Read {
        what: "EPSS file",
        path: path.to_owned(),
        source,
    })?;
    load_epss(file, fallback_score_date).map_err(|source| ConfigError::Intel {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_configured_is_the_default_policy_and_no_intel() {
        let (policy, intel) = Config::default().load().unwrap();
        assert_eq!(policy, Policy::default());
        assert_eq!(intel, Intel::default());
    }

    #[test]
    fn configured_files_load_and_failures_name_the_file() {
        let Some(corpus) = testkit::corpus() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            "version = \"site-3\"\n[epss]\nprobability_threshold = 0.2\n",
        )
        .unwrap();
        let cfg = Config {
            policy: Some(policy.clone()),
            kev: Some(corpus.join("kev/vunnel__valid-catalog-1.json")),
            epss: Some(corpus.join("epss/vunnel__example-1.csv")),
            epss_score_date: None,
        };
        let (p, intel) = cfg.load().unwrap();
        assert_eq!(p.version, "site-3");
        assert_eq!(intel.kev.unwrap().entries.len(), 3);
        assert_eq!(intel.epss.unwrap().scores.len(), 5);

        let html = corpus.join("kev/lodestone__kev_2024-11-26_access-denied-html.json");
        let err = Config {
            kev: Some(html.clone()),
            ..cfg.clone()
        }
        .load()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: KEV catalog is not JSON: it is an HTML page titled \"Access Denied\" \
                 (an error page saved as the feed?)",
                html.display()
            )
        );

        let v1 = corpus.join("epss/rogolabs__epss_scores-2021-04-14_v1_head119.csv");
        let err = Config {
            epss: Some(v1.clone()),
            ..cfg.clone()
        }
        .load()
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Intel {
                source: IntelError::EpssMissingScoreDate,
                ..
            }
        ));
        let (_, intel) = Config {
            epss: Some(v1),
            epss_score_date: Some("2021-04-14T00:00:00Z".parse().unwrap()),
            ..cfg.clone()
        }
        .load()
        .unwrap();
        assert_eq!(intel.epss.unwrap().scores.len(), 119);

        std::fs::write(&policy, "[kev]\nenable = true\n").unwrap();
        let err = cfg.load().unwrap_err().to_string();
        assert!(err.starts_with(&policy.display().to_string()), "{err}");
        assert!(err.contains("unknown field `enable`"), "{err}");

        let missing = dir.path().join("absent.json");
        let err = Config {
            kev: Some(missing.clone()),
            policy: None,
            ..cfg
        }
        .load()
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("read KEV catalog {}: ", missing.display())),
            "{err}"
        );
    }
}
