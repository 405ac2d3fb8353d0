//! The gate's configuration: which health checks run after a wave, and in
//! which rings.
//!
//! In the service's TOML section:
//!
//! ```toml
//! [[checks]]
//! name = "storefront"
//! kind = "http"
//! url = "https://shop.example.com/healthz"
//! expect_status = 200      # default 200
//! timeout_ms = 3000        # default 5000
//! rings = ["staging", "prod"]   # default: every ring
//!
//! [[checks]]
//! name = "postgres"
//! kind = "tcp"
//! addr = "db.internal:5432"
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default status an HTTP check expects.
pub const DEFAULT_EXPECT_STATUS: u16 = 200;
/// Default probe timeout, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

fn default_expect_status() -> u16 {
    DEFAULT_EXPECT_STATUS
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// What a check probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// An HTTP GET of `url`; passes when the status equals `expect_status`.
    Http,
    /// A TCP connect to `addr`; passes when the connection is accepted.
    Tcp,
}

impl CheckKind {
    /// `http` or `tcp`, as in [`events::CheckResult::kind`].
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "http",
            CheckKind::Tcp => "tcp",
        }
    }

    /// The target field this kind needs: `url` or `addr`.
    fn target_field(self) -> &'static str {
        match self {
            CheckKind::Http => "url",
            CheckKind::Tcp => "addr",
        }
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique name, reported in [`events::CheckResult::name`].
    pub name: String,
    /// `http` or `tcp`.
    pub kind: CheckKind,
    /// For `http`: an absolute `http://` or `https://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For `tcp`: `host:port` (`db.internal:5432`, `10.0.0.5:22`, `[::1]:80`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// For `http`: the status that passes (default 200; 100–599). Redirects
    /// are not followed, so a 301 is seen as 301.
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
    /// How long the probe may take, in milliseconds (default 5000; > 0).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Rings the check gates; empty (the default) means every ring.
    #[serde(default)]
    pub rings: Vec<String>,
}

impl CheckConfig {
    /// The probed target: `url` for http, `addr` for tcp (empty when the
    /// configuration lacks it; [`Config::validate`] rejects that).
    pub fn target(&self) -> &str {
        match self.kind {
            CheckKind::Http => self.url.as_deref(),
            CheckKind::Tcp => self.addr.as_deref(),
        }
        .unwrap_or_default()
    }

    /// `timeout_ms` as a [`Duration`].
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Whether the check gates `ring` (its `rings` is empty or names it).
    pub fn applies_to(&self, ring: &str) -> bool {
        self.rings.is_empty() || self.rings.iter().any(|r| r == ring)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let name = &self.name;
        let (wanted, unwanted, unwanted_field) = match self.kind {
            CheckKind::Http => (&self.url, &self.addr, "addr"),
            CheckKind::Tcp => (&self.addr, &self.url, "url"),
        };
        if unwanted.is_some() {
            return Err(ConfigError::UnexpectedField {
                name: name.clone(),
                kind: self.kind,
                field: unwanted_field,
            });
        }
        let Some(target) = wanted.as_deref() else {
            return Err(ConfigError::MissingTarget {
                name: name.clone(),
                kind: self.kind,
                field: self.kind.target_field(),
            });
        };
        match self.kind {
            CheckKind::Http => check_url(target).map_err(|reason| ConfigError::BadUrl {
                name: name.clone(),
                url: target.to_owned(),
                reason,
            })?,
            CheckKind::Tcp => check_addr(target).map_err(|reason| ConfigError::BadAddr {
                name: name.clone(),
                addr: target.to_owned(),
                reason,
            })?,
        }
        if !(100..=599).contains(&self.expect_status) {
            return Err(ConfigError::BadStatus {
                name: name.clone(),
                status: self.expect_status,
            });
        }
        if self.timeout_ms == 0 {
            return Err(ConfigError::ZeroTimeout { name: name.clone() });
        }
        Ok(())
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("no host".to_owned());
    }
    Ok(())
}

fn check_addr(addr: &str) -> Result<(), String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err("expected host:port".to_owned());
    };
    if host.is_empty() || host == "[]" {
        return Err("no host before the port".to_owned());
    }
    match port.parse::<u16>() {
        Ok(0) => Err("port 0 cannot be probed".to_owned()),
        Ok(_) => Ok(()),
        Err(_) => Err(format!("port {port:?} is not a number from 1 to 65535")),
    }
}

/// Why a gate configuration cannot be used. Each names the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A check has an empty name.
    #[error("check #{index} has an empty name")]
    EmptyName {
        /// Position in `checks`, from 1.
        index: usize,
    },
    /// Two checks share a name.
    #[error("check name {0:?} is used twice")]
    DuplicateName(String),
    /// The target field of the kind is missing.
    #[error("check {name:?}: kind {kind} needs `{field}`")]
    MissingTarget {
        /// The check.
        name: String,
        /// Its kind.
        kind: CheckKind,
        /// The missing field (`url` or `addr`).
        field: &'static str,
    },
    /// The other kind's target field is set.
    #[error("check {name:?}: kind {kind} does not take `{field}`")]
    UnexpectedField {
        /// The check.
        name: String,
        /// Its kind.
        kind: CheckKind,
        /// The field that does not belong (`url` or `addr`).
        field: &'static str,
    },
    /// `url` is not an absolute http(s) URL with a host.
    #[error("check {name:?}: url {url:?} is not usable: {reason}")]
    BadUrl {
        /// The check.
        name: String,
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `addr` is not `host:port`.
    #[error("check {name:?}: addr {addr:?} is not usable: {reason}")]
    BadAddr {
        /// The check.
        name: String,
        /// The address given.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `expect_status` is outside 100–599.
    #[error("check {name:?}: expect_status {status} is not an HTTP status (100-599)")]
    BadStatus {
        /// The check.
        name: String,
        /// The status given.
        status: u16,
    },
    /// `timeout_ms` is 0.
    #[error("check {name:?}: timeout_ms must be greater than 0")]
    ZeroTimeout {
        /// The check.
        name: String,
    },
}

/// The gate's configuration: the health checks run after every wave.
///
/// No checks (the default) means the gate decides on the agents' read-back
/// alone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Health checks, in the order they are reported.
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
}

impl Config {
    /// Checks every check is usable.
    ///
    /// # Errors
    /// The first [`ConfigError`] found: an empty or repeated name, a missing
    /// `url` (http) or `addr` (tcp) or one that does not parse, the other
    /// kind's field set, a status outside 100–599, a zero timeout.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, check) in self.checks.iter().enumerate() {
            if check.name.trim().is_empty() {
                return Err(ConfigError::EmptyName { index: i + 1 });
            }
            if !seen.insert(check.name.as_str()) {
                return Err(ConfigError::DuplicateName(check.name.clone()));
            }
            check.validate()?;
        }
        Ok(())
    }

    /// The checks that gate `ring`, in configuration order.
    pub fn checks_for_ring<'a>(&'a self, ring: &'a str) -> impl Iterator<Item = &'a CheckConfig> {
        self.checks.iter().filter(move |c| c.applies_to(ring))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    const GOOD: &str = r#"
        [[checks]]
        name = "storefront"
        kind = "http"
        url = "https://shop.example.com/healthz"
        rings = ["staging", "prod"]

        [[checks]]
        name = "postgres"
        kind = "tcp"
        addr = "db.internal:5432"
        timeout_ms = 250

        [[checks]]
        name = "v6"
        kind = "tcp"
        addr = "[::1]:80"
        rings = ["dev"]
    "#;

    #[test]
    fn a_good_config_parses_with_defaults() {
        let cfg = parse(GOOD).unwrap();
        let web = cfg.checks.first().unwrap();
        assert_eq!(web.kind, CheckKind::Http);
        assert_eq!(web.target(), "https://shop.example.com/healthz");
        assert_eq!(web.expect_status, 200);
        assert_eq!(web.timeout(), Duration::from_millis(5000));
        let db = cfg.checks.get(1).unwrap();
        assert_eq!(db.target(), "db.internal:5432");
        assert_eq!(db.timeout(), Duration::from_millis(250));
        assert!(db.rings.is_empty());
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn checks_for_ring_keeps_every_ring_checks_and_the_named_ones() {
        let cfg = parse(GOOD).unwrap();
        let names = |ring| {
            cfg.checks_for_ring(ring)
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("prod"), ["storefront", "postgres"]);
        assert_eq!(names("dev"), ["postgres", "v6"]);
        assert_eq!(names("test"), ["postgres"]);
    }

    #[test]
    fn bad_configs_are_rejected_with_a_clear_message() {
        let one = |body: &str| format!("[[checks]]\nname = \"c\"\n{body}");
        let cases = [
            (one("kind = \"http\""), "check \"c\": kind http needs `url`"),
            (one("kind = \"tcp\""), "check \"c\": kind tcp needs `addr`"),
            (
                one("kind = \"tcp\"\naddr = \"db:5432\"\nurl = \"http://x/\""),
                "check \"c\": kind tcp does not take `url`",
            ),
            (
                one("kind = \"http\"\nurl = \"shop.example.com/healthz\""),
                "check \"c\": url \"shop.example.com/healthz\" is not usable: relative URL without a base",
            ),
            (
                one("kind = \"http\"\nurl = \"ftp://files/\""),
                "check \"c\": url \"ftp://files/\" is not usable: scheme \"ftp\" is not http or https",
            ),
            (
                one("kind = \"tcp\"\naddr = \"db\""),
                "check \"c\": addr \"db\" is not usable: expected host:port",
            ),
            (
                one("kind = \"tcp\"\naddr = \":5432\""),
                "check \"c\": addr \":5432\" is not usable: no host before the port",
            ),
            (
                one("kind = \"tcp\"\naddr = \"db:70000\""),
                "check \"c\": addr \"db:70000\" is not usable: port \"70000\" is not a number from 1 to 65535",
            ),
            (
                one("kind = \"http\"\nurl = \"http://x/\"\nexpect_status = 42"),
                "check \"c\": expect_status 42 is not an HTTP status (100-599)",
            ),
            (
                one("kind = \"tcp\"\naddr = \"db:1\"\ntimeout_ms = 0"),
                "check \"c\": timeout_ms must be greater than 0",
            ),
            (
                format!(
                    "{}\n{}",
                    one("kind = \"tcp\"\naddr = \"db:1\""),
                    one("kind = \"tcp\"\naddr = \"db:2\"")
                ),
                "check name \"c\" is used twice",
            ),
            (
                "[[checks]]\nname = \" \"\nkind = \"tcp\"\naddr = \"db:1\"".to_owned(),
                "check #1 has an empty name",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(&text), Err(want.to_owned()), "{text}");
        }
        // Shape errors come from serde with the field named.
        let err = parse(&one("kind = \"icmp\"\naddr = \"db:1\"")).unwrap_err();
        assert!(err.contains("unknown variant `icmp`"), "{err}");
        let err = parse(&one("kind = \"tcp\"\naddr = \"db:1\"\nport = 1")).unwrap_err();
        assert!(err.contains("unknown field `port`"), "{err}");
    }
}
