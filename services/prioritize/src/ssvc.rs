//! The CISA SSVC deployer decision tree: an alternative to the rule list of
//! [`crate::policy`] (`mode = "ssvc"` in the policy file).
//!
//! Source: CISA, *Stakeholder-Specific Vulnerability Categorization Guide*,
//! November 2022 (<https://www.cisa.gov/ssvc>), which adapts the CERT/CC
//! SSVC model. Four decision points lead to one of four decisions:
//!
//! | decision point | values | how patchflow derives it |
//! |---|---|---|
//! | Exploitation | none, poc, active | **active** when a CVE of the finding is in the CISA KEV catalog (KEV lists vulnerabilities with reliable evidence of exploitation in the wild) or a vendor advisory (a CSAF 2.0 `exploit_status` threat, an OSV record) states it exploited in the wild, with the policy's `exploited_advisory` rule enabled; else **poc** when the highest FIRST EPSS probability among its CVEs is at least `ssvc.poc_epss_probability` (EPSS models exploitation activity; a high probability stands in for CISA's "public PoC or well-known method"); else **none** |
//! | Automatable | yes, no | from the scored CVSS vector's base metrics: **yes** when the attack is network-borne, low in complexity and needs neither privileges nor a user: v3.x `AV:N/AC:L/PR:N/UI:N`; v4.0 the same plus `AT:N` (v4.0 split attack requirements out of v3's attack complexity); v2.0 `AV:N/AC:L/Au:N` (v2 has no user interaction metric). Otherwise, or without a scorable vector, **no** |
//! | Technical Impact | partial, total | from the vector's impact on the vulnerable system (v3 `C/I/A`, v4 `VC/VI/VA`, v2 `C/I/A` with `C` = complete as high): with `technical_impact_total = "all_high"` (default) **total** when all three are high, the "total control" reading; with `"any_high"` when any one is (also counting "total disclosure"). Otherwise, or without a vector, **partial** |
//! | Mission & Well-being | low, medium, high | from the asset's criticality tier through `[ssvc.mission_wellbeing]` (default tier 1 high, tiers 2–3 medium, tier 4 low, unknown medium) |
//!
//! The tree itself ([`decide_tree`]) is CISA's table, all 36 combinations.
//! Its decision maps to a priority class through `[ssvc.priority]`
//! (default Act → critical, Attend → high, Track* → medium, Track → low),
//! and the class's SLA applies as in the rules mode. SSVC has no "unknown"
//! values on purpose (CISA/CERT/CC ask for an explicit assumption): the
//! assumptions above are recorded in the decision's reasons.

use serde::{Deserialize, Serialize};

use events::{Asset, CvssVersion, EpssInput, KevInput, Priority, ScoredCvss};

/// Exploitation: the present state of exploitation of the vulnerability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exploitation {
    /// No evidence of active exploitation and no public proof of concept.
    None,
    /// A public proof of concept or a well-known method of exploitation.
    Poc,
    /// Reliable evidence of exploitation in the wild.
    Active,
}

/// Technical impact of exploiting the vulnerability on the affected system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TechnicalImpact {
    /// Limited control or information exposure.
    Partial,
    /// Total control of the software's behaviour, or total disclosure.
    Total,
}

/// Mission prevalence and public well-being impact combined (CISA's
/// "Mission & Well-being").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissionWellbeing {
    /// Minimal mission prevalence and minimal well-being impact.
    Low,
    /// Support-level prevalence or material well-being impact.
    Medium,
    /// Essential to the mission or irreversible well-being impact.
    High,
}

/// The SSVC decision (CISA 2022, section "Decisions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SsvcDecision {
    /// No action now; remediate within standard update timelines.
    #[serde(rename = "track")]
    Track,
    /// Track, with characteristics that call for closer monitoring.
    #[serde(rename = "track*")]
    TrackStar,
    /// Needs supervisory attention; remediate sooner than standard timelines.
    #[serde(rename = "attend")]
    Attend,
    /// Needs leadership attention; remediate as soon as possible.
    #[serde(rename = "act")]
    Act,
}

impl Exploitation {
    /// `none`, `poc` or `active`.
    pub fn as_str(self) -> &'static str {
        match self {
            Exploitation::None => "none",
            Exploitation::Poc => "poc",
            Exploitation::Active => "active",
        }
    }
}

impl TechnicalImpact {
    /// `partial` or `total`.
    pub fn as_str(self) -> &'static str {
        match self {
            TechnicalImpact::Partial => "partial",
            TechnicalImpact::Total => "total",
        }
    }
}

impl MissionWellbeing {
    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            MissionWellbeing::Low => "low",
            MissionWellbeing::Medium => "medium",
            MissionWellbeing::High => "high",
        }
    }
}

impl SsvcDecision {
    /// The name CISA prints: `Track`, `Track*`, `Attend` or `Act`.
    pub fn as_str(self) -> &'static str {
        match self {
            SsvcDecision::Track => "Track",
            SsvcDecision::TrackStar => "Track*",
            SsvcDecision::Attend => "Attend",
            SsvcDecision::Act => "Act",
        }
    }
}

/// CISA's SSVC decision tree (2022 guide; the same table CERT/CC publishes
/// as `cisa_coordinator_2_0_3.csv`): every combination of the four decision
/// points and its decision.
pub fn decide_tree(
    exploitation: Exploitation,
    automatable: bool,
    impact: TechnicalImpact,
    mission: MissionWellbeing,
) -> SsvcDecision {
    use Exploitation as E;
    use MissionWellbeing::{High, Low, Medium};
    use SsvcDecision::{Act, Attend, Track, TrackStar};
    use TechnicalImpact::{Partial, Total};
    match (exploitation, automatable, impact, mission) {
        (E::None, false, Partial, _) => Track,
        (E::None, false, Total, Low | Medium) => Track,
        (E::None, false, Total, High) => TrackStar,
        (E::None, true, _, Low | Medium) => Track,
        (E::None, true, _, High) => Attend,
        (E::Poc, false, Partial, Low | Medium) => Track,
        (E::Poc, false, Partial, High) => TrackStar,
        (E::Poc, false, Total, Low) => Track,
        (E::Poc, false, Total, Medium) => TrackStar,
        (E::Poc, false, Total, High) => Attend,
        (E::Poc, true, Partial, Low | Medium) => Track,
        (E::Poc, true, Partial, High) => Attend,
        (E::Poc, true, Total, Low) => Track,
        (E::Poc, true, Total, Medium) => TrackStar,
        (E::Poc, true, Total, High) => Attend,
        (E::Active, false, Partial, Low | Medium) => Track,
        (E::Active, false, Partial, High) => Attend,
        (E::Active, false, Total, Low) => Track,
        (E::Active, false, Total, Medium) => Attend,
        (E::Active, false, Total, High) => Act,
        (E::Active, true, Partial, Low | Medium) => Attend,
        (E::Active, true, Partial, High) => Act,
        (E::Active, true, Total, Low) => Attend,
        (E::Active, true, Total, Medium | High) => Act,
    }
}

/// How technical impact is read from the CVSS impact metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalImpactRule {
    /// Total when confidentiality, integrity and availability are all high
    /// (default: "total control").
    AllHigh,
    /// Total when any one of them is high (also "total disclosure").
    AnyHigh,
}

/// `[ssvc.mission_wellbeing]`: Mission & Well-being per asset tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissionByTier {
    /// Tier 1, the most critical (default high).
    pub tier_1: MissionWellbeing,
    /// Tier 2 (default medium).
    pub tier_2: MissionWellbeing,
    /// Tier 3 (default medium).
    pub tier_3: MissionWellbeing,
    /// Tier 4, the least critical (default low).
    pub tier_4: MissionWellbeing,
    /// An asset whose tier inventory does not state (default medium).
    pub unknown: MissionWellbeing,
}

impl Default for MissionByTier {
    fn default() -> Self {
        MissionByTier {
            tier_1: MissionWellbeing::High,
            tier_2: MissionWellbeing::Medium,
            tier_3: MissionWellbeing::Medium,
            tier_4: MissionWellbeing::Low,
            unknown: MissionWellbeing::Medium,
        }
    }
}

impl MissionByTier {
    /// Mission & Well-being of an asset tier (1–4; `None` or another value
    /// is `unknown`).
    pub fn of(&self, tier: Option<u8>) -> MissionWellbeing {
        match tier {
            Some(1) => self.tier_1,
            Some(2) => self.tier_2,
            Some(3) => self.tier_3,
            Some(4) => self.tier_4,
            _ => self.unknown,
        }
    }
}

/// `[ssvc.priority]`: the priority class of each decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionClasses {
    /// Act (default critical).
    pub act: Priority,
    /// Attend (default high).
    pub attend: Priority,
    /// Track* (default medium).
    pub track_star: Priority,
    /// Track (default low).
    pub track: Priority,
}

impl Default for DecisionClasses {
    fn default() -> Self {
        DecisionClasses {
            act: Priority::Critical,
            attend: Priority::High,
            track_star: Priority::Medium,
            track: Priority::Low,
        }
    }
}

impl DecisionClasses {
    /// The class of `decision`.
    pub fn of(&self, decision: SsvcDecision) -> Priority {
        match decision {
            SsvcDecision::Act => self.act,
            SsvcDecision::Attend => self.attend,
            SsvcDecision::TrackStar => self.track_star,
            SsvcDecision::Track => self.track,
        }
    }
}

/// `[ssvc]`: how the decision points are derived (used when the policy's
/// `mode` is `ssvc`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsvcRule {
    /// EPSS probability (0–1, never the percentile) at or above which
    /// exploitation is `poc` when no KEV entry makes it `active`
    /// (default 0.10).
    pub poc_epss_probability: f64,
    /// How technical impact is read (default `all_high`).
    pub technical_impact_total: TotalImpactRule,
    /// Mission & Well-being per asset tier.
    pub mission_wellbeing: MissionByTier,
    /// Priority class per decision.
    pub priority: DecisionClasses,
}

impl Default for SsvcRule {
    fn default() -> Self {
        SsvcRule {
            poc_epss_probability: 0.10,
            technical_impact_total: TotalImpactRule::AllHigh,
            mission_wellbeing: MissionByTier::default(),
            priority: DecisionClasses::default(),
        }
    }
}

/// The value of base metric `name` in a canonical vector (components after
/// an optional `CVSS:x.y` prefix), as written.
fn metric<'v>(vector: &'v str, name: &str) -> Option<&'v str> {
    vector
        .split('/')
        .filter_map(|c| c.split_once(':'))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn is(vector: &str, name: &str, value: &str) -> bool {
    metric(vector, name).is_some_and(|v| v.eq_ignore_ascii_case(value))
}

/// The base metric values that make a vector automatable (see the module
/// docs).
fn automatable_requires(version: CvssVersion) -> &'static [(&'static str, &'static str)] {
    match version {
        CvssVersion::V2 => &[("AV", "N"), ("AC", "L"), ("Au", "N")],
        CvssVersion::V3_0 | CvssVersion::V3_1 => {
            &[("AV", "N"), ("AC", "L"), ("PR", "N"), ("UI", "N")]
        }
        CvssVersion::V4_0 => &[
            ("AV", "N"),
            ("AC", "L"),
            ("AT", "N"),
            ("PR", "N"),
            ("UI", "N"),
        ],
    }
}

/// The impact metrics on the vulnerable system and the value that counts
/// as high (see the module docs).
fn impact_metrics(version: CvssVersion) -> (&'static [&'static str], &'static str) {
    match version {
        CvssVersion::V2 => (&["C", "I", "A"], "C"),
        CvssVersion::V3_0 | CvssVersion::V3_1 => (&["C", "I", "A"], "H"),
        CvssVersion::V4_0 => (&["VC", "VI", "VA"], "H"),
    }
}

/// Automatable and technical impact of a canonical vector in one pass over
/// its components, without explanations: the values [`automatable`] and
/// [`technical_impact`] give (a scored vector names each metric once).
pub fn vector_bits(
    version: CvssVersion,
    vector: &str,
    rule: TotalImpactRule,
) -> (bool, TechnicalImpact) {
    let required = automatable_requires(version);
    let (names, high) = impact_metrics(version);
    let (mut met, mut highs) = (0usize, 0usize);
    for (name, value) in vector.split('/').filter_map(|c| c.split_once(':')) {
        if required
            .iter()
            .any(|(n, v)| *n == name && value.eq_ignore_ascii_case(v))
        {
            met += 1;
        }
        if names.contains(&name) && value.eq_ignore_ascii_case(high) {
            highs += 1;
        }
    }
    let total = match rule {
        TotalImpactRule::AllHigh => highs == names.len(),
        TotalImpactRule::AnyHigh => highs > 0,
    };
    let impact = if total {
        TechnicalImpact::Total
    } else {
        TechnicalImpact::Partial
    };
    (met == required.len(), impact)
}

/// The decision points of the tree for one finding, its decision and class,
/// without the explanations [`classify`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Points {
    /// Exploitation (KEV → active, EPSS ≥ `poc_epss_probability` → poc).
    pub exploitation: Exploitation,
    /// Automatable (from the vector; no vector → no).
    pub automatable: bool,
    /// Technical impact (from the vector; no vector → partial).
    pub impact: TechnicalImpact,
    /// Mission & well-being (from the asset tier).
    pub mission: MissionWellbeing,
    /// CISA's decision.
    pub decision: SsvcDecision,
    /// The class it maps to through `[ssvc.priority]`.
    pub priority: Priority,
}

/// Runs the tree as [`classify`] does, from the values alone: `vector` is
/// [`vector_bits`] of the best scored vector (automatable, technical
/// impact), `epss_probability` the highest EPSS probability among the
/// finding's CVEs, `exploited` whether one of them is listed in KEV (with
/// the KEV rule enabled) or stated exploited by a vendor advisory (with
/// the `exploited_advisory` rule enabled), `tier` the asset's tier.
pub fn points(
    rule: &SsvcRule,
    vector: Option<(bool, TechnicalImpact)>,
    epss_probability: Option<f64>,
    exploited: bool,
    tier: Option<u8>,
) -> Points {
    let exploitation = if exploited {
        Exploitation::Active
    } else if epss_probability.is_some_and(|p| p >= rule.poc_epss_probability) {
        Exploitation::Poc
    } else {
        Exploitation::None
    };
    let (automatable, impact) = vector.unwrap_or((false, TechnicalImpact::Partial));
    let mission = rule.mission_wellbeing.of(tier);
    let decision = decide_tree(exploitation, automatable, impact, mission);
    Points {
        exploitation,
        automatable,
        impact,
        mission,
        decision,
        priority: rule.priority.of(decision),
    }
}

/// Automatable from a scored vector (see the module docs for the rule), with
/// the metrics that decided it.
pub fn automatable(cvss: &ScoredCvss) -> (bool, String) {
    let v = cvss.vector.as_str();
    let required = automatable_requires(cvss.version);
    let failing: Vec<String> = required
        .iter()
        .filter(|(name, value)| !is(v, name, value))
        .map(|(name, _)| format!("{name}:{}", metric(v, name).unwrap_or("?")))
        .collect();
    let wanted = required
        .iter()
        .map(|(n, val)| format!("{n}:{val}"))
        .collect::<Vec<_>>()
        .join(", ");
    if failing.is_empty() {
        (
            true,
            format!("CVSS {} vector has {wanted}", cvss.version.as_str()),
        )
    } else {
        (
            false,
            format!(
                "CVSS {} vector has {} (automatable needs {wanted})",
                cvss.version.as_str(),
                failing.join(", ")
            ),
        )
    }
}

/// Technical impact from a scored vector's impact metrics on the vulnerable
/// system (see the module docs), with the metrics read.
pub fn technical_impact(cvss: &ScoredCvss, rule: TotalImpactRule) -> (TechnicalImpact, String) {
    let v = cvss.vector.as_str();
    let (names, high) = impact_metrics(cvss.version);
    let highs = names.iter().filter(|n| is(v, n, high)).count();
    let total = match rule {
        TotalImpactRule::AllHigh => highs == names.len(),
        TotalImpactRule::AnyHigh => highs > 0,
    };
    let read = names
        .iter()
        .map(|n| format!("{n}:{}", metric(v, n).unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(", ");
    let rule_text = match rule {
        TotalImpactRule::AllHigh => "total when all three are high",
        TotalImpactRule::AnyHigh => "total when any one is high",
    };
    let impact = if total {
        TechnicalImpact::Total
    } else {
        TechnicalImpact::Partial
    };
    (impact, format!("{read} ({rule_text})"))
}

/// The decision points a vector gives, with their details.
#[derive(Debug, Clone)]
struct VectorPoints {
    automatable: bool,
    automatable_detail: String,
    impact: TechnicalImpact,
    impact_detail: String,
}

/// Vectors remembered per thread by [`vector_points`]; when full, the
/// memory is emptied and refills with the vectors in use.
const POINTS_CACHE_ENTRIES: usize = 16_384;

thread_local! {
    /// One map per [`TotalImpactRule`], keyed by the canonical vector.
    static POINTS_CACHE: std::cell::RefCell<[std::collections::HashMap<String, VectorPoints>; 2]> =
        std::cell::RefCell::new(Default::default());
}

/// [`automatable`] and [`technical_impact`] of a vector, memoized per thread
/// (a pure function of the vector and the rule; fleets repeat vectors).
fn vector_points(cvss: &ScoredCvss, rule: TotalImpactRule) -> VectorPoints {
    let slot = match rule {
        TotalImpactRule::AllHigh => 0,
        TotalImpactRule::AnyHigh => 1,
    };
    let hit = POINTS_CACHE.with(|c| {
        c.borrow()
            .get(slot)
            .and_then(|m| m.get(cvss.vector.as_str()))
            .cloned()
    });
    if let Some(hit) = hit {
        return hit;
    }
    let (automatable, automatable_detail) = automatable(cvss);
    let (impact, impact_detail) = technical_impact(cvss, rule);
    let points = VectorPoints {
        automatable,
        automatable_detail,
        impact,
        impact_detail,
    };
    POINTS_CACHE.with(|c| {
        if let Some(cache) = c.borrow_mut().get_mut(slot) {
            if cache.len() >= POINTS_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(cvss.vector.clone(), points.clone());
        }
    });
    points
}

/// Exploitation from the intel of the finding's CVEs (see the module docs),
/// with the evidence. `advisory` is the evidence of a vendor advisory
/// stating exploitation in the wild, when one does (and the policy's
/// `exploited_advisory` rule is enabled): active, as KEV.
pub fn exploitation(
    rule: &SsvcRule,
    kev: Option<&KevInput>,
    advisory: Option<String>,
    epss: Option<&EpssInput>,
) -> (Exploitation, String) {
    if let Some(evidence) = advisory.filter(|_| kev.is_none()) {
        return (Exploitation::Active, evidence);
    }
    if let Some(k) = kev {
        return (
            Exploitation::Active,
            format!(
                "{} is in the CISA KEV catalog {} (dateAdded {}, dueDate {}): exploited in the wild",
                k.cve, k.catalog_version, k.date_added, k.due_date
            ),
        );
    }
    match epss {
        Some(e) if e.probability >= rule.poc_epss_probability => (
            Exploitation::Poc,
            format!(
                "no KEV entry; EPSS probability {} for {} >= {} (score_date {})",
                e.probability,
                e.cve,
                rule.poc_epss_probability,
                e.score_date.format("%Y-%m-%d")
            ),
        ),
        Some(e) => (
            Exploitation::None,
            format!(
                "no KEV entry; EPSS probability {} for {} < {} (score_date {})",
                e.probability,
                e.cve,
                rule.poc_epss_probability,
                e.score_date.format("%Y-%m-%d")
            ),
        ),
        None => (
            Exploitation::None,
            "no KEV entry and no EPSS score for its CVEs".to_owned(),
        ),
    }
}

/// Runs the tree for one finding and reports each decision point through
/// `reason` (rules `ssvc_exploitation`, `ssvc_automatable`,
/// `ssvc_technical_impact`, `ssvc_mission_wellbeing`, `ssvc_decision`, in
/// that order); returns the priority class of the decision.
///
/// `kev` is only consulted when the caller's KEV rule is enabled (pass
/// `None` otherwise); `advisory` likewise with the `exploited_advisory`
/// rule (see [`exploitation`]).
pub fn classify(
    rule: &SsvcRule,
    cvss: Option<&ScoredCvss>,
    epss: Option<&EpssInput>,
    kev: Option<&KevInput>,
    advisory: Option<String>,
    asset: &Asset,
    reason: &mut impl FnMut(&str, String, String),
) -> Priority {
    let (exploitation, evidence) = exploitation(rule, kev, advisory, epss);
    reason(
        "ssvc_exploitation",
        format!("exploitation={}", exploitation.as_str()),
        evidence,
    );
    let from_vector = cvss.map(|v| vector_points(v, rule.technical_impact_total));
    let (automatable, auto_detail) = match &from_vector {
        Some(p) => (p.automatable, p.automatable_detail.clone()),
        None => (
            false,
            "no scorable CVSS vector: assumed not automatable".to_owned(),
        ),
    };
    reason(
        "ssvc_automatable",
        format!("automatable={}", if automatable { "yes" } else { "no" }),
        auto_detail,
    );
    let (impact, impact_detail) = match from_vector {
        Some(p) => (p.impact, p.impact_detail),
        None => (
            TechnicalImpact::Partial,
            "no scorable CVSS vector: assumed partial".to_owned(),
        ),
    };
    reason(
        "ssvc_technical_impact",
        format!("technical_impact={}", impact.as_str()),
        impact_detail,
    );
    let mission = rule.mission_wellbeing.of(asset.tier);
    reason(
        "ssvc_mission_wellbeing",
        format!("mission_wellbeing={}", mission.as_str()),
        match asset.tier {
            Some(t) => format!("asset {} is tier {t}", asset.asset_id),
            None => format!("asset {} has no tier: the policy's default", asset.asset_id),
        },
    );
    let decision = decide_tree(exploitation, automatable, impact, mission);
    let priority = rule.priority.of(decision);
    reason(
        "ssvc_decision",
        format!("priority={}", priority.as_str()),
        format!(
            "CISA SSVC tree (2022): exploitation {}, automatable {}, technical impact {}, mission & well-being {} -> {}, mapped to {}",
            exploitation.as_str(),
            if automatable { "yes" } else { "no" },
            impact.as_str(),
            mission.as_str(),
            decision.as_str(),
            priority.as_str()
        ),
    );
    priority
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    /// CISA's table as CERT/CC publishes it (`cisa_coordinator_2_0_3.csv`):
    /// exploitation, automatable, technical impact, mission & well-being,
    /// decision.
    const CISA_TABLE: &str = "\
none,no,partial,low,track
none,no,partial,medium,track
none,no,partial,high,track
none,no,total,low,track
none,no,total,medium,track
none,no,total,high,track*
none,yes,partial,low,track
none,yes,partial,medium,track
none,yes,partial,high,attend
none,yes,total,low,track
none,yes,total,medium,track
none,yes,total,high,attend
poc,no,partial,low,track
poc,no,partial,medium,track
poc,no,partial,high,track*
poc,no,total,low,track
poc,no,total,medium,track*
poc,no,total,high,attend
poc,yes,partial,low,track
poc,yes,partial,medium,track
poc,yes,partial,high,attend
poc,yes,total,low,track
poc,yes,total,medium,track*
poc,yes,total,high,attend
active,no,partial,low,track
active,no,partial,medium,track
active,no,partial,high,attend
active,no,total,low,track
active,no,total,medium,attend
active,no,total,high,act
active,yes,partial,low,attend
active,yes,partial,medium,attend
active,yes,partial,high,act
active,yes,total,low,attend
active,yes,total,medium,act
active,yes,total,high,act
";

    fn check(row: &str) {
        let cols: Vec<&str> = row.split(',').collect();
        let [e, a, t, m, want] = cols[..] else {
            panic!("bad row {row}");
        };
        let q = |s: &str| format!("\"{s}\"");
        let e: Exploitation = serde_json::from_str(&q(e)).unwrap();
        let t: TechnicalImpact = serde_json::from_str(&q(t)).unwrap();
        let m: MissionWellbeing = serde_json::from_str(&q(m)).unwrap();
        let want: SsvcDecision = serde_json::from_str(&q(want)).unwrap();
        assert_eq!(decide_tree(e, a == "yes", t, m), want, "{row}");
    }

    #[test]
    fn the_tree_is_cisas_table() {
        let rows: Vec<&str> = CISA_TABLE.lines().collect();
        assert_eq!(rows.len(), 36, "every combination once");
        for row in rows {
            check(row);
        }
    }

    fn scored(version: CvssVersion, vector: &str) -> ScoredCvss {
        ScoredCvss {
            version,
            vector: vector.to_owned(),
            base_score: 0.0,
            severity: events::Severity::Info,
            source: "nvd".to_owned(),
            reported_score_disagrees: None,
        }
    }

    #[test]
    fn automatable_rule_per_version() {
        let table: &[(CvssVersion, &str, bool, &str)] = &[
            (
                CvssVersion::V3_1,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                true,
                "CVSS 3.1 vector has AV:N, AC:L, PR:N, UI:N",
            ),
            (
                CvssVersion::V3_1,
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                false,
                "CVSS 3.1 vector has PR:L (automatable needs AV:N, AC:L, PR:N, UI:N)",
            ),
            (
                CvssVersion::V3_0,
                "CVSS:3.0/AV:A/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H",
                false,
                "CVSS 3.0 vector has AV:A, AC:H, UI:R (automatable needs AV:N, AC:L, PR:N, UI:N)",
            ),
            (
                CvssVersion::V4_0,
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                true,
                "CVSS 4.0 vector has AV:N, AC:L, AT:N, PR:N, UI:N",
            ),
            (
                CvssVersion::V4_0,
                "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                false,
                "CVSS 4.0 vector has AT:P (automatable needs AV:N, AC:L, AT:N, PR:N, UI:N)",
            ),
            (
                CvssVersion::V2,
                "AV:N/AC:L/Au:N/C:P/I:P/A:P",
                true,
                "CVSS 2.0 vector has AV:N, AC:L, Au:N",
            ),
            (
                CvssVersion::V2,
                "AV:N/AC:M/Au:N/C:P/I:P/A:P",
                false,
                "CVSS 2.0 vector has AC:M (automatable needs AV:N, AC:L, Au:N)",
            ),
            // Values are matched case-insensitively, as the scorer accepts them.
            (
                CvssVersion::V3_1,
                "CVSS:3.1/AV:n/AC:l/PR:n/UI:n/S:U/C:H/I:H/A:H",
                true,
                "CVSS 3.1 vector has AV:N, AC:L, PR:N, UI:N",
            ),
        ];
        for (version, vector, want, detail) in table {
            assert_eq!(
                automatable(&scored(*version, vector)),
                (*want, (*detail).to_owned()),
                "{vector}"
            );
        }
    }

    #[test]
    fn technical_impact_rule_per_version() {
        use TechnicalImpact::{Partial, Total};
        let table: &[(CvssVersion, &str, TechnicalImpact, TechnicalImpact)] = &[
            (
                CvssVersion::V3_1,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                Total,
                Total,
            ),
            (
                CvssVersion::V3_1,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                Partial,
                Total,
            ),
            (
                CvssVersion::V3_1,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L",
                Partial,
                Partial,
            ),
            (
                CvssVersion::V4_0,
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                Total,
                Total,
            ),
            // Subsequent-system impact does not count.
            (
                CvssVersion::V4_0,
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:H/SI:H/SA:H",
                Partial,
                Partial,
            ),
            (CvssVersion::V2, "AV:N/AC:L/Au:N/C:C/I:C/A:C", Total, Total),
            (
                CvssVersion::V2,
                "AV:N/AC:L/Au:N/C:P/I:C/A:P",
                Partial,
                Total,
            ),
        ];
        for (version, vector, all, any) in table {
            let v = scored(*version, vector);
            assert_eq!(
                technical_impact(&v, TotalImpactRule::AllHigh).0,
                *all,
                "{vector} all_high"
            );
            assert_eq!(
                technical_impact(&v, TotalImpactRule::AnyHigh).0,
                *any,
                "{vector} any_high"
            );
        }
        assert_eq!(
            technical_impact(
                &scored(
                    CvssVersion::V3_1,
                    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N"
                ),
                TotalImpactRule::AllHigh
            )
            .1,
            "C:H, I:L, A:N (total when all three are high)"
        );
    }

    #[test]
    fn exploitation_from_kev_and_epss() {
        let rule = SsvcRule::default();
        let kev = KevInput {
            cve: "CVE-2026-0001".to_owned(),
            date_added: NaiveDate::from_ymd_opt(2026, 2, 20).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 3, 13).unwrap(),
            known_ransomware: None,
            catalog_version: "2026.02.20".to_owned(),
        };
        let epss = |p: f64| EpssInput {
            cve: "CVE-2026-0001".to_owned(),
            probability: p,
            percentile: Some(0.9),
            score_date: "2026-02-28T00:00:00Z".parse().unwrap(),
            model_version: None,
        };
        let table: &[(Option<&KevInput>, Option<f64>, Exploitation, &str)] = &[
            (
                Some(&kev),
                Some(0.0001),
                Exploitation::Active,
                "CVE-2026-0001 is in the CISA KEV catalog 2026.02.20 (dateAdded 2026-02-20, dueDate 2026-03-13): exploited in the wild",
            ),
            (
                None,
                Some(0.1),
                Exploitation::Poc,
                "no KEV entry; EPSS probability 0.1 for CVE-2026-0001 >= 0.1 (score_date 2026-02-28)",
            ),
            (
                None,
                Some(0.0999),
                Exploitation::None,
                "no KEV entry; EPSS probability 0.0999 for CVE-2026-0001 < 0.1 (score_date 2026-02-28)",
            ),
            (
                None,
                None,
                Exploitation::None,
                "no KEV entry and no EPSS score for its CVEs",
            ),
        ];
        for (kev, p, want, detail) in table {
            let e = p.map(epss);
            assert_eq!(
                exploitation(&rule, *kev, None, e.as_ref()),
                (*want, (*detail).to_owned())
            );
        }
        // A vendor advisory stating exploitation makes it active, as KEV
        // does; with KEV too, KEV is the evidence cited.
        let stated = || Some("CVE-2026-0001 is stated exploited by RHSA-1".to_owned());
        assert_eq!(
            exploitation(&rule, None, stated(), Some(&epss(0.01))),
            (
                Exploitation::Active,
                "CVE-2026-0001 is stated exploited by RHSA-1".to_owned()
            )
        );
        let (with_kev, evidence) = exploitation(&rule, table[0].0, stated(), None);
        assert_eq!(with_kev, Exploitation::Active);
        assert!(evidence.contains("CISA KEV catalog"), "{evidence}");
        assert_eq!(
            points(&rule, None, Some(0.01), true, None).exploitation,
            Exploitation::Active
        );
    }

    /// Through [`crate::stage::decide`] with a policy file in SSVC mode.
    mod through_decide {
        use std::collections::HashMap;

        use chrono::{DateTime, Utc};
        use events::{Check, CvssVector, FindingObserved, Remediation, Severity};
        use uuid::Uuid;

        use super::*;
        use crate::intel::{EpssTable, Intel, KevCatalog};
        use crate::policy::{Policy, PolicyMode};
        use crate::stage::decide;

        const CVE: &str = "CVE-2026-0001";
        const T0: &str = "2026-03-01T10:00:00Z";

        fn utc(s: &str) -> DateTime<Utc> {
            s.parse().unwrap()
        }

        fn finding(vector: Option<&str>, tier: Option<u8>) -> FindingObserved {
            FindingObserved {
                finding_id: Uuid::from_u128(1),
                fingerprint: "nessus:v1:web-1:10001:443/tcp".to_owned(),
                scan_id: Uuid::from_u128(2),
                asset: Asset {
                    asset_id: "web-1".to_owned(),
                    tier,
                    internet_facing: Some(true),
                    ..Asset::default()
                },
                check: Check {
                    scanner: "nessus".to_owned(),
                    id: "10001".to_owned(),
                    name: "Example".to_owned(),
                    family: None,
                },
                port: 443,
                protocol: "tcp".to_owned(),
                service: None,
                severity: Severity::Medium,
                cves: vec![CVE.to_owned()],
                cwes: vec![],
                cvss: vector
                    .map(|v| CvssVector {
                        version: CvssVersion::V3_1,
                        vector: v.to_owned(),
                        reported_score: None,
                        source: "nvd".to_owned(),
                    })
                    .into_iter()
                    .collect(),
                remediation: Remediation::Advisory {
                    id: "RHSA-2026:0001".to_owned(),
                },
                observed_at: utc(T0),
                first_observed_at: utc(T0),
                package: None,
                fix_state: None,
                reopened: false,
            }
        }

        /// KEV lists the CVE (due 2026-03-02) when `kev`; EPSS gives `epss`.
        fn intel(kev: bool, epss: f64) -> Intel {
            let entry = KevInput {
                cve: CVE.to_owned(),
                date_added: "2026-02-20".parse().unwrap(),
                due_date: "2026-03-02".parse().unwrap(),
                known_ransomware: None,
                catalog_version: "2026.02.20".to_owned(),
            };
            Intel {
                kev: Some(KevCatalog {
                    catalog_version: "2026.02.20".to_owned(),
                    released: utc("2026-02-20T00:00:00Z"),
                    entries: if kev {
                        HashMap::from([(CVE.to_owned(), entry)]).into()
                    } else {
                        Default::default()
                    },
                    warnings: vec![],
                }),
                epss: Some(EpssTable {
                    model_version: Some("v2025.03.14".to_owned()),
                    score_date: utc("2026-02-28T00:00:00Z"),
                    scores: HashMap::from([(CVE.to_owned(), (epss, Some(0.5)))]).into(),
                    warnings: vec![],
                }),
                ..Intel::default()
            }
        }

        struct Case {
            name: &'static str,
            policy: &'static str,
            intel: Intel,
            finding: FindingObserved,
            priority: Priority,
            due_at: &'static str,
            /// `rule:effect` of every reason, in order.
            reasons: &'static [&'static str],
        }

        fn check(c: Case) {
            let policy = Policy::from_toml(c.policy).unwrap();
            assert_eq!(policy.mode, PolicyMode::Ssvc, "{}", c.name);
            let d = decide(&policy, &c.intel, &c.finding, None).prioritized;
            let got: Vec<String> = d
                .reasons
                .iter()
                .map(|r| format!("{}:{}", r.rule, r.effect))
                .collect();
            assert_eq!(got, c.reasons, "{}: {:#?}", c.name, d.reasons);
            assert_eq!(d.priority, c.priority, "{}", c.name);
            assert_eq!(d.due_at, utc(c.due_at), "{}", c.name);
            assert_eq!(d.sla_hours, policy.sla_hours.of(c.priority), "{}", c.name);
        }

        const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
        const LOCAL_PARTIAL: &str = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N";
        const SSVC: &str = "version = \"ssvc-1\"\nmode = \"ssvc\"\n";

        #[test]
        fn one_case_per_decision() {
            check(Case {
                name: "active, automatable, total, high: Act",
                policy: SSVC,
                intel: intel(true, 0.0001),
                finding: finding(Some(CRITICAL), Some(1)),
                priority: Priority::Critical,
                due_at: "2026-03-02T23:59:59Z",
                reasons: &[
                    "ssvc_exploitation:exploitation=active",
                    "ssvc_automatable:automatable=yes",
                    "ssvc_technical_impact:technical_impact=total",
                    "ssvc_mission_wellbeing:mission_wellbeing=high",
                    "ssvc_decision:priority=critical",
                    "sla:due_at=first_observed_at+72h",
                    "kev_due_date:due_at=kev_due_date",
                ],
            });
            check(Case {
                name: "poc, automatable, total, medium: Track*",
                policy: SSVC,
                intel: intel(false, 0.5),
                finding: finding(Some(CRITICAL), Some(3)),
                priority: Priority::Medium,
                due_at: "2026-03-31T10:00:00Z",
                reasons: &[
                    "ssvc_exploitation:exploitation=poc",
                    "ssvc_automatable:automatable=yes",
                    "ssvc_technical_impact:technical_impact=total",
                    "ssvc_mission_wellbeing:mission_wellbeing=medium",
                    "ssvc_decision:priority=medium",
                    "sla:due_at=first_observed_at+720h",
                ],
            });
            check(Case {
                name: "active, not automatable, partial, high: Attend",
                policy: "mode = \"ssvc\"\n[kev]\ndue_date_caps_sla = false\n",
                intel: intel(true, 0.0),
                finding: finding(Some(LOCAL_PARTIAL), Some(1)),
                priority: Priority::High,
                due_at: "2026-03-08T10:00:00Z",
                reasons: &[
                    "ssvc_exploitation:exploitation=active",
                    "ssvc_automatable:automatable=no",
                    "ssvc_technical_impact:technical_impact=partial",
                    "ssvc_mission_wellbeing:mission_wellbeing=high",
                    "ssvc_decision:priority=high",
                    "sla:due_at=first_observed_at+168h",
                ],
            });
            // The 9.8 vector would be critical in the rules mode (and
            // raised by exposure); the tree says Track.
            check(Case {
                name: "none, automatable, total, low: Track",
                policy: SSVC,
                intel: intel(false, 0.01),
                finding: finding(Some(CRITICAL), Some(4)),
                priority: Priority::Low,
                due_at: "2026-05-30T10:00:00Z",
                reasons: &[
                    "ssvc_exploitation:exploitation=none",
                    "ssvc_automatable:automatable=yes",
                    "ssvc_technical_impact:technical_impact=total",
                    "ssvc_mission_wellbeing:mission_wellbeing=low",
                    "ssvc_decision:priority=low",
                    "sla:due_at=first_observed_at+2160h",
                ],
            });
        }

        #[test]
        fn assumptions_and_configuration() {
            // No vector: not automatable, partial; unknown tier: medium.
            check(Case {
                name: "no vector, no tier",
                policy: SSVC,
                intel: intel(true, 0.0),
                finding: finding(None, None),
                priority: Priority::Low,
                due_at: "2026-03-02T23:59:59Z",
                reasons: &[
                    "ssvc_exploitation:exploitation=active",
                    "ssvc_automatable:automatable=no",
                    "ssvc_technical_impact:technical_impact=partial",
                    "ssvc_mission_wellbeing:mission_wellbeing=medium",
                    "ssvc_decision:priority=low",
                    "sla:due_at=first_observed_at+2160h",
                    "kev_due_date:due_at=kev_due_date",
                ],
            });
            // KEV switched off: exploitation falls back to EPSS.
            check(Case {
                name: "kev disabled",
                policy: "mode = \"ssvc\"\n[kev]\nenabled = false\n",
                intel: intel(true, 0.01),
                finding: finding(Some(CRITICAL), Some(1)),
                priority: Priority::High,
                due_at: "2026-03-08T10:00:00Z",
                reasons: &[
                    "ssvc_exploitation:exploitation=none",
                    "ssvc_automatable:automatable=yes",
                    "ssvc_technical_impact:technical_impact=total",
                    "ssvc_mission_wellbeing:mission_wellbeing=high",
                    "ssvc_decision:priority=high",
                    "sla:due_at=first_observed_at+168h",
                ],
            });
            // Own mapping, mission table, PoC threshold and impact rule.
            check(Case {
                name: "configured",
                policy: "mode = \"ssvc\"\n[ssvc]\npoc_epss_probability = 0.005\n\
                         technical_impact_total = \"any_high\"\n\
                         [ssvc.mission_wellbeing]\ntier_4 = \"high\"\n\
                         [ssvc.priority]\nattend = \"critical\"\n",
                intel: intel(false, 0.01),
                finding: finding(
                    Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"),
                    Some(4),
                ),
                priority: Priority::Critical,
                due_at: "2026-03-04T10:00:00Z",
                reasons: &[
                    "ssvc_exploitation:exploitation=poc",
                    "ssvc_automatable:automatable=yes",
                    "ssvc_technical_impact:technical_impact=total",
                    "ssvc_mission_wellbeing:mission_wellbeing=high",
                    "ssvc_decision:priority=critical",
                    "sla:due_at=first_observed_at+72h",
                ],
            });
            let d = decide(
                &Policy::from_toml(SSVC).unwrap(),
                &intel(true, 0.0),
                &finding(Some(CRITICAL), Some(1)),
                None,
            )
            .prioritized;
            assert_eq!(d.policy_version, "ssvc-1");
            let last = d
                .reasons
                .iter()
                .find(|r| r.rule == "ssvc_decision")
                .unwrap();
            assert_eq!(
                last.detail,
                "CISA SSVC tree (2022): exploitation active, automatable yes, technical impact total, \
                 mission & well-being high -> Act, mapped to critical"
            );
        }

        #[test]
        fn policy_file_errors_name_the_key() {
            for (text, want) in [
                ("mode = \"tree\"", "unknown variant `tree`"),
                ("[ssvc]\npoc = 0.1", "unknown field `poc`"),
                (
                    "[ssvc.priority]\nact = \"urgent\"",
                    "unknown variant `urgent`",
                ),
                (
                    "[ssvc]\npoc_epss_probability = 5",
                    "policy ssvc.poc_epss_probability: 5 is outside (0, 1]",
                ),
                (
                    "[ssvc.mission_wellbeing]\ntier_5 = \"low\"",
                    "unknown field `tier_5`",
                ),
            ] {
                let err = Policy::from_toml(text).unwrap_err().to_string();
                assert!(err.contains(want), "{text:?}: {err}");
            }
        }
    }

    #[test]
    fn mission_and_classes_follow_the_configuration() {
        let m = MissionByTier::default();
        assert_eq!(
            [None, Some(1), Some(2), Some(3), Some(4), Some(9)].map(|t| m.of(t)),
            [
                MissionWellbeing::Medium,
                MissionWellbeing::High,
                MissionWellbeing::Medium,
                MissionWellbeing::Medium,
                MissionWellbeing::Low,
                MissionWellbeing::Medium
            ]
        );
        let c = DecisionClasses::default();
        assert_eq!(
            [
                SsvcDecision::Act,
                SsvcDecision::Attend,
                SsvcDecision::TrackStar,
                SsvcDecision::Track
            ]
            .map(|d| c.of(d)),
            [
                Priority::Critical,
                Priority::High,
                Priority::Medium,
                Priority::Low
            ]
        );
    }
}
