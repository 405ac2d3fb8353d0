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
//! windows = []                   # empty = always open
//!
//! [rollout]                      # any subset; missing fields keep their defaults
//! batch_percent = 20
//! ```
//!
//! [`Config::validate`] checks it once at the edge; the stage functions assume
//! a validated configuration but still return [`ConfigError`] instead of
//! panicking when handed one that is not.

use chrono::{DateTime, Duration, Utc};
use events::{RolloutPolicy, WeeklyWindow, WindowError, WindowSet};
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
    /// Weekly maintenance windows; empty (the default) = always open.
    #[serde(default)]
    pub windows: Vec<WeeklyWindow>,
    /// IANA time zone of this ring's windows, overriding [`Config::timezone`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
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
            timezone: None,
        }
    }

    /// The ring's windows as an [`events::WindowSet`], in the ring's own time
    /// zone or else `default_timezone` (the top-level [`Config::timezone`]).
    pub fn window_set(&self, default_timezone: &str) -> WindowSet {
        WindowSet {
            timezone: self
                .timezone
                .clone()
                .unwrap_or_else(|| default_timezone.to_owned()),
            windows: self.windows.clone(),
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
}

impl Config {
    /// Checks the whole configuration: at least one ring, valid and unique
    /// ring names, soak times within 0–8760 hours, known IANA time zones
    /// (top level and per ring), valid windows, a `default_ring` that is one
    /// of the rings, a sane rollout policy (`batch_percent` 1–100,
    /// `max_failed_percent` 0–100, `result_timeout_secs` ≥ 1) and a non-zero
    /// tick interval.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        WindowSet {
            timezone: self.timezone.clone(),
            windows: Vec::new(),
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
        Ok(())
    }

    /// The ring named `name`, if configured.
    pub fn ring(&self, name: &str) -> Option<&RingConfig> {
        self.rings.iter().find(|r| r.name == name)
    }

    /// The position of ring `name` in the rollout order (0 = first).
    pub fn ring_index(&self, name: &str) -> Option<usize> {
        self.rings.iter().position(|r| r.name == name)
    }

    /// The window set of ring `name` (its own time zone or the top-level
    /// one), if the ring is configured.
    pub fn window_set(&self, name: &str) -> Option<WindowSet> {
        self.ring(name).map(|r| r.window_set(&self.timezone))
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
