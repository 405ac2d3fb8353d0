//! JetStream resources: streams, durable consumers, KV buckets and the report
//! object store, as plain data. `bus` turns these into server calls.

use std::time::Duration;

use crate::Service;
use crate::subject::{Namespace, tail};

/// How long JetStream drops a re-published event id (the `Nats-Msg-Id`
/// duplicate window). The bus bounds its publish retries well inside it.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(300);

/// A stream family: one entity's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Upper-case suffix; the stream is `<NS>_<suffix>`.
    pub suffix: &'static str,
    /// Subject tails it binds (without namespace).
    pub subjects: &'static [&'static str],
    /// What the stream holds, for `stream info` and docs.
    pub description: &'static str,
}

impl StreamSpec {
    /// `<NS>_<suffix>`.
    pub fn name(&self, ns: &Namespace) -> String {
        ns.stream_name(self.suffix)
    }

    /// Full subjects in `ns`.
    pub fn subjects(&self, ns: &Namespace) -> Vec<String> {
        self.subjects.iter().map(|t| ns.subject(t)).collect()
    }
}

/// `<NS>_SCANS`: submitted, rejected and completed reports.
pub const SCANS: StreamSpec = StreamSpec {
    suffix: "SCANS",
    subjects: &["scan.>"],
    description: "scan reports submitted, rejected, completed",
};
/// `<NS>_ASSETS`: asset upserts from inventory, scans and CMDB feeds.
pub const ASSETS: StreamSpec = StreamSpec {
    suffix: "ASSETS",
    subjects: &["asset.>"],
    description: "asset upserts",
};
/// `<NS>_FINDINGS`: observed, resolved and prioritized findings.
pub const FINDINGS: StreamSpec = StreamSpec {
    suffix: "FINDINGS",
    subjects: &["finding.>"],
    description: "findings observed, resolved, prioritized",
};
/// `<NS>_BULLETINS`: KEV, EPSS and advisory bulletins.
pub const BULLETINS: StreamSpec = StreamSpec {
    suffix: "BULLETINS",
    subjects: &["bulletin.>"],
    description: "intel catalogs loaded, KEV additions, vendor advisories",
};
/// `<NS>_EMERGENCIES`: the zero-day lane.
pub const EMERGENCIES: StreamSpec = StreamSpec {
    suffix: "EMERGENCIES",
    subjects: &["emergency.>"],
    description: "emergencies declared, progressed, escalated",
};
/// `<NS>_EXCEPTIONS`: risk acceptances.
pub const EXCEPTIONS: StreamSpec = StreamSpec {
    suffix: "EXCEPTIONS",
    subjects: &["exception.>"],
    description: "risk acceptances granted, expired, revoked",
};
/// `<NS>_BUNDLES`: bundle life.
pub const BUNDLES: StreamSpec = StreamSpec {
    suffix: "BUNDLES",
    subjects: &["bundle.>"],
    description: "bundles planned, approved, rejected, scheduled, completed, halted",
};
/// `<NS>_DEPLOYMENTS`: wave progress.
pub const DEPLOYMENTS: StreamSpec = StreamSpec {
    suffix: "DEPLOYMENTS",
    subjects: &["deployment.>"],
    description: "waves started, completed, halted",
};
/// `<NS>_JOBS`: host jobs, one subject per host.
pub const JOBS: StreamSpec = StreamSpec {
    suffix: "JOBS",
    subjects: &["agent.job.*"],
    description: "per-host agent jobs",
};
/// `<NS>_AGENT_RESULTS`: job results, one subject per host.
pub const AGENT_RESULTS: StreamSpec = StreamSpec {
    suffix: "AGENT_RESULTS",
    subjects: &["agent.result.*"],
    description: "per-host agent job results and reported state",
};
/// `<NS>_VALIDATIONS`: gate verdicts.
pub const VALIDATIONS: StreamSpec = StreamSpec {
    suffix: "VALIDATIONS",
    subjects: &["validation.>"],
    description: "validation verdicts",
};
/// `<NS>_AGENT_PRESENCE`: agents announcing themselves.
pub const AGENT_PRESENCE: StreamSpec = StreamSpec {
    suffix: "AGENT_PRESENCE",
    subjects: &["agent.online.*"],
    description: "agents (re)started, with their boot id and the reboot they finish",
};
/// `<NS>_ROLLBACKS`: rollback life.
pub const ROLLBACKS: StreamSpec = StreamSpec {
    suffix: "ROLLBACKS",
    subjects: &["rollback.>"],
    description: "rollbacks requested, completed",
};
/// `<NS>_DEADLETTER`: messages a service terminated, with the reason.
pub const DEADLETTER: StreamSpec = StreamSpec {
    suffix: "DEADLETTER",
    subjects: &["deadletter.*"],
    description: "dead letters per service",
};

/// Every stream, in flow order.
pub const STREAMS: [StreamSpec; 14] = [
    SCANS,
    ASSETS,
    FINDINGS,
    BULLETINS,
    EMERGENCIES,
    EXCEPTIONS,
    BUNDLES,
    DEPLOYMENTS,
    JOBS,
    AGENT_RESULTS,
    AGENT_PRESENCE,
    VALIDATIONS,
    ROLLBACKS,
    DEADLETTER,
];

/// The stream that binds `payload`'s subject.
pub fn stream_for(payload: &crate::Payload) -> Option<StreamSpec> {
    let tail = payload.subject_tail();
    STREAMS.into_iter().find(|s| {
        s.subjects
            .iter()
            .any(|pattern| subject_matches(pattern, &tail))
    })
}

/// NATS subject matching: `*` is one token, `>` one or more trailing tokens.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    for (i, tok) in p.iter().enumerate() {
        match *tok {
            ">" => return s.len() > i,
            "*" if i < s.len() => {}
            t if s.get(i) == Some(&t) => {}
            _ => return false,
        }
    }
    p.len() == s.len()
}

/// A durable pull consumer of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// Durable name (unique per stream).
    pub durable: String,
    /// The stream it reads.
    pub stream: StreamSpec,
    /// Subject tails it filters on (without namespace).
    pub filter_subjects: Vec<String>,
    /// Deliveries before the message is dead-lettered.
    pub max_deliver: i64,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
}

impl ConsumerSpec {
    fn new(durable: impl Into<String>, stream: StreamSpec, filters: &[&str]) -> Self {
        ConsumerSpec {
            durable: durable.into(),
            stream,
            filter_subjects: filters.iter().map(|s| (*s).to_owned()).collect(),
            max_deliver: 10,
            ack_wait: Duration::from_secs(20),
        }
    }

    /// Full filter subjects in `ns`.
    pub fn filters(&self, ns: &Namespace) -> Vec<String> {
        self.filter_subjects.iter().map(|t| ns.subject(t)).collect()
    }
}

/// The durable consumers a pipeline service reads through. `report` reads
/// every stream through ordered consumers positioned from its own store, and
/// the agent through [`agent_consumer`], so both return nothing here.
pub fn consumers(service: Service) -> Vec<ConsumerSpec> {
    let name = service.as_str();
    match service {
        Service::Ingest => vec![
            ConsumerSpec::new(name, SCANS, &[tail::SCAN_SUBMITTED]),
            // CMDB feeds; ingest skips its own upserts (source scan/inventory).
            ConsumerSpec::new(name, ASSETS, &[tail::ASSET_UPSERTED]),
        ],
        Service::Prioritize => vec![
            ConsumerSpec::new(
                name,
                FINDINGS,
                &[tail::FINDING_OBSERVED, tail::FINDING_RESOLVED],
            ),
            ConsumerSpec::new(
                name,
                BULLETINS,
                &[tail::KEV_ADDED, tail::CATALOG_LOADED, tail::ADVISORY],
            ),
            ConsumerSpec::new(
                name,
                EXCEPTIONS,
                &[tail::EXCEPTION_GRANTED, tail::EXCEPTION_REVOKED],
            ),
            // The emergency lane's stages.
            ConsumerSpec::new(
                name,
                BUNDLES,
                &[tail::BUNDLE_PLANNED, tail::BUNDLE_COMPLETED],
            ),
            ConsumerSpec::new(name, VALIDATIONS, &[tail::VALIDATION_PASSED]),
        ],
        Service::Schedule => vec![
            ConsumerSpec::new(name, SCANS, &[tail::SCAN_COMPLETED]),
            ConsumerSpec::new(name, FINDINGS, &[tail::FINDING_PRIORITIZED_ALL]),
            ConsumerSpec::new(
                name,
                VALIDATIONS,
                &[tail::VALIDATION_PASSED, tail::VALIDATION_FAILED],
            ),
            ConsumerSpec::new(name, DEPLOYMENTS, &[tail::WAVE_HALTED]),
            // Operators' change approvals and rejections.
            ConsumerSpec::new(
                name,
                BUNDLES,
                &[tail::BUNDLE_APPROVED, tail::BUNDLE_REJECTED],
            ),
        ],
        Service::Deploy => vec![
            ConsumerSpec::new(name, BUNDLES, &[tail::BUNDLE_SCHEDULED]),
            ConsumerSpec::new(name, AGENT_RESULTS, &[tail::AGENT_RESULT_ALL]),
            ConsumerSpec::new(name, AGENT_PRESENCE, &[tail::AGENT_ONLINE_ALL]),
            // The host saga: every step's end (the webhook steps' starts go
            // to `deploy_step_runner_consumer`).
            ConsumerSpec::new(name, DEPLOYMENTS, &[tail::STEP_FINISHED_ALL]),
            ConsumerSpec::new(name, VALIDATIONS, &[tail::VALIDATION_PASSED]),
            ConsumerSpec::new(name, ROLLBACKS, &[tail::ROLLBACK_REQUESTED]),
        ],
        Service::Validate => vec![ConsumerSpec::new(
            name,
            DEPLOYMENTS,
            &[tail::WAVE_COMPLETED],
        )],
        Service::Report | Service::Agent | Service::Cli => Vec::new(),
    }
}

/// Deploy's step runner: `patch.deployment.step.started.*`, read apart from
/// deploy's ring runs so that slow webhooks of several hosts run at once.
/// Its ack wait covers a webhook step's attempts (10 minutes).
pub fn deploy_step_runner_consumer() -> ConsumerSpec {
    let mut spec = ConsumerSpec::new("deploy_steps", DEPLOYMENTS, &[tail::STEP_STARTED_ALL]);
    spec.ack_wait = Duration::from_secs(600);
    spec.max_deliver = 5;
    spec
}

/// The durable consumer of the agent on `host`: only its own job subject.
pub fn agent_consumer(host: &str) -> ConsumerSpec {
    let mut spec = ConsumerSpec::new(agent_durable(host), JOBS, &[]);
    spec.filter_subjects = vec![tail::agent_job(host)];
    spec.max_deliver = 5;
    spec.ack_wait = Duration::from_secs(300);
    spec
}

/// Durable consumer name of a host's agent: `agent_<sanitized host>_<hash>`,
/// unique per host and valid as a consumer name.
pub fn agent_durable(host: &str) -> String {
    use sha2::Digest;
    let clean: String = host
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = sha2::Sha256::digest(host.as_bytes());
    format!("agent_{clean}_{}", hex::encode(&hash[..4]))
}

/// KV bucket of a service's state: `<ns>_<service>`.
pub fn state_bucket(ns: &Namespace, service: Service) -> String {
    ns.bucket_name(service.as_str())
}

/// KV bucket for single-leader leases (the scheduler's clock): `<ns>_leases`.
pub fn lease_bucket(ns: &Namespace) -> String {
    ns.bucket_name("leases")
}

/// Object-store bucket holding submitted reports: `<ns>_reports`.
pub fn reports_bucket(ns: &Namespace) -> String {
    ns.bucket_name("reports")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_consumer_filter_is_bound_by_its_stream() {
        let ns = Namespace::default();
        for service in Service::PIPELINE {
            for c in consumers(service) {
                for f in c.filters(&ns) {
                    let bound = c
                        .stream
                        .subjects(&ns)
                        .iter()
                        .any(|s| subject_matches(s, &f));
                    assert!(bound, "{service}: {f} not in {}", c.stream.name(&ns));
                }
            }
        }
    }

    #[test]
    fn every_payload_type_has_a_stream() {
        use crate::*;
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let samples: Vec<Payload> = vec![
            KevAdded {
                entry: KevInput {
                    cve: "CVE-1".into(),
                    date_added: t.date_naive(),
                    due_date: t.date_naive(),
                    known_ransomware: None,
                    catalog_version: "v".into(),
                },
                vendor_project: String::new(),
                product: String::new(),
                vulnerability_name: String::new(),
                required_action: String::new(),
            }
            .into(),
            ExceptionExpired {
                exception_id: uuid::Uuid::nil(),
                target: ExceptionTarget::Cve {
                    cve: "CVE-1".into(),
                },
                expired_at: t,
            }
            .into(),
        ];
        for p in &samples {
            assert!(stream_for(p).is_some(), "{}", p.event_type());
        }
        assert_eq!(stream_for(&samples[0]).map(|s| s.suffix), Some("BULLETINS"));
        assert_eq!(
            stream_for(&samples[1]).map(|s| s.suffix),
            Some("EXCEPTIONS")
        );
    }

    #[test]
    fn agent_durables_are_distinct_and_valid() {
        let a = agent_durable("10.0.0.1");
        let b = agent_durable("10_0_0_1");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }
}
