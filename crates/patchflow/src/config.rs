//! The one typed configuration of patchflow, parsed once at the edge:
//! defaults < the TOML file (`--config`) < environment (`NATS_URL`,
//! `PATCHFLOW_NAMESPACE`, `PATCHFLOW_DATA_DIR`) < command-line flags.
//! Relative paths in the file are relative to the file's folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use events::Namespace;
use serde::Deserialize;

/// The data folder when neither `--data-dir`, `PATCHFLOW_DATA_DIR` nor the
/// configuration names one (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = ".patchflow";

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How to reach NATS.
    pub nats: NatsConfig,
    /// Where `up` keeps its local nats-server store, logs and the report
    /// projection (default `.patchflow`).
    pub data_dir: Option<PathBuf>,
    /// The clock every service reads.
    pub clock: ClockConfig,
    /// ingest: the inventory CSV.
    pub ingest: ingest::config::Config,
    /// prioritize: policy, KEV and EPSS files.
    pub prioritize: prioritize::Config,
    /// schedule: rings, windows, rollout policy.
    pub schedule: schedule::Config,
    /// deploy: tick interval, job signing key.
    pub deploy: deploy::DeployConfig,
    /// validate: health checks.
    pub validate: validate::Config,
    /// report: the projection file.
    pub report: ReportConfig,
    /// Lab agents that `up` runs in-process, one per host.
    pub agents: Vec<agent::Config>,
    /// Logging.
    pub telemetry: TelemetryConfig,
}

/// `[nats]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated. Unset: `up` starts a local nats-server.
    pub url: Option<String>,
    /// Subject and resource namespace (default `patch`).
    pub namespace: String,
    /// Stream and KV replicas (1 on one server, 3 in a cluster).
    pub replicas: usize,
    /// A NATS `.creds` file.
    pub credentials: Option<PathBuf>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: None,
            namespace: "patch".to_owned(),
            replicas: 1,
            credentials: None,
        }
    }
}

/// `[clock]`: the real clock by default; a start instant and a rate give a
/// simulated clock (the demo runs its Monday of maintenance windows at 600×);
/// `offset_secs` shifts either (drills and tests of durable timers: restart
/// every service with the clock moved past a deadline).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// Start of a simulated clock (UTC); unset = the system clock.
    pub start: Option<DateTime<Utc>>,
    /// How many times faster than real time a simulated clock runs.
    pub rate: f64,
    /// Seconds added to the clock (negative: earlier); default 0. With no
    /// `start`, now = the system clock + offset, so every process with the
    /// same file reads the same shifted time, also after a restart.
    pub offset_secs: i64,
}

/// Largest `[clock] offset_secs`, either way: 100 years of 365.25 days.
pub const MAX_CLOCK_OFFSET_SECS: u64 = 3_155_760_000;

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            start: None,
            rate: 1.0,
            offset_secs: 0,
        }
    }
}

impl ClockConfig {
    /// The clock this configuration describes: simulated from `start +
    /// offset_secs` at `rate`; else the system clock, shifted by
    /// `offset_secs` when it is not 0 (a clock at rate 1 from now + offset).
    pub fn clock(&self) -> bus::Clock {
        let offset = chrono::TimeDelta::try_seconds(self.offset_secs).unwrap_or_default();
        let shift = |t: DateTime<Utc>| t.checked_add_signed(offset).unwrap_or(t);
        match (self.start, self.offset_secs) {
            (Some(start), _) => bus::Clock::simulated(shift(start), self.rate),
            (None, 0) => bus::Clock::system(),
            (None, _) => bus::Clock::simulated(shift(Utc::now()), 1.0),
        }
    }
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// The SQLite projection (default `<data_dir>/report.sqlite`).
    pub db: Option<PathBuf>,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Log filter (`info`, `patchflow=debug,warn`); `RUST_LOG` and `--log` override.
    pub log: Option<String>,
}

/// Overrides from the environment and the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--nats-url` / `NATS_URL`.
    pub nats_url: Option<String>,
    /// `--namespace` / `PATCHFLOW_NAMESPACE`.
    pub namespace: Option<String>,
    /// `--data-dir` / `PATCHFLOW_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--replicas`.
    pub replicas: Option<usize>,
}

impl Config {
    /// Reads `path` (when given), resolves its relative paths, applies the
    /// overrides and validates the result.
    ///
    /// # Errors
    /// The file cannot be read or parsed (the message names the key), or a
    /// section is invalid.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("read config {}", p.display()))?;
                let base = p.parent().unwrap_or(Path::new("."));
                Config::from_toml(&text, base, p, overrides)
            }
            None => Config::default().finish(overrides),
        }
    }

    /// Parses config `text` as if read from `origin`: relative paths in it
    /// resolve against `base` (normally `origin`'s folder), then the
    /// overrides apply and the result is validated.
    ///
    /// # Errors
    /// The text cannot be parsed (the message names `origin` and the key),
    /// or a section is invalid.
    pub fn from_toml(
        text: &str,
        base: &Path,
        origin: &Path,
        overrides: &Overrides,
    ) -> Result<Config> {
        let mut cfg: Config =
            toml::from_str(text).with_context(|| format!("parse config {}", origin.display()))?;
        cfg.resolve_paths(base);
        cfg.finish(overrides)
    }

    fn finish(mut self, overrides: &Overrides) -> Result<Config> {
        let cfg = &mut self;
        if let Some(url) = &overrides.nats_url {
            cfg.nats.url = Some(url.clone());
        }
        if let Some(ns) = &overrides.namespace {
            cfg.nats.namespace.clone_from(ns);
        }
        if let Some(dir) = &overrides.data_dir {
            cfg.data_dir = Some(dir.clone());
        }
        if let Some(r) = overrides.replicas {
            cfg.nats.replicas = r;
        }
        self.validate()?;
        Ok(self)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let fix_opt = |p: &mut Option<PathBuf>| {
            if let Some(p) = p
                && p.is_relative()
            {
                *p = base.join(&*p);
            }
        };
        fix_opt(&mut self.data_dir);
        fix_opt(&mut self.nats.credentials);
        fix_opt(&mut self.ingest.inventory);
        for feed in &mut self.ingest.feeds {
            fix_opt(&mut feed.path);
        }
        fix_opt(&mut self.prioritize.policy);
        fix_opt(&mut self.prioritize.kev);
        fix_opt(&mut self.prioritize.epss);
        fix_opt(&mut self.report.db);
        fix_opt(&mut self.deploy.signing_key);
        for a in &mut self.agents {
            fix(&mut a.state);
            for key in &mut a.verify_key {
                fix(key);
            }
        }
    }

    /// Checks every section.
    ///
    /// # Errors
    /// The first invalid section, with its reason.
    pub fn validate(&self) -> Result<()> {
        self.namespace()?;
        if self.nats.replicas == 0 || self.nats.replicas > 5 {
            bail!("nats.replicas must be 1 to 5, not {}", self.nats.replicas);
        }
        if !(self.clock.rate.is_finite() && self.clock.rate > 0.0) {
            bail!(
                "clock.rate must be a positive number, not {}",
                self.clock.rate
            );
        }
        if self.clock.offset_secs.unsigned_abs() > MAX_CLOCK_OFFSET_SECS {
            bail!(
                "clock.offset_secs must be within ±{MAX_CLOCK_OFFSET_SECS} (100 years), not {}",
                self.clock.offset_secs
            );
        }
        if let Err(e) = self.ingest.validate() {
            bail!("invalid [ingest]: {e}");
        }
        self.schedule.validate().context("invalid [schedule]")?;
        self.validate.validate().context("invalid [validate]")?;
        if let Err(e) = self.deploy.saga.check() {
            bail!("invalid [deploy.saga]: {e}");
        }
        for a in &self.agents {
            a.validate()
                .with_context(|| format!("invalid [[agents]] entry for {}", a.host))?;
        }
        Ok(())
    }

    /// The validated namespace.
    ///
    /// # Errors
    /// When `nats.namespace` is not a valid namespace.
    pub fn namespace(&self) -> Result<Namespace> {
        Namespace::new(&self.nats.namespace).context("invalid nats.namespace")
    }

    /// `data_dir`, default `.patchflow`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The report projection file.
    pub fn report_db(&self) -> PathBuf {
        self.report
            .db
            .clone()
            .unwrap_or_else(|| self.data_dir().join("report.sqlite"))
    }

    /// Bus settings for a client called `name`.
    ///
    /// # Errors
    /// When no NATS URL is configured or the namespace is invalid.
    pub fn bus_config(&self, name: &str) -> Result<bus::BusConfig> {
        let url = self
            .nats
            .url
            .clone()
            .context("no NATS server: set NATS_URL, --nats-url or [nats] url")?;
        let mut cfg = bus::BusConfig::new(url, self.namespace()?, name);
        cfg.replicas = self.nats.replicas;
        cfg.credentials.clone_from(&self.nats.credentials);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_resolve_against_the_file_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pf.toml");
        std::fs::write(
            &file,
            "data_dir = \"data\"\n[nats]\nurl = \"nats://file:4222\"\nnamespace = \"filens\"\n\
             [ingest]\ninventory = \"inv.csv\"\n[[agents]]\nhost = \"web-01\"\nstate = \"/abs/web-01.json\"\n",
        )
        .unwrap();
        let cfg = Config::load(
            Some(&file),
            &Overrides {
                nats_url: Some("nats://flag:4222".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(cfg.nats.url.as_deref(), Some("nats://flag:4222"));
        assert_eq!(cfg.nats.namespace, "filens");
        assert_eq!(cfg.data_dir(), dir.path().join("data"));
        assert_eq!(cfg.ingest.inventory, Some(dir.path().join("inv.csv")));
        assert_eq!(cfg.agents[0].state, PathBuf::from("/abs/web-01.json"));
        assert_eq!(cfg.report_db(), dir.path().join("data/report.sqlite"));
    }

    #[test]
    fn text_read_elsewhere_resolves_against_the_given_folder() {
        // The demo keeps a copy of a --config file in its lab folder but
        // resolves it against the original file's folder.
        let cfg = Config::from_toml(
            "[ingest]\ninventory = \"inv.csv\"\n[prioritize]\nkev = \"/abs/kev.json\"\n",
            Path::new("/etc/patchflow"),
            Path::new("/etc/patchflow/pf.toml"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            cfg.ingest.inventory.as_deref(),
            Some(Path::new("/etc/patchflow/inv.csv"))
        );
        assert_eq!(
            cfg.prioritize.kev.as_deref(),
            Some(Path::new("/abs/kev.json"))
        );
        let err = Config::from_toml(
            "[ingest\n",
            Path::new("."),
            Path::new("lab/pf.toml"),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("lab/pf.toml"), "{err:#}");
    }

    #[test]
    fn the_example_configs_load() {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let dir = tempfile::tempdir().unwrap();
        for name in ["patchflow.toml", "compose.toml", "lab/patchflow.toml"] {
            // The demo fills in its health endpoint's address before loading.
            let text = std::fs::read_to_string(examples.join(name))
                .unwrap()
                .replace("{demo_health}", "127.0.0.1:8080");
            let file = dir.path().join("config.toml");
            std::fs::write(&file, text).unwrap();
            let cfg = Config::load(Some(&file), &Overrides::default())
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert_eq!(cfg.schedule.rings.len(), 4, "{name}");
        }
    }

    #[test]
    fn clock_offset_shifts_the_clock() {
        let table: &[(&str, i64)] = &[
            ("", 0),
            ("[clock]\noffset_secs = 14700\n", 14_700),
            ("[clock]\noffset_secs = -60\n", -60),
        ];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pf.toml");
        for (text, offset) in table {
            std::fs::write(&file, text).unwrap();
            let cfg = Config::load(Some(&file), &Overrides::default()).unwrap();
            assert_eq!(cfg.clock.offset_secs, *offset, "{text:?}");
            let shifted = (cfg.clock.clock().now() - Utc::now()).num_seconds();
            assert!((shifted - offset).abs() <= 2, "{text:?}: {shifted}");
        }
        std::fs::write(
            &file,
            "[clock]\nstart = \"2026-01-01T00:00:00Z\"\nrate = 1.0\noffset_secs = 3600\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &Overrides::default()).unwrap();
        let at: DateTime<Utc> = "2026-01-01T01:00:00Z".parse().unwrap();
        assert!((cfg.clock.clock().now() - at).num_seconds() <= 2);
        std::fs::write(&file, "[clock]\noffset_secs = 9999999999\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(err.contains("clock.offset_secs must be within"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pf.toml");
        std::fs::write(&file, "[nats]\nurl = \"x\"\nnamspace = \"typo\"\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(err.contains("namspace"), "{err}");
        std::fs::write(&file, "[nats]\nnamespace = \"Bad.Name\"\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert!(err.contains("Bad.Name"), "{err}");
    }

    #[test]
    fn feed_entries_resolve_their_paths_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pf.toml");
        std::fs::write(
            &file,
            "[[ingest.feeds]]\nkind = \"kev\"\nurl = \"https://www.cisa.gov/kev.json\"\n\
             [[ingest.feeds]]\nkind = \"osv\"\npath = \"osv/DSA.json\"\ninterval_secs = 60\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(cfg.ingest.feeds.len(), 2);
        assert_eq!(cfg.ingest.feeds[0].interval_secs, 3600);
        assert_eq!(
            cfg.ingest.feeds[1].path,
            Some(dir.path().join("osv/DSA.json"))
        );
        std::fs::write(
            &file,
            "[[ingest.feeds]]\nkind = \"kev\"\nurl = \"ftp://example/kev.json\"\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Overrides::default()).unwrap_err()
        );
        assert_eq!(
            err,
            "invalid [ingest]: kev feed: url \"ftp://example/kev.json\" is not an http:// or https:// URL"
        );
    }
}
