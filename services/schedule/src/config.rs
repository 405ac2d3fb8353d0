//! The schedule service's configuration: the rings in rollout order with their
//! maintenance windows and soak times, the ring for hosts inventory does not
//! place, the wave policy handed to deploy, and the clock tick.
//!
//! One typed struct, TOML-friendly, every field with a documented default, so
//! an empty `[schedule]` table is a working configuration:
//!
//! ```toml
//! timezone = "Europe/Berlin"     # default "UTC"
//! default_ring = "prod"          # default "prod"
//! tick_interval_ms = 1000        # default 1000
//!
//! [[rings]]
//! name = "dev"
//! soak_hours = 24                # default 24
//! windows = [{ days = ["mon", "thu"], start = "02:00", duration_minutes = 120 }]
//!
//! [[rings]]
//! name = "prod"
//! timezone = "America/New_York"  # overrides the top-level timezone
//! # RFC 5545 RRULEs: the Sunday after Patch Tuesday, 22:00 for 4 h
//! recurring = [{ rrule = "FREQ=MONTHLY;BYDAY=2TU", offset_days = 5, start = "22:00", duration_minutes = 240 }]
//! cutoff_minutes = 60            # no new host starts in a window's last hour (default 0)
//!                                # no windows at all = always open
//!
//! [[freezes]]                    # change freezes: nothing starts inside, in any listed ring
//! name = "year-end"
//! starts = "2026-12-19"          # RFC 3339 instant, or local date(-time) in `timezone`
//! ends = "2027-01-04T06:00"
//! rings = []                     # default: every ring
//!
//! [approval]                     # change approval (issue 5)
//! rings = ["prod"]               # default: the last ring
//! standard_priorities = ["low", "medium"]
//!
//! [rollout]                      # any subset; missing fields keep their defaults
//! batch_percent = 20
//! ```
//!
//! [`Config::validate`] checks it once at the edge; the stage functions assume
//! a validated configuration but still return [`ConfigError`] instead of
//! panicking when handed one that is not.

use calendar::Windows as _;
use chrono::{DateTime, Duration, Utc};
use events::{
    Freeze, Priority, RecurringWindow, RolloutPolicy, WeeklyWindow, WindowError, WindowSet,
};
use serde::{Deserialize, Deserializer, Serialize};

/// Default time zone of every ring's windows: `UTC`.
pub const DEFAULT_TIMEZONE: &str = "UTC";
/// Default ring for hosts whose ring inventory does not know or the
/// configuration does not list: `prod`, the most cautious choice (it is
/// rolled out last, after every other ring validated the bundle).
pub const DEFAULT_RING: &str = "prod";
/// Default soak time of a ring, in hours.
pub const DEFAULT_SOAK_HOURS: u32 = 24;
/// Largest accepted soak time of a ring, in hours (365 days).
pub const MAX_SOAK_HOURS: u32 = 8760;
/// Default interval of the scheduler's clock tick, in milliseconds.
pub const DEFAULT_TICK_INTERVAL_MS: u64 = 1000;

/// The longest accepted ring name, in bytes.
const MAX_RING_NAME_LEN: usize = 64;

/// The schedule service's configuration.
///
/// Defaults ([`Config::default`]): time zone `UTC`, default ring `prod`,
/// rings dev → test → staging → prod, all always open, with soak times of
/// 24, 24, 48 and 0 hours (prod is last: nothing follows it),
/// [`RolloutPolicy::default`] (DESIGN.md: canary of 1, batches of 25 %, halt
/// above 10 % failed), and a tick every 1000 ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// IANA time zone of ring windows that do not name their own
    /// (`Europe/Berlin`, `UTC`). Default `UTC`.
    pub timezone: String,
    /// The ring of hosts whose asset has no ring, or a ring not listed in
    /// `rings`. Must be one of `rings`. Default `prod`.
    pub default_ring: String,
    /// The rings in rollout order (first = rolled out first). At least one.
    pub rings: Vec<RingConfig>,
    /// Waves and failure budget deploy applies inside each ring, passed
    /// along in every `bundle.scheduled`. A TOML table may give any subset of
    /// the fields; the others keep [`RolloutPolicy::default`].
    #[serde(deserialize_with = "rollout_with_defaults")]
    pub rollout: RolloutPolicy,
    /// How often the adapter's leader calls the clock tick
    /// ([`crate::rollout::on_tick`]), in milliseconds. Default 1000.
    pub tick_interval_ms: u64,
    /// Change freezes (blackouts): no new host starts inside one, in the
    /// rings it names, unless the release carries an emergency override.
    /// Default none.
    pub freezes: Vec<FreezeConfig>,
    /// Which bundles need a change approval before which rings.
    pub approval: ApprovalPolicy,
    /// What becomes of a finding whose only remediation is the scanner's
    /// solution text (no package with a target version, no advisory or KB
    /// id). Default [`ScannerSolutions::ManualTask`].
    pub scanner_solutions: ScannerSolutions,
}

/// One change freeze as configured. See [`calendar::resolve_freeze`] for
/// the accepted bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeConfig {
    /// Name shown in plans, skips and the override record (`year-end`).
    pub name: String,
    /// First frozen instant: RFC 3339 (`2026-12-19T00:00:00Z`), or a local
    /// date-time (`2026-12-19T18:00`) or date (`2026-12-19` = its 00:00) in
    /// `timezone`.
    pub starts: String,
    /// First instant after the freeze, in the same forms.
    pub ends: String,
    /// IANA zone of local bounds; default the top-level [`Config::timezone`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Rings it applies to; empty (the default) = every ring.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rings: Vec<String>,
}

/// The change-approval policy (ITIL: a *standard change* is pre-approved;
/// every other change needs an approval before it touches the rings listed).
///
/// A bundle is a standard change when its priority is one of
/// `standard_priorities` **and** it needs no reboot. "No reboot" is known
/// from the remediation kinds only (nothing else is known before the
/// hosts run it): every remediation sent to hosts is a package upgrade
/// whose name matches none of `reboot_packages`. An advisory or KB id is
/// resolved on the host and may bring any package (a kernel), and a
/// scanner solution sent to agents is opaque: both count as "may reboot".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalPolicy {
    /// Rings whose release needs an approval (`patchflow bundle approve`),
    /// by name. Default: the last ring of the rollout order (production).
    /// An empty list turns approvals off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rings: Option<Vec<String>>,
    /// Priorities that may be standard changes. Default `low`, `medium`.
    pub standard_priorities: Vec<Priority>,
    /// Package names whose upgrade needs a reboot; a trailing `*` matches
    /// any suffix. Default: the core packages of dnf's `needs-restarting -r`
    /// (dnf-plugins-core: kernel, glibc, linux-firmware, systemd, dbus,
    /// microcode_ctl, …) and their Debian and SUSE names (linux-image-*,
    /// libc6, intel-microcode, …).
    pub reboot_packages: Vec<String>,
}

/// The default of [`ApprovalPolicy::reboot_packages`].
pub const DEFAULT_REBOOT_PACKAGES: [&str; 17] = [
    "kernel",
    "kernel-*",
    "kernel_*",
    "linux-image-*",
    "linux-modules-*",
    "linux-firmware",
    "glibc",
    "libc6",
    "systemd",
    "udev",
    "dbus",
    "dbus-broker",
    "dbus-daemon",
    "microcode_ctl",
    "intel-microcode",
    "amd64-microcode",
    "ucode-intel",
];

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            rings: None,
            standard_priorities: vec![Priority::Low, Priority::Medium],
            reboot_packages: DEFAULT_REBOOT_PACKAGES
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
        }
    }
}

impl ApprovalPolicy {
    /// Whether package `name` needs a reboot by `reboot_packages`.
    pub fn package_needs_reboot(&self, name: &str) -> bool {
        self.reboot_packages
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            })
    }
}

/// What planning does with a scanner's solution text (a
/// [`events::Remediation::Solution`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScannerSolutions {
    /// A manual task of the bundle (`BundlePlanned::manual_tasks`): no agent
    /// can apply free text. The default.
    #[default]
    ManualTask,
    /// Sent to agents by key, for lab drills: the lab backend records it as
    /// applied. Real package backends refuse it.
    SendToAgent,
}

/// One ring of the rollout order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingConfig {
    /// Ring name (`dev`, `prod`): 1–64 characters of `[A-Za-z0-9_-]`, as it
    /// appears in asset inventory (`Asset::ring`).
    pub name: String,
    /// Time to wait after the ring validated before the next ring may start,
    /// in hours (0–8760). Default 24.
    #[serde(default = "default_soak_hours")]
    pub soak_hours: u32,
    /// Weekly maintenance windows. No windows at all (weekly or
    /// recurring, the default) = always open.
    #[serde(default)]
    pub windows: Vec<WeeklyWindow>,
    /// RFC 5545 RRULE windows ([`events::RecurringWindow`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurring: Vec<RecurringWindow>,
    /// No new host starts within this many minutes of a window's end
    /// (0–10080, shorter than every window). Default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cutoff_minutes: u32,
    /// IANA time zone of this ring's windows, overriding [`Config::timezone`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn default_soak_hours() -> u32 {
    DEFAULT_SOAK_HOURS
}

impl RingConfig {
    /// An always-open ring with the given soak time in hours.
    pub fn always_open(name: &str, soak_hours: u32) -> RingConfig {
        RingConfig {
            name: name.to_owned(),
            soak_hours,
            windows: Vec::new(),
            recurring: Vec::new(),
            cutoff_minutes: 0,
            timezone: None,
        }
    }

    /// The ring's windows and cutoff as an [`events::WindowSet`] without
    /// freezes, in the ring's own time zone or else `default_timezone` (the
    /// top-level [`Config::timezone`]). [`Config::windows_of`] adds the
    /// freezes.
    pub fn window_set(&self, default_timezone: &str) -> WindowSet {
        WindowSet {
            timezone: self
                .timezone
                .clone()
                .unwrap_or_else(|| default_timezone.to_owned()),
            windows: self.windows.clone(),
            recurring: self.recurring.clone(),
            cutoff_minutes: self.cutoff_minutes,
            freezes: Vec::new(),
        }
    }

    /// `from + soak_hours`, saturating at the largest representable instant.
    pub fn soak_end(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        from.checked_add_signed(Duration::hours(i64::from(self.soak_hours)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timezone: DEFAULT_TIMEZONE.to_owned(),
            default_ring: DEFAULT_RING.to_owned(),
            rings: vec![
                RingConfig::always_open("dev", 24),
                RingConfig::always_open("test", 24),
                RingConfig::always_open("staging", 48),
                RingConfig::always_open("prod", 0),
            ],
            rollout: RolloutPolicy::default(),
            tick_interval_ms: DEFAULT_TICK_INTERVAL_MS,
            freezes: Vec::new(),
            approval: ApprovalPolicy::default(),
            scanner_solutions: ScannerSolutions::default(),
        }
    }
}

/// A configuration that cannot be used, with the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `rings` is empty.
    #[error("rings: no ring configured (list at least one, e.g. dev, test, staging, prod)")]
    NoRings,
    /// A ring name is empty, too long or holds other characters than
    /// `[A-Za-z0-9_-]`.
    #[error("rings: ring name {0:?} is invalid (use 1-64 characters of A-Z, a-z, 0-9, '-', '_')")]
    BadRingName(String),
    /// Two rings share a name.
    #[error("rings: ring {0:?} is listed more than once")]
    DuplicateRing(String),
    /// `default_ring` is not one of `rings`.
    #[error("default_ring: {default_ring:?} is not one of the configured rings {rings:?}")]
    UnknownDefaultRing {
        /// The configured default ring.
        default_ring: String,
        /// The configured ring names, in order.
        rings: Vec<String>,
    },
    /// The top-level `timezone` is not an IANA name.
    #[error("timezone: {0}")]
    TimeZone(#[source] WindowError),
    /// A ring's time zone or one of its windows is unusable.
    #[error("rings: ring {ring:?}: {source}")]
    Window {
        /// The ring.
        ring: String,
        /// What is wrong with its window set.
        #[source]
        source: WindowError,
    },
    /// A ring's soak time is above [`MAX_SOAK_HOURS`].
    #[error(
        "rings: ring {ring:?}: soak_hours {soak_hours} is above the maximum of 8760 (one year)"
    )]
    SoakTooLong {
        /// The ring.
        ring: String,
        /// The configured soak time, in hours.
        soak_hours: u32,
    },
    /// A rollout field is out of range.
    #[error("rollout.{field}: {problem}")]
    Rollout {
        /// The field name.
        field: &'static str,
        /// What is wrong, with the value.
        problem: String,
    },
    /// `tick_interval_ms` is 0.
    #[error("tick_interval_ms: must be at least 1")]
    TickInterval,
    /// A freeze does not resolve, or names a ring that is not configured.
    #[error("freezes: {0}")]
    Freeze(#[source] WindowError),
    /// `approval.rings` names a ring that is not configured.
    #[error("approval.rings: {ring:?} is not one of the configured rings {rings:?}")]
    UnknownApprovalRing {
        /// The unknown ring.
        ring: String,
        /// The configured ring names, in order.
        rings: Vec<String>,
    },
}

impl Config {
    /// Checks the whole configuration: at least one ring, valid and unique
    /// ring names, soak times within 0–8760 hours, known IANA time zones
    /// (top level and per ring), valid windows, a `default_ring` that is one
    /// of the rings, a sane rollout policy (`batch_percent` 1–100,
    /// `max_failed_percent` 0–100, `result_timeout_secs` ≥ 1), a non-zero
    /// tick interval, freezes that resolve and name configured rings, and
    /// approval rings that are configured.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        WindowSet {
            timezone: self.timezone.clone(),
            ..WindowSet::always()
        }
        .validate()
        .map_err(ConfigError::TimeZone)?;
        if self.rings.is_empty() {
            return Err(ConfigError::NoRings);
        }
        for (i, ring) in self.rings.iter().enumerate() {
            if !valid_ring_name(&ring.name) {
                return Err(ConfigError::BadRingName(ring.name.clone()));
            }
            if self.rings.iter().take(i).any(|r| r.name == ring.name) {
                return Err(ConfigError::DuplicateRing(ring.name.clone()));
            }
            if ring.soak_hours > MAX_SOAK_HOURS {
                return Err(ConfigError::SoakTooLong {
                    ring: ring.name.clone(),
                    soak_hours: ring.soak_hours,
                });
            }
            ring.window_set(&self.timezone)
                .validate()
                .map_err(|source| ConfigError::Window {
                    ring: ring.name.clone(),
                    source,
                })?;
        }
        if self.ring(&self.default_ring).is_none() {
            return Err(ConfigError::UnknownDefaultRing {
                default_ring: self.default_ring.clone(),
                rings: self.rings.iter().map(|r| r.name.clone()).collect(),
            });
        }
        validate_rollout(&self.rollout)?;
        if self.tick_interval_ms == 0 {
            return Err(ConfigError::TickInterval);
        }
        let names = || self.rings.iter().map(|r| r.name.clone()).collect();
        for f in &self.freezes {
            self.resolve_freeze(f)?;
            if let Some(ring) = f.rings.iter().find(|r| self.ring(r).is_none()) {
                return Err(ConfigError::Freeze(WindowError::BadFreeze {
                    name: f.name.clone(),
                    reason: format!("ring {ring:?} is not configured"),
                }));
            }
        }
        if let Some(ring) = self
            .approval
            .rings
            .iter()
            .flatten()
            .find(|r| self.ring(r).is_none())
        {
            return Err(ConfigError::UnknownApprovalRing {
                ring: ring.clone(),
                rings: names(),
            });
        }
        Ok(())
    }

    fn resolve_freeze(&self, f: &FreezeConfig) -> Result<Freeze, ConfigError> {
        let tz = f.timezone.as_deref().unwrap_or(&self.timezone);
        calendar::resolve_freeze(&f.name, &f.starts, &f.ends, tz).map_err(ConfigError::Freeze)
    }

    /// The freezes of ring `ring`, resolved to UTC, sorted by start.
    ///
    /// # Errors
    /// [`ConfigError::Freeze`] when one does not resolve.
    pub fn freezes_of(&self, ring: &str) -> Result<Vec<Freeze>, ConfigError> {
        let mut out = Vec::new();
        for f in &self.freezes {
            if f.rings.is_empty() || f.rings.iter().any(|r| r == ring) {
                out.push(self.resolve_freeze(f)?);
            }
        }
        out.sort_by_key(|w| (w.starts_at, w.ends_at));
        Ok(out)
    }

    /// Ring `rc`'s whole window set: windows, cutoff and freezes.
    ///
    /// # Errors
    /// [`ConfigError::Freeze`] when a freeze does not resolve.
    pub fn windows_of(&self, rc: &RingConfig) -> Result<WindowSet, ConfigError> {
        let mut set = rc.window_set(&self.timezone);
        set.freezes = self.freezes_of(&rc.name)?;
        Ok(set)
    }

    /// Whether releasing ring `ring` needs a change approval: it is in
    /// `approval.rings`, or, when that is unset, it is the last ring.
    pub fn needs_approval(&self, ring: &str) -> bool {
        match &self.approval.rings {
            Some(rings) => rings.iter().any(|r| r == ring),
            None => self.rings.last().is_some_and(|r| r.name == ring),
        }
    }

    /// The ring named `name`, if configured.
    pub fn ring(&self, name: &str) -> Option<&RingConfig> {
        self.rings.iter().find(|r| r.name == name)
    }

    /// The position of ring `name` in the rollout order (0 = first).
    pub fn ring_index(&self, name: &str) -> Option<usize> {
        self.rings.iter().position(|r| r.name == name)
    }

    /// The whole window set of ring `name` (its own time zone or the
    /// top-level one, its cutoff and freezes), if the ring is configured and
    /// its freezes resolve.
    pub fn window_set(&self, name: &str) -> Option<WindowSet> {
        self.ring(name).and_then(|r| self.windows_of(r).ok())
    }
}

fn valid_ring_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_RING_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_rollout(r: &RolloutPolicy) -> Result<(), ConfigError> {
    if !(1..=100).contains(&r.batch_percent) {
        return Err(ConfigError::Rollout {
            field: "batch_percent",
            problem: format!("{} is outside 1..=100", r.batch_percent),
        });
    }
    if !(r.max_failed_percent.is_finite() && (0.0..=100.0).contains(&r.max_failed_percent)) {
        return Err(ConfigError::Rollout {
            field: "max_failed_percent",
            problem: format!("{} is outside 0..=100", r.max_failed_percent),
        });
    }
    if r.result_timeout_secs == 0 {
        return Err(ConfigError::Rollout {
            field: "result_timeout_secs",
            problem: "must be at least 1 second".to_owned(),
        });
    }
    Ok(())
}

/// A `[rollout]` table in which every field is optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloutOverrides {
    canary_hosts: Option<u32>,
    batch_percent: Option<u32>,
    max_failed_percent: Option<f64>,
    halt_on_full_batch_failure: Option<bool>,
    result_timeout_secs: Option<u64>,
}

/// Reads a partial `[rollout]` table over [`RolloutPolicy::default`].
fn rollout_with_defaults<'de, D: Deserializer<'de>>(d: D) -> Result<RolloutPolicy, D::Error> {
    let o = RolloutOverrides::deserialize(d)?;
    let base = RolloutPolicy::default();
    Ok(RolloutPolicy {
        canary_hosts: o.canary_hosts.unwrap_or(base.canary_hosts),
        batch_percent: o.batch_percent.unwrap_or(base.batch_percent),
        max_failed_percent: o.max_failed_percent.unwrap_or(base.max_failed_percent),
        halt_on_full_batch_failure: o
            .halt_on_full_batch_failure
            .unwrap_or(base.halt_on_full_batch_failure),
        result_timeout_secs: o.result_timeout_secs.unwrap_or(base.result_timeout_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        match toml::from_str(text) {
            Ok(c) => c,
            Err(e) => panic!("toml {text:?} did not parse: {e}"),
        }
    }

    #[test]
    fn empty_toml_gives_the_documented_defaults() {
        let c = parse("");
        assert_eq!(c, Config::default());
        assert_eq!(c.timezone, "UTC");
        assert_eq!(c.default_ring, "prod");
        assert_eq!(c.tick_interval_ms, 1000);
        let rings: Vec<(&str, u32, bool)> = c
            .rings
            .iter()
            .map(|r| (r.name.as_str(), r.soak_hours, r.windows.is_empty()))
            .collect();
        assert_eq!(
            rings,
            vec![
                ("dev", 24, true),
                ("test", 24, true),
                ("staging", 48, true),
                ("prod", 0, true)
            ]
        );
        assert_eq!(c.rollout, RolloutPolicy::default());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn toml_with_windows_overrides_and_partial_rollout() {
        let c = parse(
            r#"
            timezone = "Europe/Berlin"
            default_ring = "stage"
            [[rings]]
            name = "stage"
            windows = [{ days = ["mon", "thu"], start = "02:00", duration_minutes = 120 }]
            [[rings]]
            name = "live"
            soak_hours = 0
            timezone = "America/New_York"
            [rollout]
            batch_percent = 20
            "#,
        );
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.rings.len(), 2);
        assert_eq!(c.rings[0].soak_hours, 24, "soak default");
        assert_eq!(
            c.window_set("stage").map(|w| w.timezone).as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            c.window_set("live").map(|w| w.timezone).as_deref(),
            Some("America/New_York")
        );
        assert_eq!(c.rollout.batch_percent, 20);
        assert_eq!(
            c.rollout.canary_hosts, 1,
            "unset rollout fields keep defaults"
        );
        assert_eq!(c.rollout.result_timeout_secs, 1800);
        assert_eq!(c.ring_index("live"), Some(1));
        assert_eq!(c.window_set("nope"), None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(toml::from_str::<Config>("timezon = \"UTC\"").is_err());
        assert!(toml::from_str::<Config>("[rollout]\nbatch = 3").is_err());
        assert!(toml::from_str::<Config>("[[rings]]\nname = \"a\"\nsoak = 3").is_err());
    }

    fn check(name: &str, edit: impl FnOnce(&mut Config), want: ConfigError, message: &str) {
        let mut c = Config::default();
        edit(&mut c);
        let got = c.validate();
        assert_eq!(got.as_ref().err(), Some(&want), "{name}");
        assert_eq!(
            got.err().map(|e| e.to_string()).as_deref(),
            Some(message),
            "{name}: message"
        );
    }

    #[test]
    fn validation_names_the_field_at_fault() {
        check(
            "no rings",
            |c| c.rings.clear(),
            ConfigError::NoRings,
            "rings: no ring configured (list at least one, e.g. dev, test, staging, prod)",
        );
        check(
            "duplicate ring",
            |c| c.rings.push(RingConfig::always_open("dev", 1)),
            ConfigError::DuplicateRing("dev".into()),
            "rings: ring \"dev\" is listed more than once",
        );
        check(
            "bad ring name",
            |c| c.rings[0].name = "dev ring".into(),
            ConfigError::BadRingName("dev ring".into()),
            "rings: ring name \"dev ring\" is invalid (use 1-64 characters of A-Z, a-z, 0-9, '-', '_')",
        );
        check(
            "empty ring name",
            |c| c.rings[0].name = String::new(),
            ConfigError::BadRingName(String::new()),
            "rings: ring name \"\" is invalid (use 1-64 characters of A-Z, a-z, 0-9, '-', '_')",
        );
        check(
            "unknown default ring",
            |c| c.default_ring = "production".into(),
            ConfigError::UnknownDefaultRing {
                default_ring: "production".into(),
                rings: vec!["dev".into(), "test".into(), "staging".into(), "prod".into()],
            },
            "default_ring: \"production\" is not one of the configured rings [\"dev\", \"test\", \"staging\", \"prod\"]",
        );
        check(
            "unknown top-level time zone",
            |c| c.timezone = "Mars/Olympus".into(),
            ConfigError::TimeZone(WindowError::UnknownTimeZone("Mars/Olympus".into())),
            "timezone: unknown time zone \"Mars/Olympus\" (expected an IANA name such as Europe/Berlin)",
        );
        check(
            "unknown ring time zone",
            |c| c.rings[1].timezone = Some("Europe/Berlinn".into()),
            ConfigError::Window {
                ring: "test".into(),
                source: WindowError::UnknownTimeZone("Europe/Berlinn".into()),
            },
            "rings: ring \"test\": unknown time zone \"Europe/Berlinn\" (expected an IANA name such as Europe/Berlin)",
        );
        check(
            "bad window start",
            |c| {
                c.rings[2].windows = vec![WeeklyWindow {
                    days: vec![events::window::Day::Mon],
                    start: "24:30".into(),
                    duration_minutes: 60,
                }]
            },
            ConfigError::Window {
                ring: "staging".into(),
                source: WindowError::BadStart("24:30".into()),
            },
            "rings: ring \"staging\": window start \"24:30\" is not HH:MM",
        );
        check(
            "soak too long",
            |c| c.rings[0].soak_hours = 8761,
            ConfigError::SoakTooLong {
                ring: "dev".into(),
                soak_hours: 8761,
            },
            "rings: ring \"dev\": soak_hours 8761 is above the maximum of 8760 (one year)",
        );
        check(
            "batch percent",
            |c| c.rollout.batch_percent = 0,
            ConfigError::Rollout {
                field: "batch_percent",
                problem: "0 is outside 1..=100".into(),
            },
            "rollout.batch_percent: 0 is outside 1..=100",
        );
        check(
            "failure budget",
            |c| c.rollout.max_failed_percent = f64::NAN,
            ConfigError::Rollout {
                field: "max_failed_percent",
                problem: "NaN is outside 0..=100".into(),
            },
            "rollout.max_failed_percent: NaN is outside 0..=100",
        );
        check(
            "result timeout",
            |c| c.rollout.result_timeout_secs = 0,
            ConfigError::Rollout {
                field: "result_timeout_secs",
                problem: "must be at least 1 second".into(),
            },
            "rollout.result_timeout_secs: must be at least 1 second",
        );
        check(
            "tick",
            |c| c.tick_interval_ms = 0,
            ConfigError::TickInterval,
            "tick_interval_ms: must be at least 1",
        );
    }

    #[test]
    fn recurring_windows_cutoffs_freezes_and_approvals_from_toml() {
        let c = parse(
            r#"
            timezone = "Europe/Berlin"
            scanner_solutions = "send_to_agent"
            [[rings]]
            name = "dev"
            [[rings]]
            name = "prod"
            cutoff_minutes = 60
            recurring = [{ rrule = "FREQ=MONTHLY;BYDAY=2TU", offset_days = 5, start = "22:00", duration_minutes = 240 }]
            [[freezes]]
            name = "year-end"
            starts = "2026-12-19"
            ends = "2027-01-04T06:00"
            [[freezes]]
            name = "prod-only"
            starts = "2026-11-01T00:00:00Z"
            ends = "2026-11-02T00:00:00Z"
            rings = ["prod"]
            [approval]
            standard_priorities = ["low"]
            "#,
        );
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.scanner_solutions, ScannerSolutions::SendToAgent);
        let prod = c.window_set("prod").unwrap_or_else(WindowSet::always);
        assert_eq!(prod.cutoff_minutes, 60);
        assert_eq!(prod.recurring.len(), 1);
        let names: Vec<&str> = prod.freezes.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["prod-only", "year-end"]);
        let dev = c.window_set("dev").unwrap_or_else(WindowSet::always);
        assert_eq!(dev.freezes.len(), 1, "prod-only does not apply to dev");
        assert_eq!(
            dev.freezes[0].starts_at,
            "2026-12-18T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            dev.freezes[0].ends_at,
            "2027-01-04T05:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(c.approval.standard_priorities, vec![Priority::Low]);
        assert!(c.needs_approval("prod"), "the last ring by default");
        assert!(!c.needs_approval("dev"));
        assert!(c.approval.package_needs_reboot("kernel"));
        assert!(c.approval.package_needs_reboot("kernel-core"));
        assert!(
            c.approval
                .package_needs_reboot("linux-image-6.1.0-18-amd64")
        );
        assert!(!c.approval.package_needs_reboot("openssl"));
        assert!(!c.approval.package_needs_reboot("kernelshark"));
    }

    #[test]
    fn bad_freezes_and_approval_rings_are_refused() {
        let freeze = |rings: Vec<String>, ends: &str| FreezeConfig {
            name: "f".into(),
            starts: "2026-12-19".into(),
            ends: ends.into(),
            timezone: None,
            rings,
        };
        check(
            "freeze on an unknown ring",
            |c| c.freezes = vec![freeze(vec!["production".into()], "2026-12-20")],
            ConfigError::Freeze(WindowError::BadFreeze {
                name: "f".into(),
                reason: "ring \"production\" is not configured".into(),
            }),
            "freezes: freeze \"f\": ring \"production\" is not configured",
        );
        check(
            "freeze ending before it starts",
            |c| c.freezes = vec![freeze(vec![], "2026-12-18")],
            ConfigError::Freeze(WindowError::BadFreeze {
                name: "f".into(),
                reason: "ends at 2026-12-18T00:00:00+00:00 which is not after its start 2026-12-19T00:00:00+00:00".into(),
            }),
            "freezes: freeze \"f\": ends at 2026-12-18T00:00:00+00:00 which is not after its start 2026-12-19T00:00:00+00:00",
        );
        check(
            "approval ring",
            |c| c.approval.rings = Some(vec!["production".into()]),
            ConfigError::UnknownApprovalRing {
                ring: "production".into(),
                rings: vec!["dev".into(), "test".into(), "staging".into(), "prod".into()],
            },
            "approval.rings: \"production\" is not one of the configured rings [\"dev\", \"test\", \"staging\", \"prod\"]",
        );
        check(
            "cutoff as long as the window",
            |c| {
                c.rings[0].windows = vec![WeeklyWindow {
                    days: vec![events::window::Day::Mon],
                    start: "02:00".into(),
                    duration_minutes: 60,
                }];
                c.rings[0].cutoff_minutes = 60;
            },
            ConfigError::Window {
                ring: "dev".into(),
                source: WindowError::CutoffTooLong {
                    cutoff_minutes: 60,
                    duration_minutes: 60,
                },
            },
            "rings: ring \"dev\": cutoff_minutes 60 leaves no start time in a window of 60 minutes",
        );
    }

    #[test]
    fn soak_end_adds_hours_and_saturates() {
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let r = RingConfig::always_open("a", 30);
        assert_eq!(
            r.soak_end(t),
            "2026-01-02T06:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            r.soak_end(DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
