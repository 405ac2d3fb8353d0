//! Event builders and a stream feed for the projection tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use events::spec::{self, StreamSpec};
use events::*;
use report::Projection;

/// Parses an RFC 3339 instant.
pub fn t(s: &str) -> DateTime<Utc> {
    s.parse()
        .unwrap_or_else(|e| panic!("bad instant {s:?}: {e}"))
}

/// The stream a payload is published to.
pub fn stream_of(p: &Payload) -> StreamSpec {
    spec::stream_for(p).expect("every payload has a stream")
}

/// The name of a stream in the default namespace (`PATCH_FINDINGS`).
pub fn stream_name(s: &StreamSpec) -> String {
    s.name(&Namespace::default())
}

/// Events in publication order, each with its stream and stream sequence.
#[derive(Default)]
pub struct Feed {
    next_id: u128,
    seqs: BTreeMap<String, u64>,
    pub items: Vec<(String, u64, Event)>,
}

impl Feed {
    /// Publishes `payload` at `time` from `source`; returns the event.
    pub fn push(&mut self, source: Service, time: &str, payload: impl Into<Payload>) -> Event {
        let payload = payload.into();
        self.next_id += 1;
        let stream = stream_name(&stream_of(&payload));
        let seq = self.seqs.entry(stream.clone()).or_insert(0);
        *seq += 1;
        let e = Event::new(Uuid::from_u128(self.next_id), source, t(time), payload);
        self.items.push((stream, *seq, e.clone()));
        e
    }

    /// Applies every event one by one, in publication order.
    pub fn apply_in_order(&self, p: &mut Projection) {
        for (stream, seq, e) in &self.items {
            p.apply(stream, *seq, e).expect("apply");
        }
    }

    /// Replays stream by stream in `spec::STREAMS` order (assets before
    /// findings, bundles before deployments), one batch per stream: another
    /// interleaving than publication order.
    pub fn replay_by_stream(&self, p: &mut Projection) {
        for s in &spec::STREAMS {
            let name = stream_name(s);
            let batch: Vec<(&str, u64, &Event)> = self
                .items
                .iter()
                .filter(|(stream, ..)| *stream == name)
                .map(|(stream, seq, e)| (stream.as_str(), *seq, e))
                .collect();
            p.apply_batch(batch).expect("apply batch");
        }
    }
}

/// An asset with only an id and a host name.
pub fn asset(id: &str) -> Asset {
    Asset {
        asset_id: id.to_owned(),
        hostname: Some(id.to_owned()),
        ..Asset::default()
    }
}

/// A Nessus check.
pub fn check(id: &str) -> Check {
    Check {
        scanner: "nessus".to_owned(),
        id: id.to_owned(),
        name: format!("check {id}"),
        family: None,
    }
}

/// The finding id of a fingerprint (UUIDv5, as ingest derives it).
pub fn finding_id(fingerprint: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, fingerprint.as_bytes())
}

/// A fingerprint for `asset`/`check_id`/`port`.
pub fn fingerprint(asset: &str, check_id: &str, port: u16) -> String {
    format!("nessus:v1:{asset}:{check_id}:{port}/tcp")
}

/// `finding.observed` of check `check_id` on `asset`.
pub fn observed(
    asset: Asset,
    check_id: &str,
    port: u16,
    cve: &str,
    observed_at: &str,
    first_observed_at: &str,
) -> FindingObserved {
    let fp = fingerprint(&asset.asset_id, check_id, port);
    FindingObserved {
        finding_id: finding_id(&fp),
        fingerprint: fp,
        scan_id: Uuid::from_u128(9_000),
        asset,
        check: check(check_id),
        port,
        protocol: "tcp".to_owned(),
        service: None,
        severity: Severity::High,
        cves: vec![cve.to_owned()],
        cwes: Vec::new(),
        cvss: Vec::new(),
        remediation: Remediation::Advisory {
            id: format!("ADV-{check_id}"),
        },
        observed_at: t(observed_at),
        first_observed_at: t(first_observed_at),
        package: None,
        fix_state: None,
        reopened: false,
    }
}

/// The DESIGN.md default policy: the class of a CVSS base score and its SLA
/// in hours (critical ≥ 9.0 72 h, high ≥ 7.0 7 d, medium ≥ 4.0 30 d, low 90 d).
pub fn default_policy(score: f64) -> (Priority, u32) {
    if score >= 9.0 {
        (Priority::Critical, 72)
    } else if score >= 7.0 {
        (Priority::High, 7 * 24)
    } else if score >= 4.0 {
        (Priority::Medium, 30 * 24)
    } else {
        (Priority::Low, 90 * 24)
    }
}

/// `finding.prioritized` answering `o`, under the default policy for
/// `(vector, score)`.
pub fn prioritized(o: &FindingObserved, vector: &str, score: f64) -> FindingPrioritized {
    let (priority, sla_hours) = default_policy(score);
    FindingPrioritized {
        finding_id: o.finding_id,
        fingerprint: o.fingerprint.clone(),
        scan_id: o.scan_id,
        asset: o.asset.clone(),
        check: o.check.clone(),
        cves: o.cves.clone(),
        remediation: o.remediation.clone(),
        priority,
        trigger: events::DecisionTrigger::Observation,
        previous: None,
        exception_id: None,
        inputs: DecisionInputs {
            cvss: Some(ScoredCvss {
                version: CvssVersion::V3_1,
                vector: vector.to_owned(),
                base_score: score,
                severity: Severity::from_cvss(score),
                source: "nessus".to_owned(),
                reported_score_disagrees: None,
            }),
            scanner_severity: Some(o.severity),
            ..DecisionInputs::default()
        },
        reasons: vec![Reason {
            rule: "cvss_class".to_owned(),
            effect: format!("priority={}", priority.as_str()),
            detail: format!("CVSS {score}"),
        }],
        policy_version: "default-1".to_owned(),
        first_observed_at: o.first_observed_at,
        sla_hours,
        due_at: o.first_observed_at + Duration::hours(i64::from(sla_hours)),
    }
}

/// `finding.resolved` of `o` at `resolved_at`.
pub fn resolved(o: &FindingObserved, resolved_at: &str) -> FindingResolved {
    FindingResolved {
        finding_id: o.finding_id,
        fingerprint: o.fingerprint.clone(),
        asset_id: o.asset.asset_id.clone(),
        scan_id: Uuid::from_u128(9_001),
        resolved_at: t(resolved_at),
    }
}

/// A host outcome.
pub fn outcome(host: &str, status: HostStatus, reason: Option<&str>) -> HostOutcome {
    HostOutcome {
        host: host.to_owned(),
        status,
        reason: reason.map(str::to_owned),
        job_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, host.as_bytes()),
        result_event_id: None,
        remediations: vec!["pkg:openssl@3.0.13".to_owned()],
        rollback_method: None,
    }
}

/// The remediation of the bundle scenario.
pub fn openssl() -> Remediation {
    Remediation::Package {
        name: "openssl".to_owned(),
        fixed_version: "3.0.13".to_owned(),
    }
}
