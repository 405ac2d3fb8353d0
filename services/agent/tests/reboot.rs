//! Reboot jobs over a real nats-server (issue 5, the host saga): a lab agent
//! announces itself at start (`patch.agent.online.<host>`, no reboot), takes
//! a signed reboot job, answers it with the boot id from before, and after
//! `reboot_secs` announces itself again with a new boot id naming the job.
//! An agent stopped during the simulated reboot leaves it pending in its
//! state file, and the next agent on that file completes and announces it.

use std::time::{Duration, Instant};

use agent::{Config, JobVerifier, LabAgent, LabState};
use bus::{Bus, BusConfig, Clock};
use chrono::Utc;
use ed25519_dalek::{Signer as _, SigningKey};
use events::subject::tail;
use events::{
    AgentJob, AgentOnline, AgentResult, Event, JobAction, JobStatus, Payload, RebootRef, Service,
    spec,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const KEY: [u8; 32] = [21; 32];

fn sign(mut job: AgentJob) -> AgentJob {
    let sig = SigningKey::from_bytes(&KEY)
        .sign(&job.signing_bytes())
        .to_bytes();
    job.signature = Some(sig.iter().map(|b| format!("{b:02x}")).collect());
    job
}

fn reboot_job(id: u128, host: &str) -> AgentJob {
    let now = Utc::now();
    let job = AgentJob {
        job_id: Uuid::from_u128(id),
        bundle_id: Uuid::from_u128(0xb7),
        ring: "prod".into(),
        wave: 2,
        host: host.into(),
        action: JobAction::Reboot,
        remediations: vec![],
        issued_at: now,
        expires_at: now + chrono::Duration::hours(1),
        signature: None,
        key_id: None,
    };
    sign(job)
}

/// Polls `f` every 100 ms until it gives a value, for at most 30 s.
async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "no {what} within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last `patch.agent.online.<host>` event, when `want` accepts it.
async fn online(
    bus: &Bus,
    host: &str,
    want: impl Fn(&AgentOnline) -> bool,
) -> Option<(Event, AgentOnline)> {
    let (_, event) = bus
        .last_event(&spec::AGENT_PRESENCE, &tail::agent_online(host))
        .await
        .expect("read presence")?;
    match &event.data {
        Payload::AgentOnline(o) if want(o) => {
            let o = o.clone();
            Some((event, o))
        }
        _ => None,
    }
}

/// The result of `job_id` on `host`, once published.
async fn result(bus: &Bus, host: &str, job_id: Uuid) -> Option<AgentResult> {
    let (_, event) = bus
        .last_event(&spec::AGENT_RESULTS, &tail::agent_result(host))
        .await
        .expect("read results")?;
    match event.data {
        Payload::AgentResult(r) if r.job_id == job_id => Some(r),
        _ => None,
    }
}

struct Lab {
    bus: Bus,
    host: String,
    state: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Lab {
    async fn new(host: &str) -> Lab {
        let server = testkit::NatsServer::shared();
        let cfg = BusConfig::new(server.url(), testkit::unique_namespace(), "agent-reboot");
        let bus = Bus::connect(&cfg).await.expect("connect");
        bus.ensure().await.expect("ensure");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(format!("{host}.json"));
        LabState::new(host).save(&state).unwrap();
        Lab {
            bus,
            host: host.into(),
            state,
            _dir: dir,
        }
    }

    /// Starts a lab agent on the state file, its simulated reboot taking
    /// `reboot_secs`.
    fn start(
        &self,
        reboot_secs: u64,
    ) -> (
        CancellationToken,
        JoinHandle<Result<(), agent::adapter::AgentError>>,
    ) {
        let cfg = Config {
            host: self.host.clone(),
            backend: agent::Backend::Lab,
            state: self.state.clone(),
            dry_run: false,
            verify_key: Vec::new(),
            hooks: agent::Hooks::default(),
            reboot: agent::config::default_reboot_command(),
            reboot_secs,
        };
        let verifier = JobVerifier::new(SigningKey::from_bytes(&KEY).verifying_key());
        let agent = LabAgent::build(&cfg, verifier, self.bus.clone(), Clock::system()).unwrap();
        let token = CancellationToken::new();
        (token.clone(), tokio::spawn(agent.run(token)))
    }

    /// Publishes `job` and waits for its result.
    async fn send(&self, job: AgentJob) -> AgentResult {
        let job_id = job.job_id;
        let event = Event::new(Uuid::new_v4(), Service::Deploy, Utc::now(), job);
        self.bus.publish(&event).await.expect("publish the job");
        wait_for("result", || result(&self.bus, &self.host, job_id)).await
    }

    /// Checks the reboot job's result: succeeded, boot id from before.
    fn check_result(&self, r: &AgentResult, boot_before: &str) {
        assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
        assert_eq!(r.action, JobAction::Reboot);
        assert_eq!(r.steps.len(), 1);
        assert_eq!(r.steps[0].name, "reboot");
        assert_eq!(r.inventory.boot_id, boot_before);
        assert!(!r.rebooted);
    }

    fn reboot_ref(&self, job: &AgentJob, boot_before: &str) -> RebootRef {
        RebootRef {
            job_id: job.job_id,
            bundle_id: job.bundle_id,
            ring: job.ring.clone(),
            wave: job.wave,
            boot_id_before: boot_before.into(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_job_is_answered_then_the_agent_comes_back_with_a_new_boot_id() {
    let lab = Lab::new("lab-reboot-01").await;
    let (token, running) = lab.start(1);

    // The start announcement: the current boot id, no reboot.
    let (start_event, start) = wait_for("start announcement", || {
        online(&lab.bus, &lab.host, |_| true)
    })
    .await;
    assert_eq!(start.boot_id, "boot-0");
    assert_eq!(start.reboot, None);
    assert_eq!(start.detail, None);
    assert_eq!(start_event.source, "patchflow/agent");

    let job = reboot_job(0x5e1, &lab.host);
    let sent_at = Instant::now();
    let r = lab.send(job.clone()).await;
    lab.check_result(&r, "boot-0");
    let (event, back) = wait_for("announcement after the reboot", || {
        online(&lab.bus, &lab.host, |o| o.reboot.is_some())
    })
    .await;
    assert!(
        sent_at.elapsed() >= Duration::from_secs(1),
        "reboot_secs was waited"
    );
    assert_ne!(back.boot_id, "boot-0");
    assert!(back.boot_id.starts_with("boot-"), "{}", back.boot_id);
    assert_eq!(back.reboot, Some(lab.reboot_ref(&job, "boot-0")));
    assert_eq!(back.detail, None);
    assert_eq!(event.id, events::derive_id(job.job_id, "agent", "online"));
    // The state is saved right after the announcement.
    let state = rebooted_state(&lab).await;
    assert_eq!(state.boot_id, back.boot_id);
    assert_eq!(state.reboots, 1);

    token.cancel();
    running.await.unwrap().unwrap();
    lab.bus.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_stopped_during_the_reboot_completes_it_at_its_next_start() {
    let lab = Lab::new("lab-reboot-02").await;
    let (token, running) = lab.start(600);
    wait_for("start announcement", || {
        online(&lab.bus, &lab.host, |_| true)
    })
    .await;

    let job = reboot_job(0x5e2, &lab.host);
    let r = lab.send(job.clone()).await;
    lab.check_result(&r, "boot-0");
    // Stopped during the 600 s reboot: the reboot stays pending.
    token.cancel();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the agent stops without waiting out its reboot")
        .unwrap()
        .unwrap();
    let state = LabState::load(&lab.state).unwrap();
    assert_eq!(state.pending_reboot, Some(lab.reboot_ref(&job, "boot-0")));
    assert_eq!((state.boot_id.as_str(), state.reboots), ("boot-0", 0));
    assert!(
        online(&lab.bus, &lab.host, |o| o.reboot.is_some())
            .await
            .is_none(),
        "no announcement of the reboot yet"
    );

    // The next agent on the same state file completes and announces it.
    let (token, running) = lab.start(600);
    let (event, back) = wait_for("announcement after the restart", || {
        online(&lab.bus, &lab.host, |o| o.reboot.is_some())
    })
    .await;
    assert_ne!(back.boot_id, "boot-0");
    assert_eq!(back.reboot, Some(lab.reboot_ref(&job, "boot-0")));
    assert_eq!(event.id, events::derive_id(job.job_id, "agent", "online"));
    // The state is saved right after the announcement.
    let state = rebooted_state(&lab).await;
    assert_eq!(state.boot_id, back.boot_id);
    assert_eq!(state.reboots, 1);
    // The job redelivered now is answered from history: no new reboot.
    // (Jobs are handled one at a time: once the apply sent after it is
    // answered, the redelivered reboot job was handled.)
    let redelivered = Event::new(Uuid::new_v4(), Service::Deploy, Utc::now(), job.clone());
    lab.bus
        .publish(&redelivered)
        .await
        .expect("publish the job again");
    let mut apply = reboot_job(0x5e3, &lab.host);
    apply.action = JobAction::Apply;
    let applied = lab.send(sign(apply)).await;
    assert_eq!(applied.status, JobStatus::Succeeded, "{applied:?}");
    let state = LabState::load(&lab.state).unwrap();
    assert_eq!(state.boot_id, back.boot_id);
    assert_eq!((state.reboots, state.pending_reboot), (1, None));
    assert_eq!(state.history.get(&job.job_id), Some(&r));

    token.cancel();
    running.await.unwrap().unwrap();
    lab.bus.close().await;
}

/// The lab host's state once its pending reboot is completed.
async fn rebooted_state(lab: &Lab) -> LabState {
    wait_for("the rebooted state", || async {
        let s = LabState::load(&lab.state).unwrap();
        s.pending_reboot.is_none().then_some(s)
    })
    .await
}
