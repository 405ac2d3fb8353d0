//! The pure prioritize stage: one observed finding in, one priority decision
//! out, with its SLA deadline and the reasons for both.
//!
//! No I/O, no clock, no randomness: [`decide`] is a function of the policy,
//! the intel tables, the finding and what was decided for it before.
//!
//! [`decide`] is [`assess`] then [`Assessment::decision`]: `assess` reaches
//! the class, the SLA and `due_at` and records the rules that fired as
//! compact values (no text, no copies of the finding; CVSS facts memoized
//! per vector string); `decision` renders the reasons' texts and the
//! payload from those values, so the texts exist only when a payload is
//! built.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use events::{
    DecisionInputs, EpssInput, ExploitedAdvisoryInput, FindingObserved, FindingPrioritized,
    KevInput, Priority, Reason, ScoredCvss, Severity,
};

use events::CvssVersion;

use crate::cvss;
use crate::intel::{ExploitedAdvisory, Intel};
use crate::policy::{Policy, PolicyMode};
use crate::ssvc::{TechnicalImpact, TotalImpactRule};

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

/// Decides the priority class and SLA deadline of one observed finding and
/// renders the `patch.finding.prioritized` payload: [`assess`] followed by
/// [`Assessment::decision`].
///
/// The class follows the policy's rules in their fixed order (see
/// [`crate::policy`]): base class from the best scorable CVSS vector (or
/// the scanner's severity), then EPSS, exposure, tier and ring adjustments
/// (capped), then KEV → critical, then a vendor advisory stating
/// exploitation in the wild ([`Intel::exploited`]) → critical (rule
/// `exploited_advisory`; it moves no deadline). Each rule that fires adds a
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
///   shortens the deadline, a lowering never extends it — unless the
///   policy sets `sla_clock.lowering_keeps_due_at = false`, in which case a
///   lowered class takes its own SLA from the same start (reason
///   `sla_clock`, effect `lowered`). A raise never extends a deadline
///   whatever the policy says.
/// - A `previous` decision with a different `first_observed_at` (the
///   finding was resolved and reopened) does not count: a new clock starts
///   (reason `sla_clock`, effect `restarted`).
///
/// `sla_hours` in the output is always the SLA of the decided class, even
/// when `due_at` was moved earlier.
pub fn decide(
    policy: &Policy,
    intel: &Intel,
    finding: &FindingObserved,
    previous: Option<&PreviousDecision>,
) -> Decision {
    assess_keeping(policy, intel, finding, previous, true).decision()
}

/// Decides like [`decide`] without rendering anything: the class, the SLA
/// and `due_at`, and the rules that fired with the values they used (no
/// allocation for a vector already scored on this thread). The texts of
/// the reasons and the payload are built by [`Assessment::decision`], from
/// the same values, so `assess(..).decision()` is exactly [`decide`].
pub fn assess<'a>(
    policy: &'a Policy,
    intel: &'a Intel,
    finding: &'a FindingObserved,
    previous: Option<&'a PreviousDecision>,
) -> Assessment<'a> {
    assess_keeping(policy, intel, finding, previous, false)
}

/// [`assess`]; with `keep_scored` the best vector's memoized scoring is
/// kept for [`Assessment::decision`] (what [`decide`] renders), sparing it a
/// second lookup.
fn assess_keeping<'a>(
    policy: &'a Policy,
    intel: &'a Intel,
    finding: &'a FindingObserved,
    previous: Option<&'a PreviousDecision>,
    keep_scored: bool,
) -> Assessment<'a> {
    // The intel lookups first: their table reads then overlap the
    // parsing of the vectors.
    let (epss, kev) = epss_and_kev(intel, &finding.cves);
    let mut fired = FiredList::default();
    let best = best_vector(finding, &mut fired, keep_scored);
    let exploited = earliest_exploited(intel, &finding.cves);
    let priority = match policy.mode {
        PolicyMode::Rules => class_rules(
            policy,
            finding,
            best.as_ref(),
            epss,
            kev,
            exploited,
            &mut fired,
        ),
        PolicyMode::Ssvc => {
            let rule = policy.ssvc.technical_impact_total;
            let points = crate::ssvc::points(
                &policy.ssvc,
                best.as_ref().map(|b| b.facts.ssvc_points(rule)),
                epss.map(|e| e.probability),
                (kev.is_some() && policy.kev.enabled)
                    || (exploited.is_some() && policy.exploited_advisory.enabled),
                finding.asset.tier,
            );
            fired.push(Fired::Ssvc);
            points.priority
        }
    };

    // SLA.
    let start = finding.first_observed_at;
    let sla_hours = policy.sla_hours.of(priority);
    let mut due_at = start
        .checked_add_signed(TimeDelta::hours(i64::from(sla_hours)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    fired.push(Fired::Sla);
    if let (true, true, Some(k)) = (policy.kev.enabled, policy.kev.due_date_caps_sla, kev) {
        let kev_due = kev_due_instant(k);
        if kev_due < due_at {
            due_at = kev_due;
            fired.push(Fired::KevDueDate {
                late: kev_due < start,
            });
        }
    }
    if let Some(prev) = previous {
        if prev.first_observed_at == start {
            if prev.due_at < due_at {
                // `Priority` orders the most urgent first: a greater class
                // is a lower priority.
                let lowered = priority > prev.priority;
                if lowered && !policy.sla_clock.lowering_keeps_due_at {
                    fired.push(Fired::SlaClockLowered);
                } else {
                    due_at = prev.due_at;
                    fired.push(Fired::PreviousDueAt);
                }
            }
        } else {
            fired.push(Fired::SlaClockRestarted);
        }
    }
    Assessment {
        policy,
        intel,
        finding,
        previous,
        best,
        epss,
        kev,
        exploited,
        priority,
        sla_hours,
        due_at,
        fired,
    }
}

/// What [`assess`] decided, borrowing its inputs: the class, the deadline
/// and the rules that fired, in order, with the values they used. Render it
/// with [`Assessment::decision`].
#[derive(Debug, Clone)]
pub struct Assessment<'a> {
    policy: &'a Policy,
    intel: &'a Intel,
    finding: &'a FindingObserved,
    previous: Option<&'a PreviousDecision>,
    best: Option<Best>,
    epss: Option<EpssHit<'a>>,
    kev: Option<&'a KevInput>,
    /// The CVE (upper case) and the advisory stating it exploited.
    exploited: Option<(&'a str, &'a ExploitedAdvisory)>,
    priority: Priority,
    sla_hours: u32,
    due_at: DateTime<Utc>,
    fired: FiredList,
}

/// The best scorable vector of a finding: its position in
/// `FindingObserved::cvss`, its (memoized) facts and whether the scanner's
/// printed score disagrees.
#[derive(Debug, Clone)]
struct Best {
    index: usize,
    facts: VectorFacts,
    reported_score_disagrees: Option<f64>,
    /// The scored vector, when kept for rendering.
    scored: Option<std::rc::Rc<cvss::Scored>>,
}

/// What a decision reads from a scorable vector: version, score and the
/// SSVC vector decision points for both [`TotalImpactRule`]s.
#[derive(Debug, Clone, Copy, PartialEq)]
struct VectorFacts {
    version: CvssVersion,
    score: f64,
    /// `(automatable, technical impact)` under `all_high`, then `any_high`.
    ssvc: [(bool, TechnicalImpact); 2],
}

impl VectorFacts {
    fn of(scored: &cvss::Scored) -> VectorFacts {
        let bits = |rule| crate::ssvc::vector_bits(scored.version, &scored.vector, rule);
        VectorFacts {
            version: scored.version,
            score: scored.score,
            ssvc: [
                bits(TotalImpactRule::AllHigh),
                bits(TotalImpactRule::AnyHigh),
            ],
        }
    }

    fn ssvc_points(&self, rule: TotalImpactRule) -> (bool, TechnicalImpact) {
        match rule {
            TotalImpactRule::AllHigh => self.ssvc[0],
            TotalImpactRule::AnyHigh => self.ssvc[1],
        }
    }
}

/// Facts of a memoized vector (`None`: it does not score) with its scoring.
type FactsEntry = Option<(VectorFacts, std::rc::Rc<cvss::Scored>)>;

/// Vectors remembered per thread by [`vector_facts`]; when full, the memory
/// is emptied and refills with the vectors in use.
const FACTS_CACHE_ENTRIES: usize = 16_384;

/// FxHash (the rustc hasher): a few multiplications per 8 bytes where
/// SipHash costs tens of nanoseconds for a 44-byte vector. Not resistant to
/// chosen collisions; the memory it keys is per thread, bounded and only
/// ever slower, never wrong, under collisions.
#[derive(Debug, Clone, Copy, Default)]
struct FxHasher(u64);

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            if let Some(head) = word.get_mut(..rest.len()) {
                head.copy_from_slice(rest);
            }
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FactsMap =
    std::collections::HashMap<Box<str>, FactsEntry, std::hash::BuildHasherDefault<FxHasher>>;

thread_local! {
    /// Raw vector → its facts and scoring (`None`: it does not score).
    static FACTS_CACHE: std::cell::RefCell<FactsMap> = std::cell::RefCell::new(FactsMap::default());
}

/// Canonical CVSS v3.x base vectors ([`canonical_v3`]): v3.0 and v3.1,
/// 2,592 metric combinations each.
const CANONICAL_V3: usize = 2 * 2592;

thread_local! {
    /// Canonical v3.x vector slot ([`canonical_v3`]) → its facts, `None`
    /// until the slot's vector is first met on this thread.
    static CANONICAL_FACTS: std::cell::RefCell<Vec<Option<FactsEntry>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The slot (below [`CANONICAL_V3`]) of a CVSS v3.0 or v3.1 base vector
/// written the way NVD publishes them: exactly
/// `CVSS:3.x/AV:_/AC:_/PR:_/UI:_/S:_/C:_/I:_/A:_` (FIRST CVSS v3.1
/// specification, section 6: base metrics in that order), upper-case
/// values, nothing else. Any other text (temporal metrics, another order,
/// lower case, v2, v4.0) gives `None` and is memoized by its text instead.
/// Distinct texts get distinct slots, so a slot memoizes the same pure
/// function of the text as the text-keyed memory does, with no hashing and
/// no key comparison.
fn canonical_v3(raw: &str) -> Option<usize> {
    const METRICS: [(&[u8], &[u8]); 8] = [
        (b"AV:", b"NALP"),
        (b"/AC:", b"LH"),
        (b"/PR:", b"NLH"),
        (b"/UI:", b"NR"),
        (b"/S:", b"UC"),
        (b"/C:", b"HLN"),
        (b"/I:", b"HLN"),
        (b"/A:", b"HLN"),
    ];
    let b = raw.as_bytes();
    if b.len() != 44 {
        return None;
    }
    let mut slot = match b.get(..9)? {
        b"CVSS:3.0/" => 0,
        b"CVSS:3.1/" => 1,
        _ => return None,
    };
    let mut rest = b.get(9..)?;
    for (name, values) in METRICS {
        let (head, tail) = rest.split_at_checked(name.len())?;
        if head != name {
            return None;
        }
        let (&value, tail) = tail.split_first()?;
        let digit = values.iter().position(|&v| v == value)?;
        slot = slot * values.len() + digit;
        rest = tail;
    }
    rest.is_empty().then_some(slot)
}

/// The facts of a raw vector, `None` when [`cvss::score`] refuses it, with
/// the scored vector when `keep_scored`; memoized per thread (a pure
/// function of the text). Without `keep_scored` a hit reads the map only.
fn vector_facts(
    raw: &str,
    keep_scored: bool,
) -> Option<(VectorFacts, Option<std::rc::Rc<cvss::Scored>>)> {
    let share = |hit: &FactsEntry| {
        hit.as_ref()
            .map(|(f, s)| (*f, keep_scored.then(|| s.clone())))
    };
    let score = || -> FactsEntry {
        cvss::score_shared(raw)
            .ok()
            .map(|s| (VectorFacts::of(&s), s))
    };
    if let Some(slot) = canonical_v3(raw) {
        let hit =
            CANONICAL_FACTS.with(|c| c.borrow().get(slot).and_then(|e| e.as_ref().map(share)));
        if let Some(hit) = hit {
            return hit;
        }
        let entry = score();
        let out = share(&entry);
        CANONICAL_FACTS.with(|c| {
            let mut table = c.borrow_mut();
            if table.is_empty() {
                table.resize(CANONICAL_V3, None);
            }
            if let Some(e) = table.get_mut(slot) {
                *e = Some(entry);
            }
        });
        return out;
    }
    if let Some(hit) = FACTS_CACHE.with(|c| c.borrow().get(raw).map(share)) {
        return hit;
    }
    let entry = score();
    let out = share(&entry);
    FACTS_CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= FACTS_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(raw.into(), entry);
    });
    out
}

/// The EPSS reading a decision uses: the CVE as the finding spells it, the
/// probability and the percentile.
#[derive(Debug, Clone, Copy)]
struct EpssHit<'a> {
    cve: &'a str,
    probability: f64,
    percentile: Option<f64>,
}

/// One rule that fired, with the values only it knows; the rest (vector,
/// EPSS reading, KEV entry, asset, SLA) is read from the [`Assessment`]
/// when the reason is rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fired {
    /// `cvss_rejected`: `finding.cvss[index]` did not score.
    CvssRejected { index: usize },
    /// `cvss_class`: the best vector's class.
    CvssClass { class: Priority },
    /// `reported_score`: the scanner printed another score.
    ReportedScore { printed: f64 },
    /// `scanner_severity` (`disagrees`): the label's class is not the vector's.
    ScannerDisagrees {
        scanner_class: Priority,
        class: Priority,
    },
    /// `scanner_severity` (`priority=`): no scorable vector.
    ScannerSeverity { class: Priority },
    /// `epss` (`raise`), by the probability or by the percentile.
    Epss { by_percentile: bool },
    /// `exposure` (`raise`).
    Exposure,
    /// `tier` (`raise` or `lower`).
    Tier { tier: u8, raise: bool },
    /// `ring` (`lower`): a non-production ring.
    Ring,
    /// `raise_cap` (`capped`).
    RaiseCap { raises: i32, lowers: i32, cap: i32 },
    /// `adjustments`: the class the adjustments moved to.
    Adjustments { from: Priority, to: Priority },
    /// `kev` (`priority=critical`).
    Kev,
    /// `exploited_advisory` (`priority=critical`).
    ExploitedAdvisory,
    /// The five `ssvc_*` reasons of the SSVC tree.
    Ssvc,
    /// `sla`.
    Sla,
    /// `kev_due_date`; `late` when already past at first observation.
    KevDueDate { late: bool },
    /// `previous_due_at` (`due_at=kept`).
    PreviousDueAt,
    /// `sla_clock` (`restarted`): reopened, a new clock.
    SlaClockRestarted,
    /// `sla_clock` (`lowered`): the policy lets a lowering take its own SLA.
    SlaClockLowered,
}

/// Rules that fired, in order, without a heap allocation up to
/// [`FiredList::INLINE`] of them (a decision fires at most 14 plus one per
/// rejected vector).
#[derive(Debug, Clone, Default)]
struct FiredList {
    inline: [Option<Fired>; FiredList::INLINE],
    len: usize,
    spill: Vec<Fired>,
}

impl FiredList {
    const INLINE: usize = 16;

    fn push(&mut self, f: Fired) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(f);
                self.len += 1;
            }
            None => self.spill.push(f),
        }
    }

    fn iter(&self) -> impl Iterator<Item = Fired> + '_ {
        self.inline
            .iter()
            .map_while(|f| *f)
            .chain(self.spill.iter().copied())
    }
}

impl Fired {
    /// The rule's name in the policy, as `Reason::rule` carries it.
    fn rule(self) -> &'static str {
        match self {
            Fired::CvssRejected { .. } => "cvss_rejected",
            Fired::CvssClass { .. } => "cvss_class",
            Fired::ReportedScore { .. } => "reported_score",
            Fired::ScannerDisagrees { .. } | Fired::ScannerSeverity { .. } => "scanner_severity",
            Fired::Epss { .. } => "epss",
            Fired::Exposure => "exposure",
            Fired::Tier { .. } => "tier",
            Fired::Ring => "ring",
            Fired::RaiseCap { .. } => "raise_cap",
            Fired::Adjustments { .. } => "adjustments",
            Fired::Kev => "kev",
            Fired::ExploitedAdvisory => "exploited_advisory",
            Fired::Ssvc => "ssvc",
            Fired::Sla => "sla",
            Fired::KevDueDate { .. } => "kev_due_date",
            Fired::PreviousDueAt => "previous_due_at",
            Fired::SlaClockRestarted | Fired::SlaClockLowered => "sla_clock",
        }
    }
}

impl<'a> Assessment<'a> {
    /// The decided class.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The deadline (UTC), after the KEV due date and the previous decision.
    pub fn due_at(&self) -> DateTime<Utc> {
        self.due_at
    }

    /// The SLA of the decided class, in hours.
    pub fn sla_hours(&self) -> u32 {
        self.sla_hours
    }

    /// Names of the rules that fired, in order (`ssvc` stands for the five
    /// `ssvc_*` reasons of the tree).
    pub fn rules(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fired.iter().map(Fired::rule)
    }

    /// The state to store for the next decision on this finding.
    pub fn state(&self) -> PreviousDecision {
        PreviousDecision {
            first_observed_at: self.finding.first_observed_at,
            due_at: self.due_at,
            priority: self.priority,
            policy_version: self.policy.version.clone(),
        }
    }

    /// Renders the decision: the `patch.finding.prioritized` payload with
    /// its inputs and the text of every reason, and the state to store.
    pub fn decision(&self) -> Decision {
        let finding = self.finding;
        // The same memoized, pure scoring that `assess` read.
        let cvss = self.best.as_ref().and_then(|b| {
            let v = finding.cvss.get(b.index)?;
            match &b.scored {
                Some(s) => Some(ScoredCvss {
                    version: s.version,
                    vector: s.vector.clone(),
                    base_score: s.score,
                    severity: s.severity,
                    source: v.source.clone(),
                    reported_score_disagrees: b.reported_score_disagrees,
                }),
                None => cvss::score_reported(v).ok(),
            }
        });
        // The reading `EpssTable::get` gives, from the values `assess` read.
        let epss = self.epss.and_then(|e| {
            let table = self.intel.epss.as_ref()?;
            Some(EpssInput {
                cve: e.cve.to_ascii_uppercase(),
                probability: e.probability,
                percentile: e.percentile,
                score_date: table.score_date,
                model_version: table.model_version.clone(),
            })
        });
        let mut reasons = Vec::with_capacity(self.fired.len + 4);
        for f in self.fired.iter() {
            self.render(f, cvss.as_ref(), epss.as_ref(), &mut reasons);
        }
        let priority = self.priority;
        let due_at = self.due_at;
        let inputs = DecisionInputs {
            cvss,
            epss,
            kev: self.kev.cloned(),
            exploited_advisory: self.exploited.map(|(cve, a)| ExploitedAdvisoryInput {
                cve: cve.to_owned(),
                advisory_id: a.advisory_id.clone(),
                source: a.source,
                date: a.date,
            }),
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
            policy_version: self.policy.version.clone(),
            first_observed_at: finding.first_observed_at,
            sla_hours: self.sla_hours,
            due_at,
            trigger: events::DecisionTrigger::Observation,
            previous: self
                .previous
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
            state: self.state(),
            prioritized,
        }
    }

    /// Appends the reason(s) of one fired rule.
    fn render(
        &self,
        fired: Fired,
        cvss: Option<&ScoredCvss>,
        epss: Option<&EpssInput>,
        out: &mut Vec<Reason>,
    ) {
        let policy = self.policy;
        let finding = self.finding;
        let mut reason = |rule: &str, effect: String, detail: String| {
            out.push(Reason {
                rule: rule.to_owned(),
                effect,
                detail,
            });
        };
        let rule = fired.rule();
        match fired {
            Fired::CvssRejected { index } => {
                if let Some(v) = finding.cvss.get(index) {
                    let error = match cvss::score_reported(v) {
                        Err(e) => e.to_string(),
                        Ok(_) => "not scored".to_owned(),
                    };
                    reason(
                        rule,
                        "ignored".to_owned(),
                        format!(
                            "vector {:?} from {} not scored: {error}",
                            v.vector, v.source
                        ),
                    );
                }
            }
            Fired::CvssClass { class } => {
                if let Some(v) = cvss {
                    reason(
                        rule,
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
                }
            }
            Fired::ReportedScore { printed } => {
                if let Some(v) = cvss {
                    reason(
                        rule,
                        "ignored".to_owned(),
                        format!(
                            "{} printed score {printed:.1} but the vector scores {}; the vector wins",
                            v.source,
                            OneDecimal(v.base_score)
                        ),
                    );
                }
            }
            Fired::ScannerDisagrees {
                scanner_class,
                class,
            } => {
                if let Some(v) = cvss {
                    reason(
                        rule,
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
            }
            Fired::ScannerSeverity { class } => reason(
                rule,
                format!("priority={}", class.as_str()),
                format!(
                    "no scorable CVSS vector: scanner {} severity {} maps to {}",
                    finding.check.scanner,
                    finding.severity.as_str(),
                    class.as_str()
                ),
            ),
            Fired::Epss { by_percentile } => {
                if let Some(e) = epss {
                    let model = e.model_version.as_deref().unwrap_or("unstated");
                    let detail = match (
                        by_percentile,
                        e.percentile,
                        policy.epss.percentile_threshold,
                    ) {
                        (true, Some(pct), Some(t)) => format!(
                            "EPSS percentile {pct} for {} >= {t} (probability {} below {}; score_date {}, model {model})",
                            e.cve,
                            e.probability,
                            policy.epss.probability_threshold,
                            rfc3339(e.score_date),
                        ),
                        _ => format!(
                            "EPSS probability {} for {} >= {} (score_date {}, model {model}{})",
                            e.probability,
                            e.cve,
                            policy.epss.probability_threshold,
                            rfc3339(e.score_date),
                            e.percentile
                                .map(|p| format!(", percentile {p} not used"))
                                .unwrap_or_default()
                        ),
                    };
                    reason(rule, "raise".to_owned(), detail);
                }
            }
            Fired::Exposure => reason(
                rule,
                "raise".to_owned(),
                format!("asset {} is internet-facing", finding.asset.asset_id),
            ),
            Fired::Tier { tier, raise } => reason(
                rule,
                if raise { "raise" } else { "lower" }.to_owned(),
                format!("asset {} is tier {tier}", finding.asset.asset_id),
            ),
            Fired::Ring => reason(
                rule,
                "lower".to_owned(),
                format!(
                    "asset {} is in the non-production ring {}",
                    finding.asset.asset_id,
                    finding.asset.ring.as_deref().unwrap_or("")
                ),
            ),
            Fired::RaiseCap {
                raises,
                lowers,
                cap,
            } => reason(
                rule,
                "capped".to_owned(),
                format!(
                    "{raises} raise(s) and {lowers} lower(s) net {} class(es) up; the policy allows at most {cap}",
                    raises - lowers
                ),
            ),
            Fired::Adjustments { from, to } => reason(
                rule,
                format!("priority={}", to.as_str()),
                format!("{} moved to {}", from.as_str(), to.as_str()),
            ),
            Fired::Kev => {
                if let Some(k) = self.kev {
                    reason(
                        rule,
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
            }
            Fired::ExploitedAdvisory => {
                if let Some((cve, a)) = self.exploited {
                    reason(
                        rule,
                        "priority=critical".to_owned(),
                        stated_exploited(cve, a),
                    );
                }
            }
            Fired::Ssvc => {
                let advisory = self
                    .exploited
                    .filter(|_| policy.exploited_advisory.enabled)
                    .map(|(cve, a)| stated_exploited(cve, a));
                crate::ssvc::classify(
                    &policy.ssvc,
                    cvss,
                    epss,
                    self.kev.filter(|_| policy.kev.enabled),
                    advisory,
                    &finding.asset,
                    &mut reason,
                );
            }
            Fired::Sla => {
                let hours = self.sla_hours;
                reason(
                    rule,
                    format!("due_at=first_observed_at+{hours}h"),
                    format!(
                        "{} SLA {hours} h from first observation {}",
                        self.priority.as_str(),
                        rfc3339(finding.first_observed_at)
                    ),
                );
            }
            Fired::KevDueDate { late } => {
                if let Some(k) = self.kev {
                    let late = if late {
                        "; already past at first observation: overdue on arrival"
                    } else {
                        ""
                    };
                    reason(
                        rule,
                        "due_at=kev_due_date".to_owned(),
                        format!(
                            "KEV dueDate {} for {} (end of day, {}) is earlier than the SLA{late}",
                            k.due_date,
                            k.cve,
                            rfc3339(kev_due_instant(k))
                        ),
                    );
                }
            }
            Fired::PreviousDueAt => {
                if let Some(prev) = self.previous {
                    reason(
                        rule,
                        "due_at=kept".to_owned(),
                        format!(
                            "an earlier decision ({}) set due_at {} on the same clock; a later deadline never extends it",
                            prev.priority.as_str(),
                            rfc3339(prev.due_at)
                        ),
                    );
                }
            }
            Fired::SlaClockRestarted => {
                if let Some(prev) = self.previous {
                    reason(
                        rule,
                        "restarted".to_owned(),
                        format!(
                            "first observed {} differs from the previous decision's {}: the finding was reopened, a new clock starts",
                            rfc3339(finding.first_observed_at),
                            rfc3339(prev.first_observed_at)
                        ),
                    );
                }
            }
            Fired::SlaClockLowered => {
                if let Some(prev) = self.previous {
                    reason(
                        rule,
                        "lowered".to_owned(),
                        format!(
                            "lowered from {} (due_at {}) to {}: the policy lets a lowered class take its own SLA from the same start (sla_clock.lowering_keeps_due_at = false)",
                            prev.priority.as_str(),
                            rfc3339(prev.due_at),
                            self.priority.as_str()
                        ),
                    );
                }
            }
        }
    }
}

/// Rules 1–7 of [`crate::policy`] (the `rules` mode): base class from the
/// best vector or the scanner severity, EPSS, exposure, tier and ring
/// adjustments under the cap, then KEV → critical, then an advisory stating
/// exploitation → critical. Each rule that fires is recorded in `fired`.
fn class_rules(
    policy: &Policy,
    finding: &FindingObserved,
    best: Option<&Best>,
    epss: Option<EpssHit<'_>>,
    kev: Option<&KevInput>,
    exploited: Option<(&str, &ExploitedAdvisory)>,
    fired: &mut FiredList,
) -> Priority {
    // 1. Base class.
    let scanner_class = severity_class(finding.severity);
    let base = match best {
        Some(b) => {
            let class = policy.cvss.class(b.facts.score);
            fired.push(Fired::CvssClass { class });
            if let Some(printed) = b.reported_score_disagrees {
                fired.push(Fired::ReportedScore { printed });
            }
            if scanner_class != class {
                fired.push(Fired::ScannerDisagrees {
                    scanner_class,
                    class,
                });
            }
            class
        }
        None => {
            fired.push(Fired::ScannerSeverity {
                class: scanner_class,
            });
            scanner_class
        }
    };

    // 2-5. Adjustments.
    let mut raises: i32 = 0;
    let mut lowers: i32 = 0;
    if let (true, Some(e)) = (policy.epss.enabled, epss) {
        let by_probability = e.probability >= policy.epss.probability_threshold;
        let by_percentile = matches!(
            (e.percentile, policy.epss.percentile_threshold),
            (Some(p), Some(t)) if p >= t
        );
        if by_probability || by_percentile {
            raises += 1;
            fired.push(Fired::Epss {
                by_percentile: !by_probability,
            });
        }
    }
    if policy.exposure.enabled && finding.asset.internet_facing == Some(true) {
        raises += 1;
        fired.push(Fired::Exposure);
    }
    if let (true, Some(tier)) = (policy.tier.enabled, finding.asset.tier) {
        if policy.tier.raise_tiers.contains(&tier) {
            raises += 1;
            fired.push(Fired::Tier { tier, raise: true });
        } else if policy.tier.lower_tiers.contains(&tier) {
            lowers += 1;
            fired.push(Fired::Tier { tier, raise: false });
        }
    }
    if let Some(ring) = &finding.asset.ring
        && policy.ring.lower_rings.iter().any(|r| r == ring)
    {
        lowers += 1;
        fired.push(Fired::Ring);
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
        fired.push(Fired::RaiseCap {
            raises,
            lowers,
            cap,
        });
    }
    if priority != base {
        fired.push(Fired::Adjustments {
            from: base,
            to: priority,
        });
    }

    // 6. KEV.
    if let (true, Some(_)) = (policy.kev.enabled, kev) {
        priority = Priority::Critical;
        fired.push(Fired::Kev);
    }

    // 7. A vendor advisory stating exploitation in the wild.
    if let (true, Some(_)) = (policy.exploited_advisory.enabled, exploited) {
        priority = Priority::Critical;
        fired.push(Fired::ExploitedAdvisory);
    }

    priority
}

/// The evidence line of a vendor advisory stating `cve` exploited in the
/// wild: `CVE-… is stated exploited in the wild by advisory RHSA-… (CSAF,
/// <date>)`.
fn stated_exploited(cve: &str, a: &ExploitedAdvisory) -> String {
    format!(
        "{cve} is stated exploited in the wild by advisory {} ({}, {})",
        a.advisory_id,
        match a.source {
            events::AdvisoryFormat::Csaf => "CSAF",
            events::AdvisoryFormat::Osv => "OSV",
        },
        rfc3339(a.date)
    )
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
mod canonical_v3_tests {
    use super::*;

    /// Every canonical v3.0 and v3.1 base vector, in the order of their
    /// metric values.
    fn all() -> Vec<String> {
        let metrics: [(&str, &[&str]); 8] = [
            ("AV", &["N", "A", "L", "P"]),
            ("AC", &["L", "H"]),
            ("PR", &["N", "L", "H"]),
            ("UI", &["N", "R"]),
            ("S", &["U", "C"]),
            ("C", &["H", "L", "N"]),
            ("I", &["H", "L", "N"]),
            ("A", &["H", "L", "N"]),
        ];
        let mut out = Vec::new();
        for minor in ["0", "1"] {
            let mut vectors = vec![format!("CVSS:3.{minor}")];
            for (name, values) in metrics {
                vectors = vectors
                    .iter()
                    .flat_map(|v| values.iter().map(move |x| format!("{v}/{name}:{x}")))
                    .collect();
            }
            out.extend(vectors);
        }
        out
    }

    #[test]
    fn each_canonical_vector_has_its_own_slot_and_the_same_facts() {
        let vectors = all();
        assert_eq!(vectors.len(), CANONICAL_V3);
        for (expected, v) in vectors.iter().enumerate() {
            assert_eq!(canonical_v3(v), Some(expected), "{v}");
            let direct = cvss::score(v).ok().map(|s| VectorFacts::of(&s));
            // Twice: the first call fills the slot, the second reads it.
            for _ in 0..2 {
                let (facts, scored) = vector_facts(v, true).unzip();
                assert_eq!(facts, direct, "{v}");
                assert_eq!(
                    scored.flatten().map(|s| s.score),
                    direct.map(|f| f.score),
                    "{v}"
                );
            }
        }
    }

    #[test]
    fn other_texts_are_not_canonical_and_score_as_before() {
        for v in [
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P",
            "CVSS:3.1/AC:L/AV:N/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/X:H",
            "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H ",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "",
        ] {
            assert_eq!(canonical_v3(v), None, "{v}");
            let direct = cvss::score(v).ok().map(|s| VectorFacts::of(&s));
            assert_eq!(vector_facts(v, false).map(|(f, _)| f), direct, "{v}");
        }
    }
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
/// recorded as `cvss_rejected` and skipped.
fn best_vector(
    finding: &FindingObserved,
    fired: &mut FiredList,
    keep_scored: bool,
) -> Option<Best> {
    let mut best: Option<Best> = None;
    for (index, v) in finding.cvss.iter().enumerate() {
        match vector_facts(&v.vector, keep_scored) {
            Some((facts, scored)) => {
                let better = best.as_ref().is_none_or(|b| {
                    (facts.version, facts.score) > (b.facts.version, b.facts.score)
                });
                if better {
                    let reported_score_disagrees = v
                        .reported_score
                        .filter(|r| (r - facts.score).abs() > cvss::REPORTED_SCORE_TOLERANCE);
                    best = Some(Best {
                        index,
                        facts,
                        reported_score_disagrees,
                        scored,
                    });
                }
            }
            None => fired.push(Fired::CvssRejected { index }),
        }
    }
    best
}

/// The key of `cve` in [`Intel::exploited`] (upper case), borrowed when the
/// id is already upper case (ingest writes them so), so a lookup allocates
/// nothing. (The KEV and EPSS tables are looked up through
/// [`feeds::CveMap::get_cve`], by the packed id.)
fn cve_key(cve: &str) -> std::borrow::Cow<'_, str> {
    if cve.bytes().any(|b| b.is_ascii_lowercase()) {
        std::borrow::Cow::Owned(cve.to_ascii_uppercase())
    } else {
        std::borrow::Cow::Borrowed(cve)
    }
}

/// The highest EPSS probability among `cves` (first CVE wins a tie) and
/// the KEV entry with the earliest due date among them (first CVE wins a
/// tie), in one pass: each id is packed once ([`feeds::CveKey`]) for both
/// tables.
fn epss_and_kev<'a>(
    intel: &'a Intel,
    cves: &'a [String],
) -> (Option<EpssHit<'a>>, Option<&'a KevInput>) {
    let epss = intel.epss.as_ref();
    let kev = intel.kev.as_ref();
    let mut best: Option<EpssHit<'a>> = None;
    let mut earliest: Option<&'a KevInput> = None;
    if epss.is_none() && kev.is_none() {
        return (best, earliest);
    }
    for c in cves {
        let key = feeds::CveKey::new(c);
        if let Some(&(probability, percentile)) = epss.and_then(|t| t.scores.get_key(&key))
            && best.is_none_or(|b| probability > b.probability)
        {
            best = Some(EpssHit {
                cve: c,
                probability,
                percentile,
            });
        }
        if let Some(k) = kev.and_then(|t| t.entries.get_key(&key))
            && earliest.is_none_or(|b| k.due_date < b.due_date)
        {
            earliest = Some(k);
        }
    }
    (best, earliest)
}

/// The advisory statement of exploitation among `cves` with the earliest
/// date (first CVE wins a tie), with the CVE as the table keys it.
fn earliest_exploited<'a>(
    intel: &'a Intel,
    cves: &[String],
) -> Option<(&'a str, &'a ExploitedAdvisory)> {
    if intel.exploited.is_empty() {
        return None;
    }
    cves.iter()
        .filter_map(|c| intel.exploited.get_key_value(cve_key(c).as_ref()))
        .fold(
            None,
            |best: Option<(&String, &ExploitedAdvisory)>, hit| match best {
                Some(b) if b.1.date <= hit.1.date => Some(b),
                _ => Some(hit),
            },
        )
        .map(|(cve, a)| (cve.as_str(), a))
}

#[cfg(test)]
mod tests {
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
                    .collect(),
                warnings: vec![],
            }),
            ..Intel::default()
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

    /// Intel holding one advisory statement per `(cve, advisory id, date)`.
    fn exploited(stated: &[(&str, &str, &str)]) -> Intel {
        Intel {
            exploited: stated
                .iter()
                .map(|(cve, id, date)| {
                    (
                        (*cve).to_owned(),
                        ExploitedAdvisory {
                            advisory_id: (*id).to_owned(),
                            source: events::AdvisoryFormat::Csaf,
                            date: utc(date),
                        },
                    )
                })
                .collect(),
            ..Intel::default()
        }
    }

    #[test]
    fn exploited_advisory_rule() {
        let cve = "CVE-2026-0001";
        let stated = || exploited(&[(cve, "RHSA-2026:0101", "2026-02-27T08:00:00Z")]);
        check(Case {
            intel: stated(),
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "exploited_advisory:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            details: &[(
                "exploited_advisory",
                "CVE-2026-0001 is stated exploited in the wild by advisory RHSA-2026:0101 (CSAF, 2026-02-27T08:00:00Z)",
            )],
            ..case(
                "stated exploited: critical",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            intel: stated(),
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "exploited_advisory:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case(
                "a lower-case CVE on the finding still matches",
                finding(Severity::Medium, &[V31_MEDIUM], &["cve-2026-0001"]),
            )
        });
        check(Case {
            intel: exploited(&[("CVE-2026-0009", "RHSA-2026:0101", "2026-02-27T08:00:00Z")]),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "another CVE stated exploited changes nothing",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        let mut off = Policy::default();
        off.exploited_advisory.enabled = false;
        check(Case {
            policy: off,
            intel: stated(),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "rule disabled",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        let mut both = intel(&[kev_entry(cve, "2026-02-20", "2026-03-13")], &[]);
        both.exploited = stated().exploited;
        check(Case {
            intel: both,
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "kev:priority=critical",
                "exploited_advisory:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case(
                "KEV and an advisory: both cited, KEV first",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            intel: exploited(&[
                ("CVE-2026-0002", "DSA-5555-1", "2026-02-28T00:00:00Z"),
                (
                    "CVE-2026-0003",
                    "GHSA-aaaa-bbbb-cccc",
                    "2026-02-25T00:00:00Z",
                ),
            ]),
            priority: Priority::Critical,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "exploited_advisory:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            details: &[(
                "exploited_advisory",
                "CVE-2026-0003 is stated exploited in the wild by advisory GHSA-aaaa-bbbb-cccc",
            )],
            ..case(
                "two CVEs stated: the earliest statement is cited",
                finding(
                    Severity::Medium,
                    &[V31_MEDIUM],
                    &["CVE-2026-0002", "CVE-2026-0003"],
                ),
            )
        });
        check(Case {
            intel: stated(),
            previous: Some(PreviousDecision {
                first_observed_at: utc(T0),
                due_at: utc("2026-03-02T23:59:59Z"),
                priority: Priority::Medium,
                policy_version: "default-1".to_owned(),
            }),
            priority: Priority::Critical,
            due_at: "2026-03-02T23:59:59Z",
            reasons: &[
                "cvss_class:priority=medium",
                "exploited_advisory:priority=critical",
                "sla:due_at=first_observed_at+72h",
                "previous_due_at:due_at=kept",
            ],
            ..case(
                "the raise never extends an earlier deadline",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
    }

    #[test]
    fn exploited_advisory_is_an_input() {
        let cve = "CVE-2026-0001";
        let intel = exploited(&[(cve, "RHSA-2026:0101", "2026-02-27T08:00:00Z")]);
        let d = decide(
            &Policy::default(),
            &intel,
            &finding(Severity::Medium, &[V31_MEDIUM], &["cve-2026-0001"]),
            None,
        );
        assert_eq!(
            d.prioritized.inputs.exploited_advisory,
            Some(ExploitedAdvisoryInput {
                cve: cve.to_owned(),
                advisory_id: "RHSA-2026:0101".to_owned(),
                source: events::AdvisoryFormat::Csaf,
                date: utc("2026-02-27T08:00:00Z"),
            })
        );
        let quiet = decide(
            &Policy::default(),
            &Intel::default(),
            &finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            None,
        );
        assert_eq!(quiet.prioritized.inputs.exploited_advisory, None);
        // `assess` names the rule as `decide` renders it.
        let policy = Policy::default();
        let f = finding(Severity::Medium, &[V31_MEDIUM], &[cve]);
        let a = assess(&policy, &intel, &f, None);
        assert!(a.rules().any(|r| r == "exploited_advisory"));
        assert_eq!(a.priority(), Priority::Critical);
    }

    #[test]
    fn intel_lookups_by_packed_id_keep_case_ties_and_odd_ids() {
        // 14 digits: not packed, found through the table's text keys.
        let odd = "CVE-2026-12345678901234";
        let intel = intel(
            &[
                kev_entry("CVE-2026-0001", "2026-02-01", "2026-03-10"),
                kev_entry("CVE-2026-0002", "2026-02-01", "2026-03-10"),
                kev_entry(odd, "2026-02-01", "2026-03-05"),
            ],
            &[
                ("CVE-2026-0001", 0.5, 0.9),
                ("CVE-2026-0002", 0.5, 0.8),
                (odd, 0.7, 0.95),
            ],
        );
        let lower_odd = odd.to_ascii_lowercase();
        // (the finding's CVEs, the EPSS reading's CVE, the KEV entry's CVE)
        let cases: &[(&[&str], Option<&str>, Option<&str>)] = &[
            (
                &["cve-2026-0002", "CVE-2026-0001"],
                Some("CVE-2026-0002"),
                Some("CVE-2026-0002"),
            ),
            (
                &["CVE-2026-0001", "CVE-2026-0002"],
                Some("CVE-2026-0001"),
                Some("CVE-2026-0001"),
            ),
            (&["CVE-2026-0001", &lower_odd], Some(odd), Some(odd)),
            (&["CVE-2026-00001", "CVE-2026-1", "GHSA-x"], None, None),
        ];
        for (cves, epss, kev) in cases {
            let f = finding(Severity::High, &[V31_HIGH], cves);
            let d = decide(&Policy::default(), &intel, &f, None);
            let inputs = &d.prioritized.inputs;
            assert_eq!(
                inputs.epss.as_ref().map(|e| e.cve.as_str()),
                *epss,
                "{cves:?}"
            );
            assert_eq!(
                inputs.kev.as_ref().map(|k| k.cve.as_str()),
                *kev,
                "{cves:?}"
            );
        }
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

    /// `epss.percentile_threshold` (off by default): a percentile at or
    /// above it raises even when the probability is below its threshold;
    /// one raise either way.
    #[test]
    fn epss_percentile_threshold() {
        let cve = "CVE-2026-0001";
        let mut pct = Policy::default();
        pct.epss.percentile_threshold = Some(0.95);
        check(Case {
            policy: pct.clone(),
            intel: intel(&[], &[(cve, 0.0912, 0.9631)]),
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
                "EPSS percentile 0.9631 for CVE-2026-0001 >= 0.95 (probability 0.0912 below 0.1; score_date 2026-02-28T12:55:00Z, model v2025.03.14)",
            )],
            ..case(
                "percentile at or above its threshold raises",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            policy: pct.clone(),
            intel: intel(&[], &[(cve, 0.0912, 0.9499)]),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "percentile below its threshold: no raise",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        check(Case {
            policy: pct,
            intel: intel(&[], &[(cve, 0.5, 0.99)]),
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "epss:raise",
                "adjustments:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            details: &[("epss", "EPSS probability 0.5 for CVE-2026-0001 >= 0.1")],
            ..case(
                "both over: one raise, explained by the probability",
                finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
            )
        });
        assert!(
            Policy::from_toml("[epss]\npercentile_threshold = 95")
                .unwrap_err()
                .to_string()
                .contains("policy epss.percentile_threshold: 95 is outside (0, 1]")
        );
    }

    /// `ring.lower_rings` (empty by default): an asset in a non-production
    /// ring is lowered one class; it counts against raises like a tier.
    #[test]
    fn non_production_ring() {
        let ring = |f: FindingObserved, r: &str| FindingObserved {
            asset: Asset {
                ring: Some(r.to_owned()),
                ..f.asset
            },
            ..f
        };
        let mut lower = Policy::default();
        lower.ring.lower_rings = vec!["dev".to_owned(), "test".to_owned()];
        check(Case {
            policy: lower.clone(),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "ring:lower",
                "adjustments:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            details: &[("ring", "asset web-1 is in the non-production ring test")],
            ..case(
                "a non-production ring lowers",
                ring(finding(Severity::High, &[V31_HIGH], &[]), "test"),
            )
        });
        check(Case {
            policy: lower.clone(),
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            ..case(
                "production is not lowered",
                ring(finding(Severity::High, &[V31_HIGH], &[]), "prod"),
            )
        });
        check(Case {
            policy: lower,
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "exposure:raise",
                "ring:lower",
                "sla:due_at=first_observed_at+168h",
            ],
            ..case(
                "an exposure raise and a ring lower cancel",
                with_asset(
                    ring(finding(Severity::High, &[V31_HIGH], &[]), "dev"),
                    None,
                    Some(true),
                ),
            )
        });
        check(Case {
            priority: Priority::High,
            due_at: "2026-03-08T10:00:00Z",
            reasons: &[
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
            ],
            ..case(
                "the default policy lowers no ring",
                ring(finding(Severity::High, &[V31_HIGH], &[]), "dev"),
            )
        });
    }

    /// The SLA semantics that depend on the previous decision, with the
    /// policy's `sla_clock.lowering_keeps_due_at` both ways.
    #[test]
    fn sla_clock_raise_and_lowering_policy() {
        let prev = |due: &str, priority| PreviousDecision {
            first_observed_at: utc(T0),
            due_at: utc(due),
            priority,
            policy_version: "site-0".to_owned(),
        };
        let mut follows = Policy::default();
        follows.sla_clock.lowering_keeps_due_at = false;
        check(Case {
            previous: Some(prev("2026-03-02T23:59:59Z", Priority::Medium)),
            priority: Priority::High,
            due_at: "2026-03-02T23:59:59Z",
            reasons: &[
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
                "previous_due_at:due_at=kept",
            ],
            ..case(
                "a raise never extends an earlier deadline",
                finding(Severity::High, &[V31_HIGH], &[]),
            )
        });
        check(Case {
            policy: follows.clone(),
            previous: Some(prev("2026-03-02T23:59:59Z", Priority::Medium)),
            priority: Priority::High,
            due_at: "2026-03-02T23:59:59Z",
            reasons: &[
                "cvss_class:priority=high",
                "sla:due_at=first_observed_at+168h",
                "previous_due_at:due_at=kept",
            ],
            ..case(
                "nor when lowerings may extend",
                finding(Severity::High, &[V31_HIGH], &[]),
            )
        });
        check(Case {
            policy: follows.clone(),
            previous: Some(prev("2026-03-04T10:00:00Z", Priority::Critical)),
            priority: Priority::Medium,
            due_at: "2026-03-31T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
                "sla_clock:lowered",
            ],
            details: &[(
                "sla_clock",
                "lowered from critical (due_at 2026-03-04T10:00:00Z) to medium",
            )],
            ..case(
                "a lowering takes its own SLA from the same start when the policy says so",
                finding(Severity::Medium, &[V31_MEDIUM], &[]),
            )
        });
        check(Case {
            policy: follows,
            previous: Some(prev("2026-03-04T10:00:00Z", Priority::Medium)),
            priority: Priority::Medium,
            due_at: "2026-03-04T10:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
                "previous_due_at:due_at=kept",
            ],
            ..case(
                "the same class keeps an earlier deadline under that policy too",
                finding(Severity::Medium, &[V31_MEDIUM], &[]),
            )
        });
    }

    /// `due_at` is exact UTC hours: a leap day counts, a DST change
    /// (Europe 2028-03-26, US 2028-03-12) does not; a KEV due date on a leap
    /// day ends at 23:59:59 UTC that day.
    #[test]
    fn leap_days_and_dst_in_due_at() {
        let at = |mut f: FindingObserved, t: &str| {
            f.first_observed_at = utc(t);
            f
        };
        check(Case {
            priority: Priority::Medium,
            due_at: "2028-03-16T00:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "30 days across 29 February",
                at(
                    finding(Severity::Medium, &[V31_MEDIUM], &[]),
                    "2028-02-15T00:00:00Z",
                ),
            )
        });
        check(Case {
            priority: Priority::Low,
            due_at: "2028-04-14T08:00:00Z",
            reasons: &[
                "scanner_severity:priority=low",
                "sla:due_at=first_observed_at+2160h",
            ],
            ..case(
                "90 days across a leap day and both DST changes",
                at(finding(Severity::Low, &[], &[]), "2028-01-15T08:00:00Z"),
            )
        });
        check(Case {
            priority: Priority::Medium,
            due_at: "2027-03-17T00:00:00Z",
            reasons: &[
                "cvss_class:priority=medium",
                "sla:due_at=first_observed_at+720h",
            ],
            ..case(
                "30 days in a common year",
                at(
                    finding(Severity::Medium, &[V31_MEDIUM], &[]),
                    "2027-02-15T00:00:00Z",
                ),
            )
        });
        let cve = "CVE-2028-0001";
        check(Case {
            intel: intel(&[kev_entry(cve, "2028-02-15", "2028-02-29")], &[]),
            priority: Priority::Critical,
            due_at: "2028-02-29T23:59:59Z",
            reasons: &[
                "cvss_class:priority=medium",
                "kev:priority=critical",
                "sla:due_at=first_observed_at+72h",
                "kev_due_date:due_at=kev_due_date",
            ],
            details: &[(
                "kev_due_date",
                "KEV dueDate 2028-02-29 for CVE-2028-0001 (end of day, 2028-02-29T23:59:59Z)",
            )],
            ..case(
                "a KEV due date on a leap day",
                at(
                    finding(Severity::Medium, &[V31_MEDIUM], &[cve]),
                    "2028-02-28T12:00:00Z",
                ),
            )
        });
        check(Case {
            priority: Priority::Critical,
            due_at: "2028-03-29T00:30:00Z",
            reasons: &[
                "cvss_class:priority=critical",
                "sla:due_at=first_observed_at+72h",
            ],
            ..case(
                "72 h across the European spring change at 01:00 UTC",
                at(
                    finding(Severity::Critical, &[V31_CRITICAL], &[]),
                    "2028-03-26T00:30:00Z",
                ),
            )
        });
    }

    /// `assess` and `decide` agree: the rules `assess` lists are the
    /// reasons `decide` renders (the five SSVC reasons stand as `ssvc`).
    #[test]
    fn assess_lists_the_rules_decide_renders() {
        let cve = "CVE-2026-0001";
        let i = intel(
            &[kev_entry(cve, "2026-02-20", "2026-03-02")],
            &[(cve, 0.5, 0.99)],
        );
        let f = with_asset(
            finding(Severity::Low, &["CVSS:3.1/AV:N/AC:L", V31_HIGH], &[cve]),
            Some(1),
            Some(true),
        );
        let prev = PreviousDecision {
            first_observed_at: utc("2026-01-01T00:00:00Z"),
            due_at: utc("2026-01-04T00:00:00Z"),
            priority: Priority::Critical,
            policy_version: String::new(),
        };
        for policy in [
            Policy::default(),
            Policy {
                mode: PolicyMode::Ssvc,
                ..Policy::default()
            },
        ] {
            let a = assess(&policy, &i, &f, Some(&prev));
            let d = a.decision();
            assert_eq!(d, decide(&policy, &i, &f, Some(&prev)));
            assert_eq!(
                (a.priority(), a.due_at()),
                (d.state.priority, d.state.due_at)
            );
            assert_eq!(a.sla_hours(), d.prioritized.sla_hours);
            let rendered: Vec<&str> = d
                .prioritized
                .reasons
                .iter()
                .map(|r| {
                    if r.rule.starts_with("ssvc_") {
                        "ssvc"
                    } else {
                        r.rule.as_str()
                    }
                })
                .fold(Vec::new(), |mut v, r| {
                    if !(r == "ssvc" && v.last() == Some(&"ssvc")) {
                        v.push(r);
                    }
                    v
                });
            assert_eq!(a.rules().collect::<Vec<_>>(), rendered, "{:?}", policy.mode);
        }
    }

    /// The vector's score wins over the score the scanner printed, and the
    /// disagreement is recorded both as a reason and in the inputs
    /// (`inputs.cvss.reported_score_disagrees`, beyond a 0.05 tolerance).
    #[test]
    fn the_vector_wins_and_the_disagreement_is_recorded() {
        let table: &[(Option<f64>, Option<f64>)] = &[
            (Some(5.0), Some(5.0)),
            (Some(8.86), Some(8.86)),
            (Some(8.84), None),
            (Some(8.8), None),
            (None, None),
        ];
        for (printed, recorded) in table {
            let mut f = finding(Severity::High, &[], &[]);
            f.cvss = vec![vector(V31_HIGH, *printed)];
            let d = decide(&Policy::default(), &Intel::default(), &f, None).prioritized;
            assert_eq!(d.priority, Priority::High, "{printed:?}");
            let scored = d.inputs.cvss.as_ref().unwrap();
            assert_eq!(scored.base_score, 8.8, "{printed:?}");
            assert_eq!(scored.reported_score_disagrees, *recorded, "{printed:?}");
            let reason = d.reasons.iter().find(|r| r.rule == "reported_score");
            match recorded {
                Some(p) => assert_eq!(
                    reason.map(|r| r.detail.as_str()),
                    Some(
                        format!(
                            "nvd printed score {p:.1} but the vector scores 8.8; the vector wins"
                        )
                        .as_str()
                    ),
                    "{printed:?}"
                ),
                None => assert_eq!(reason, None, "{printed:?}"),
            }
            let json = serde_json::to_value(&d.inputs).unwrap();
            assert_eq!(
                json["cvss"]["reported_score_disagrees"].as_f64(),
                *recorded,
                "{json}"
            );
        }
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
            ..Intel::default()
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
