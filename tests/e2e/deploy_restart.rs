//! Deploy killed in the middle of a batch (issue 5, acceptance): every
//! service runs as its own process and every lab agent as `patchflow agent`
//! verifying deploy's signature. Deploy is killed (SIGKILL) once a wave's
//! signed jobs are out and before any result is in; the agents answer while
//! it is down; deploy restarts, takes the results and finishes. No host gets
//! a job's install step twice, every bundle completes, and the key deploy
//! created on its first start is the one it signs with after the restart.

use std::collections::BTreeMap;
use std::time::Duration;

use events::{JobAction, JobStatus, Payload};
use tests::{Lab, Proc, count, settled};

use crate::common::{
    FLOW_TIMEOUT, V_UNKNOWN_HOSTS, health_endpoint, load_agent_state, spawn_lab_agents, v_unknown,
    wait_for_signing_key, write_lab,
};

const SERVICES: [&str; 5] = ["ingest", "prioritize", "schedule", "validate", "report"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_deploy_mid_batch_installs_nothing_twice_and_the_bundles_complete() {
    let Some(report) = v_unknown() else { return };
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    write_lab(&lab, V_UNKNOWN_HOSTS, &health_endpoint().await);
    // Room for the restart: no host times out while deploy is down.
    let config = std::fs::read_to_string(lab.path("patchflow.toml")).unwrap();
    std::fs::write(
        lab.path("patchflow.toml"),
        config.replace("result_timeout_secs = 30", "result_timeout_secs = 300"),
    )
    .unwrap();

    let mut deploy = lab.spawn("deploy-1", &["serve", "deploy"]);
    let key = wait_for_signing_key(&lab, &deploy, Duration::from_secs(30)).await;
    let _services: Vec<Proc> = SERVICES
        .iter()
        .map(|s| lab.spawn(s, &["serve", s]))
        .collect();

    let (status, out, err) = lab.run(&["scan", "submit", report.to_str().unwrap()]);
    assert!(status.success(), "{out}{err}");
    // A wave's jobs are out and nobody answers them: no agent runs yet.
    lab.log
        .wait_for("a wave to start", FLOW_TIMEOUT, |e| {
            count(e, "patch.deployment.wave.started.v1") > 0
        })
        .await;
    deploy.signal("KILL");
    deploy.wait(Duration::from_secs(10));
    let before = lab.log.events();
    assert_eq!(count(&before, "patch.agent.result.v1"), 0);
    assert!(!settled(&before), "the flow finished before the kill");

    // The agents answer while deploy is down.
    let _agents = spawn_lab_agents(&lab, V_UNKNOWN_HOSTS, &key);
    let started_jobs = count(&before, "patch.agent.job.v1");
    lab.log
        .wait_for(
            "the wave's results while deploy is down",
            FLOW_TIMEOUT,
            |e| count(e, "patch.agent.result.v1") >= started_jobs,
        )
        .await;

    let _deploy = lab.spawn("deploy-2", &["serve", "deploy"]);
    let events = lab
        .log
        .wait_for("the whole flow", FLOW_TIMEOUT, |e| {
            settled(e) && count(e, "patch.finding.prioritized.v1") >= 30
        })
        .await;

    // Every bundle completed; nothing was refused (the restarted deploy
    // signs with the key it created on its first start).
    let planned = count(&events, "patch.bundle.planned.v1");
    assert!(planned > 0);
    assert_eq!(count(&events, "patch.bundle.completed.v1"), planned);
    assert_eq!(count(&events, "patch.bundle.halted.v1"), 0);
    // One apply job per (bundle, ring, host), and each install step of a
    // remediation ran once per host and bundle.
    let mut jobs: BTreeMap<String, usize> = BTreeMap::new();
    let mut installs: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        match &e.data {
            Payload::AgentJob(j) if j.action == JobAction::Apply => {
                assert!(j.signature.is_some(), "unsigned job {j:?}");
                *jobs
                    .entry(format!("{}/{}/{}", j.bundle_id, j.ring, j.host))
                    .or_default() += 1;
            }
            Payload::AgentResult(r) => {
                assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
                for s in r.steps.iter().filter(|s| s.name.starts_with("install ")) {
                    *installs
                        .entry(format!("{}/{}/{}", r.bundle_id, r.host, s.name))
                        .or_default() += 1;
                }
            }
            _ => {}
        }
    }
    assert!(!installs.is_empty());
    let twice: Vec<_> = jobs
        .iter()
        .chain(&installs)
        .filter(|(_, n)| **n > 1)
        .collect();
    assert!(
        twice.is_empty(),
        "sent or installed more than once: {twice:?}"
    );
    // And on the hosts themselves: each state records each job once.
    for (host, _, _) in V_UNKNOWN_HOSTS {
        let state = load_agent_state(&lab, host);
        let keys: Vec<_> = state
            .applied
            .iter()
            .map(|a| (a.bundle_id, &a.key))
            .collect();
        let unique: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(
            keys.len(),
            unique.len(),
            "{host} applied a remediation twice"
        );
        assert!(!state.applied.is_empty(), "{host} applied nothing");
    }
}
