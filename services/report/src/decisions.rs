//! Prioritize's decisions as the projection holds them: the whole history of
//! one finding, rendered as a readable path (`patchflow explain FINDING`),
//! and the latest observation and decision of every open finding, the input
//! of a shadow policy run (`patchflow policy diff`).
//!
//! Both read the stored, hash-chained event JSON (the `events` table), by the
//! CloudEvents `subject`, which is the finding id for `finding.observed`,
//! `finding.resolved` and `finding.prioritized`; order is application order
//! (each finding's events come from one stream, so that is stream order).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;
use uuid::Uuid;

use events::{DecisionTrigger, Event, FindingObserved, FindingPrioritized, Payload};

use crate::codec::{parse_ts, parse_uuid, to_u64};
use crate::error::{ReportError, SqlContext};
use crate::projection::Projection;
use crate::render::cell;
use crate::summary::rfc3339;

/// One `finding.prioritized` event of a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingDecision {
    /// The event id.
    pub event_id: Uuid,
    /// When prioritize decided (the event time, UTC).
    pub decided_at: DateTime<Utc>,
    /// The stream it was read from.
    pub stream: String,
    /// Its sequence in that stream.
    pub stream_seq: u64,
    /// The decision.
    pub decision: FindingPrioritized,
}

/// Everything the projection knows about one finding's priority.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingHistory {
    /// The finding id.
    pub finding_id: Uuid,
    /// Its fingerprint.
    pub fingerprint: String,
    /// `open` or `resolved`, as of the latest event.
    pub status: String,
    /// Earliest first observation the projection holds (UTC).
    pub first_observed_at: DateTime<Utc>,
    /// Latest observation (UTC).
    pub last_observed_at: DateTime<Utc>,
    /// Number of `finding.observed` events stored for it.
    pub observations: u64,
    /// Every decision, oldest first; the last one is in force.
    pub decisions: Vec<FindingDecision>,
}

/// The latest stored state of one open finding.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFindingState {
    /// The finding id.
    pub finding_id: Uuid,
    /// Its latest `finding.observed`, `None` when the stream no longer holds
    /// one (trimmed) although a decision proves it was observed.
    pub observation: Option<FindingObserved>,
    /// Its latest `finding.prioritized`, if any.
    pub decision: Option<FindingDecision>,
}

impl Projection {
    /// The history of one finding, by its id or its fingerprint; `None` when
    /// the projection has never seen it.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::StoredEvent`]
    /// when a stored event no longer decodes; [`ReportError::Corrupt`] for a
    /// stored value this crate did not write.
    pub fn finding_history(&self, finding: &str) -> Result<Option<FindingHistory>, ReportError> {
        let row = self
            .conn
            .query_row(
                "SELECT finding_id, fingerprint, status, first_observed_at, last_observed_at
                 FROM findings WHERE finding_id = ?1 OR fingerprint = ?1
                 ORDER BY finding_id = ?1 DESC LIMIT 1",
                params![finding.trim()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .ctx("query finding")?;
        let Some((id, fingerprint, status, first, last)) = row else {
            return Ok(None);
        };
        let mut observations = 0;
        let mut decisions = Vec::new();
        for (stream, stream_seq, event) in self.events_of(&id)? {
            match event.data {
                Payload::FindingObserved(_) => observations += 1,
                Payload::FindingPrioritized(decision) => decisions.push(FindingDecision {
                    event_id: event.id,
                    decided_at: event.time,
                    stream,
                    stream_seq,
                    decision,
                }),
                _ => {}
            }
        }
        Ok(Some(FindingHistory {
            finding_id: parse_uuid(&id)?,
            fingerprint,
            status,
            first_observed_at: parse_ts(&first)?,
            last_observed_at: parse_ts(&last)?,
            observations,
            decisions,
        }))
    }

    /// The latest observation and decision of every finding that is open
    /// now, ordered by finding id.
    ///
    /// # Errors
    /// As [`Projection::finding_history`].
    pub fn open_finding_states(&self) -> Result<Vec<OpenFindingState>, ReportError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.position, e.stream, e.stream_seq, e.json FROM events e
                 JOIN findings f ON f.finding_id = e.subject
                 WHERE f.status = 'open'
                 ORDER BY e.position",
            )
            .ctx("query open findings' events")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .ctx("query open findings' events")?;
        let mut states: BTreeMap<Uuid, OpenFindingState> = BTreeMap::new();
        for row in rows {
            let (position, stream, seq, json) = row.ctx("query open findings' events")?;
            let event = decode(position, &json)?;
            let (finding_id, observation, decision) = match event.data {
                Payload::FindingObserved(o) => (o.finding_id, Some(o), None),
                Payload::FindingPrioritized(d) => (
                    d.finding_id,
                    None,
                    Some(FindingDecision {
                        event_id: event.id,
                        decided_at: event.time,
                        stream,
                        stream_seq: to_u64("stream sequence", seq)?,
                        decision: d,
                    }),
                ),
                _ => continue,
            };
            let state = states.entry(finding_id).or_insert(OpenFindingState {
                finding_id,
                observation: None,
                decision: None,
            });
            if observation.is_some() {
                state.observation = observation;
            }
            if decision.is_some() {
                state.decision = decision;
            }
        }
        Ok(states.into_values().collect())
    }

    /// Every stored event whose CloudEvents subject is `subject`, in
    /// application order, with its stream and sequence.
    fn events_of(&self, subject: &str) -> Result<Vec<(String, u64, Event)>, ReportError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT position, stream, stream_seq, json FROM events
                 WHERE subject = ?1 ORDER BY position",
            )
            .ctx("query finding events")?;
        let rows = stmt
            .query_map([subject], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .ctx("query finding events")?;
        let mut out = Vec::new();
        for row in rows {
            let (position, stream, seq, json) = row.ctx("query finding events")?;
            out.push((
                stream,
                to_u64("stream sequence", seq)?,
                decode(position, &json)?,
            ));
        }
        Ok(out)
    }
}

fn decode(position: i64, json: &str) -> Result<Event, ReportError> {
    let position = to_u64("event position", position)?;
    Event::from_json(json.as_bytes())
        .map_err(|source| ReportError::StoredEvent { position, source })
}

fn yes_no(v: Option<bool>, yes: &str, no: &str) -> String {
    match v {
        Some(true) => yes.to_owned(),
        Some(false) => no.to_owned(),
        None => "unknown".to_owned(),
    }
}

fn trigger(t: &DecisionTrigger) -> String {
    match t {
        DecisionTrigger::Observation => "observation".to_owned(),
        DecisionTrigger::Intel { source, detail } => {
            format!("intel {}: {}", cell(source), cell(detail))
        }
        DecisionTrigger::Exception { exception_id } => format!("exception {exception_id}"),
    }
}

/// Signed difference `to - from` in hours, exact: `+12 h`, `-106 h`,
/// `-10 h 0 min 1 s`.
fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let secs = (to - from).num_seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs % 3600 / 60, abs % 60);
    if m == 0 && s == 0 {
        format!("{sign}{h} h")
    } else {
        format!("{sign}{h} h {m} min {s} s")
    }
}

/// The readable path of a finding's priority: identity, the decision in
/// force (class, `due_at`, policy version, trigger), its inputs with their
/// dates, the rules that fired in order, the SLA clock, and the history of
/// decisions with what each one changed. Plain text, instants in RFC 3339
/// UTC, control characters escaped.
pub fn render_explain(h: &FindingHistory) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(format!("finding {}", h.finding_id));
    line(format!("  fingerprint  {}", cell(&h.fingerprint)));
    line(format!(
        "  status       {} (first observed {}, last observed {}, {} observation(s))",
        h.status,
        rfc3339(h.first_observed_at),
        rfc3339(h.last_observed_at),
        h.observations
    ));
    let Some(current) = h.decisions.last() else {
        line(String::new());
        line("not prioritized yet: no finding.prioritized event is stored for it".to_owned());
        return out;
    };
    let d = &current.decision;
    let a = &d.asset;
    line(format!(
        "  asset        {} (ring {}, tier {}, {})",
        cell(&a.asset_id),
        a.ring.as_deref().map_or("-".to_owned(), cell),
        a.tier.map_or("-".to_owned(), |t| t.to_string()),
        yes_no(a.internet_facing, "internet-facing", "not internet-facing")
    ));
    line(format!(
        "  check        {} {} {}",
        cell(&d.check.scanner),
        cell(&d.check.id),
        cell(&d.check.name)
    ));
    line(format!(
        "  CVEs         {}",
        if d.cves.is_empty() {
            "-".to_owned()
        } else {
            cell(&d.cves.join(", "))
        }
    ));
    line(format!("  remediation  {}", cell(&d.remediation.key())));
    line(String::new());
    line(format!(
        "priority {}, due {} ({} h SLA)",
        d.priority.as_str(),
        rfc3339(d.due_at),
        d.sla_hours
    ));
    line(format!(
        "  decided {} under policy {} (trigger: {}; event {})",
        rfc3339(current.decided_at),
        cell(&d.policy_version),
        trigger(&d.trigger),
        current.event_id
    ));
    if let Some(x) = d.exception_id {
        line(format!(
            "  risk accepted: exception {x} keeps it out of scheduling and non-compliance"
        ));
    }

    line(String::new());
    line("inputs".to_owned());
    let i = &d.inputs;
    match &i.cvss {
        Some(c) => {
            line(format!(
                "  CVSS       {} score {:.1} ({}) from {}: {}",
                c.version.as_str(),
                c.base_score,
                c.severity.as_str(),
                cell(&c.source),
                cell(&c.vector)
            ));
            if let Some(r) = c.reported_score_disagrees {
                line(format!(
                    "             the scanner printed {r:.1}; the vector wins"
                ));
            }
        }
        None => line("  CVSS       none scorable".to_owned()),
    }
    match &i.epss {
        Some(e) => line(format!(
            "  EPSS       probability {} for {}{}, score date {}, model {}",
            e.probability,
            cell(&e.cve),
            e.percentile
                .map(|p| format!(" (percentile {p})"))
                .unwrap_or_default(),
            rfc3339(e.score_date),
            e.model_version
                .as_deref()
                .map_or("unstated".to_owned(), cell)
        )),
        None => line("  EPSS       no score for its CVEs".to_owned()),
    }
    match &i.kev {
        Some(k) => line(format!(
            "  KEV        {} added {}, due {} (catalog {}){}",
            cell(&k.cve),
            k.date_added,
            k.due_date,
            cell(&k.catalog_version),
            match k.known_ransomware {
                Some(true) => ", known ransomware use",
                _ => "",
            }
        )),
        None => line("  KEV        not listed".to_owned()),
    }
    line(format!(
        "  scanner    severity {}",
        i.scanner_severity.map_or("-", |s| s.as_str())
    ));
    line(format!(
        "  asset      tier {}, exposure {}, ring {}",
        i.tier.map_or("-".to_owned(), |t| t.to_string()),
        yes_no(i.internet_facing, "internet-facing", "not internet-facing"),
        i.ring.as_deref().map_or("-".to_owned(), cell)
    ));

    line(String::new());
    line("rules that fired, in order".to_owned());
    let width = d
        .reasons
        .iter()
        .map(|r| r.rule.chars().count() + r.effect.chars().count() + 1)
        .max()
        .unwrap_or(0);
    for (n, r) in d.reasons.iter().enumerate() {
        let head = format!("{}:{}", cell(&r.rule), cell(&r.effect));
        line(format!(
            "  {:>2}. {head:<width$}  {}",
            n + 1,
            cell(&r.detail)
        ));
    }

    line(String::new());
    line("SLA".to_owned());
    line(format!(
        "  clock start  {} (first observation on {})",
        rfc3339(d.first_observed_at),
        cell(&a.asset_id)
    ));
    line(format!(
        "  SLA          {} h for {}",
        d.sla_hours,
        d.priority.as_str()
    ));
    let plain = d
        .first_observed_at
        .checked_add_signed(chrono::TimeDelta::hours(i64::from(d.sla_hours)));
    line(format!(
        "  due_at       {}{}",
        rfc3339(d.due_at),
        match plain {
            Some(p) if p != d.due_at => format!(
                " ({} from the plain SLA deadline {})",
                hours_between(p, d.due_at),
                rfc3339(p)
            ),
            _ => String::new(),
        }
    ));

    line(String::new());
    if h.decisions.len() == 1 {
        line("history: this is the only decision".to_owned());
        return out;
    }
    line(format!(
        "history ({} decisions, oldest first)",
        h.decisions.len()
    ));
    let mut before: Option<&FindingPrioritized> = None;
    for (n, e) in h.decisions.iter().enumerate() {
        let p = &e.decision;
        line(format!(
            "  {:>2}. {}  {:<8}  due {}  policy {}  ({})",
            n + 1,
            rfc3339(e.decided_at),
            p.priority.as_str(),
            rfc3339(p.due_at),
            cell(&p.policy_version),
            trigger(&p.trigger)
        ));
        if let Some(b) = before {
            let mut changes = Vec::new();
            if b.priority != p.priority {
                changes.push(format!(
                    "priority {} -> {}",
                    b.priority.as_str(),
                    p.priority.as_str()
                ));
            }
            if b.due_at != p.due_at {
                changes.push(format!(
                    "due_at {} -> {} ({})",
                    rfc3339(b.due_at),
                    rfc3339(p.due_at),
                    hours_between(b.due_at, p.due_at)
                ));
            }
            if b.policy_version != p.policy_version {
                changes.push(format!(
                    "policy {} -> {}",
                    cell(&b.policy_version),
                    cell(&p.policy_version)
                ));
            }
            if b.first_observed_at != p.first_observed_at {
                changes.push(format!(
                    "clock restarted at {}",
                    rfc3339(p.first_observed_at)
                ));
            }
            let changed_rules: Vec<String> = p
                .reasons
                .iter()
                .filter(|r| {
                    !b.reasons
                        .iter()
                        .any(|o| o.rule == r.rule && o.effect == r.effect)
                })
                .map(|r| format!("{}:{}", cell(&r.rule), cell(&r.effect)))
                .collect();
            if !changed_rules.is_empty() {
                changes.push(format!("new: {}", changed_rules.join(", ")));
            }
            let gone: Vec<String> = b
                .reasons
                .iter()
                .filter(|r| {
                    !p.reasons
                        .iter()
                        .any(|o| o.rule == r.rule && o.effect == r.effect)
                })
                .map(|r| format!("{}:{}", cell(&r.rule), cell(&r.effect)))
                .collect();
            if !gone.is_empty() {
                changes.push(format!("no longer: {}", gone.join(", ")));
            }
            if changes.is_empty() {
                changes.push("no change".to_owned());
            }
            line(format!("      {}", changes.join("; ")));
        }
        before = Some(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use events::{
        Asset, Check, CvssVector, CvssVersion, DecisionInputs, EpssInput, KevInput, PriorDecision,
        Priority, Reason, Remediation, ScoredCvss, Service, Severity,
    };

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const FINDING: Uuid = Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0001);
    const VECTOR: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N";

    fn asset() -> Asset {
        Asset {
            asset_id: "web-1".to_owned(),
            hostname: Some("web-1".to_owned()),
            ring: Some("prod".to_owned()),
            tier: Some(2),
            internet_facing: Some(true),
            ..Asset::default()
        }
    }

    fn observed() -> FindingObserved {
        FindingObserved {
            finding_id: FINDING,
            fingerprint: "nessus:v1:web-1:10001:443/tcp".to_owned(),
            scan_id: Uuid::from_u128(2),
            asset: asset(),
            check: Check {
                scanner: "nessus".to_owned(),
                id: "10001".to_owned(),
                name: "Apache httpd < 2.4.60 multiple vulnerabilities".to_owned(),
                family: None,
            },
            port: 443,
            protocol: "tcp".to_owned(),
            service: Some("www".to_owned()),
            severity: Severity::Medium,
            cves: vec!["CVE-2026-0001".to_owned()],
            cwes: vec![],
            cvss: vec![CvssVector {
                version: CvssVersion::V3_1,
                vector: VECTOR.to_owned(),
                reported_score: Some(5.0),
                source: "nessus".to_owned(),
            }],
            remediation: Remediation::Package {
                name: "httpd".to_owned(),
                fixed_version: "2.4.60".to_owned(),
            },
            observed_at: utc("2026-03-01T10:00:00Z"),
            first_observed_at: utc("2026-03-01T10:00:00Z"),
            package: None,
            fix_state: None,
            reopened: false,
        }
    }

    fn reason(rule: &str, effect: &str, detail: &str) -> Reason {
        Reason {
            rule: rule.to_owned(),
            effect: effect.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// The decision prioritize made on observation (medium, 30 days, EPSS
    /// below threshold) and the KEV delta that made it critical.
    fn decisions() -> (FindingPrioritized, FindingPrioritized) {
        let o = observed();
        let epss = EpssInput {
            cve: "CVE-2026-0001".to_owned(),
            probability: 0.0421,
            percentile: Some(0.887),
            score_date: utc("2026-02-28T12:55:00Z"),
            model_version: Some("v2025.03.14".to_owned()),
        };
        let first = FindingPrioritized {
            finding_id: o.finding_id,
            fingerprint: o.fingerprint.clone(),
            scan_id: o.scan_id,
            asset: o.asset.clone(),
            check: o.check.clone(),
            cves: o.cves.clone(),
            remediation: o.remediation.clone(),
            priority: Priority::High,
            inputs: DecisionInputs {
                cvss: Some(ScoredCvss {
                    version: CvssVersion::V3_1,
                    vector: VECTOR.to_owned(),
                    base_score: 5.3,
                    severity: Severity::Medium,
                    source: "nessus".to_owned(),
                    reported_score_disagrees: Some(5.0),
                }),
                epss: Some(epss.clone()),
                kev: None,
                exploited_advisory: None,
                scanner_severity: Some(Severity::Medium),
                tier: Some(2),
                internet_facing: Some(true),
                ring: Some("prod".to_owned()),
            },
            reasons: vec![
                reason(
                    "cvss_class",
                    "priority=medium",
                    "CVSS 3.1 score 5.3 from nessus (CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N) is medium: thresholds critical >= 9, high >= 7, medium >= 4",
                ),
                reason(
                    "reported_score",
                    "ignored",
                    "nessus printed score 5.0 but the vector scores 5.3; the vector wins",
                ),
                reason("exposure", "raise", "asset web-1 is internet-facing"),
                reason("adjustments", "priority=high", "medium moved to high"),
                reason(
                    "sla",
                    "due_at=first_observed_at+168h",
                    "high SLA 168 h from first observation 2026-03-01T10:00:00Z",
                ),
            ],
            policy_version: "default-1".to_owned(),
            first_observed_at: o.first_observed_at,
            sla_hours: 168,
            due_at: utc("2026-03-08T10:00:00Z"),
            trigger: DecisionTrigger::Observation,
            previous: None,
            exception_id: None,
        };
        let mut second = first.clone();
        second.priority = Priority::Critical;
        second.sla_hours = 72;
        second.due_at = utc("2026-03-03T23:59:59Z");
        second.inputs.kev = Some(KevInput {
            cve: "CVE-2026-0001".to_owned(),
            date_added: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
            known_ransomware: Some(true),
            catalog_version: "2026.03.02".to_owned(),
        });
        second.reasons.truncate(4);
        second.reasons.extend([
            reason(
                "kev",
                "priority=critical",
                "CVE-2026-0001 is in the CISA KEV catalog 2026.03.02 (dateAdded 2026-03-02, dueDate 2026-03-03, known ransomware use): exploited in the wild",
            ),
            reason(
                "sla",
                "due_at=first_observed_at+72h",
                "critical SLA 72 h from first observation 2026-03-01T10:00:00Z",
            ),
            reason(
                "kev_due_date",
                "due_at=kev_due_date",
                "KEV dueDate 2026-03-03 for CVE-2026-0001 (end of day, 2026-03-03T23:59:59Z) is earlier than the SLA",
            ),
        ]);
        second.trigger = DecisionTrigger::Intel {
            source: "kev".to_owned(),
            detail: "CVE-2026-0001 added to the CISA KEV catalog 2026.03.02".to_owned(),
        };
        second.previous = Some(PriorDecision {
            priority: Priority::High,
            due_at: first.due_at,
            policy_version: "default-1".to_owned(),
        });
        (first, second)
    }

    fn projection(events: &[Event]) -> (tempfile::TempDir, Projection) {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Projection::open(dir.path().join("report.sqlite")).unwrap();
        for (n, e) in events.iter().enumerate() {
            p.apply("PATCH_FINDINGS", n as u64 + 1, e).unwrap();
        }
        (dir, p)
    }

    fn event(n: u128, at: &str, source: Service, data: impl Into<Payload>) -> Event {
        Event::new(Uuid::from_u128(0x1000 + n), source, utc(at), data)
    }

    #[test]
    fn explain_snapshot_of_a_kev_raised_finding() {
        let (first, second) = decisions();
        let (_dir, p) = projection(&[
            event(1, "2026-03-01T10:00:01Z", Service::Ingest, observed()),
            event(2, "2026-03-01T10:00:02Z", Service::Prioritize, first),
            event(3, "2026-03-02T06:00:00Z", Service::Prioritize, second),
        ]);
        let h = p.finding_history(&FINDING.to_string()).unwrap().unwrap();
        assert_eq!(h.decisions.len(), 2);
        assert_eq!(h.observations, 1);
        // The fingerprint finds it too.
        assert_eq!(
            p.finding_history("nessus:v1:web-1:10001:443/tcp").unwrap(),
            Some(h.clone())
        );
        assert_eq!(p.finding_history("nope").unwrap(), None);
        insta::assert_snapshot!(render_explain(&h));
    }

    #[test]
    fn explain_of_a_single_and_of_an_undecided_finding() {
        let (first, _) = decisions();
        let (_dir, p) = projection(&[event(
            1,
            "2026-03-01T10:00:01Z",
            Service::Ingest,
            observed(),
        )]);
        let h = p.finding_history(&FINDING.to_string()).unwrap().unwrap();
        let text = render_explain(&h);
        assert!(
            text.ends_with(
                "\nnot prioritized yet: no finding.prioritized event is stored for it\n"
            ),
            "{text}"
        );
        let (_dir, p) = projection(&[
            event(1, "2026-03-01T10:00:01Z", Service::Ingest, observed()),
            event(2, "2026-03-01T10:00:02Z", Service::Prioritize, first),
        ]);
        let text = render_explain(&p.finding_history(&FINDING.to_string()).unwrap().unwrap());
        assert!(text.contains("\npriority high, due 2026-03-08T10:00:00Z (168 h SLA)\n"));
        assert!(
            text.ends_with("\nhistory: this is the only decision\n"),
            "{text}"
        );
        assert!(text.contains("             the scanner printed 5.0; the vector wins\n"));
    }

    #[test]
    fn control_characters_in_event_data_are_escaped() {
        let (mut first, _) = decisions();
        first.check.name = "evil\u{1b}[2Jname\nnext".to_owned();
        let (_dir, p) = projection(&[event(2, "2026-03-01T10:00:02Z", Service::Prioritize, first)]);
        let text = render_explain(&p.finding_history(&FINDING.to_string()).unwrap().unwrap());
        assert!(text.contains("evil\\u{1b}[2Jname\\nnext"), "{text}");
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn open_finding_states_keep_the_latest_of_each() {
        let (first, second) = decisions();
        let mut later = observed();
        later.observed_at = utc("2026-03-05T10:00:00Z");
        let mut other = observed();
        other.finding_id = Uuid::from_u128(7);
        other.fingerprint = "nessus:v1:db-1:10001:5432/tcp".to_owned();
        let resolved = events::FindingResolved {
            finding_id: other.finding_id,
            fingerprint: other.fingerprint.clone(),
            asset_id: "web-1".to_owned(),
            scan_id: Uuid::from_u128(3),
            resolved_at: utc("2026-03-06T00:00:00Z"),
        };
        let mut third = observed();
        third.finding_id = Uuid::from_u128(9);
        third.fingerprint = "nessus:v1:app-1:10001:443/tcp".to_owned();
        let (_dir, p) = projection(&[
            event(1, "2026-03-01T10:00:01Z", Service::Ingest, observed()),
            event(2, "2026-03-01T10:00:02Z", Service::Prioritize, first),
            event(
                3,
                "2026-03-02T06:00:00Z",
                Service::Prioritize,
                second.clone(),
            ),
            event(4, "2026-03-05T10:00:01Z", Service::Ingest, later.clone()),
            event(5, "2026-03-05T10:00:01Z", Service::Ingest, other),
            event(6, "2026-03-06T00:00:01Z", Service::Ingest, resolved),
            event(7, "2026-03-06T00:00:01Z", Service::Ingest, third.clone()),
        ]);
        let states = p.open_finding_states().unwrap();
        assert_eq!(states.len(), 2, "the resolved finding is left out");
        assert_eq!(states[0].finding_id, Uuid::from_u128(9));
        assert_eq!(states[0].observation.as_ref(), Some(&third));
        assert_eq!(states[0].decision, None);
        assert_eq!(states[1].finding_id, FINDING);
        assert_eq!(states[1].observation.as_ref(), Some(&later));
        let d = states[1].decision.as_ref().unwrap();
        assert_eq!(
            (d.event_id, &d.decision),
            (Uuid::from_u128(0x1003), &second)
        );
        assert_eq!(d.stream_seq, 3);
    }
}
