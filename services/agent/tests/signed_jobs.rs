//! Signed jobs over a real nats-server (issue 5, item 8): a lab agent that
//! holds deploy's public key takes a job deploy signed, and refuses, with a
//! published result that says why, a job signed with another key, an
//! unsigned job, and a correctly signed job addressed to another host that
//! reached its subject. Refused jobs change nothing on the host. During a
//! rotation of deploy's key, an agent given both public keys takes jobs
//! signed with either and refuses a job naming a key it does not trust.

use std::time::{Duration, Instant};

use agent::{Config, JobVerifier, LabAgent, LabState};
use bus::{Bus, BusConfig, Clock};
use chrono::Utc;
use ed25519_dalek::{Signer as _, SigningKey};
use events::subject::tail;
use events::{
    AgentJob, AgentResult, Event, JobAction, JobStatus, Payload, Remediation, Service, spec,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const HOST: &str = "lab-signed-01";

fn sign(job: &mut AgentJob, key: &SigningKey) {
    let sig = key.sign(&job.signing_bytes()).to_bytes();
    job.signature = Some(sig.iter().map(|b| format!("{b:02x}")).collect());
}

fn job(id: u128, host: &str) -> AgentJob {
    let now = Utc::now();
    AgentJob {
        job_id: Uuid::from_u128(id),
        bundle_id: Uuid::from_u128(0xb5),
        ring: "dev".into(),
        wave: 0,
        host: host.into(),
        action: JobAction::Apply,
        remediations: vec![Remediation::Package {
            name: "openssl".into(),
            fixed_version: "3.0.13".into(),
        }],
        issued_at: now,
        expires_at: now + chrono::Duration::hours(1),
        signature: None,
        key_id: None,
    }
}

/// Writes `key`'s public key as `openssl pkey -pubout` would, as
/// `dir/name`.
fn write_public_key(dir: &std::path::Path, name: &str, key: &SigningKey) -> std::path::PathBuf {
    use ed25519_dalek::pkcs8::EncodePublicKey as _;
    let path = dir.join(name);
    let pem = key
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    std::fs::write(&path, pem).unwrap();
    path
}

/// Signs `job` as deploy does: the signature and the id of the key.
fn sign_named(job: &mut AgentJob, key: &SigningKey) {
    sign(job, key);
    job.key_id = Some(events::signing_key_fingerprint(
        key.verifying_key().as_bytes(),
    ));
}

/// The version of `package` the lab host's state file records.
fn installed(state: &std::path::Path, package: &str) -> Option<String> {
    LabState::load(state)
        .unwrap()
        .packages
        .get(package)
        .cloned()
}

/// A bus in a fresh namespace of the shared test server.
async fn bus(name: &str) -> Bus {
    let server = testkit::NatsServer::shared();
    let cfg = BusConfig::new(server.url(), testkit::unique_namespace(), name);
    let bus = Bus::connect(&cfg).await.expect("connect");
    bus.ensure().await.expect("ensure");
    bus
}

/// A lab host `host` with openssl 3.0.2, its state file in `dir`, and the
/// configuration of its lab agent verifying jobs with the key files `keys`.
fn lab_host(dir: &std::path::Path, host: &str, keys: Vec<std::path::PathBuf>) -> Config {
    let state = dir.join("host-state.json");
    let mut lab = LabState::new(host);
    lab.packages.insert("openssl".into(), "3.0.2".into());
    lab.save(&state).unwrap();
    Config {
        host: host.into(),
        backend: agent::Backend::Lab,
        state,
        dry_run: false,
        verify_key: keys,
        hooks: agent::Hooks::default(),
        reboot: Vec::new(),
        reboot_secs: 0,
    }
}

/// Publishes `job` on this host's job subject and waits for its result.
/// (Raw, so that a job naming another host still lands on this host's subject.)
async fn send(bus: &Bus, job: AgentJob) -> (Event, AgentResult) {
    send_to(bus, HOST, job).await
}

/// [`send`] to `host`'s job subject.
async fn send_to(bus: &Bus, host: &str, job: AgentJob) -> (Event, AgentResult) {
    let job_id = job.job_id;
    let event = Event::new(Uuid::new_v4(), Service::Deploy, Utc::now(), job);
    let subject = bus.namespace().subject(&tail::agent_job(host));
    bus.publish_raw(&subject, event.to_json())
        .await
        .expect("publish the job");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = bus
            .last_event(&spec::AGENT_RESULTS, &tail::agent_result(host))
            .await
            .expect("read results");
        if let Some((_, event)) = last
            && let Payload::AgentResult(r) = &event.data
            && r.job_id == job_id
        {
            let r = r.clone();
            return (event, r);
        }
        assert!(
            Instant::now() < deadline,
            "no result for job {job_id} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_with_a_bad_signature_or_for_another_host_are_refused_and_reported() {
    let bus = bus("agent-signed").await;
    let deploy_key = SigningKey::from_bytes(&[11; 32]);
    let impostor = SigningKey::from_bytes(&[12; 32]);
    let dir = tempfile::tempdir().unwrap();
    // The public key as the agent reads it from its --verify-key file.
    let pub_path = write_public_key(dir.path(), "job-signing.pub.pem", &deploy_key);
    let agent_cfg = lab_host(dir.path(), HOST, vec![pub_path.clone()]);
    let state_path = agent_cfg.state.clone();
    let verifier = JobVerifier::load(&pub_path).unwrap();
    let agent = LabAgent::build(&agent_cfg, verifier, bus.clone(), Clock::system()).unwrap();
    let token = CancellationToken::new();
    let running = tokio::spawn(agent.run(token.clone()));

    // Signed with another key.
    let mut forged = job(1, HOST);
    sign(&mut forged, &impostor);
    let (event, r) = send(&bus, forged).await;
    assert_eq!(r.status, JobStatus::Refused, "{r:?}");
    assert_eq!(r.host, HOST);
    let reason = r.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("job signature does not verify with this agent's key ed25519:"),
        "{reason}"
    );
    assert_eq!(r.steps.len(), 1);
    assert_eq!(r.steps[0].name, agent::verify::SIGNATURE_STEP);
    assert_eq!(
        event.id,
        events::derive_id(r.job_id, "agent", "result/unverified")
    );

    // No signature at all.
    let (_, r) = send(&bus, job(2, HOST)).await;
    assert_eq!(r.status, JobStatus::Refused);
    assert!(
        r.reason
            .as_deref()
            .unwrap_or_default()
            .contains("job has no signature"),
        "{r:?}"
    );

    // Signed by deploy, but for another host (published on this host's subject).
    let mut elsewhere = job(3, "lab-signed-02");
    sign(&mut elsewhere, &deploy_key);
    let (_, r) = send(&bus, elsewhere).await;
    assert_eq!(r.status, JobStatus::Refused);
    assert_eq!(r.host, HOST);
    assert!(
        r.reason.as_deref().unwrap_or_default().contains(
            "is addressed to host \"lab-signed-02\", this agent is host \"lab-signed-01\""
        ),
        "{r:?}"
    );

    // Nothing changed on the host, and nothing was recorded.
    let after = LabState::load(&state_path).unwrap();
    assert_eq!(
        after.packages.get("openssl").map(String::as_str),
        Some("3.0.2")
    );
    assert!(after.history.is_empty());
    assert!(after.applied.is_empty());

    // A job deploy signed for this host is applied.
    let mut good = job(4, HOST);
    sign(&mut good, &deploy_key);
    let (event, r) = send(&bus, good).await;
    assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
    assert_eq!(event.id, events::derive_id(r.job_id, "agent", "result"));
    assert_eq!(installed(&state_path, "openssl").as_deref(), Some("3.0.13"));

    token.cancel();
    running.await.unwrap().unwrap();
    bus.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_key_rotation_jobs_signed_with_either_key_are_taken() {
    let bus = bus("agent-rotation").await;
    let (old_key, new_key, unknown) = (
        SigningKey::from_bytes(&[21; 32]),
        SigningKey::from_bytes(&[22; 32]),
        SigningKey::from_bytes(&[23; 32]),
    );
    let dir = tempfile::tempdir().unwrap();
    // Both public keys in the configuration, as `--verify-key` twice.
    let keys = vec![
        write_public_key(dir.path(), "old.pub.pem", &old_key),
        write_public_key(dir.path(), "new.pub.pem", &new_key),
    ];
    let agent_cfg = lab_host(dir.path(), HOST, keys);
    let state_path = agent_cfg.state.clone();
    let agent = agent::Agent::build(&agent_cfg, bus.clone(), Clock::system()).unwrap();
    let token = CancellationToken::new();
    let running = tokio::spawn(agent.run(token.clone()));

    // A key neither file holds: refused, naming it and the trusted ones.
    let mut foreign = job(31, HOST);
    sign_named(&mut foreign, &unknown);
    let (_, r) = send(&bus, foreign).await;
    assert_eq!(r.status, JobStatus::Refused, "{r:?}");
    let fingerprint =
        |k: &SigningKey| events::signing_key_fingerprint(k.verifying_key().as_bytes());
    assert_eq!(
        r.reason.as_deref().unwrap_or_default(),
        format!(
            "job {} refused: job is signed with key {}, which this agent does not trust \
             (it trusts {}, {}); add deploy's new public key with another --verify-key \
             during a key rotation",
            r.job_id,
            fingerprint(&unknown),
            fingerprint(&old_key),
            fingerprint(&new_key)
        )
    );

    // The new key, named; then the old key from a deploy that predates
    // key ids: both taken.
    let mut with_new = job(32, HOST);
    sign_named(&mut with_new, &new_key);
    let (_, r) = send(&bus, with_new).await;
    assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
    let mut with_old = job(33, HOST);
    with_old.remediations = vec![Remediation::Package {
        name: "curl".into(),
        fixed_version: "8.5.0".into(),
    }];
    sign(&mut with_old, &old_key);
    let (_, r) = send(&bus, with_old).await;
    assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
    assert_eq!(installed(&state_path, "openssl").as_deref(), Some("3.0.13"));
    assert_eq!(installed(&state_path, "curl").as_deref(), Some("8.5.0"));

    token.cancel();
    running.await.unwrap().unwrap();
    bus.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_named_by_its_ip_address_gets_its_jobs() {
    // Scanners that know a host only by IP make that its asset id; the dots
    // are escaped in the subject and the consumer name.
    const IP_HOST: &str = "192.168.2.101";
    let bus = bus("agent-ip").await;
    let key = SigningKey::from_bytes(&[41; 32]);
    let dir = tempfile::tempdir().unwrap();
    let keys = vec![write_public_key(dir.path(), "k.pub.pem", &key)];
    let agent_cfg = lab_host(dir.path(), IP_HOST, keys);
    let state_path = agent_cfg.state.clone();
    let agent = agent::Agent::build(&agent_cfg, bus.clone(), Clock::system()).unwrap();
    let token = CancellationToken::new();
    let running = tokio::spawn(agent.run(token.clone()));
    let mut j = job(51, IP_HOST);
    sign_named(&mut j, &key);
    let (_, r) = send_to(&bus, IP_HOST, j).await;
    assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
    assert_eq!(r.host, IP_HOST);
    assert_eq!(installed(&state_path, "openssl").as_deref(), Some("3.0.13"));
    token.cancel();
    running.await.unwrap().unwrap();
    bus.close().await;
}
