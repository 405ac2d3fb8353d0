//! A result that reaches deploy before its ring run is stored (deploy
//! crashed after sending a wave's jobs and before storing the run; the agent
//! answered meanwhile, and the redelivered `bundle.scheduled` comes back
//! after the result) is kept and counted when the run starts: the wave
//! completes without a second answer and the host is not timed out.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use deploy::JobSigner;
use deploy::output::{key, output_id};
use events::deployment::HostStatus;
use events::subject::tail;
use events::{AgentJob, Event, JobAction, JobStatus, Payload, Service, spec};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_before_its_run_is_kept_and_completes_the_wave() {
    let bus = test_bus("deploy-early").await;

    let now = Utc::now();
    // The canary's job as deploy sends it (its id is derived from the
    // bundle, ring, wave and host), answered before deploy runs at all.
    let job = AgentJob {
        job_id: output_id(BUNDLE, &key::apply_job("prod", 0, "h01")),
        bundle_id: BUNDLE,
        ring: "prod".into(),
        wave: 0,
        host: "h01".into(),
        action: JobAction::Apply,
        remediations: remediations("h01"),
        issued_at: now,
        expires_at: now + chrono::Duration::hours(1),
        signature: None,
    };
    let result = answer(&job, JobStatus::Succeeded, None);
    let result_event = Event::new(Uuid::new_v4(), Service::Agent, now, result);
    bus.publish(&result_event)
        .await
        .expect("publish the result");

    let deploy = RunningDeploy::start(&bus, JobSigner::from_secret([31; 32])).await;
    // Let deploy take the result first, with no run stored.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    publish_canary_bundle(&bus, now).await;

    let completed = wait_for(&bus, &spec::DEPLOYMENTS, tail::WAVE_COMPLETED).await;
    let Payload::WaveCompleted(c) = completed.data else {
        panic!("not a completion: {completed:?}");
    };
    assert_eq!(c.wave, 0);
    assert_eq!(c.hosts.len(), 1);
    assert_eq!(c.hosts[0].host, "h01");
    assert_eq!(c.hosts[0].status, HostStatus::Succeeded);
    assert_eq!(c.hosts[0].result_event_id, Some(result_event.id));

    deploy.stop().await;
    bus.close().await;
}
