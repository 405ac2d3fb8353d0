//! The host saga's webhook steps over a real nats-server and a real HTTP
//! server: deploy's step runner makes the configured requests (with the
//! started event's id as `Idempotency-Key`, the step as JSON for POST),
//! retries a 503, publishes each step's end, and the ring run moves on:
//! pre-check → install → CMDB → wave completed.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use chrono::Utc;
use common::*;
use deploy::JobSigner;
use deploy::config::{Method, SagaConfig, Webhook};
use events::subject::tail;
use events::{Event, JobStatus, Payload, SagaStep, Service, StepOutcome, derive_id, spec};
use uuid::Uuid;

#[derive(Default)]
struct Seen {
    /// (method, path, Idempotency-Key, body)
    requests: Vec<(String, String, String, String)>,
    cmdb_calls: u32,
}

type Shared = Arc<Mutex<Seen>>;

fn key(headers: &HeaderMap) -> String {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn health(State(seen): State<Shared>, Path(host): Path<String>, h: HeaderMap) -> StatusCode {
    seen.lock().unwrap().requests.push((
        "GET".into(),
        format!("/health/{host}"),
        key(&h),
        String::new(),
    ));
    StatusCode::OK
}

async fn cmdb(
    State(seen): State<Shared>,
    Path(host): Path<String>,
    h: HeaderMap,
    body: String,
) -> StatusCode {
    let mut s = seen.lock().unwrap();
    s.requests
        .push(("POST".into(), format!("/cmdb/{host}"), key(&h), body));
    s.cmdb_calls += 1;
    // The CMDB is briefly unavailable: the first call fails, the retry works.
    if s.cmdb_calls == 1 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

fn hook(url: String, method: Method) -> Webhook {
    Webhook {
        url,
        method,
        headers: [("Authorization".to_owned(), "Bearer t0ken".to_owned())].into(),
        timeout_secs: 5,
        attempts: 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_runner_calls_the_webhooks_and_the_saga_moves_on() {
    let seen: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/health/{host}", get(health))
        .route("/cmdb/{host}", post(cmdb))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let bus = test_bus("deploy-webhooks").await;
    let saga = SagaConfig {
        pre_check: Some(hook(format!("{base}/health/{{host}}"), Method::Get)),
        cmdb: Some(hook(format!("{base}/cmdb/{{host}}"), Method::Post)),
        ..SagaConfig::default()
    };
    saga.check().unwrap();
    let deploy = RunningDeploy::start_with(&bus, JobSigner::from_secret([7; 32]), saga).await;
    publish_canary_bundle(&bus, Utc::now()).await;

    // The pre-check ran and its end is published under the derived id (the
    // install's start may already follow it on the host's started subject,
    // but no other step of h01 can end before the agent answers).
    let finished = wait_for(&bus, &spec::DEPLOYMENTS, &tail::step_finished("h01")).await;
    let Payload::HostStepFinished(f) = &finished.data else {
        panic!("{finished:?}")
    };
    assert_eq!(
        (f.step, f.outcome),
        (SagaStep::PreCheck, StepOutcome::Succeeded)
    );
    assert_eq!(f.detail, format!("GET {base}/health/h01: 200 OK"));
    let pre_check_started = f.started_event_id;
    assert_eq!(
        finished.id,
        derive_id(pre_check_started, "deploy", "finished")
    );

    // Then the install job; the agent answers.
    let job = wait_for(&bus, &spec::JOBS, &tail::agent_job("h01")).await;
    let Payload::AgentJob(job) = job.data else {
        panic!("{job:?}")
    };
    bus.publish(&Event::new(
        Uuid::new_v4(),
        Service::Agent,
        Utc::now(),
        answer(&job, JobStatus::Succeeded, None),
    ))
    .await
    .unwrap();

    // The CMDB step: a 503, then 204 on the retry; then the canary completes.
    let completed = wait_for(
        &bus,
        &spec::DEPLOYMENTS,
        events::subject::tail::WAVE_COMPLETED,
    )
    .await;
    let Payload::WaveCompleted(c) = &completed.data else {
        panic!("{completed:?}")
    };
    assert_eq!(c.hosts.len(), 1);
    assert_eq!(c.hosts[0].host, "h01");
    assert_eq!(c.hosts[0].status, events::deployment::HostStatus::Succeeded);
    let last = wait_for(&bus, &spec::DEPLOYMENTS, &tail::step_finished("h01")).await;
    let Payload::HostStepFinished(f) = &last.data else {
        panic!("{last:?}")
    };
    assert_eq!(
        (f.step, f.outcome),
        (SagaStep::Cmdb, StepOutcome::Succeeded)
    );
    assert_eq!(
        f.detail,
        format!("POST {base}/cmdb/h01: 204 No Content (attempt 2)")
    );

    deploy.stop().await;
    let seen = seen.lock().unwrap();
    let paths: Vec<&str> = seen.requests.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(paths, ["/health/h01", "/cmdb/h01", "/cmdb/h01"]);
    assert_eq!(seen.requests[0].2, pre_check_started.to_string());
    // Both CMDB attempts carry the same key: the receiver can tell a retry.
    assert_eq!(seen.requests[1].2, seen.requests[2].2);
    let body: serde_json::Value = serde_json::from_str(&seen.requests[2].3).unwrap();
    assert_eq!(body["host"], "h01");
    assert_eq!(body["step"], "cmdb");
    assert_eq!(body["event_id"], seen.requests[2].2.as_str());
}

/// One host in two bundles at once: its slow pre-check in the first bundle
/// does not hold its pre-check in the second (the step runner's lanes are
/// per bundle and host).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_webhook_does_not_hold_the_same_host_in_another_bundle() {
    const SLOW: Uuid = Uuid::from_u128(0x51);
    const FAST: Uuid = Uuid::from_u128(0xFA);
    async fn health(Path((bundle, _host)): Path<(String, String)>) -> StatusCode {
        if bundle == SLOW.to_string() {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        }
        StatusCode::OK
    }
    let app = axum::Router::new().route("/health/{bundle}/{host}", get(health));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let bus = test_bus("deploy-webhook-lanes").await;
    let saga = SagaConfig {
        pre_check: Some(hook(
            format!("{base}/health/{{bundle}}/{{host}}"),
            Method::Get,
        )),
        ..SagaConfig::default()
    };
    let deploy = RunningDeploy::start_with(&bus, JobSigner::from_secret([8; 32]), saga).await;
    let now = Utc::now();
    for bundle in [SLOW, FAST] {
        let mut s = scheduled(
            &hosts(1),
            events::RolloutPolicy::default(),
            events::WindowInstance {
                opens_at: now - chrono::Duration::hours(1),
                closes_at: now + chrono::Duration::hours(4),
            },
            events::WindowSet::always(),
        );
        s.bundle_id = bundle;
        bus.publish(&Event::new(Uuid::new_v4(), Service::Schedule, now, s))
            .await
            .unwrap();
    }
    // The fast bundle's pre-check ends (and its install starts) while the
    // slow one still waits for its answer.
    let started = std::time::Instant::now();
    let first = wait_for(&bus, &spec::DEPLOYMENTS, &tail::step_finished("h01")).await;
    let Payload::HostStepFinished(f) = &first.data else {
        panic!("{first:?}")
    };
    assert_eq!(
        (f.bundle_id, f.step, f.outcome),
        (FAST, SagaStep::PreCheck, StepOutcome::Succeeded)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    deploy.stop().await;
}
