//! Signed jobs over a real nats-server (issue 5, item 8), deploy's side:
//! the deploy service signs every job it publishes so that it verifies with
//! its public key (and with no other), and an agent's refusal of a job
//! (here: "signature does not verify") is reported in the wave's outcome and
//! halts the ring without asking to roll back the refusing host, which
//! changed nothing.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use deploy::JobSigner;
use ed25519_dalek::{Signature, Verifier as _};
use events::deployment::HostStatus;
use events::subject::tail;
use events::{AgentJob, Event, JobAction, JobStatus, Payload, Service, spec};
use uuid::Uuid;

fn signature(job: &AgentJob) -> Signature {
    let hex = job.signature.as_deref().expect("the job is signed");
    assert_eq!(hex.len(), 128, "{hex}");
    let bytes: Vec<u8> = (0..64)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    Signature::from_bytes(&bytes.try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_signs_its_jobs_and_reports_a_refused_one() {
    let bus = test_bus("deploy-signed").await;

    let signer = JobSigner::from_secret([21; 32]);
    let public = signer.verifying_key();
    let other = JobSigner::from_secret([22; 32]).verifying_key();
    let deploy = RunningDeploy::start(&bus, signer).await;
    publish_canary_bundle(&bus, Utc::now()).await;

    // The canary's job is signed over its canonical bytes with deploy's key.
    let event = wait_for(&bus, &spec::JOBS, &tail::agent_job("h01")).await;
    let Payload::AgentJob(job) = event.data else {
        panic!("not a job: {event:?}");
    };
    assert_eq!(job.host, "h01");
    assert_eq!(job.action, JobAction::Apply);
    let sig = signature(&job);
    assert!(public.verify(&job.signing_bytes(), &sig).is_ok());
    assert!(other.verify(&job.signing_bytes(), &sig).is_err());
    let mut tampered = job.clone();
    tampered.host = "h02".into();
    assert!(public.verify(&tampered.signing_bytes(), &sig).is_err());

    // The agent refuses it (as one holding another key would) and says why.
    let reason = format!(
        "job {} refused: job signature does not verify with this agent's key ed25519:0000000000000000",
        job.job_id
    );
    let refusal = answer(&job, JobStatus::Refused, Some(&reason));
    bus.publish(&Event::new(
        Uuid::new_v4(),
        Service::Agent,
        Utc::now(),
        refusal,
    ))
    .await
    .expect("publish the refusal");

    let event = wait_for(&bus, &spec::DEPLOYMENTS, tail::WAVE_HALTED).await;
    let Payload::WaveHalted(halted) = event.data else {
        panic!("not a halt: {event:?}");
    };
    assert_eq!(halted.wave, 0);
    assert_eq!(halted.hosts.len(), 1);
    assert_eq!(halted.hosts[0].host, "h01");
    assert_eq!(halted.hosts[0].status, HostStatus::Failed);
    assert_eq!(
        halted.hosts[0].reason.as_deref(),
        Some(format!("install: {reason}").as_str())
    );
    assert_eq!(halted.never_started, ["h02", "h03", "h04"]);
    // A refused job changed nothing: no rollback is requested for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rollback = bus
        .last_event(&spec::ROLLBACKS, tail::ROLLBACK_REQUESTED)
        .await
        .expect("read rollbacks");
    assert!(rollback.is_none(), "{rollback:?}");

    deploy.stop().await;
    bus.close().await;
}
