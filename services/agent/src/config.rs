//! The agent's configuration: which host it is, which backend applies its
//! jobs, and where that backend keeps its state.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::backend::Manager;

/// How the agent applies jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A simulated host kept in a JSON state file ([`crate::lab`]).
    #[default]
    Lab,
    /// `apt-get`/`dpkg-query` on Debian and Ubuntu ([`crate::apt`]).
    Apt,
    /// `dnf`/`rpm` on RHEL 8+, Fedora and derivatives ([`crate::rpm`]).
    Dnf,
    /// `yum`/`rpm` on RHEL and CentOS 7 ([`crate::rpm`]).
    Yum,
    /// `zypper`/`rpm` on SLES and openSUSE ([`crate::zypper`]).
    Zypper,
}

impl Backend {
    /// Every backend, in the order the help text lists them.
    pub const ALL: [Backend; 5] = [
        Backend::Lab,
        Backend::Apt,
        Backend::Dnf,
        Backend::Yum,
        Backend::Zypper,
    ];

    /// Lower-case name, as written on the command line (`lab`, `apt`,
    /// `dnf`, `yum`, `zypper`).
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Lab => "lab",
            Backend::Apt => "apt",
            Backend::Dnf => "dnf",
            Backend::Yum => "yum",
            Backend::Zypper => "zypper",
        }
    }

    /// The package manager of a real backend; `None` for `lab`.
    pub fn manager(self) -> Option<Manager> {
        match self {
            Backend::Lab => None,
            Backend::Apt => Some(Manager::Apt),
            Backend::Dnf => Some(Manager::Dnf),
            Backend::Yum => Some(Manager::Yum),
            Backend::Zypper => Some(Manager::Zypper),
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

    /// Parses `lab`, `apt`, `dnf`, `yum` or `zypper`.
    ///
    /// # Errors
    /// [`ConfigError::UnknownBackend`] for any other name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| ConfigError::UnknownBackend(s.to_owned()))
    }
}

/// Why an agent configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The backend name is not one the agent knows.
    #[error("unknown agent backend {0:?} (known: lab, apt, dnf, yum, zypper)")]
    UnknownBackend(String),
    /// `dry_run` was asked of the lab backend, which has no package
    /// manager simulation.
    #[error("--dry-run needs a package backend (apt, dnf, yum, zypper), not lab")]
    DryRunLab,
    /// No public key to verify jobs with was configured.
    #[error(
        "agent {0}: no job verification key (--verify-key FILE or [[agents]] verify_key): \
         deploy's public key, e.g. <data_dir>/job-signing.pub.pem"
    )]
    NoVerifyKey(String),
    /// A hook is configured for the lab backend, or its program is empty.
    #[error("invalid hooks: {0}")]
    InvalidHooks(String),
    /// A package-backend agent was asked for the `lab` backend.
    #[error("the lab backend is not a package backend (apt, dnf, yum, zypper)")]
    NotPackageBackend,
    /// The host id is empty, blank or holds a control character. Any other
    /// asset id ingest gives a host (an IP address, an FQDN, an image name)
    /// is valid: subjects and consumer names escape it
    /// ([`events::subject::token`], [`events::spec::agent_durable`]).
    #[error("invalid host id {0:?}: must be non-empty, not blank, without control characters")]
    InvalidHost(String),
    /// The reboot command's program is empty (an empty list is allowed: it
    /// means the agent refuses reboot jobs).
    #[error("invalid reboot command {0:?}: its program (first word) is empty")]
    InvalidReboot(Vec<String>),
}

/// Reads `verify_key = "a.pem"` and `verify_key = ["old.pem", "new.pem"]`
/// alike.
fn one_or_many<'de, D>(de: D) -> Result<Vec<PathBuf>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

/// The default reboot command of a package-backend agent:
/// `["systemctl", "reboot"]`.
pub fn default_reboot_command() -> Vec<String> {
    vec!["systemctl".to_owned(), "reboot".to_owned()]
}

/// The default [`Config::reboot_secs`] of a lab agent: 1 second.
pub const DEFAULT_LAB_REBOOT_SECS: u64 = 1;

fn default_lab_reboot_secs() -> u64 {
    DEFAULT_LAB_REBOOT_SECS
}

/// Commands the agent runs around its jobs, from its own configuration and
/// never from the bus: each is an argv (program, then arguments; no shell),
/// empty = none. Each gets `PATCHFLOW_HOST`, `PATCHFLOW_BUNDLE_ID`,
/// `PATCHFLOW_JOB_ID`, `PATCHFLOW_RING` and `PATCHFLOW_ACTION` (`apply` or
/// `rollback`) in its environment; exit status 0 is success. Package
/// backends only (the lab backend has no hooks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hooks {
    /// Takes a snapshot before an apply job changes any package (e.g.
    /// `["/usr/local/sbin/snapshot-root", "create"]`). When it fails the job
    /// fails and nothing is changed.
    pub snapshot: Vec<String>,
    /// Restores the snapshot for a rollback job, before the package
    /// downgrade: the agent then reads versions back and downgrades only what
    /// the restore did not bring back to its recorded previous version; when
    /// the hook fails, the downgrade does all of it.
    pub restore: Vec<String>,
}

/// The agent's configuration, parsed once at the edge (`patchflow agent
/// --host ID --verify-key FILE --backend lab|apt|dnf|yum|zypper [--state
/// FILE] [--dry-run]`)
/// and passed down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The asset id of this host: the agent takes only
    /// `patch.agent.job.<host>` and refuses jobs addressed elsewhere.
    pub host: String,
    /// How jobs are applied (default `lab`).
    #[serde(default)]
    pub backend: Backend,
    /// The backend's JSON state file: the lab host ([`crate::lab::LabState`])
    /// or, for a package backend, the applied remediations and job history
    /// ([`crate::host::HostState`]; the command line defaults it to
    /// [`crate::host::default_state_path`]).
    pub state: PathBuf,
    /// Plan every job with the package manager's own simulation and change
    /// nothing (package backends only; default `false`).
    #[serde(default)]
    pub dry_run: bool,
    /// Deploy's Ed25519 public key files (SubjectPublicKeyInfo PEM,
    /// `-----BEGIN PUBLIC KEY-----`; see [`crate::verify`]): only jobs
    /// signed with a matching private key are taken. One path, or a list of
    /// them while deploy's key is rotated (old and new). At least one is
    /// required by [`crate::Agent::build`]; `patchflow up` gives its
    /// in-process agents the key of the deploy it runs when this is empty.
    #[serde(default, deserialize_with = "one_or_many")]
    pub verify_key: Vec<PathBuf>,
    /// Snapshot and restore commands (package backends only; see [`Hooks`]).
    #[serde(default)]
    pub hooks: Hooks,
    /// The command a package-backend agent runs for a
    /// [`events::JobAction::Reboot`] job: an argv (program, then arguments;
    /// no shell), from this configuration only, never from the bus. Default
    /// `["systemctl", "reboot"]`; an empty list makes the agent refuse
    /// reboot jobs ("no reboot command configured"). The agent records the
    /// pending reboot in its state file, publishes the job's result and acks
    /// it, then runs the command; when the command fails (exit status not 0,
    /// or it cannot start) it publishes `patch.agent.online.<host>` at once
    /// with the unchanged boot id and why. The lab backend ignores it (its
    /// reboot is simulated, see `reboot_secs`).
    #[serde(default = "default_reboot_command")]
    pub reboot: Vec<String>,
    /// Lab backend only: how long, in seconds, a simulated reboot takes
    /// between the reboot job's result and `patch.agent.online.<host>` with
    /// the new boot id (default 1; 0 = at once). Package backends ignore it.
    #[serde(default = "default_lab_reboot_secs")]
    pub reboot_secs: u64,
}

impl Config {
    /// Checks the host id can key a subject (`patch.agent.job.<host>`),
    /// that a dry run has a package manager to simulate with, and that hooks
    /// and the reboot command name a program.
    ///
    /// # Errors
    /// [`ConfigError::InvalidHooks`] for a hook on the lab backend or one
    /// without a program; [`ConfigError::InvalidReboot`] for a non-empty
    /// reboot command whose program is empty;
    /// [`ConfigError::InvalidHost`] when the host id is empty, blank or
    /// holds a control character;
    /// [`ConfigError::DryRunLab`] for a lab dry run.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dry_run && self.backend == Backend::Lab {
            return Err(ConfigError::DryRunLab);
        }
        for (name, argv) in [
            ("snapshot", &self.hooks.snapshot),
            ("restore", &self.hooks.restore),
        ] {
            if argv.is_empty() {
                continue;
            }
            if self.backend == Backend::Lab {
                return Err(ConfigError::InvalidHooks(format!(
                    "the lab backend runs no {name} hook"
                )));
            }
            if argv.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(ConfigError::InvalidHooks(format!(
                    "the {name} hook's program is empty"
                )));
            }
        }
        if !self.reboot.is_empty() && self.reboot.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(ConfigError::InvalidReboot(self.reboot.clone()));
        }
        let bad = self.host.trim().is_empty() || self.host.chars().any(char::is_control);
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
            dry_run: false,
            verify_key: Vec::new(),
            hooks: Hooks::default(),
            reboot: default_reboot_command(),
            reboot_secs: DEFAULT_LAB_REBOOT_SECS,
        }
    }

    #[test]
    fn verify_key_is_one_path_or_a_list_for_a_key_rotation() {
        let parse = |extra: &str| {
            serde_json::from_str::<Config>(&format!(
                r#"{{"host":"web-01","state":"/tmp/s.json"{extra}}}"#
            ))
            .map(|c| c.verify_key)
            .map_err(|e| e.to_string())
        };
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(
            parse(r#","verify_key":"k.pub.pem""#),
            Ok(vec![PathBuf::from("k.pub.pem")])
        );
        assert_eq!(
            parse(r#","verify_key":["old.pub.pem","new.pub.pem"]"#),
            Ok(vec![
                PathBuf::from("old.pub.pem"),
                PathBuf::from("new.pub.pem")
            ])
        );
        assert!(parse(r#","verify_key":7"#).is_err());
    }

    #[test]
    fn the_reboot_command_defaults_to_systemctl_and_may_be_empty_but_not_blank() {
        let c: Config = serde_json::from_str(r#"{"host":"web-01","state":"/tmp/s.json"}"#).unwrap();
        assert_eq!(c.reboot, ["systemctl", "reboot"]);
        assert_eq!(c.reboot_secs, 1);
        let c: Config = serde_json::from_str(
            r#"{"host":"web-01","state":"/tmp/s.json","reboot":[],"reboot_secs":0}"#,
        )
        .unwrap();
        assert!(c.reboot.is_empty());
        assert_eq!(c.reboot_secs, 0);
        assert_eq!(c.validate(), Ok(()));
        let mut c = config("web-01");
        c.reboot = vec![" ".into(), "now".into()];
        assert_eq!(
            c.validate(),
            Err(ConfigError::InvalidReboot(vec![" ".into(), "now".into()]))
        );
    }

    #[test]
    fn any_asset_id_ingest_gives_is_a_host_id() {
        // Scanners name hosts by IP, FQDN or image; subjects escape them.
        for good in [
            "web-01",
            "192.168.2.101",
            "fe80::1",
            "db-01.example.com",
            "python:3.6",
            "evil box.*.>",
        ] {
            assert_eq!(config(good).validate(), Ok(()), "{good:?}");
        }
        for bad in ["", "  ", "web\n01", "web\u{1b}[2J"] {
            assert_eq!(
                config(bad).validate(),
                Err(ConfigError::InvalidHost(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn backend_parses_by_name() {
        for b in Backend::ALL {
            assert_eq!(b.as_str().parse::<Backend>(), Ok(b));
            assert_eq!(b.to_string(), b.as_str());
        }
        assert_eq!("dnf".parse::<Backend>(), Ok(Backend::Dnf));
        assert_eq!(
            "pacman".parse::<Backend>(),
            Err(ConfigError::UnknownBackend("pacman".into()))
        );
        assert_eq!(Backend::Lab.manager(), None);
        assert_eq!(Backend::Zypper.manager(), Some(Manager::Zypper));
    }

    #[test]
    fn hooks_need_a_package_backend_and_a_program() {
        let mut c = config("web-01");
        c.hooks.restore = vec!["/usr/local/sbin/restore".into()];
        assert_eq!(
            c.validate(),
            Err(ConfigError::InvalidHooks(
                "the lab backend runs no restore hook".into()
            ))
        );
        c.backend = Backend::Apt;
        assert_eq!(c.validate(), Ok(()));
        c.hooks.snapshot = vec![" ".into(), "x".into()];
        assert_eq!(
            c.validate(),
            Err(ConfigError::InvalidHooks(
                "the snapshot hook's program is empty".into()
            ))
        );
    }

    #[test]
    fn a_dry_run_needs_a_package_backend() {
        let mut c = config("web-01");
        c.dry_run = true;
        assert_eq!(c.validate(), Err(ConfigError::DryRunLab));
        c.backend = Backend::Apt;
        assert_eq!(c.validate(), Ok(()));
    }
}
