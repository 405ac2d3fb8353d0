//! A result that reaches deploy before its ring run is stored (deploy
//! crashed after sending a wave's jobs and before storing the run; the agent
//! answered meanwhile, and the redelivered `bundle.scheduled` comes back
//! after the result) is kept and counted when the run starts: the wave
//! completes without a second answer and the host is not timed out.

mod common;

use std::time::Duration;

use bus::Clock;
use chrono::Utc;
use common::*;
use deploy::output::{key, output_id};
use deploy::{DeployConfig, JobSigner};
use events::deployment::HostStatus;
use events::subject::tail;
use events::{AgentJob, Event, JobAction, JobStatus, Payload, Service, spec};
use uuid::Uuid;

/// The canary's apply job of the prod ring as deploy sends it (its id is
/// derived from the bundle, ring, wave and host), issued at `now`.
fn canary_job(now: chrono::DateTime<Utc>) -> AgentJob {
    AgentJob {
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
        key_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_before_its_run_is_kept_and_completes_the_wave() {
    let bus = test_bus("deploy-early").await;

    let now = Utc::now();
    // The canary's job, answered before deploy runs at all.
    let job = canary_job(now);
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

/// Kept results whose run never starts are dropped once they are older
/// than `early_results_keep_hours`, by the tick, and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_results_of_a_run_that_never_starts_expire() {
    let bus = test_bus("deploy-early-expiry").await;
    let now = Utc::now();
    let clock = Clock::manual(now);
    let job = canary_job(now);
    let result = answer(&job, JobStatus::Succeeded, None);
    bus.publish(&Event::new(Uuid::new_v4(), Service::Agent, now, result))
        .await
        .expect("publish the result");
    let cfg = DeployConfig {
        early_results_keep_hours: 24,
        ..DeployConfig::default()
    };
    let deploy =
        RunningDeploy::start_on(&bus, JobSigner::from_secret([32; 32]), cfg, clock.clone()).await;
    let state = bus.state(Service::Deploy).await.expect("deploy state");
    let kept = || async {
        state
            .keys_with_prefix("early.")
            .await
            .expect("list the deploy keys")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while kept().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the result was not kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let key = format!("early.run.{BUNDLE}.prod");
    assert_eq!(kept().await, std::slice::from_ref(&key));

    // A sweep is due (an hour after the start) but the result is 2 h old.
    clock.advance(chrono::Duration::hours(2));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(kept().await, [key], "dropped before its 24 h");

    // 25 h later the next sweep drops it.
    clock.advance(chrono::Duration::hours(23));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !kept().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired result is still kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    deploy.stop().await;
    bus.close().await;
}
