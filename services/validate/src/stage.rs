//! The gate's decision for one completed wave: pure, from the health check
//! results and the agents' reported state.
//!
//! The adapter runs the ring's checks ([`crate::checks::run_checks`]), reads
//! back, per host of the wave, the latest `patch.agent.result` from the
//! stream, calls [`decide`], and publishes [`Verdict::into_events`].

use chrono::{DateTime, Utc};
use events::{
    AgentResult, CheckResult, Event, HostOutcome, HostReadback, HostStatus, RollbackRequested,
    Service, ValidationFailed, ValidationPassed, WaveCompleted, derive_id,
};
use uuid::Uuid;

/// What the adapter read back for one host of the wave: the host's asset id
/// and its latest agent result with that result event's id, or `None` when
/// the stream holds no result for the host.
pub type Reported = (String, Option<(Uuid, AgentResult)>);

/// The gate's verdict on a wave.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every check passed and every succeeded host holds its remediations.
    Passed(ValidationPassed),
    /// A check failed or a host's read-back came up short: the bundle halts
    /// and the wave's succeeded hosts are rolled back.
    Failed {
        /// `patch.validation.failed`, with one reason line per failure.
        failed: ValidationFailed,
        /// `patch.rollback.requested` for every host of the wave that
        /// reported success (they applied the change that broke the gate).
        rollback: RollbackRequested,
    },
}

impl Verdict {
    /// Whether the wave passed.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed(_))
    }

    /// The events to publish, ids derived from the wave (see [`event_id`]):
    /// `[validation.passed]` or `[validation.failed, rollback.requested]`.
    /// `time` is the decision time (UTC, from the adapter's clock);
    /// `traceparent` is the wave event's, to keep the trace.
    pub fn into_events(self, time: DateTime<Utc>, traceparent: Option<String>) -> Vec<Event> {
        let event = |outcome: &str, payload: events::Payload, bundle_id, ring: &str, wave| {
            let mut e = Event::new(
                event_id(bundle_id, ring, wave, outcome),
                Service::Validate,
                time,
                payload,
            );
            e.traceparent.clone_from(&traceparent);
            e
        };
        match self {
            Verdict::Passed(p) => {
                let (bundle_id, ring, wave) = (p.bundle_id, p.ring.clone(), p.wave);
                vec![event(PASSED, p.into(), bundle_id, &ring, wave)]
            }
            Verdict::Failed { failed, rollback } => {
                let (bundle_id, ring, wave) = (failed.bundle_id, failed.ring.clone(), failed.wave);
                vec![
                    event(FAILED, failed.into(), bundle_id, &ring, wave),
                    event(ROLLBACK_REQUESTED, rollback.into(), bundle_id, &ring, wave),
                ]
            }
        }
    }
}

/// Child key suffix of `patch.validation.passed`.
pub const PASSED: &str = "passed";
/// Child key suffix of `patch.validation.failed`.
pub const FAILED: &str = "failed";
/// Child key suffix of `patch.rollback.requested`.
pub const ROLLBACK_REQUESTED: &str = "rollback-requested";

/// The id of a gate event: `derive_id(bundle_id, "validate",
/// "<ring>/<wave>/<outcome>")`, `outcome` one of [`PASSED`], [`FAILED`],
/// [`ROLLBACK_REQUESTED`]. The same wave always yields the same ids, so a
/// redelivered `wave.completed` republishes them and the duplicate window
/// drops the copies.
pub fn event_id(bundle_id: Uuid, ring: &str, wave: u32, outcome: &str) -> Uuid {
    derive_id(
        bundle_id,
        Service::Validate.as_str(),
        &format!("{ring}/{wave}/{outcome}"),
    )
}

/// Decides the gate of a completed wave.
///
/// - `checks`: the ring's health check results, in configuration order
///   (none configured → none to fail).
/// - `reported`: per host of the wave, the latest agent result read back
///   from the stream ([`Reported`]).
///
/// Read-back: each host with status `Succeeded` in the wave is read back
/// ([`readback`]); `Failed` and `TimedOut` hosts are not (deploy's failure
/// budget already counted them). The wave passes when every check is ok and
/// every read-back is ok; otherwise it fails with one reason per failed
/// check (`check <name> (<kind> <target>) failed: <detail>`) and per
/// failed host, and every succeeded host of the wave is to be rolled back.
pub fn decide(wave: &WaveCompleted, checks: Vec<CheckResult>, reported: &[Reported]) -> Verdict {
    let mut reasons: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| {
            format!(
                "check {} ({} {}) failed: {}",
                c.name, c.kind, c.target, c.detail
            )
        })
        .collect();
    let succeeded: Vec<&HostOutcome> = wave
        .hosts
        .iter()
        .filter(|h| h.status == HostStatus::Succeeded)
        .collect();
    let mut readbacks = Vec::with_capacity(succeeded.len());
    for outcome in &succeeded {
        let found = reported
            .iter()
            .find(|(host, _)| *host == outcome.host)
            .and_then(|(_, r)| r.as_ref());
        let (rb, why) = readback(outcome, found);
        if let Some(why) = why {
            reasons.push(format!("host {}: {why}", outcome.host));
        }
        readbacks.push(rb);
    }
    if reasons.is_empty() {
        return Verdict::Passed(ValidationPassed {
            bundle_id: wave.bundle_id,
            ring: wave.ring.clone(),
            wave: wave.wave,
            last_wave_in_ring: wave.last_wave_in_ring,
            checks,
            readback: readbacks,
        });
    }
    let reason = format!(
        "validation of ring {} wave {} failed: {}",
        wave.ring,
        wave.wave,
        reasons.join("; ")
    );
    Verdict::Failed {
        rollback: RollbackRequested {
            bundle_id: wave.bundle_id,
            ring: wave.ring.clone(),
            wave: wave.wave,
            hosts: succeeded.iter().map(|h| h.host.clone()).collect(),
            reason,
        },
        failed: ValidationFailed {
            bundle_id: wave.bundle_id,
            ring: wave.ring.clone(),
            wave: wave.wave,
            checks,
            readback: readbacks,
            reasons,
        },
    }
}

/// Reads back one succeeded host: does its latest reported result answer the
/// very job the wave sent, and does the state it reports hold every
/// remediation key of the outcome?
///
/// A key is held when it is in `inventory.applied`, or, for a package key
/// `pkg:<name>@<version>`, when `inventory.packages[name]` is exactly
/// `<version>` (a newer version does not count yet: comparing versions is
/// package-manager specific). The latest result of the host is read, whichever
/// job it answered: its inventory is the host's whole state. No result, or a
/// result from another host, counts every key as missing. Returns the read-back and, when not
/// ok, why (without the host prefix).
pub fn readback(
    outcome: &HostOutcome,
    reported: Option<&(Uuid, AgentResult)>,
) -> (HostReadback, Option<String>) {
    let all_missing = |result_event_id, why: String| {
        (
            HostReadback {
                host: outcome.host.clone(),
                ok: false,
                missing: outcome.remediations.clone(),
                result_event_id,
            },
            Some(why),
        )
    };
    let Some((event_id, result)) = reported else {
        return all_missing(None, "no agent result read back".to_owned());
    };
    if result.host != outcome.host {
        return all_missing(
            Some(*event_id),
            format!("result {event_id} read back is from host {:?}", result.host),
        );
    }
    // The host's latest result may answer another bundle's job rolled out in
    // the same window: its inventory is still the host's whole current state,
    // which is what must hold this wave's remediations.
    let missing: Vec<String> = outcome
        .remediations
        .iter()
        .filter(|key| !holds(&result.inventory, key))
        .cloned()
        .collect();
    let why = (!missing.is_empty()).then(|| {
        format!(
            "reported state (result {event_id}) lacks {}",
            missing.join(", ")
        )
    });
    (
        HostReadback {
            host: outcome.host.clone(),
            ok: missing.is_empty(),
            missing,
            result_event_id: Some(*event_id),
        },
        why,
    )
}

/// Whether `inventory` holds the remediation `key` (see [`readback`]).
fn holds(inventory: &events::HostInventory, key: &str) -> bool {
    if inventory.applied.iter().any(|k| k == key) {
        return true;
    }
    key.strip_prefix("pkg:")
        .and_then(|rest| rest.rsplit_once('@'))
        .is_some_and(|(name, version)| {
            inventory.packages.get(name).map(String::as_str) == Some(version)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::{HostInventory, JobAction, JobStatus, WaveKind};
    use std::collections::BTreeMap;

    const BUNDLE: Uuid = Uuid::from_u128(0xb0);
    const OPENSSL: &str = "pkg:openssl@3.0.13";
    const RHSA: &str = "advisory:RHSA-2024:4420";

    fn job_of(host: &str) -> Uuid {
        derive_id(BUNDLE, "job", host)
    }

    fn outcome(host: &str, status: HostStatus) -> HostOutcome {
        HostOutcome {
            host: host.into(),
            status,
            reason: None,
            job_id: job_of(host),
            result_event_id: None,
            remediations: vec![OPENSSL.into(), RHSA.into()],
            rollback_method: None,
        }
    }

    fn wave(last_wave_in_ring: bool) -> WaveCompleted {
        WaveCompleted {
            bundle_id: BUNDLE,
            ring: "staging".into(),
            wave: 1,
            kind: WaveKind::Batch,
            last_wave_in_ring,
            hosts: vec![
                outcome("web-01", HostStatus::Succeeded),
                outcome("web-02", HostStatus::Succeeded),
                outcome("web-03", HostStatus::Failed),
                outcome("web-04", HostStatus::TimedOut),
            ],
            ring_attempted: 8,
            ring_failed: 0,
        }
    }

    fn result_event_of(host: &str) -> Uuid {
        derive_id(BUNDLE, "result", host)
    }

    /// An agent result for `host`'s job with `applied` keys and packages.
    fn reported(host: &str, applied: &[&str], packages: &[(&str, &str)]) -> Reported {
        let result = AgentResult {
            job_id: job_of(host),
            bundle_id: BUNDLE,
            ring: "staging".into(),
            wave: 1,
            host: host.into(),
            action: JobAction::Apply,
            status: JobStatus::Succeeded,
            reason: None,
            steps: vec![],
            rebooted: false,
            reboot_required: false,
            inventory: HostInventory {
                packages: packages
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
                applied: applied.iter().map(|k| (*k).to_owned()).collect(),
                boot_id: "b".into(),
            },
            finished_at: "2026-12-01T02:10:00Z".parse().unwrap(),
            rollback_method: None,
        };
        (host.into(), Some((result_event_of(host), result)))
    }

    fn healthy() -> Vec<Reported> {
        vec![
            reported("web-01", &[OPENSSL, RHSA], &[("openssl", "3.0.13")]),
            // The package key is proved by the package version alone.
            reported("web-02", &[RHSA], &[("openssl", "3.0.13")]),
            // Failed and timed-out hosts are never read back.
            ("web-03".into(), None),
        ]
    }

    fn probe(name: &str, ok: bool, detail: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            kind: "http".into(),
            target: format!("https://{name}.example.com/healthz"),
            ok,
            detail: detail.into(),
            duration_ms: 12,
        }
    }

    fn good_checks() -> Vec<CheckResult> {
        vec![
            probe("shop", true, "status 200 OK"),
            probe("api", true, "status 200 OK"),
        ]
    }

    /// Decides `wave` and checks the verdict: `reasons` empty means passed;
    /// `readback` lists (host, ok, missing) of the read-backs in order.
    fn check(
        case: &str,
        wave: &WaveCompleted,
        checks: Vec<CheckResult>,
        reported: &[Reported],
        reasons: &[String],
        readback: &[(&str, bool, &[&str])],
    ) {
        let verdict = decide(wave, checks.clone(), reported);
        let (got_checks, got_readback) = match &verdict {
            Verdict::Passed(p) => {
                assert!(reasons.is_empty(), "{case}: passed, wanted {reasons:?}");
                assert_eq!(
                    (p.bundle_id, p.ring.as_str(), p.wave),
                    (BUNDLE, "staging", 1),
                    "{case}"
                );
                assert_eq!(p.last_wave_in_ring, wave.last_wave_in_ring, "{case}");
                (&p.checks, &p.readback)
            }
            Verdict::Failed { failed, rollback } => {
                assert_eq!(failed.reasons, reasons, "{case}");
                assert_eq!(
                    (failed.bundle_id, failed.ring.as_str(), failed.wave),
                    (BUNDLE, "staging", 1),
                    "{case}"
                );
                assert_eq!(
                    (rollback.bundle_id, rollback.ring.as_str(), rollback.wave),
                    (BUNDLE, "staging", 1),
                    "{case}"
                );
                assert_eq!(rollback.hosts, ["web-01", "web-02"], "{case}");
                assert_eq!(
                    rollback.reason,
                    format!(
                        "validation of ring staging wave 1 failed: {}",
                        reasons.join("; ")
                    ),
                    "{case}"
                );
                (&failed.checks, &failed.readback)
            }
        };
        assert_eq!(got_checks, &checks, "{case}");
        let got: Vec<(&str, bool, Vec<&str>)> = got_readback
            .iter()
            .map(|r| {
                (
                    r.host.as_str(),
                    r.ok,
                    r.missing.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        let want: Vec<(&str, bool, Vec<&str>)> = readback
            .iter()
            .map(|(h, ok, m)| (*h, *ok, m.to_vec()))
            .collect();
        assert_eq!(got, want, "{case}");
    }

    const ALL_OK: &[(&str, bool, &[&str])] = &[("web-01", true, &[]), ("web-02", true, &[])];

    #[test]
    fn everything_healthy_passes() {
        check(
            "all pass",
            &wave(false),
            good_checks(),
            &healthy(),
            &[],
            ALL_OK,
        );
        check(
            "no checks configured",
            &wave(false),
            vec![],
            &healthy(),
            &[],
            ALL_OK,
        );
    }

    #[test]
    fn last_wave_in_ring_is_propagated() {
        let v = decide(&wave(true), good_checks(), &healthy());
        assert!(
            matches!(&v, Verdict::Passed(p) if p.last_wave_in_ring),
            "{v:?}"
        );
        check(
            "last wave",
            &wave(true),
            good_checks(),
            &healthy(),
            &[],
            ALL_OK,
        );
    }

    #[test]
    fn a_failed_check_fails_the_wave() {
        let checks = vec![
            probe("shop", true, "status 200 OK"),
            probe("api", false, "status 503 Service Unavailable, expected 200"),
        ];
        check(
            "one check fails",
            &wave(false),
            checks,
            &healthy(),
            &["check api (http https://api.example.com/healthz) failed: \
               status 503 Service Unavailable, expected 200"
                .to_owned()],
            ALL_OK,
        );
    }

    #[test]
    fn readback_failures_name_the_host_and_what_is_missing() {
        let e1 = result_event_of("web-01");
        let e2 = result_event_of("web-02");

        // web-02 reports the package but not the advisory.
        let mut r = healthy();
        r[1] = reported("web-02", &[], &[("openssl", "3.0.13")]);
        check(
            "missing key",
            &wave(false),
            good_checks(),
            &r,
            &[format!(
                "host web-02: reported state (result {e2}) lacks {RHSA}"
            )],
            &[("web-01", true, &[]), ("web-02", false, &[RHSA])],
        );

        // A newer package version is not an exact match (yet).
        let mut r = healthy();
        r[1] = reported("web-02", &[RHSA], &[("openssl", "3.0.14")]);
        check(
            "newer package",
            &wave(false),
            good_checks(),
            &r,
            &[format!(
                "host web-02: reported state (result {e2}) lacks {OPENSSL}"
            )],
            &[("web-01", true, &[]), ("web-02", false, &[OPENSSL])],
        );

        // web-01's latest result answers another bundle's job: its inventory
        // is still the host's state, and it holds this wave's keys.
        let mut r = healthy();
        if let Some((_, Some((_, result)))) = r.get_mut(0) {
            result.job_id = Uuid::from_u128(0x01d);
        }
        check(
            "another job, state holds",
            &wave(false),
            good_checks(),
            &r,
            &[],
            &[("web-01", true, &[]), ("web-02", true, &[])],
        );

        // No result at all: listed with None, or not listed.
        let mut r = healthy();
        r[0] = ("web-01".into(), None);
        let missing_all: &[(&str, bool, &[&str])] =
            &[("web-01", false, &[OPENSSL, RHSA]), ("web-02", true, &[])];
        let none = ["host web-01: no agent result read back".to_owned()];
        check(
            "result None",
            &wave(false),
            good_checks(),
            &r,
            &none,
            missing_all,
        );
        r.remove(0);
        check(
            "host absent",
            &wave(false),
            good_checks(),
            &r,
            &none,
            missing_all,
        );

        // A result from the wrong host (an adapter mix-up) proves nothing.
        let mut r = healthy();
        if let Some((_, Some((_, result)))) = r.get_mut(0) {
            result.host = "web-09".into();
        }
        check(
            "wrong host",
            &wave(false),
            good_checks(),
            &r,
            &[format!(
                "host web-01: result {e1} read back is from host \"web-09\""
            )],
            missing_all,
        );
    }

    #[test]
    fn check_and_host_failures_are_all_listed() {
        let checks = vec![probe("shop", false, "no response within 5000 ms")];
        let r = vec![reported("web-01", &[OPENSSL, RHSA], &[])];
        check(
            "both",
            &wave(false),
            checks,
            &r,
            &[
                "check shop (http https://shop.example.com/healthz) failed: no response within 5000 ms"
                    .to_owned(),
                "host web-02: no agent result read back".to_owned(),
            ],
            &[("web-01", true, &[]), ("web-02", false, &[OPENSSL, RHSA])],
        );
    }

    #[test]
    fn events_have_ids_derived_from_the_wave() {
        let now: DateTime<Utc> = "2026-12-01T03:00:00Z".parse().unwrap();
        let passed = decide(&wave(true), good_checks(), &healthy());
        let events = passed.into_events(now, Some("00-t-s-01".into()));
        let got: Vec<(Uuid, &str)> = events.iter().map(|e| (e.id, e.event_type())).collect();
        assert_eq!(
            got,
            [(
                derive_id(BUNDLE, "validate", "staging/1/passed"),
                "patch.validation.passed.v1"
            )]
        );
        let e = events.first().unwrap();
        assert_eq!(
            (e.source.as_str(), e.time, e.traceparent.as_deref()),
            ("patchflow/validate", now, Some("00-t-s-01"))
        );
        assert_eq!(e.subject, BUNDLE.to_string());

        let failed = decide(&wave(false), good_checks(), &[]);
        assert!(!failed.passed());
        let events = failed.into_events(now, None);
        let got: Vec<(Uuid, &str)> = events.iter().map(|e| (e.id, e.event_type())).collect();
        assert_eq!(
            got,
            [
                (
                    derive_id(BUNDLE, "validate", "staging/1/failed"),
                    "patch.validation.failed.v1"
                ),
                (
                    derive_id(BUNDLE, "validate", "staging/1/rollback-requested"),
                    "patch.rollback.requested.v1"
                ),
            ]
        );
        assert_eq!(
            event_id(BUNDLE, "staging", 1, PASSED),
            derive_id(BUNDLE, "validate", "staging/1/passed")
        );
    }
}
