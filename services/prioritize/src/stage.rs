//! The pure prioritize stage: one observed finding in, one priority decision
//! out, with its SLA deadline and the reasons for both.
//!
//! No I/O, no clock, no randomness: [`decide`] is a function of the policy,
//! the intel tables, the finding and what was decided for it before.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use events::{
    DecisionInputs, EpssInput, FindingObserved, FindingPrioritized, KevInput, Priority, Reason,
    ScoredCvss, Severity,
};

use crate::cvss;
use crate::intel::Intel;
use crate::policy::{Policy, PolicyMode};

/// What the adapter keeps per finding (JetStream KV, keyed by finding id)
/// to give the next decision for the same finding its SLA memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousDecision {
    /// Start of the SLA clock the decision used (UTC): the finding's first
    /// observation on the asset. A later decision with the same start keeps
    /// the earlier deadline; another start means the finding was reopened.
    pub first_observed_at: DateTime<Utc>,
    /// The deadline it set (UTC).
    pub due_at: DateTime<Utc>,
    /// The class it gave.
    pub priority: Priority,
    /// The [`Policy::version`] it was made under, reported as
    /// `previous.policy_version` when a later decision changes it; empty for
    /// decisions stored before versions were recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_version: String,
}

/// The outcome of [`decide`]: the event payload to publish and the state to
/// store for the next decision on this finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Payload of `patch.finding.prioritized.<priority>`.
    pub prioritized: FindingPrioritized,
    /// To store under the finding id after the publish is acknowledged.
    pub state: PreviousDecision,
}

/// The KEV due date as an instant: the **end** of that calendar day,
/// 23:59:59 UTC. CISA asks agencies to remediate "by" the due date
/// (BOD 22-01), so the whole day is allowed; patchflow's clock is UTC.
pub fn kev_due_instant(kev: &KevInput) -> DateTime<Utc> {
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
    kev.due_date.and_time(end_of_day).and_utc()
}

/// Decides the priority class and SLA deadline of one observed finding.
///
/// The class follows the policy's rules in their fixed order (see
/// [`crate::policy`]): base class from the best scorable CVSS vector (or
/// the scanner's severity), then EPSS, exposure and tier adjustments
/// (capped), then KEV → critical. Each rule that fires adds a
/// [`Reason`]; a vector that cannot be scored (e.g. a repeated metric) is
/// recorded as `cvss_rejected` with the error and skipped, and the class
/// falls back to the next vector, then to the scanner severity.
///
/// Inputs recorded: the scored vector used, the highest EPSS probability
/// among the finding's CVEs, the KEV entry with the earliest due date, the
/// scanner severity, and the asset's tier, exposure and ring.
///
/// # SLA clock
///
/// - The clock starts at `finding.first_observed_at` (UTC) and
///   `due_at = first_observed_at + sla_hours` of the class, in exact hours
///   of UTC time (a DST change or a leap day changes nothing).
/// - A KEV entry whose due date ([`kev_due_instant`]: 23:59:59 UTC of that
///   day) is earlier replaces `due_at` (reason `kev_due_date`), when
///   `kev.enabled` and `kev.due_date_caps_sla`. A due date already past at
///   first observation makes the finding overdue on arrival; CISA's date
///   is kept as published.
/// - With a `previous` decision for the same clock start, the earlier of
///   the two deadlines is kept (reason `previous_due_at`): a raise
///   shortens the deadline, a lowering never extends it.
/// - A `previous` decision with a different `first_observed_at` (the
///   finding was resolved and reopened) does not count: a new clock starts
///   (reason `sla_clock`).
///
/// `sla_hours` in the output is always the SLA of the decided class, even
/// when `due_at` was moved earlier.
pub fn decide(
    policy: &Policy,
    intel: &Intel,
    finding: &FindingObserved,
    previous: Option<&PreviousDecision>,
) -> Decision {
    let mut reasons = Vec::with_capacity(10);
    let mut reason = |rule: &str, effect: String, detail: String| {
        reasons.push(Reason {
            rule: rule.to_owned(),
            effect,
            detail,
        });
    };

    let cvss = best_vector(finding, &mut reason);
    let epss = highest_epss(intel, &finding.cves);
    let kev = earliest_kev(intel, &finding.cves);
    let priority = match policy.mode {
        PolicyMode::Rules => class_rules(policy, finding, &cvss, &epss, &kev, &mut reason),
        PolicyMode::Ssvc => crate::ssvc::classify(
            &policy.ssvc,
            cvss.as_ref(),
            epss.as_ref(),
            kev.as_ref().filter(|_| policy.kev.enabled),
            &finding.asset,
            &mut reason,
        ),
    };

    // SLA.
    let start = finding.first_observed_at;
    let sla_hours = policy.sla_hours.of(priority);
    let mut due_at = start
        .checked_add_signed(TimeDelta::hours(i64::from(sla_hours)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    reason(
        "sla",
        format!("due_at=first_observed_at+{sla_hours}h"),
        format!(
            "{} SLA {sla_hours} h from first observation {}",
            priority.as_str(),
            rfc3339(start)
        ),
    );
    if let (true, true, Some(k)) = (policy.kev.enabled, policy.kev.due_date_caps_sla, &kev) {
        let kev_due = kev_due_instant(k);
        if kev_due < due_at {
            due_at = kev_due;
            let late = if kev_due < start {
                "; already past at first observation: overdue on arrival"
            } else {
                ""
            };
            reason(
                "kev_due_date",
                "due_at=kev_due_date".to_owned(),
                format!(
                    "KEV dueDate {} for {} (end of day, {}) is earlier than the SLA{late}",
                    k.due_date,
                    k.cve,
                    rfc3339(kev_due)
                ),
            );
        }
    }
    if let Some(prev) = previous {
        if prev.first_observed_at == start {
            if prev.due_at < due_at {
                due_at = prev.due_at;
                reason(
                    "previous_due_at",
                    "due_at=kept".to_owned(),
                    format!(
                        "an earlier decision ({}) set due_at {} on the same clock; a later deadline never extends it",
                        prev.priority.as_str(),
                        rfc3339(prev.due_at)
                    ),
                );
            }
        } else {
            reason(
                "sla_clock",
                "restarted".to_owned(),
                format!(
                    "first observed {} differs from the previous decision's {}: the finding was reopened, a new clock starts",
                    rfc3339(start),
                    rfc3339(prev.first_observed_at)
                ),
            );
        }
    }

    let inputs = DecisionInputs {
        cvss,
        epss,
        kev,
        scanner_severity: Some(finding.severity),
        tier: finding.asset.tier,
        internet_facing: finding.asset.internet_facing,
        ring: finding.asset.ring.clone(),
    };
    let prioritized = FindingPrioritized {
        finding_id: finding.finding_id,
        fingerprint: finding.fingerprint.clone(),
        scan_id: finding.scan_id,
        asset: finding.asset.clone(),
        check: finding.check.clone(),
        cves: finding.cves.clone(),
        remediation: finding.remediation.clone(),
        priority,
        inputs,
        reasons,
        policy_version: policy.version.clone(),
        first_observed_at: start,
        sla_hours,
        due_at,
        trigger: events::DecisionTrigger::Observation,
        previous: previous
            .filter(|p| p.priority != priority || p.due_at != due_at)
            .map(|p| events::PriorDecision {
                priority: p.priority,
                due_at: p.due_at,
                policy_version: if p.policy_version.is_empty() {
                    "unrecorded".to_owned()
                } else {
                    p.policy_version.clone()
                },
            }),
        exception_id: None,
    };
    Decision {
        state: PreviousDecision {
            first_observed_at: start,
            due_at,
            priority,
            policy_version: policy.version.clone(),
        },
        prioritized,
    }
}

/// Rules 1–6 of [`crate::policy`] (the `rules` mode): base class from the
/// best vector or the scanner severity, EPSS, exposure and tier
/// adjustments under the cap, then KEV → critical. Each rule that fires is
/// reported through `reason`.
fn class_rules(
    policy: &Policy,
    finding: &FindingObserved,
    cvss: &Option<ScoredCvss>,
    epss: &Option<EpssInput>,
    kev: &Option<KevInput>,
    reason: &mut impl FnMut(&str, String, String),
) -> Priority {
    // 1. Base class.
    let scanner_class = severity_class(finding.severity);
    let base = match &cvss {
        Some(v) => {
            let class = policy.cvss.class(v.base_score);
            reason(
                "cvss_class",
                format!("priority={}", class.as_str()),
                format!(
                    "CVSS {} score {} from {} ({}) is {}: {}",
                    v.version.as_str(),
                    OneDecimal(v.base_score),
                    v.source,
                    v.vector,
                    class.as_str(),
                    thresholds_text(&policy.cvss)
                ),
            );
            if let Some(printed) = v.reported_score_disagrees {
                reason(
                    "reported_score",
                    "ignored".to_owned(),
                    format!(
                        "{} printed score {printed:.1} but the vector scores {}; the vector wins",
                        v.source,
                        OneDecimal(v.base_score)
                    ),
                );
            }
            if scanner_class != class {
                reason(
                    "scanner_severity",
                    "disagrees".to_owned(),
                    format!(
                        "scanner {} labels it {} (class {}) but the CVSS {} vector scores {} (class {}); the vector wins",
                        finding.check.scanner,
                        finding.severity.as_str(),
                        scanner_class.as_str(),
                        v.version.as_str(),
                        OneDecimal(v.base_score),
                        class.as_str()
                    ),
                );
            }
            class
        }
        None => {
            reason(
                "scanner_severity",
                format!("priority={}", scanner_class.as_str()),
                format!(
                    "no scorable CVSS vector: scanner {} severity {} maps to {}",
                    finding.check.scanner,
                    finding.severity.as_str(),
                    scanner_class.as_str()
                ),
            );
            scanner_class
        }
    };

    // 2-4. Adjustments.
    let mut raises: i32 = 0;
    let mut lowers: i32 = 0;
    if let (true, Some(e)) = (policy.epss.enabled, &epss)
        && e.probability >= policy.epss.probability_threshold
    {
        raises += 1;
        reason(
            "epss",
            "raise".to_owned(),
            format!(
                "EPSS probability {} for {} >= {} (score_date {}, model {}{})",
                e.probability,
                e.cve,
                policy.epss.probability_threshold,
                rfc3339(e.score_date),
                e.model_version.as_deref().unwrap_or("unstated"),
                e.percentile
                    .map(|p| format!(", percentile {p} not used"))
                    .unwrap_or_default()
            ),
        );
    }
    if policy.exposure.enabled && finding.asset.internet_facing == Some(true) {
        raises += 1;
        reason(
            "exposure",
            "raise".to_owned(),
            format!("asset {} is internet-facing", finding.asset.asset_id),
        );
    }
    if let (true, Some(tier)) = (policy.tier.enabled, finding.asset.tier) {
        if policy.tier.raise_tiers.contains(&tier) {
            raises += 1;
            reason(
                "tier",
                "raise".to_owned(),
                format!("asset {} is tier {tier}", finding.asset.asset_id),
            );
        } else if policy.tier.lower_tiers.contains(&tier) {
            lowers += 1;
            reason(
                "tier",
                "lower".to_owned(),
                format!("asset {} is tier {tier}", finding.asset.asset_id),
            );
        }
    }
    let cap = i32::from(policy.adjustments.max_raise_classes);
    let net = (raises - lowers).min(cap);
    let mut priority = base;
    for _ in 0..net.max(0) {
        priority = priority.raised();
    }
    for _ in 0..(-net).max(0) {
        priority = priority.lowered();
    }
    if raises - lowers > cap {
        reason(
            "raise_cap",
            "capped".to_owned(),
            format!(
                "{raises} raise(s) and {lowers} lower(s) net {} class(es) up; the policy allows at most {cap}",
                raises - lowers
            ),
        );
    }
    if priority != base {
        reason(
            "adjustments",
            format!("priority={}", priority.as_str()),
            format!("{} moved to {}", base.as_str(), priority.as_str()),
        );
    }

    // 6. KEV.
    if let (true, Some(k)) = (policy.kev.enabled, &kev) {
        priority = Priority::Critical;
        reason(
            "kev",
            "priority=critical".to_owned(),
            format!(
                "{} is in the CISA KEV catalog {} (dateAdded {}, dueDate {}{}): exploited in the wild",
                k.cve,
                k.catalog_version,
                k.date_added,
                k.due_date,
                match k.known_ransomware {
                    Some(true) => ", known ransomware use",
                    _ => "",
                }
            ),
        );
    }

    priority
}

/// A CVSS score (0.0–10.0, one decimal) printed as `{:.1}` prints it,
/// through integer arithmetic (float formatting is slow); other values go
/// through `{:.1}`.
struct OneDecimal(f64);

impl std::fmt::Display for OneDecimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = self.0 * 10.0;
        let rounded = tenths.round();
        // Scores computed from vectors are one-decimal values: their
        // tenths are integers up to the f64 error. Anything else (a tie
        // like 5.25) keeps the standard rounding.
        if (0.0..=100.0).contains(&rounded) && (tenths - rounded).abs() < 1e-6 {
            let t = rounded as u32;
            write!(f, "{}.{}", t / 10, t % 10)
        } else {
            write!(f, "{:.1}", self.0)
        }
    }
}

thread_local! {
    /// The last thresholds text and the bits it was made from.
    static THRESHOLDS_TEXT: std::cell::RefCell<Option<([u64; 3], std::rc::Rc<str>)>> =
        const { std::cell::RefCell::new(None) };
}

/// `thresholds critical >= 9, high >= 7, medium >= 4` for the policy's
/// CVSS thresholds, formatted once per thread and policy.
fn thresholds_text(t: &crate::policy::CvssThresholds) -> std::rc::Rc<str> {
    let bits = [t.critical.to_bits(), t.high.to_bits(), t.medium.to_bits()];
    THRESHOLDS_TEXT.with(|cell| {
        let mut cached = cell.borrow_mut();
        match &*cached {
            Some((b, text)) if *b == bits => text.clone(),
            _ => {
                let text: std::rc::Rc<str> = format!(
                    "thresholds critical >= {}, high >= {}, medium >= {}",
                    t.critical, t.high, t.medium
                )
                .into();
                *cached = Some((bits, text.clone()));
                text
            }
        }
    })
}

#[cfg(test)]
mod one_decimal_tests {
    use super::OneDecimal;

    #[test]
    fn same_text_as_the_float_formatter() {
        for tenths in 0..=100u32 {
            let x = f64::from(tenths) / 10.0;
            assert_eq!(OneDecimal(x).to_string(), format!("{x:.1}"));
        }
        for x in [5.25, 0.05, 10.04, -1.0, 101.0, f64::NAN] {
            assert_eq!(OneDecimal(x).to_string(), format!("{x:.1}"), "{x}");
        }
    }
}

/// `t` as RFC 3339 UTC to the second (`2026-03-01T10:00:00Z`), the same
/// text as chrono's `to_rfc3339_opts(Secs, true)`, written digit by digit
/// for years 0–9999 (chrono's formatter costs a few hundred nanoseconds, and
/// a decision formats several instants).
fn rfc3339(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) || t.nanosecond() >= 1_000_000_000 {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    }
    let push_digit =
        |out: &mut String, d: u32| out.push(char::from_digit(d % 10, 10).unwrap_or('0'));
    let mut out = String::with_capacity(20);
    let year = year.unsigned_abs();
    for place in [1000, 100, 10, 1] {
        push_digit(&mut out, year / place);
    }
    for (sep, v) in [
        ('-', t.month()),
        ('-', t.day()),
        ('T', t.hour()),
        (':', t.minute()),
        (':', t.second()),
    ] {
        out.push(sep);
        push_digit(&mut out, v / 10);
        push_digit(&mut out, v);
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod rfc3339_tests {
    use super::*;

    #[test]
    fn same_text_as_chrono() {
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
            .map(|t| t.and_utc());
        for t in [
            Some(DateTime::<Utc>::UNIX_EPOCH),
            "2026-03-01T10:00:00Z".parse().ok(),
            "2028-02-29T23:59:59.999Z".parse().ok(),
            "0001-01-01T00:00:00Z".parse().ok(),
            "9999-12-31T23:59:59Z".parse().ok(),
            leap,
            Some(DateTime::<Utc>::MAX_UTC),
            Some(DateTime::<Utc>::MIN_UTC),
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(
                rfc3339(t),
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
        }
    }
}

/// The scanner's label as a class (`info` → low).
fn severity_class(s: Severity) -> Priority {
    match s {
        Severity::Critical => Priority::Critical,
        Severity::High => Priority::High,
        Severity::Medium => Priority::Medium,
        Severity::Low | Severity::Info => Priority::Low,
    }
}

/// The best scorable vector: newest version first (v4.0, v3.1, v3.0, v2),
/// then the highest score, then report order. Unscorable vectors are
/// reported through `reason` and skipped.
fn best_vector(
    finding: &FindingObserved,
    reason: &mut impl FnMut(&str, String, String),
) -> Option<ScoredCvss> {
    let mut best: Option<ScoredCvss> = None;
    for v in &finding.cvss {
        match cvss::score_reported(v) {
            Ok(s) => {
                let better = best
                    .as_ref()
                    .is_none_or(|b| (s.version, s.base_score) > (b.version, b.base_score));
                if better {
                    best = Some(s);
                }
            }
            Err(e) => reason(
                "cvss_rejected",
                "ignored".to_owned(),
                format!("vector {:?} from {} not scored: {e}", v.vector, v.source),
            ),
        }
    }
    best
}

/// The key of `cve` in the intel tables (upper case), borrowed when the id
/// is already upper case (ingest writes them so), so a lookup allocates
/// nothing.
fn cve_key(cve: &str) -> std::borrow::Cow<'_, str> {
    if cve.bytes().any(|b| b.is_ascii_lowercase()) {
        std::borrow::Cow::Owned(cve.to_ascii_uppercase())
    } else {
        std::borrow::Cow::Borrowed(cve)
    }
}

/// The highest EPSS probability among `cves` (first CVE wins a tie).
fn highest_epss(intel: &Intel, cves: &[String]) -> Option<EpssInput> {
    let table = intel.epss.as_ref()?;
    let mut best: Option<(&str, f64)> = None;
    for c in cves {
        let Some(&(p, _)) = table.scores.get(cve_key(c).as_ref()) else {
            continue;
        };
        if best.is_none_or(|(_, b)| p > b) {
            best = Some((c, p));
        }
    }
    // One lookup builds the reading (owned strings) for the winner only.
    table.get(best?.0)
}

/// The KEV entry with the earliest due date among `cves` (first CVE wins a tie).
fn earliest_kev(intel: &Intel, cves: &[String]) -> Option<KevInput> {
    let catalog = intel.kev.as_ref()?;
    cves.iter()
        .filter_map(|c| catalog.entries.get(cve_key(c).as_ref()))
        .fold(None, |best: Option<&KevInput>, k| match best {
            Some(b) if b.due_date <= k.due_date => Some(b),
            _ => Some(k),
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::NaiveDate;
    use events::{Asset, Check, CvssVector, CvssVersion, Remediation};
    use uuid::Uuid;

    use super::*;
    use crate::intel::{EpssTable, KevCatalog};

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const V31_MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"; // 5.3
    const V31_HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"; // 8.8
    const V31_CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"; // 9.8
    const V30_HIGH: &str = "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"; // 8.8
    const V4_CRITICAL: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"; // 9.3
    const V2_HIGH: &str = "AV:N/AC:L/Au:N/C:C/I:C/A:C"; // 10.0
    const T0: &str = "2026-03-01T10:00:00Z";

    fn vector(v: &str, reported: Option<f64>) -> CvssVector {
        let version = match v {
            _ if v.starts_with("CVSS:4.0/") => CvssVersion::V4_0,
            _ if v.starts_with("CVSS:3.1/") => CvssVersion::V3_1,
            _ if v.starts_with("CVSS:3.0/") => CvssVersion::V3_0,
            _ => CvssVersion::V2,
        };
        CvssVector {
            version,
            vector: v.to_owned(),
            reported_score: reported,
            source: "nvd".to_owned(),
        }
    }

    fn finding(severity: Severity, vectors: &[&str], cves: &[&str]) -> FindingObserved {
        FindingObserved {
            finding_id: Uuid::from_u128(1),
            fingerprint: "nessus:v1:web-1:10001:443/tcp".to_owned(),
            scan_id: Uuid::from_u128(2),
            asset: Asset {
                asset_id: "web-1".to_owned(),
                ring: Some("prod".to_owned()),
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
            service: Some("www".to_owned()),
            severity,
            cves: cves.iter().map(|c| (*c).to_owned()).collect(),
            cwes: vec![],
            cvss: vectors.iter().map(|v| vector(v, None)).collect(),
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

    fn kev_entry(cve: &str, added: &str, due: &str) -> KevInput {
        KevInput {
            cve: cve.to_owned(),
            date_added: added.parse::<NaiveDate>().unwrap(),
            due_date: due.parse::<NaiveDate>().unwrap(),
            known_ransomware: Some(true),
            catalog_version: "2026.03.01".to_owned(),
        }
    }

    fn intel(kev: &[KevInput], epss: &[(&str, f64, f64)]) -> Intel {
        Intel {
            kev: Some(KevCatalog {
                catalog_version: "2026.03.01".to_owned(),
                released: utc("2026-03-01T00:00:00Z"),
                entries: kev.iter().map(|k| (k.cve.clone(), k.clone())).collect(),
                warnings: vec![],
            }),
            epss: Some(EpssTable {
                model_version: Some("v2025.03.14".to_owned()),
                score_date: utc("2026-02-28T12:55:00Z"),
                scores: epss
                    .iter()
                    .map(|(c, p, pct)| ((*c).to_owned(), (*p, Some(*pct))))
                    .collect::<HashMap<_, _>>(),
                warnings: vec![],
            }),
        }
    }

    struct Case {
        name: &'static str,
        policy: Policy,
        intel: Intel,
        finding: FindingObserved,
        previous: Option<PreviousDecision>,
        priority: Priority,
        due_at: &'static str,
        /// `rule:effect` of every reason, in order.
        reasons: &'static [&'static str],
        /// Substrings each reason detail must contain, by rule.
        details: &'static [(&'static str, &'static str)],
    }

    fn case(name: &'static str, finding: FindingObserved) -> Case {
        Case {
            name,
            policy: Policy::default(),
            intel: Intel::default(),
            finding,
            previous: None,
            priority: Priority::Low,
            due_at: "",
            reasons: &[],
            details: &[],
        }
    }

    fn check(c: Case) {
        let d = decide(&c.policy, &c.intel, &c.finding, c.previous.as_ref());
        let p = &d.prioritized;
        let got: Vec<String> = p
            .reasons
            .iter()
            .map(|r| format!("{}:{}", r.rule, r.effect))
            .collect();
        assert_eq!(got, c.reasons, "{}: reasons {:#?}", c.name, p.reasons);
        assert_eq!(p.priority, c.priority, "{}: priority", c.name);
        assert_eq!(p.due_at, utc(c.due_at), "{}: due_at", c.name);
        assert_eq!(p.sla_hours, c.policy.sla_hours.of(c.priority), "{}", c.name);
        assert_eq!(p.first_observed_at, c.finding.first_observed_at);
        assert_eq!(p.policy_version, c.policy.version);
        assert_eq!(
            d.state,
            PreviousDecision {
                first_observed_at: c.finding.first_observed_at,
                due_at: p.due_at,
                priority: p.priority,
                policy_version: c.policy.version.clone(),
            },
            "{}: state",
            c.name
        );
        for (rule, needle) in c.details {
            let r = p
                .reasons
                .iter()
                .find(|r| r.rule == *rule)
                .unwrap_or_else(|| panic!("{}: no {rule} reason", c.name));
            assert!(
                r.detail.contains(needle),
                "{}: {rule} detail {:?} lacks {needle:?}",
                c.name,
                r.detail
            );
        }
        // Ids and payload are copied.
        assert_eq!(p.finding_id, c.finding.finding_id);
        assert_eq!(p.fingerprint, c.finding.fingerprint);
        assert_eq!(p.scan_id, c.finding.scan_id);
        assert_eq!(p.asset, c.finding.asset);
        assert_eq!(p.check, c.finding.check);
        assert_eq!(p.cves, c.finding.cves);
        assert_eq!(p.remediation, c.finding.remediation);
        assert_eq!(p.inputs.scanner_severity, Some(c.finding.severity));
        assert_eq!(p.inputs.tier, c.finding.asset.tier);
        assert_eq!(p.inputs.internet_facing, c.finding.asset.internet_facing);
        assert_eq!(p.inputs.ring, c.finding.asset.ring);
    }

    fn with_asset(
        mut f: FindingObserved,
        tier: Option<u8>,
        exposed: Option<bool>,
    ) -> FindingObserved {
        f.asset.tier = tier;
        f.asset.internet_facing = exposed;
        f
    }

    #[test]
    fn base_class() {
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[("cvss_class", "CVSS 3.1 score 8.8 from nvd")],
            ..case(
                "vector gives the class",
                finding(Severity::High, &[V31_HIGH], &[]),
            )
        });
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "scanner_severity:disagrees",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[("scanner_severity", "labels it medium (class medium)")],
            ..case(
                "vector wins over the scanner label",
                finding(Severity::Medium, &[V31_HIGH], &[]),
            )
        });
        let mut printed = finding(Severity::High, &[], &[]);
        printed.cvss = vec![vector(V31_HIGH, Some(5.0))];
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "reported_score:ignored",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[(
                "reported_score",
                "printed score 5.0 but the vector scores 8.8",
            )],
            ..case("vector wins over a printed score", printed)
        });
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "scanner_severity:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            ..case(
                "no vector: scanner severity",
                finding(Severity::High, &[], &[]),
            )
        });
        check(Case {
            priority: Priority::Low,
            due_at: "2026-05-30T10:00:00Z",
            reasons: &[
                "scanner_severity:priority=low",
                "sla:due_at=first_observed_at+2160h",
            ],
            ..case("info maps to low", finding(Severity::Info, &[], &[]))
        });
        check(Case {
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            details: &[("cvss_class", "CVSS 4.0 score 9.3")],
            ..case(
                "v4 preferred over v3.1 and v2",
                finding(Severity::Critical, &[V2_HIGH, V31_MEDIUM, V4_CRITICAL], &[]),
            )
        });
        check(Case {
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "scanner_severity:disagrees",
                "sla:due_at=first_observed_at+720h",
            ],
            details: &[("cvss_class", "CVSS 3.1 score 5.3")],
            ..case(
                "v3.1 preferred over v3.0 and v2, even when lower",
                finding(Severity::High, &[V30_HIGH, V2_HIGH, V31_MEDIUM], &[]),
            )
        });
        check(Case {
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            details: &[("cvss_class", "score 9.8")],
            ..case(
                "same version: highest score",
                finding(
                    Severity::Critical,
                    &[V31_MEDIUM, V31_CRITICAL, V31_HIGH],
                    &[],
                ),
            )
        });
    }

    #[test]
    fn rejected_vectors_fall_back() {
        let repeated = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:P";
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_rejected:ignored",
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[("cvss_rejected", "repeated CVSS 3.1 metric(s): AV")],
            ..case(
                "next vector",
                finding(Severity::High, &[repeated, V30_HIGH], &[]),
            )
        });
        check(Case {
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_rejected:ignored",
                "cvss_rejected:ignored",
                "scanner_severity:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            details: &[("cvss_rejected", "AV")],
            ..case(
                "scanner severity when none scores",
                finding(Severity::Medium, &[repeated, "CVSS:3.1/AV:N/AC:L"], &[]),
            )
        });
    }

    #[test]
    fn kev_rule_and_due_date() {
        let cve = "CVE-2026-0001";
        check(Case {
            intel: intel(&[kev_entry(cve, "2026-02-20", "2026-03-13")], &[]),
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            details: &[(
                "kev",
                "CVE-2026-0001 is in the CISA KEV catalog 2026.03.01 (dateAdded 2026-02-20, dueDate 2026-03-13, known ransomware use)",
            )],
            ..case(
                "listed: critical",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            intel: intel(&[kev_entry(cve, "2026-02-20", "2026-03-02")], &[]),
            priority: Priority::Critical,
            due_at: "2026-03-02T23:59:59Z",
            reasons: &[
                "cvss_class:priority=medium",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
                "kev_due_date:due_at=kev_due_date",
            ],
            details: &[("kev_due_date", "KEV dueDate 2026-03-02 for CVE-2026-0001")],
            ..case(
                "earlier KEV due date: end of that day UTC",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            intel: intel(&[kev_entry(cve, "2021-11-03", "2021-07-20")], &[]),
            priority: Priority::Critical,
            due_at: "2021-07-20T23:59:59Z",
            reasons: &[
                "cvss_class:priority=medium",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
                "kev_due_date:due_at=kev_due_date",
            ],
            details: &[("kev_due_date", "overdue on arrival")],
            ..case(
                "due date before dateAdded and before first seen",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            intel: intel(
                &[
                    kev_entry("CVE-2026-0002", "2026-02-01", "2026-03-03"),
                    kev_entry("CVE-2026-0003", "2026-02-01", "2026-03-02"),
                ],
                &[],
            ),
            priority: Priority::Critical,
            due_at: "2026-03-02T23:59:59Z",
            reasons: &[
                "cvss_class:priority=medium",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
                "kev_due_date:due_at=kev_due_date",
            ],
            details: &[("kev", "CVE-2026-0003")],
            ..case(
                "earliest due date among CVEs",
                finding(
                    Severity::Medium,
                    &[V31_MEDIUM],
                    &["CVE-2026-0002", "CVE-2026-0003"],
                ),
            )
        });
        let mut off = Policy::default();
        off.kev.enabled = false;
        check(Case {
            policy: off,
            intel: intel(&[kev_entry(cve, "2026-02-20", "2026-03-02")], &[]),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case("rule off", finding(Severity::Medium, &[V31_MEDIUM], &[cve]))
        });
        let mut no_cap = Policy::default();
        no_cap.kev.due_date_caps_sla = false;
        check(Case {
            policy: no_cap,
            intel: intel(&[kev_entry(cve, "2026-02-20", "2026-03-02")], &[]),
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case(
                "due date cap off",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
    }

    #[test]
    fn epss_exposure_tier_and_cap() {
        let cve = "CVE-2026-0001";
        check(Case {
            intel: intel(&[], &[(cve, 0.21233, 0.95432)]),
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "epss:raise",
                "adjustments:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[(
                "epss",
                "EPSS probability 0.21233 for CVE-2026-0001 >= 0.1 (score_date 2026-02-28T12:55:00Z, model v2025.03.14",
            )],
            ..case(
                "epss at threshold raises",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            intel: intel(&[], &[(cve, 0.0912, 0.9431)]),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "high percentile, low probability: no raise",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            intel: intel(
                &[],
                &[("CVE-2026-0002", 0.01, 0.5), ("CVE-2026-0003", 0.5, 0.99)],
            ),
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "epss:raise",
                "adjustments:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[("epss", "0.5 for CVE-2026-0003")],
            ..case(
                "highest probability among CVEs",
                finding(
                    Severity::Medium,
                    &[V31_MEDIUM],
                    &["CVE-2026-0002", "CVE-2026-0003"],
                ),
            )
        });
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "exposure:raise",
                "adjustments:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[("exposure", "web-1 is internet-facing")],
            ..case(
                "internet-facing raises",
                with_asset(
                    finding(Severity::Medium, &[V31_MEDIUM], &[]),
                    None,
                    Some(true),
                ),
            )
        });
        check(Case {
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "tier:raise",
                "adjustments:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            details: &[("tier", "tier 1")],
            ..case(
                "tier 1 raises",
                with_asset(
                    finding(Severity::High, &[V31_HIGH], &[]),
                    Some(1),
                    Some(false),
                ),
            )
        });
        check(Case {
            priority: Priority::Low,
            due_at: "2026-05-30T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "tier:lower",
                "adjustments:priority=low",
                "sla:due_at=first_observed_at+2160h",
            ],
            ..case(
                "tier 4 lowers",
                with_asset(finding(Severity::Medium, &[V31_MEDIUM], &[]), Some(4), None),
            )
        });
        check(Case {
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "tier 2 and 3 change nothing",
                with_asset(finding(Severity::Medium, &[V31_MEDIUM], &[]), Some(2), None),
            )
        });
        check(Case {
            intel: intel(&[], &[(cve, 0.5, 0.99)]),
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "epss:raise",
                "exposure:raise",
                "tier:raise",
                "raise_cap:capped",
                "adjustments:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[(
                "raise_cap",
                "3 raise(s) and 0 lower(s) net 3 class(es) up; the policy allows at most 1",
            )],
            ..case(
                "three raises move one class",
                with_asset(
                    finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
                    Some(1),
                    Some(true),
                ),
            )
        });
        check(Case {
            intel: intel(&[], &[(cve, 0.5, 0.99)]),
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "epss:raise",
                "exposure:raise",
                "tier:lower",
                "adjustments:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            ..case(
                "two raises and a lower net one up",
                with_asset(
                    finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
                    Some(4),
                    Some(true),
                ),
            )
        });
        check(Case {
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "exposure:raise",
                "tier:lower",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "a raise and a lower cancel",
                with_asset(
                    finding(Severity::Medium, &[V31_MEDIUM], &[]),
                    Some(4),
                    Some(true),
                ),
            )
        });
        let mut off = Policy::default();
        off.epss.enabled = false;
        off.exposure.enabled = false;
        off.tier.enabled = false;
        check(Case {
            policy: off,
            intel: intel(&[], &[(cve, 0.5, 0.99)]),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "rules off",
                with_asset(
                    finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
                    Some(1),
                    Some(true),
                ),
            )
        });
        let mut two = Policy::default();
        two.adjustments.max_raise_classes = 2;
        check(Case {
            policy: two,
            intel: intel(
                &[kev_entry(cve, "2026-02-20", "2026-03-20")],
                &[(cve, 0.5, 0.99)],
            ),
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=low",
                "scanner_severity:disagrees",
                "epss:raise",
                "exposure:raise",
                "adjustments:priority=high",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case(
                "KEV overrides after a cap of two",
                with_asset(
                    finding(
                        Severity::Medium,
                        &["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"],
                        &[cve],
                    ),
                    None,
                    Some(true),
                ),
            )
        });
    }

    #[test]
    fn kev_overrides_a_lowering() {
        let cve = "CVE-2026-0001";
        let mut intel = intel(
            &[kev_entry(cve, "2026-02-20", "2026-03-20")],
            &[(cve, 0.5, 0.99)],
        );
        intel.epss = None;
        check(Case {
            intel,
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "tier:lower",
                "adjustments:priority=low",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case(
                "tier 4 lowered, KEV still critical",
                with_asset(
                    finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
                    Some(4),
                    None,
                ),
            )
        });
    }

    #[test]
    fn sla_clock() {
        let prev = |first: &str, due: &str, priority| PreviousDecision {
            first_observed_at: utc(first),
            due_at: utc(due),
            priority,
            policy_version: "site-0".to_owned(),
        };
        check(Case {
            previous: Some(prev(T0, "2026-03-08T10:00:00Z", Priority::High)),
            priority: Priority::Medium,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
                "previous_due_at:due_at=kept",
            ],
            details: &[("previous_due_at", "(high) set due_at 2026-03-08T10:00:00Z")],
            ..case(
                "a lowering never extends",
                finding(Severity::Medium, &[V31_MEDIUM], &[]),
            )
        });
        check(Case {
            previous: Some(prev(T0, "2026-03-31T10:00:00Z", Priority::Medium)),
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            ..case(
                "a raise shortens",
                finding(Severity::High, &[V31_HIGH], &[]),
            )
        });
        check(Case {
            previous: Some(prev(
                "2026-01-01T00:00:00Z",
                "2026-01-04T00:00:00Z",
                Priority::Critical,
            )),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
                "sla_clock:restarted",
            ],
            ..case(
                "reopened: new clock",
                finding(Severity::Medium, &[V31_MEDIUM], &[]),
            )
        });
        let mut dst = finding(Severity::Critical, &[V31_CRITICAL], &[]);
        // Europe and the US leave winter time on 2026-03-29 / 2026-03-08:
        // the deadline is exact UTC hours, not local wall-clock days.
        dst.first_observed_at = utc("2026-03-27T12:00:00Z");
        check(Case {
            priority: Priority::Critical,
            due_at: "2026-03-30T12:00:00Z",
            reasons: &[
                "cvss_class:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case("across a DST change", dst)
        });
        let mut autumn = finding(Severity::High, &[V31_HIGH], &[]);
        autumn.first_observed_at = utc("2026-10-22T06:30:00Z");
        check(Case {
            priority: Priority::High,
            due_at: "2026-10-29T06:30:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            ..case("across the autumn DST change", autumn)
        });
        let mut leap = finding(Severity::Critical, &[V31_CRITICAL], &[]);
        leap.first_observed_at = utc("2028-02-27T12:00:00Z");
        check(Case {
            priority: Priority::Critical,
            due_at: "2028-03-01T12:00:00Z",
            reasons: &[
                "cvss_class:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case("across a leap day", leap)
        });
    }

    #[test]
    fn inputs_are_recorded() {
        let cve = "CVE-2026-0001";
        let f = finding(Severity::Medium, &[V31_MEDIUM], &[cve]);
        let i = intel(
            &[kev_entry(cve, "2026-02-20", "2026-03-13")],
            &[(cve, 0.01, 0.2)],
        );
        let d = decide(&Policy::default(), &i, &f, None);
        let inputs = &d.prioritized.inputs;
        let scored = inputs.cvss.as_ref().unwrap();
        assert_eq!(
            (scored.version, scored.base_score),
            (CvssVersion::V3_1, 5.3)
        );
        assert_eq!(scored.severity, Severity::Medium);
        assert_eq!(inputs.epss.as_ref().unwrap().probability, 0.01);
        assert_eq!(
            inputs.kev.as_ref().unwrap().due_date.to_string(),
            "2026-03-13"
        );
        // Serde round trip of the stored state.
        let json = serde_json::to_string(&d.state).unwrap();
        assert_eq!(
            json,
            r#"{"first_observed_at":"2026-03-01T10:00:00Z","due_at":"2026-03-04T10:00:00Z","priority":"critical","policy_version":"default-1"}"#
        );
        assert_eq!(
            serde_json::from_str::<PreviousDecision>(&json).unwrap(),
            d.state
        );
        // State stored before policy versions were recorded still loads.
        let old: PreviousDecision = serde_json::from_str(
            r#"{"first_observed_at":"2026-03-01T10:00:00Z","due_at":"2026-03-04T10:00:00Z","priority":"critical"}"#,
        )
        .unwrap();
        assert_eq!(old.policy_version, "");
    }

    /// A delta names the previous decision as it was made: its class, its
    /// deadline and the policy version it was made under (not the current
    /// one); an unchanged decision carries no `previous`.
    #[test]
    fn delta_reports_the_previous_decision_and_its_policy() {
        let f = finding(Severity::High, &[V31_HIGH], &[]);
        let stored = |policy_version: &str| PreviousDecision {
            first_observed_at: utc(T0),
            due_at: utc("2026-03-31T10:00:00Z"),
            priority: Priority::Medium,
            policy_version: policy_version.to_owned(),
        };
        let table: &[(&str, &str)] = &[("site-0", "site-0"), ("", "unrecorded")];
        for (stored_version, reported) in table {
            let d = decide(
                &Policy::default(),
                &Intel::default(),
                &f,
                Some(&stored(stored_version)),
            );
            assert_eq!(
                d.prioritized.previous,
                Some(events::PriorDecision {
                    priority: Priority::Medium,
                    due_at: utc("2026-03-31T10:00:00Z"),
                    policy_version: (*reported).to_owned(),
                }),
                "{stored_version:?}"
            );
            assert_eq!(d.state.policy_version, "default-1");
        }
        let same = decide(&Policy::default(), &Intel::default(), &f, None).state;
        let again = decide(&Policy::default(), &Intel::default(), &f, Some(&same));
        assert_eq!(again.prioritized.previous, None);
    }

    /// Case OC-05: Grype says Medium, the vector scores 8.8: high, 7 days,
    /// the disagreement recorded.
    #[test]
    fn oc05_vector_class_over_scanner_label() {
        let Some(cases) = testkit::cases() else {
            return;
        };
        let text = std::fs::read_to_string(cases.join("OC-05/scan.json")).unwrap();
        let scan: serde_json::Value = serde_json::from_str(&text).unwrap();
        let m = &scan["matches"][0];
        let label = m["vulnerability"]["severity"].as_str().unwrap();
        let c = &m["vulnerability"]["cvss"][0];
        let mut f = finding(Severity::Medium, &[], &[]);
        assert_eq!(label, "Medium");
        f.check.scanner = "grype".to_owned();
        f.cves = vec![
            m["relatedVulnerabilities"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        ];
        f.cvss = vec![CvssVector {
            version: CvssVersion::V3_1,
            vector: c["vector"].as_str().unwrap().to_owned(),
            reported_score: c["metrics"]["baseScore"].as_f64(),
            source: c["source"].as_str().unwrap().to_owned(),
        }];
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "scanner_severity:disagrees",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[
                ("cvss_class", "CVSS 3.1 score 8.8 from github"),
                ("scanner_severity", "scanner grype labels it medium"),
            ],
            ..case("OC-05", f)
        });
    }

    /// Case OC-08: the EPSS probability, never the percentile, raises.
    #[test]
    fn oc08_epss_probability_not_percentile() {
        let Some(cases) = testkit::cases() else {
            return;
        };
        let dir = cases.join("OC-08");
        let epss =
            crate::intel::load_epss(std::fs::File::open(dir.join("epss.csv")).unwrap(), None)
                .unwrap();
        // The case's policy.toml uses illustrative keys; map them onto ours.
        let case_policy: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("policy.toml")).unwrap()).unwrap();
        let threshold = case_policy["rules"][0]["when"]["epss_probability_gte"]
            .as_float()
            .unwrap();
        let policy = Policy::from_toml(&format!(
            "version = {}\n[epss]\nprobability_threshold = {threshold}\n",
            case_policy["version"]
        ))
        .unwrap();
        assert_eq!(policy.version, "oc08");
        let intel = Intel {
            kev: None,
            epss: Some(epss),
        };
        // The three report items (plugin id, CVE, vector) of scan.nessus.
        let nessus = std::fs::read_to_string(dir.join("scan.nessus")).unwrap();
        let between = |s: &str, a: &str, b: &str| -> String {
            let from = s.find(a).unwrap() + a.len();
            s[from..][..s[from..].find(b).unwrap()].to_owned()
        };
        let items: Vec<(String, String, String)> = nessus
            .split("<ReportItem ")
            .skip(1)
            .map(|item| {
                (
                    between(item, "pluginID=\"", "\""),
                    between(item, "<cve>", "</cve>"),
                    between(item, "<cvss3_vector>", "</cvss3_vector>"),
                )
            })
            .collect();
        assert_eq!(items.len(), 3);
        let first_seen = DateTime::from_timestamp(1_755_165_600, 0).unwrap(); // HOST_END_TIMESTAMP
        for (plugin, cve, vector) in items {
            let mut f = finding(Severity::Medium, &[&vector], &[&cve]);
            f.check.id = plugin.clone();
            f.first_observed_at = first_seen;
            let d = decide(&policy, &intel, &f, None).prioritized;
            assert_eq!(d.policy_version, "oc08");
            let epss_reason = d.reasons.iter().find(|r| r.rule == "epss");
            if plugin == "990802" {
                assert_eq!(d.priority, Priority::High, "{plugin}");
                assert_eq!(d.due_at, utc("2025-08-21T10:00:00Z"));
                let detail = &epss_reason.unwrap().detail;
                for needle in ["0.21233", "2025-08-14", "v2025.03.14"] {
                    assert!(detail.contains(needle), "{detail}");
                }
            } else {
                assert_eq!(d.priority, Priority::Medium, "{plugin}");
                assert_eq!(d.due_at, utc("2025-09-13T10:00:00Z"));
                assert_eq!(epss_reason, None, "{plugin}");
            }
        }
    }
}
