//! The package-backend agent over a real nats-server: a `--dry-run` `apt`
//! agent on this Debian machine takes a job from its subject, simulates it
//! with the real `apt-get -s`, publishes the result, and changes nothing
//! (not even its state file). Skipped, with a message, where `apt-get` or
//! `dpkg-query` is missing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::HostAgent;
use agent::apt::Apt;
use agent::backend::{
    BackendError, Command, Output, PackageBackend, PackageFormat, PackageName, Runner, SystemRunner,
};
use agent::host::Host;
use bus::{Bus, BusConfig, Clock};
use chrono::Utc;
use events::subject::tail;
use events::{AgentJob, Event, JobAction, JobStatus, Payload, Remediation, Service, spec};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Runs read-only commands only: `apt-get` must carry `-s`; anything else
/// panics before it starts.
#[derive(Debug)]
struct ReadOnly(SystemRunner);

impl Runner for ReadOnly {
    fn run(&self, command: &Command) -> Result<Output, BackendError> {
        let allowed = match command.program.as_str() {
            "dpkg-query" | "apt-cache" => true,
            "apt-get" => command.args.iter().any(|a| a == "-s"),
            _ => false,
        };
        assert!(allowed, "refusing to run {command} in a dry-run test");
        self.0.run(command)
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn candidate(runner: &dyn Runner, package: &str) -> Option<String> {
    let out = runner
        .run(&Command::new("apt-cache").args(["policy", package]))
        .ok()?;
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate: "))
        .filter(|c| *c != "(none)")
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_apt_agent_answers_its_job_over_nats_and_changes_nothing() {
    if !(on_path("apt-get") && on_path("dpkg-query")) {
        eprintln!("skipping: apt-get or dpkg-query is not installed here");
        return;
    }
    let server = testkit::NatsServer::shared();
    let cfg = BusConfig::new(server.url(), testkit::unique_namespace(), "agent-test");
    let bus = Bus::connect(&cfg).await.expect("connect");
    bus.ensure().await.expect("ensure");

    let runner = Arc::new(ReadOnly(SystemRunner::new()));
    let apt = Arc::new(Apt::new(runner.clone()));
    let bash = PackageName::parse(PackageFormat::Deb, "bash").unwrap();
    let installed = apt
        .installed(std::slice::from_ref(&bash))
        .unwrap()
        .remove("bash")
        .flatten()
        .expect("bash is installed on Debian and Ubuntu");
    let target = candidate(runner.as_ref(), "bash").unwrap_or_else(|| installed.clone());

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent-dry-01.json");
    let host = Host::new("dry-01", apt, true);
    let deploy_key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let verifier = agent::JobVerifier::new(deploy_key.verifying_key());
    let agent =
        HostAgent::with_host(host, verifier, state.clone(), bus.clone(), Clock::system()).unwrap();
    let token = CancellationToken::new();
    let running = tokio::spawn(agent.run(token.clone()));

    let now = Utc::now();
    let mut job = AgentJob {
        job_id: Uuid::from_u128(0xd1),
        bundle_id: Uuid::from_u128(0xb1),
        ring: "dev".into(),
        wave: 0,
        host: "dry-01".into(),
        action: JobAction::Apply,
        remediations: vec![Remediation::Package {
            name: "bash".into(),
            fixed_version: target.clone(),
        }],
        issued_at: now,
        expires_at: now + chrono::Duration::hours(1),
        signature: None,
        key_id: None,
    };
    {
        use ed25519_dalek::Signer as _;
        let sig = deploy_key.sign(&job.signing_bytes()).to_bytes();
        job.signature = Some(sig.iter().map(|b| format!("{b:02x}")).collect());
    }
    bus.publish(&Event::new(
        Uuid::from_u128(0xe1),
        Service::Deploy,
        now,
        job,
    ))
    .await
    .expect("publish the job");

    let deadline = Instant::now() + Duration::from_secs(90);
    let result = loop {
        let last = bus
            .last_event(&spec::AGENT_RESULTS, &tail::agent_result("dry-01"))
            .await
            .expect("read results");
        if let Some((_, event)) = last {
            let Payload::AgentResult(r) = event.data else {
                panic!("not a result: {event:?}");
            };
            break r;
        }
        assert!(Instant::now() < deadline, "no result within 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    token.cancel();
    running.await.unwrap().unwrap();

    assert_eq!(result.status, JobStatus::Succeeded, "{result:?}");
    let steps: Vec<&str> = result.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["simulate", &format!("plan pkg:bash@{target}")]);
    if target == installed {
        assert_eq!(
            result.steps[1].detail,
            format!("bash already at {installed}")
        );
    } else {
        assert_eq!(
            result.steps[1].detail,
            format!("bash {installed} -> {target}")
        );
        assert!(
            result.steps[0]
                .detail
                .contains(&format!("bash {installed} -> {target}")),
            "{}",
            result.steps[0].detail
        );
    }
    assert!(
        result.steps[0]
            .detail
            .starts_with("dry run, nothing was changed")
    );
    assert_eq!(result.inventory.packages.get("bash"), Some(&installed));
    assert!(!result.rebooted);
    assert!(!state.exists(), "a dry run writes no state file");
    bus.close().await;
}
