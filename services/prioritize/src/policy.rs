//! The risk policy: how a finding's priority class and SLA are decided.
//!
//! A policy is a versioned TOML file; every key is optional and defaults to
//! DESIGN.md's table. An unknown key is an error that names it.
//!
//! ```toml
//! version = "default-1"
//! mode = "rules"        # or "ssvc": the CISA SSVC tree replaces rules 1-6 below
//!
//! [sla_hours]            # per class, in hours
//! critical = 72
//! high = 168             # 7 days
//! medium = 720           # 30 days
//! low = 2160             # 90 days
//!
//! [cvss]                 # base class from the CVSS score of the best vector
//! critical = 9.0
//! high = 7.0
//! medium = 4.0           # below: low
//!
//! [kev]                  # CISA KEV listed -> critical
//! enabled = true
//! due_date_caps_sla = true
//!
//! [exploited_advisory]   # a vendor advisory (CSAF/OSV) states exploitation -> critical
//! enabled = true
//!
//! [epss]                 # FIRST EPSS probability >= threshold -> raise one class
//! enabled = true
//! probability_threshold = 0.10
//! # percentile_threshold = 0.95  # optional: a percentile >= this raises too (off by default)
//!
//! [exposure]             # internet-facing asset -> raise one class
//! enabled = true
//!
//! [tier]                 # asset criticality
//! enabled = true
//! raise_tiers = [1]      # raise one class
//! lower_tiers = [4]      # lower one class
//!
//! [ring]                 # non-production rings
//! lower_rings = []       # e.g. ["dev", "test"]: lower one class (none by default)
//!
//! [adjustments]
//! max_raise_classes = 1  # epss + exposure + tier + ring together move at most this far up
//!
//! [sla_clock]            # how a new decision on the same clock moves due_at
//! lowering_keeps_due_at = true  # a lowered class keeps the earlier deadline
//!
//! [ssvc]                 # used when mode = "ssvc" (see crate::ssvc)
//! poc_epss_probability = 0.10       # EPSS >= this -> exploitation poc (KEV -> active)
//! technical_impact_total = "all_high" # or "any_high": which C/I/A highs make it total
//!
//! [ssvc.mission_wellbeing]          # Mission & Well-being per asset tier
//! tier_1 = "high"
//! tier_2 = "medium"
//! tier_3 = "medium"
//! tier_4 = "low"
//! unknown = "medium"
//!
//! [ssvc.priority]                   # SSVC decision -> priority class
//! act = "critical"
//! attend = "high"
//! track_star = "medium"
//! track = "low"
//!
//! [emergency]            # the zero-day lane's timers, hours from the declaration
//! assess_hours = 4
//! test_ring_hours = 24
//! production_hours = 72
//! test_ring = "test"     # its validation meets the test-ring stage
//! production_ring = "prod"
//! ```
//!
//! # Order of the rules (fixed)
//!
//! 1. **Base class** (`cvss_class`): from the score of the best vector,
//!    preferring CVSS v4.0, then v3.1, then v3.0, then v2 (the newest
//!    specification describes the finding best); among vectors of that
//!    version the highest score (the conservative reading). The score
//!    computed from the vector wins over any score the scanner printed.
//!    Thresholds apply to the score whatever the version. Without a
//!    scorable vector, the scanner's severity maps to the class of the same
//!    name (`scanner_severity`; `info` → low).
//! 2. **EPSS** (`epss`): the highest EPSS *probability* among the finding's
//!    CVEs ≥ `probability_threshold` → raise one class. The percentile is a
//!    rank, never compared with the probability threshold; only a policy
//!    that sets `percentile_threshold` also raises when that reading's
//!    percentile is ≥ it (one raise either way).
//! 3. **Exposure** (`exposure`): asset `internet_facing = true` → raise one
//!    class (unknown exposure changes nothing).
//! 4. **Tier** (`tier`): tier in `raise_tiers` → raise one class; in
//!    `lower_tiers` → lower one class (unknown tier changes nothing).
//!    **Ring** (`ring`): asset ring in `ring.lower_rings` (non-production
//!    rings such as `dev`, `test`) → lower one class (unknown ring, or an
//!    empty list as by default, changes nothing).
//! 5. **Cap** (`raise_cap`): the net move of rules 2–4 (raises minus
//!    lowers) is at most `max_raise_classes` up; lowers are never capped.
//! 6. **KEV** (`kev`): a CVE listed in the CISA KEV catalog → critical,
//!    whatever the rules above said ("exploited in the wild → critical").
//! 7. **Exploited advisory** (`exploited_advisory`): a CVE a vendor
//!    advisory (CSAF 2.0 or OSV, `patch.bulletin.advisory`) states is
//!    exploited in the wild → critical, like KEV; it moves no deadline
//!    (an advisory has no due date).
//!
//! # SLA clock
//!
//! `due_at = first_observed_at + sla_hours[class]` (exact UTC hours), moved
//! earlier by a KEV due date; a later decision on the same clock keeps the
//! earlier deadline, so a raise shortens and a lowering never extends —
//! unless `sla_clock.lowering_keeps_due_at = false`, which lets a *lowered*
//! class take its own SLA from the same start. See [`crate::stage::decide`].
//!
//! # SSVC mode
//!
//! With `mode = "ssvc"`, the CISA SSVC deployer decision tree (CISA SSVC
//! guide, 2022) decides the class instead of rules 1–6: exploitation
//! (KEV → active, EPSS ≥ `ssvc.poc_epss_probability` → poc, else none),
//! automatable and technical impact (from the best CVSS vector), mission &
//! well-being (from the asset tier) → Track / Track* / Attend / Act → a
//! class through `[ssvc.priority]`. `sla_hours`, `kev.due_date_caps_sla`
//! and the SLA clock apply as in the rules mode; `kev.enabled = false`
//! hides KEV from the tree too. A vendor advisory stating exploitation
//! (rule 7, when enabled) makes exploitation `active` there, as KEV does. See
//! [`crate::ssvc`] for every derivation.

use serde::{Deserialize, Serialize};

use events::Priority;

/// Why a policy could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The TOML does not parse or has an unknown key (named in the message).
    #[error("policy: {0}")]
    Parse(String),
    /// A value is out of range.
    #[error("policy {field}: {reason}")]
    Invalid {
        /// Dotted key (`epss.probability_threshold`).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The risk policy. See the module docs for keys, defaults and rule order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The policy's version string, recorded on every decision
    /// (default `default-1`).
    pub version: String,
    /// SLA per class, in hours.
    pub sla_hours: SlaHours,
    /// Base-class thresholds on the CVSS score.
    pub cvss: CvssThresholds,
    /// The CISA KEV rule.
    pub kev: KevRule,
    /// The exploited-by-advisory rule.
    pub exploited_advisory: ExploitedAdvisoryRule,
    /// The FIRST EPSS rule.
    pub epss: EpssRule,
    /// The internet-exposure rule.
    pub exposure: ExposureRule,
    /// The asset-tier rule.
    pub tier: TierRule,
    /// The non-production ring rule.
    pub ring: RingRule,
    /// Limits on combined adjustments.
    pub adjustments: Adjustments,
    /// How a later decision on the same SLA clock moves `due_at`.
    pub sla_clock: SlaClockRule,
    /// Which decision procedure sets the class: the rule list (default) or
    /// the CISA SSVC tree.
    pub mode: PolicyMode,
    /// The SSVC tree's derivations and class mapping (used in
    /// [`PolicyMode::Ssvc`]).
    pub ssvc: crate::ssvc::SsvcRule,
    /// The emergency lane's timers and ring names (see [`crate::emergency`]).
    pub emergency: crate::emergency::EmergencyRule,
}

/// How a policy decides the priority class (`mode` in the file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// The rule list of this module: CVSS class, EPSS, exposure, tier, cap,
    /// KEV (`rules`).
    #[default]
    Rules,
    /// The CISA SSVC deployer decision tree (`ssvc`), see [`crate::ssvc`].
    Ssvc,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: "default-1".to_owned(),
            sla_hours: SlaHours::default(),
            cvss: CvssThresholds::default(),
            kev: KevRule::default(),
            exploited_advisory: ExploitedAdvisoryRule::default(),
            epss: EpssRule::default(),
            exposure: ExposureRule::default(),
            tier: TierRule::default(),
            ring: RingRule::default(),
            adjustments: Adjustments::default(),
            sla_clock: SlaClockRule::default(),
            mode: PolicyMode::default(),
            ssvc: crate::ssvc::SsvcRule::default(),
            emergency: crate::emergency::EmergencyRule::default(),
        }
    }
}

/// SLA per priority class, in hours (DESIGN.md: 72 h, 7 d, 30 d, 90 d).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaHours {
    /// Critical: default 72.
    pub critical: u32,
    /// High: default 168 (7 days).
    pub high: u32,
    /// Medium: default 720 (30 days).
    pub medium: u32,
    /// Low: default 2160 (90 days).
    pub low: u32,
}

impl Default for SlaHours {
    fn default() -> Self {
        SlaHours {
            critical: 72,
            high: 168,
            medium: 720,
            low: 2160,
        }
    }
}

impl SlaHours {
    /// The SLA of `priority`, in hours.
    pub fn of(&self, priority: Priority) -> u32 {
        match priority {
            Priority::Critical => self.critical,
            Priority::High => self.high,
            Priority::Medium => self.medium,
            Priority::Low => self.low,
        }
    }
}

/// Lowest CVSS score of each class (inclusive); below `medium` is low.
/// Defaults: 9.0, 7.0, 4.0 (DESIGN.md, matching the FIRST rating scale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CvssThresholds {
    /// Score at or above which the class is critical (default 9.0).
    pub critical: f64,
    /// Score at or above which the class is high (default 7.0).
    pub high: f64,
    /// Score at or above which the class is medium (default 4.0).
    pub medium: f64,
}

impl Default for CvssThresholds {
    fn default() -> Self {
        CvssThresholds {
            critical: 9.0,
            high: 7.0,
            medium: 4.0,
        }
    }
}

impl CvssThresholds {
    /// The class of a CVSS score (0.0–10.0).
    pub fn class(&self, score: f64) -> Priority {
        if score >= self.critical {
            Priority::Critical
        } else if score >= self.high {
            Priority::High
        } else if score >= self.medium {
            Priority::Medium
        } else {
            Priority::Low
        }
    }
}

/// CISA KEV: a listed CVE is being exploited in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KevRule {
    /// Listed → critical (default on).
    pub enabled: bool,
    /// The entry's `dueDate` (end of that day, UTC) caps `due_at` when it
    /// is earlier than the class SLA (default on).
    pub due_date_caps_sla: bool,
}

impl Default for KevRule {
    fn default() -> Self {
        KevRule {
            enabled: true,
            due_date_caps_sla: true,
        }
    }
}

/// A vendor advisory (CSAF 2.0 or OSV, `patch.bulletin.advisory` with
/// `exploited: true`) stating a CVE is exploited in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExploitedAdvisoryRule {
    /// Stated exploited → critical (default on).
    pub enabled: bool,
}

impl Default for ExploitedAdvisoryRule {
    fn default() -> Self {
        ExploitedAdvisoryRule { enabled: true }
    }
}

/// FIRST EPSS: probability of exploitation activity in the next 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpssRule {
    /// Raise one class when the probability reaches the threshold (default on).
    pub enabled: bool,
    /// Probability (0.0–1.0, never the percentile) at or above which the
    /// class is raised (default 0.10).
    pub probability_threshold: f64,
    /// Percentile (0.0–1.0, the rank among all scored CVEs) at or above
    /// which the class is raised too; `None` (default): the percentile is
    /// never used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile_threshold: Option<f64>,
}

impl Default for EpssRule {
    fn default() -> Self {
        EpssRule {
            enabled: true,
            probability_threshold: 0.10,
            percentile_threshold: None,
        }
    }
}

/// Network exposure from inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExposureRule {
    /// Raise one class for an internet-facing asset (default on).
    pub enabled: bool,
}

impl Default for ExposureRule {
    fn default() -> Self {
        ExposureRule { enabled: true }
    }
}

/// Asset criticality tier from inventory (1 = most critical … 4 = least).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TierRule {
    /// Apply the rule (default on).
    pub enabled: bool,
    /// Tiers raised one class (default `[1]`).
    pub raise_tiers: Vec<u8>,
    /// Tiers lowered one class (default `[4]`).
    pub lower_tiers: Vec<u8>,
}

impl Default for TierRule {
    fn default() -> Self {
        TierRule {
            enabled: true,
            raise_tiers: vec![1],
            lower_tiers: vec![4],
        }
    }
}

/// Non-production rings from inventory (the asset's `ring`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingRule {
    /// Rings whose assets are lowered one class (exact names, e.g. `dev`,
    /// `test`); default empty: DESIGN.md's table lowers no ring.
    pub lower_rings: Vec<String>,
}

/// How a later decision on the same SLA clock (same first observation)
/// moves the deadline. A raise always shortens it (never extends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaClockRule {
    /// A lowered class keeps the earlier deadline (default `true`); with
    /// `false` it takes its own SLA from the same start.
    pub lowering_keeps_due_at: bool,
}

impl Default for SlaClockRule {
    fn default() -> Self {
        SlaClockRule {
            lowering_keeps_due_at: true,
        }
    }
}

/// Limits on the combined effect of the EPSS, exposure, tier and ring rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adjustments {
    /// Most classes the net of those rules may move a finding up (default 1).
    /// KEV is not an adjustment: it sets critical.
    pub max_raise_classes: u8,
}

impl Default for Adjustments {
    fn default() -> Self {
        Adjustments {
            max_raise_classes: 1,
        }
    }
}

impl Policy {
    /// Parses and validates a policy file's text.
    ///
    /// # Errors
    /// [`PolicyError::Parse`] for bad TOML or an unknown key (the message
    /// names the key and lists the expected ones); [`PolicyError::Invalid`]
    /// as [`Policy::validate`].
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks ranges: a non-empty version; every SLA > 0 hours; CVSS
    /// thresholds within 0–10 with critical ≥ high ≥ medium; the EPSS and
    /// SSVC PoC thresholds within (0, 1]; tiers within 1–4 and not both
    /// raised and lowered.
    ///
    /// # Errors
    /// [`PolicyError::Invalid`] naming the key.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |field, reason: &str| {
            Err(PolicyError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.version.trim().is_empty() {
            return invalid("version", "must not be empty");
        }
        for (field, hours) in [
            ("sla_hours.critical", self.sla_hours.critical),
            ("sla_hours.high", self.sla_hours.high),
            ("sla_hours.medium", self.sla_hours.medium),
            ("sla_hours.low", self.sla_hours.low),
        ] {
            if hours == 0 {
                return invalid(field, "must be at least 1 hour");
            }
        }
        let t = self.cvss;
        for (field, v) in [
            ("cvss.critical", t.critical),
            ("cvss.high", t.high),
            ("cvss.medium", t.medium),
        ] {
            if !(0.0..=10.0).contains(&v) {
                return invalid(field, &format!("{v} is outside 0.0..10.0"));
            }
        }
        if !(t.critical >= t.high && t.high >= t.medium) {
            return invalid("cvss", "thresholds must satisfy critical >= high >= medium");
        }
        let p = self.epss.probability_threshold;
        if !(p > 0.0 && p <= 1.0) {
            return invalid(
                "epss.probability_threshold",
                &format!("{p} is outside (0, 1]: it is a probability, not a percentage"),
            );
        }
        if let Some(p) = self.epss.percentile_threshold
            && !(p > 0.0 && p <= 1.0)
        {
            return invalid(
                "epss.percentile_threshold",
                &format!("{p} is outside (0, 1]: it is a fraction, not a percentage"),
            );
        }
        if let Some(bad) = self.ring.lower_rings.iter().find(|r| r.trim().is_empty()) {
            return invalid("ring.lower_rings", &format!("{bad:?} is not a ring name"));
        }
        let p = self.ssvc.poc_epss_probability;
        if !(p > 0.0 && p <= 1.0) {
            return invalid(
                "ssvc.poc_epss_probability",
                &format!("{p} is outside (0, 1]: it is a probability, not a percentage"),
            );
        }
        for (field, tiers) in [
            ("tier.raise_tiers", &self.tier.raise_tiers),
            ("tier.lower_tiers", &self.tier.lower_tiers),
        ] {
            if let Some(bad) = tiers.iter().find(|t| !(1..=4).contains(*t)) {
                return invalid(field, &format!("tier {bad} is outside 1..4"));
            }
        }
        if let Some(both) = self
            .tier
            .raise_tiers
            .iter()
            .find(|t| self.tier.lower_tiers.contains(t))
        {
            return invalid(
                "tier",
                &format!("tier {both} is in both raise_tiers and lower_tiers"),
            );
        }
        self.emergency.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_design_defaults() {
        let p = Policy::from_toml("").unwrap();
        assert_eq!(p, Policy::default());
        assert_eq!(p.version, "default-1");
        assert_eq!(
            Priority::ALL.map(|c| p.sla_hours.of(c)),
            [72, 168, 720, 2160]
        );
        assert_eq!(
            [10.0, 9.0, 8.9, 7.0, 6.9, 4.0, 3.9, 0.0].map(|s| p.cvss.class(s)),
            [
                Priority::Critical,
                Priority::Critical,
                Priority::High,
                Priority::High,
                Priority::Medium,
                Priority::Medium,
                Priority::Low,
                Priority::Low
            ]
        );
        assert!(p.kev.enabled && p.kev.due_date_caps_sla);
        assert!(p.epss.enabled);
        assert_eq!(p.epss.probability_threshold, 0.10);
        assert!(p.exposure.enabled && p.tier.enabled);
        assert_eq!((p.tier.raise_tiers, p.tier.lower_tiers), (vec![1], vec![4]));
        assert_eq!(p.adjustments.max_raise_classes, 1);
    }

    #[test]
    fn the_module_example_parses_to_the_defaults() {
        let doc = include_str!("policy.rs")
            .split("//! ```toml\n")
            .nth(1)
            .and_then(|s| s.split("//! ```\n").next())
            .unwrap()
            .lines()
            .map(|l| l.trim_start_matches("//!").trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(Policy::from_toml(&doc).unwrap(), Policy::default());
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let p = Policy::from_toml(
            "version = \"oc08\"\n[epss]\nprobability_threshold = 0.2\n[exposure]\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(p.version, "oc08");
        assert_eq!(p.epss.probability_threshold, 0.2);
        assert!(p.epss.enabled);
        assert!(!p.exposure.enabled);
        assert_eq!(p.sla_hours, SlaHours::default());
    }

    #[test]
    fn errors_name_the_key() {
        let table: &[(&str, &str)] = &[
            ("versoin = \"x\"", "unknown field `versoin`"),
            ("[epss]\nthreshold = 0.1", "unknown field `threshold`"),
            (
                "[sla_hours]\ncritical = \"72h\"",
                "invalid type: string \"72h\"",
            ),
            (
                "[sla_hours]\nhigh = 0",
                "policy sla_hours.high: must be at least 1 hour",
            ),
            (
                "[epss]\nprobability_threshold = 10",
                "policy epss.probability_threshold: 10 is outside (0, 1]",
            ),
            (
                "[cvss]\nhigh = 9.5",
                "policy cvss: thresholds must satisfy critical >= high >= medium",
            ),
            (
                "[tier]\nraise_tiers = [0]",
                "policy tier.raise_tiers: tier 0 is outside 1..4",
            ),
            (
                "[tier]\nraise_tiers = [1, 4]",
                "policy tier: tier 4 is in both raise_tiers and lower_tiers",
            ),
            ("version = \"\"", "policy version: must not be empty"),
        ];
        for (text, want) in table {
            let err = Policy::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
