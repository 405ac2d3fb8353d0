//! CVSS scoring: a strict wrapper over the RustSec `cvss` crate (3.x).
//!
//! [`score`] takes a vector as scanners write it (CVSS v2.0, v3.0, v3.1 or
//! v4.0), normalizes its spelling, checks its structure and returns the score
//! the specification defines for it:
//!
//! - v2.0 and v3.x: the **base score** (FIRST CVSS v2.0 guide §3.2.1; FIRST
//!   CVSS v3.1 specification §7.1 and Appendix A `Roundup`; v3.0 rounds up to
//!   one decimal). Temporal and environmental metrics in the vector are
//!   checked but do not change the score.
//! - v4.0: the single score of the vector **as written** (FIRST CVSS v4.0
//!   specification §8): CVSS-B for base metrics only, CVSS-BT / CVSS-BE /
//!   CVSS-BTE when threat or environmental metrics are present.
//!   Supplemental metrics never change it.
//!
//! The severity is the qualitative rating of the score: for v3.x and v4.0 the
//! FIRST scale (0.0 none, reported as [`Severity::Info`]; 0.1–3.9 low;
//! 4.0–6.9 medium; 7.0–8.9 high; 9.0–10.0 critical). CVSS v2.0 defines no
//! rating; the NVD v2 bands are used: low 0.0–3.9, medium 4.0–6.9, high
//! 7.0–10.0 (a v2 score is never critical).
//!
//! # What the wrapper adds to the crate
//!
//! The crate accepts an incomplete v3 vector (`CVSS:3.1/AV:N/AC:L` scores
//! 0.0). Here a vector is rejected, with an error naming the metrics, when it
//! lacks any base metric, repeats a metric, or names a metric its version
//! does not define. Metric names must be spelled as the specification spells
//! them (`Au` in v2, `AV` everywhere); the `CVSS:` / `CVSS2#` prefixes are
//! matched case-insensitively, and the crate matches v3 and v4 *values*
//! case-insensitively, which is kept.

use std::str::FromStr;

use events::{CvssVector, CvssVersion, ScoredCvss, Severity};

/// A scanner's reported score counts as disagreeing with the computed score
/// when they differ by more than this (scores have one decimal).
pub const REPORTED_SCORE_TOLERANCE: f64 = 0.05;

/// Why a vector could not be scored. Every message names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    /// The input was empty or whitespace.
    #[error("empty CVSS vector")]
    Empty,
    /// The input holds no `METRIC:VALUE` component at all.
    #[error(
        "{0:?} is not a CVSS vector: expected METRIC:VALUE components joined by '/', with a \
         CVSS:3.1/ or CVSS:4.0/ prefix for v3 and v4 (v2: AV:N/AC:L/Au:N/C:P/I:P/A:P)"
    )]
    NotAVector(String),
    /// A `CVSS:x.y/` prefix names a version this wrapper does not score.
    #[error("unsupported CVSS version {0:?} (supported: 2.0, 3.0, 3.1, 4.0)")]
    UnsupportedVersion(String),
    /// A vector without a version prefix uses metrics of a later version.
    #[error(
        "vector {0:?} has no CVSS:x.y/ prefix but uses metrics that CVSS v2 does not define; \
         v3 and v4 vectors must start with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/"
    )]
    MissingPrefix(String),
    /// A component is not `METRIC:VALUE`.
    #[error("CVSS {} component {component:?} is not METRIC:VALUE", .version.as_str())]
    MalformedComponent {
        /// Version of the vector.
        version: CvssVersion,
        /// The offending component, as written.
        component: String,
    },
    /// Metrics the version does not define.
    #[error("unknown CVSS {} metric(s): {}", .version.as_str(), .metrics.join(", "))]
    UnknownMetrics {
        /// Version of the vector.
        version: CvssVersion,
        /// The unknown metric names, as written, in order of appearance.
        metrics: Vec<String>,
    },
    /// Metrics given more than once (a last-wins or first-wins reading would
    /// silently pick one of the values).
    #[error("repeated CVSS {} metric(s): {}", .version.as_str(), .metrics.join(", "))]
    RepeatedMetrics {
        /// Version of the vector.
        version: CvssVersion,
        /// Each repeated metric once, in order of its first repetition.
        metrics: Vec<String>,
    },
    /// Base metrics absent from the vector.
    #[error("CVSS {} vector lacks base metric(s): {}", .version.as_str(), .metrics.join(", "))]
    MissingBaseMetrics {
        /// Version of the vector.
        version: CvssVersion,
        /// The missing base metrics, in specification order.
        metrics: Vec<String>,
    },
    /// A metric has a value its version does not define.
    #[error("invalid value {value:?} for CVSS {} metric {metric}", .version.as_str())]
    InvalidValue {
        /// Version of the vector.
        version: CvssVersion,
        /// Metric name.
        metric: String,
        /// The value, as the crate saw it.
        value: String,
    },
    /// Any other refusal of the underlying crate, with its message.
    #[error("CVSS {} vector rejected: {message}", .version.as_str())]
    Rejected {
        /// Version of the vector.
        version: CvssVersion,
        /// The crate's message.
        message: String,
    },
}

/// A scored vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Specification version.
    pub version: CvssVersion,
    /// Canonical spelling: v2 bare (`AV:N/AC:L/Au:N/C:P/I:P/A:P`), v3 and v4
    /// with their `CVSS:x.y/` prefix; components as written, in input order.
    pub vector: String,
    /// The score (0.0–10.0, one decimal): base score for v2/v3, the vector's
    /// CVSS-B/BT/BE/BTE score for v4 (see the module docs).
    pub score: f64,
    /// Qualitative rating (see the module docs; 0.0 in v3/v4 is `Info`).
    pub severity: Severity,
}

impl Scored {
    /// The rating as the specification names it: `None`, `Low`, `Medium`,
    /// `High` or `Critical` (v2 uses the NVD bands, never `None`).
    pub fn rating(&self) -> &'static str {
        match self.severity {
            Severity::Info => "None",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }

    /// Which score [`Scored::score`] is: `base` for v2.0 and v3.x (their
    /// temporal and environmental metrics do not count here); for v4.0 the
    /// specification's nomenclature (FIRST CVSS v4.0 §1.3): `CVSS-B` for base
    /// metrics only, `CVSS-BT` with a threat metric (`E`), `CVSS-BE` with an
    /// environmental one (`CR`, `IR`, `AR`, `M*`), `CVSS-BTE` with both. A
    /// metric written as `X` (Not Defined) is absent; supplemental metrics
    /// never count.
    pub fn score_type(&self) -> &'static str {
        if self.version != CvssVersion::V4_0 {
            return "base";
        }
        let (mut threat, mut environmental) = (false, false);
        for (metric, value) in self.vector.split('/').filter_map(|c| c.split_once(':')) {
            if value.eq_ignore_ascii_case("X") {
                continue;
            }
            match metric {
                "E" => threat = true,
                "CR" | "IR" | "AR" => environmental = true,
                m if m.starts_with('M') => environmental = true,
                _ => {}
            }
        }
        match (threat, environmental) {
            (false, false) => "CVSS-B",
            (true, false) => "CVSS-BT",
            (false, true) => "CVSS-BE",
            (true, true) => "CVSS-BTE",
        }
    }
}

const V2_BASE: &[&str] = &["AV", "AC", "Au", "C", "I", "A"];
const V2_OTHER: &[&str] = &["E", "RL", "RC", "CDP", "TD", "CR", "IR", "AR"];
const V3_BASE: &[&str] = &["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
const V3_OTHER: &[&str] = &[
    "E", "RL", "RC", "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA",
];
const V4_BASE: &[&str] = &[
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
];
const V4_OTHER: &[&str] = &[
    "E", "CR", "IR", "AR", "MAV", "MAC", "MAT", "MPR", "MUI", "MVC", "MVI", "MVA", "MSC", "MSI",
    "MSA", "S", "AU", "R", "V", "RE", "U",
];
/// Metrics whose presence in an unprefixed vector shows it is not v2.
const NOT_V2: &[&str] = &["PR", "UI", "S", "AT", "VC", "VI", "VA", "SC", "SI", "SA"];

fn metric_names(version: CvssVersion) -> (&'static [&'static str], &'static [&'static str]) {
    match version {
        CvssVersion::V2 => (V2_BASE, V2_OTHER),
        CvssVersion::V3_0 | CvssVersion::V3_1 => (V3_BASE, V3_OTHER),
        CvssVersion::V4_0 => (V4_BASE, V4_OTHER),
    }
}

/// Normalizes the spellings scanners use and returns the version and the
/// canonical vector (see [`Scored::vector`]). Does not check metrics.
///
/// Accepted v2 spellings: bare `AV:N/AC:L/Au:N/...`, `CVSS2#AV:N/...`
/// (Nessus), `CVSS:2.0/AV:N/...`, and any of these in parentheses
/// (`(AV:N/...)`, Qualys). v3/v4: `CVSS:3.0/`, `CVSS:3.1/`, `CVSS:4.0/`
/// (prefixes in any letter case; the canonical form is upper case).
/// Surrounding whitespace is ignored.
///
/// # Errors
/// [`CvssError::Empty`], [`CvssError::UnsupportedVersion`] for another
/// `CVSS:x.y/` prefix, [`CvssError::NotAVector`] for text without any
/// `METRIC:VALUE`, [`CvssError::MissingPrefix`] for an unprefixed vector
/// with v3/v4 metrics.
pub fn normalize(raw: &str) -> Result<(CvssVersion, String), CvssError> {
    let s = unparen(raw.trim());
    if s.is_empty() {
        return Err(CvssError::Empty);
    }
    if let Some(rest) = strip_prefix_ignore_case(s, "CVSS2#") {
        return Ok((CvssVersion::V2, unparen(rest).to_owned()));
    }
    if let Some(rest) = strip_prefix_ignore_case(s, "CVSS:") {
        let (label, body) = rest.split_once('/').unwrap_or((rest, ""));
        let version = match label {
            "2.0" | "2" => return Ok((CvssVersion::V2, unparen(body).to_owned())),
            "3.0" => CvssVersion::V3_0,
            "3.1" => CvssVersion::V3_1,
            "4.0" => CvssVersion::V4_0,
            other => return Err(CvssError::UnsupportedVersion(other.to_owned())),
        };
        return Ok((version, format!("CVSS:{rest}")));
    }
    if !s.contains(':') {
        // Not one METRIC:VALUE in it: not a vector of any version (calling
        // it a malformed v2 component would mislead).
        return Err(CvssError::NotAVector(s.to_owned()));
    }
    let uses_later_metrics = s
        .split('/')
        .filter_map(|c| c.split_once(':'))
        .any(|(name, _)| NOT_V2.contains(&name));
    if uses_later_metrics {
        return Err(CvssError::MissingPrefix(s.to_owned()));
    }
    Ok((CvssVersion::V2, s.to_owned()))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn unparen(s: &str) -> &str {
    s.strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .map_or(s, str::trim)
}

/// Checks components, metric names, repetitions and base-metric
/// completeness of a normalized vector.
fn check_structure(version: CvssVersion, vector: &str) -> Result<(), CvssError> {
    let body = match version {
        CvssVersion::V2 => vector,
        // The prefix was checked by `normalize`; the body follows the first '/'.
        _ => vector.split_once('/').map_or("", |(_, b)| b),
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut repeated: Vec<String> = Vec::new();
    let (base, other) = metric_names(version);
    // An empty body has no components: every base metric is then missing.
    for component in body.split('/').filter(|_| !body.is_empty()) {
        let name = match component.split_once(':') {
            Some((n, v)) if !n.is_empty() && !v.is_empty() && !v.contains(':') => n,
            _ => {
                return Err(CvssError::MalformedComponent {
                    version,
                    component: component.to_owned(),
                });
            }
        };
        if !base.contains(&name) && !other.contains(&name) {
            if !unknown.iter().any(|u| u == name) {
                unknown.push(name.to_owned());
            }
        } else if seen.contains(&name) {
            if !repeated.iter().any(|r| r == name) {
                repeated.push(name.to_owned());
            }
        } else {
            seen.push(name);
        }
    }
    if !unknown.is_empty() {
        return Err(CvssError::UnknownMetrics {
            version,
            metrics: unknown,
        });
    }
    if !repeated.is_empty() {
        return Err(CvssError::RepeatedMetrics {
            version,
            metrics: repeated,
        });
    }
    let missing: Vec<String> = base
        .iter()
        .filter(|m| !seen.contains(m))
        .map(|m| (*m).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(CvssError::MissingBaseMetrics {
            version,
            metrics: missing,
        });
    }
    Ok(())
}

fn crate_error(version: CvssVersion, e: cvss::Error) -> CvssError {
    match e {
        cvss::Error::InvalidMetricV2 { metric_type, value } => CvssError::InvalidValue {
            version,
            metric: metric_type.name().to_owned(),
            value,
        },
        cvss::Error::InvalidMetricV3 { metric_type, value } => CvssError::InvalidValue {
            version,
            metric: metric_type.name().to_owned(),
            value,
        },
        cvss::Error::InvalidMetricV4 { metric_type, value } => CvssError::InvalidValue {
            version,
            metric: metric_type.name().to_owned(),
            value,
        },
        other => CvssError::Rejected {
            version,
            message: other.to_string(),
        },
    }
}

/// The NVD rating of a CVSS v2 base score (v2 defines none): low 0.0–3.9,
/// medium 4.0–6.9, high 7.0–10.0.
pub fn v2_severity(score: f64) -> Severity {
    if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Vectors remembered per thread by [`score`]; when full, the memory is
/// emptied and refills with the vectors in use.
pub const SCORE_CACHE_ENTRIES: usize = 16_384;

/// A scored vector or why it was refused, as the memory keeps it.
type Outcome = Result<std::rc::Rc<Scored>, CvssError>;

thread_local! {
    /// Raw vector → its outcome. A fleet repeats a few thousand distinct
    /// vectors across millions of findings; parsing and scoring one costs
    /// microseconds (v4.0 most), a lookup tens of nanoseconds. A hit shares
    /// the scored vector (`Rc`) instead of copying its text.
    static SCORE_CACHE: std::cell::RefCell<std::collections::HashMap<Box<str>, Outcome>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Scores a vector (see the module docs for which score and rating).
///
/// Pure: the outcome depends on `raw` alone. It is memoized per thread
/// (at most [`SCORE_CACHE_ENTRIES`] vectors), which changes nothing but the
/// time a repeated vector takes.
///
/// # Errors
/// Any [`CvssError`]: a spelling [`normalize`] refuses, a malformed
/// component, an unknown, repeated or missing base metric, or a value the
/// version does not define. Each names the offending metrics or text.
pub fn score(raw: &str) -> Result<Scored, CvssError> {
    score_shared(raw).map(|s| (*s).clone())
}

/// [`score`] without copying a memoized outcome: the scored vector is
/// shared with the per-thread memory.
///
/// # Errors
/// As [`score`].
pub fn score_shared(raw: &str) -> Result<std::rc::Rc<Scored>, CvssError> {
    if let Some(hit) = SCORE_CACHE.with(|c| c.borrow().get(raw).cloned()) {
        return hit;
    }
    let outcome = score_uncached(raw).map(std::rc::Rc::new);
    SCORE_CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= SCORE_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(raw.into(), outcome.clone());
    });
    outcome
}

fn score_uncached(raw: &str) -> Result<Scored, CvssError> {
    let (version, vector) = normalize(raw)?;
    check_structure(version, &vector)?;
    let score = match version {
        CvssVersion::V2 => cvss::v2::Vector::from_str(&vector)
            .map_err(|e| crate_error(version, e))?
            .score()
            .value(),
        CvssVersion::V3_0 | CvssVersion::V3_1 => cvss::v3::Vector::from_str(&vector)
            .map_err(|e| crate_error(version, e))?
            .base_score()
            .value(),
        CvssVersion::V4_0 => cvss::v4::Vector::from_str(&vector)
            .map_err(|e| crate_error(version, e))?
            .score()
            .value(),
    };
    // The v2 base equation can yield -0.0 (`max(-0.0, 0.0)`); adding 0.0
    // turns it into +0.0 so it prints as `0.0`.
    let score = score + 0.0;
    let severity = match version {
        CvssVersion::V2 => v2_severity(score),
        _ => Severity::from_cvss(score),
    };
    Ok(Scored {
        version,
        vector,
        score,
        severity,
    })
}

/// Scores a vector a scanner reported, keeping its source and flagging a
/// reported score that differs from the computed one by more than
/// [`REPORTED_SCORE_TOLERANCE`] (the vector wins).
///
/// The version is taken from the vector itself; a vector whose spelling
/// contradicts `reported.version` is still scored by what it says.
///
/// # Errors
/// As [`score`].
pub fn score_reported(reported: &CvssVector) -> Result<ScoredCvss, CvssError> {
    let scored = score(&reported.vector)?;
    let reported_score_disagrees = reported
        .reported_score
        .filter(|r| (r - scored.score).abs() > REPORTED_SCORE_TOLERANCE);
    Ok(ScoredCvss {
        version: scored.version,
        vector: scored.vector,
        base_score: scored.score,
        severity: scored.severity,
        source: reported.source.clone(),
        reported_score_disagrees,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok((score, rating))` or `Err(message)`.
    type Want = Result<(f64, &'static str), &'static str>;

    fn check(input: &str, want: Want) {
        match (score(input), want) {
            (Ok(s), Ok((score, rating))) => {
                assert_eq!((s.score, s.rating()), (score, rating), "{input}");
            }
            (Err(e), Err(msg)) => assert_eq!(e.to_string(), msg, "{input}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn score_type_names_the_metric_groups_that_count() {
        let table = [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/MC:N",
                "base",
            ),
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P/E:U", "base"),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                "CVSS-B",
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U",
                "CVSS-BT",
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/MVC:L",
                "CVSS-BE",
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P/CR:H",
                "CVSS-BTE",
            ),
            // Not Defined is absent; supplemental metrics never count.
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/MAV:X/S:P/AU:Y",
                "CVSS-B",
            ),
        ];
        for (vector, want) in table {
            let scored = score(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            assert_eq!(scored.score_type(), want, "{vector}");
        }
    }
    #[test]
    fn spellings_and_sharp_edges() {
        let table: &[(&str, Want)] = &[
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                Ok((9.8, "Critical")),
            ),
            (
                "  CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H \n",
                Ok((8.8, "High")),
            ),
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", Ok((7.5, "High"))),
            ("CVSS2#AV:N/AC:L/Au:N/C:P/I:P/A:P", Ok((7.5, "High"))),
            ("CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", Ok((7.5, "High"))),
            ("(AV:N/AC:L/Au:N/C:P/I:P/A:P)", Ok((7.5, "High"))),
            ("AV:L/AC:H/Au:M/C:N/I:N/A:N", Ok((0.0, "Low"))),
            (
                "AV:N/AC:L/Au:N/C:P/I:P/A:P/E:U/RL:OF/RC:C",
                Ok((7.5, "High")),
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:R",
                Ok((9.8, "Critical")),
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
                Ok((0.0, "None")),
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                Ok((9.3, "Critical")),
            ),
            (
                "CVSS:3.1/AV:N/AC:L",
                Err("CVSS 3.1 vector lacks base metric(s): PR, UI, S, C, I, A"),
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H",
                Err("CVSS 4.0 vector lacks base metric(s): SC, SI, SA"),
            ),
            (
                "AV:N/AC:L/C:P/I:P/A:P",
                Err("CVSS 2.0 vector lacks base metric(s): Au"),
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y",
                Err("unknown CVSS 3.1 metric(s): XX"),
            ),
            (
                "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                Err("invalid value \"Q\" for CVSS 3.1 metric AV"),
            ),
            (
                "AV:N/AC:L/Au:X/C:P/I:P/A:P",
                Err("invalid value \"X\" for CVSS 2.0 metric Au"),
            ),
            (
                "CVSS:3.1/AV:N//AC:L",
                Err("CVSS 3.1 component \"\" is not METRIC:VALUE"),
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",
                Err("CVSS 3.1 component \"\" is not METRIC:VALUE"),
            ),
            (
                "CVSS:5.0/AV:N",
                Err("unsupported CVSS version \"5.0\" (supported: 2.0, 3.0, 3.1, 4.0)"),
            ),
            ("   ", Err("empty CVSS vector")),
            (
                "CVSS:3.1",
                Err("CVSS 3.1 vector lacks base metric(s): AV, AC, PR, UI, S, C, I, A"),
            ),
            (
                "cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                Ok((9.8, "Critical")),
            ),
            ("cvss2#AV:N/AC:L/Au:N/C:P/I:P/A:P", Ok((7.5, "High"))),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/XY:Z/QQ:1",
                Err("unknown CVSS 4.0 metric(s): XY, QQ"),
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:Q",
                Err("invalid value \"Q\" for CVSS 4.0 metric E"),
            ),
        ];
        for (input, want) in table {
            check(input, *want);
        }
        assert!(matches!(
            score("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Err(CvssError::MissingPrefix(_))
        ));
    }

    #[test]
    fn canonical_spelling_strips_v2_prefixes_only() {
        for raw in [
            "CVSS2#AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "(AV:N/AC:L/Au:N/C:P/I:P/A:P)",
            "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
        ] {
            let s = score(raw).unwrap();
            assert_eq!(s.version, CvssVersion::V2);
            assert_eq!(s.vector, "AV:N/AC:L/Au:N/C:P/I:P/A:P");
        }
        assert_eq!(
            score("cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
                .unwrap()
                .vector,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        );
        let v3 = score("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N").unwrap();
        assert_eq!(v3.version, CvssVersion::V3_0);
        assert_eq!(v3.vector, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N");
        assert_eq!(v3.score, 5.3);
    }

    #[test]
    fn reported_score_disagreement_is_flagged_beyond_tolerance() {
        let v = |reported| CvssVector {
            version: CvssVersion::V3_1,
            vector: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H".to_owned(),
            reported_score: reported,
            source: "github".to_owned(),
        };
        let agree = score_reported(&v(Some(8.8))).unwrap();
        assert_eq!(agree.reported_score_disagrees, None);
        assert_eq!(agree.base_score, 8.8);
        assert_eq!(agree.severity, Severity::High);
        assert_eq!(agree.source, "github");
        assert_eq!(
            score_reported(&v(Some(5.0)))
                .unwrap()
                .reported_score_disagrees,
            Some(5.0)
        );
        assert_eq!(
            score_reported(&v(None)).unwrap().reported_score_disagrees,
            None
        );
    }

    /// Case OC-09: a repeated metric is an error naming it; the control line scores.
    #[test]
    fn oc09_repeated_metrics_are_rejected_by_name() {
        let Some(cases) = testkit::cases() else {
            return;
        };
        let text = std::fs::read_to_string(cases.join("OC-09/vectors.txt")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        let want_repeated = [
            (CvssVersion::V3_1, "AV"),
            (CvssVersion::V3_0, "C"),
            (CvssVersion::V2, "AV"),
            (CvssVersion::V4_0, "AV"),
        ];
        for (line, (version, metric)) in lines.iter().zip(want_repeated) {
            let err = score(line).unwrap_err();
            assert_eq!(
                err,
                CvssError::RepeatedMetrics {
                    version,
                    metrics: vec![metric.to_owned()]
                },
                "{line}"
            );
            assert!(err.to_string().contains(metric), "{err}");
        }
        let control = score(lines[4]).unwrap();
        assert_eq!(
            format!("{:.1} {}", control.score, control.rating().to_uppercase()),
            "9.8 CRITICAL"
        );
    }

    /// Walks a reference file (`vector<TAB>score<TAB>severity`, see
    /// corpus/cvss/SOURCES.md) and returns (lines, mismatches).
    fn walk(file: &str) -> Option<(usize, Vec<String>)> {
        let dir = testkit::corpus()?.join("cvss");
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let mut lines = 0;
        let mut bad = Vec::new();
        for (n, line) in text.lines().enumerate() {
            lines += 1;
            let cols: Vec<&str> = line.split('\t').collect();
            let [vector, want_score, want_rating] = cols[..] else {
                bad.push(format!("{file}:{}: not 3 columns", n + 1));
                continue;
            };
            let want_score: f64 = want_score.parse().unwrap();
            match score(vector) {
                Ok(s) if s.score == want_score && s.rating() == want_rating => {}
                Ok(s) => bad.push(format!(
                    "{file}:{}: {vector}: got {} {}, want {want_score} {want_rating}",
                    n + 1,
                    s.score,
                    s.rating()
                )),
                Err(e) => bad.push(format!("{file}:{}: {vector}: {e}", n + 1)),
            }
        }
        Some((lines, bad))
    }

    fn assert_walk(file: &str, want_lines: usize) {
        let Some((lines, bad)) = walk(file) else {
            return;
        };
        assert_eq!(lines, want_lines, "{file} line count");
        assert!(
            bad.is_empty(),
            "{} of {lines} lines differ:\n{}",
            bad.len(),
            bad.join("\n")
        );
        eprintln!("{file}: {lines}/{lines} lines exact");
    }

    #[test]
    fn reference_vectors_v2() {
        assert_walk("vectors-v2.tsv", 729);
    }

    #[test]
    fn reference_vectors_v3() {
        assert_walk("vectors-v3.tsv", 4984);
    }

    #[test]
    fn reference_vectors_v4_base() {
        assert_walk("vectors-v4.tsv", 1058);
    }

    #[test]
    fn reference_vectors_v4_threat_environmental() {
        assert_walk("vectors-v4-threat-env.tsv", 906);
    }
}
