//! The agent's configuration: which host it is, which backend applies its
//! jobs, and where that backend keeps its state.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the agent applies jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A simulated host kept in a JSON state file ([`crate::lab`]).
    #[default]
    Lab,
}

impl Backend {
    /// Lower-case name, as written on the command line (`lab`).
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Lab => "lab",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Backend {
    type Err = ConfigError;

    /// Parses `lab`.
    ///
    /// # Errors
    /// [`ConfigError::UnknownBackend`] for any other name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lab" => Ok(Backend::Lab),
            other => Err(ConfigError::UnknownBackend(other.to_owned())),
        }
    }
}

/// Why an agent configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The backend name is not one the agent knows.
    #[error("unknown agent backend {0:?} (known: lab)")]
    UnknownBackend(String),
    /// The host id is empty or has characters a NATS subject token cannot
    /// hold (whitespace, `.`, `*`, `>`).
    #[error("invalid host id {0:?}: must be non-empty, without whitespace, '.', '*' or '>'")]
    InvalidHost(String),
}

/// The agent's configuration, parsed once at the edge (`patchflow agent
/// --host ID --backend lab --state FILE`) and passed down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The asset id of this host: the agent takes only
    /// `patch.agent.job.<host>` and refuses jobs addressed elsewhere.
    pub host: String,
    /// How jobs are applied (default `lab`).
    #[serde(default)]
    pub backend: Backend,
    /// The lab backend's JSON state file (see [`crate::lab::LabState`]).
    pub state: PathBuf,
}

impl Config {
    /// Checks the host id can key a subject (`patch.agent.job.<host>`).
    ///
    /// # Errors
    /// [`ConfigError::InvalidHost`] when it is empty or holds whitespace,
    /// `.`, `*` or `>` (NATS subject token rules).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = self.host.is_empty()
            || self
                .host
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>'));
        if bad {
            return Err(ConfigError::InvalidHost(self.host.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host: &str) -> Config {
        Config {
            host: host.into(),
            backend: Backend::Lab,
            state: PathBuf::from("/tmp/web-01.json"),
        }
    }

    #[test]
    fn host_ids_must_fit_a_subject_token() {
        assert_eq!(config("web-01").validate(), Ok(()));
        for bad in ["", "web 01", "web.01", "web*", "web>"] {
            assert_eq!(
                config(bad).validate(),
                Err(ConfigError::InvalidHost(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn backend_parses_by_name() {
        assert_eq!("lab".parse::<Backend>(), Ok(Backend::Lab));
        assert_eq!(
            "apt".parse::<Backend>(),
            Err(ConfigError::UnknownBackend("apt".into()))
        );
        assert_eq!(Backend::Lab.to_string(), "lab");
    }
}
