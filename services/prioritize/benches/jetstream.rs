//! `cargo bench -p prioritize --bench jetstream`: the end-to-end rate of
//! prioritize through JetStream next to the raw JetStream publish+consume
//! rate for messages of the same size, measured in the same run against a
//! real nats-server (testkit; `NATS_SERVER_BIN` or `PATH`), target ratio
//! ≥ 0.7.
//!
//! - **raw**: publish N `finding.observed` events (pipelined PubAcks,
//!   [`bus::Bus::publish_all`]) while one durable consumer with a handler
//!   that only counts ([`bus::serve`]) consumes and acks them; the clock
//!   stops at the N-th message handled.
//! - **end to end**: publish the same N events in a fresh namespace while
//!   the prioritize service runs ([`prioritize::PrioritizeService`]: load
//!   the finding's record, decide, publish `finding.prioritized` and await
//!   its PubAck, store the record with compare-and-set, ack) and the same
//!   counting consumer reads `finding.prioritized`; the clock stops at the
//!   N-th decision received.
//! - **relay** (the floor of any stage with this contract): the same N
//!   events through a handler that keeps no state and decides nothing: it
//!   publishes the decision computed beforehand for the observation (same
//!   subject, same bytes as prioritize's), awaits its PubAck and acks, with
//!   prioritize's lanes; the same counting consumer reads the decisions.
//!   Prioritize can at best reach the relay's rate, so the relay's ratio
//!   to raw bounds the one the contract (one stored decision per stored
//!   observation, each consumed and acked) allows on this machine.
//!
//! Set `PATCHFLOW_BENCH_MESSAGES` to change N (default 20,000).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bus::{Bus, BusConfig, Clock, Delivery, HandleError, Handler};
use chrono::Utc;
use events::spec::{self, ConsumerSpec};
use events::subject::tail;
use events::{Event, Service};
use prioritize::{Policy, PrioritizeService};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Counts what it is handed (nothing else: the timed path does no work of
/// its own); wakes the waiter at every message.
struct Counter {
    seen: AtomicUsize,
    notify: Notify,
}

impl Handler for Counter {
    async fn handle(&self, _: Delivery) -> Result<(), HandleError> {
        self.seen.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_one();
        Ok(())
    }
}

impl Counter {
    fn new() -> Arc<Counter> {
        Arc::new(Counter {
            seen: AtomicUsize::new(0),
            notify: Notify::new(),
        })
    }

    /// Waits until `n` messages were handled, at most `limit`.
    async fn wait_for(&self, n: usize, limit: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + limit;
        while self.seen.load(Ordering::SeqCst) < n {
            if tokio::time::timeout_at(deadline, self.notify.notified())
                .await
                .is_err()
            {
                return Err(format!(
                    "only {} of {n} messages within {limit:?}",
                    self.seen.load(Ordering::SeqCst)
                ));
            }
        }
        Ok(())
    }
}

/// Publishes the decision computed beforehand for each observation.
struct Relay {
    bus: Bus,
    decisions: HashMap<Uuid, Event>,
}

impl Handler for Relay {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let out = self
            .decisions
            .get(&d.event.id)
            .ok_or_else(|| HandleError::Poison(format!("no decision for {}", d.event.id)))?;
        self.bus.publish(out).await?;
        Ok(())
    }
}

fn sink(durable: &str, filter: &str) -> ConsumerSpec {
    ConsumerSpec {
        durable: durable.to_owned(),
        stream: spec::FINDINGS,
        filter_subjects: vec![filter.to_owned()],
        max_deliver: 10,
        ack_wait: Duration::from_secs(30),
    }
}

async fn connect(url: &str, name: &str) -> Bus {
    let bus = Bus::connect(&BusConfig::new(url, testkit::unique_namespace(), name))
        .await
        .unwrap_or_else(|e| panic!("connect to the bench server: {e}"));
    bus.ensure()
        .await
        .unwrap_or_else(|e| panic!("ensure streams: {e}"));
    bus
}

/// `finding.observed` events for the findings, ids unique per call.
fn observations(findings: &[events::FindingObserved], salt: u128) -> Vec<Event> {
    findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Event::new(
                Uuid::from_u128((salt << 64) | i as u128),
                Service::Ingest,
                Utc::now(),
                f.clone(),
            )
        })
        .collect()
}

struct Run {
    messages: usize,
    seconds: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
}

/// Starts a consumer of `filter` (a FINDINGS subject tail) that counts
/// and acks what it reads, until `token` fires.
fn count_on(
    bus: &Bus,
    durable: &str,
    filter: &str,
    token: &CancellationToken,
) -> (
    Arc<Counter>,
    tokio::task::JoinHandle<Result<(), bus::BusError>>,
) {
    let counter = Counter::new();
    let consumers = vec![sink(durable, filter)];
    let task = tokio::spawn({
        let (bus, counter, token) = (bus.clone(), counter.clone(), token.clone());
        async move { bus::serve(&bus, Service::Cli, consumers, counter, false, token).await }
    });
    (counter, task)
}

/// Publishes the first event and waits until `counter` saw it (consumers
/// exist, connections are warm), then times publishing the others until
/// `counter` saw them all.
async fn timed(bus: &Bus, counter: &Counter, events: &[Event], what: &str) -> Run {
    let (warm, rest) = events.split_at(1);
    bus.publish_all(warm).await.expect("publish warm-up");
    counter
        .wait_for(1, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{what} warm-up: {e}"));
    let started = Instant::now();
    bus.publish_all(rest).await.expect("publish");
    counter
        .wait_for(events.len(), Duration::from_secs(600))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    Run {
        messages: rest.len(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Raw JetStream: publish all, one consumer counts and acks them.
async fn raw(url: &str, events: &[Event]) -> Run {
    let bus = connect(url, "bench-raw").await;
    let token = CancellationToken::new();
    let (counter, task) = count_on(&bus, "bench-raw", tail::FINDING_OBSERVED, &token);
    let run = timed(&bus, &counter, events, "raw").await;
    token.cancel();
    let _ = task.await;
    bus.close().await;
    run
}

/// The relay: publish all observations, a stateless handler publishes the
/// decision computed beforehand for each, count the decisions.
async fn relay(url: &str, events: &[Event], decisions: HashMap<Uuid, Event>) -> Run {
    let bus = connect(url, "bench-relay").await;
    let relay = Arc::new(Relay {
        bus: bus.clone(),
        decisions,
    });
    let token = CancellationToken::new();
    let relay_task = tokio::spawn({
        let (bus, token) = (bus.clone(), token.clone());
        async move {
            bus::serve(
                &bus,
                Service::Prioritize,
                vec![sink("bench-relay", tail::FINDING_OBSERVED)],
                relay,
                bus::ServeOptions::keyed(prioritize::adapter::OBSERVATION_LANES),
                token,
            )
            .await
        }
    });
    let (counter, sink_task) = count_on(&bus, "bench-sink", tail::FINDING_PRIORITIZED_ALL, &token);
    let run = timed(&bus, &counter, events, "relayed decisions").await;
    token.cancel();
    let _ = relay_task.await;
    let _ = sink_task.await;
    bus.close().await;
    run
}

/// The decision prioritize would publish for each observation (no stored
/// record: every finding is new), keyed by the observation's id.
fn decisions_for(events: &[Event], intel: &prioritize::Intel) -> HashMap<Uuid, Event> {
    let policy = Policy::default();
    events
        .iter()
        .filter_map(|e| match &e.data {
            events::Payload::FindingObserved(f) => {
                let d = prioritize::decide(&policy, intel, f, None);
                let out = Event::derived(
                    e,
                    Service::Prioritize,
                    "prioritized",
                    Utc::now(),
                    d.prioritized,
                );
                Some((e.id, out))
            }
            _ => None,
        })
        .collect()
}

/// Through prioritize: publish all observations, count the decisions.
async fn end_to_end(url: &str, events: &[Event]) -> Run {
    let bus = connect(url, "bench-e2e").await;
    let mut rng = common::Rng::new(11);
    let intel = common::intel(&mut rng);
    let service = PrioritizeService::build(Policy::default(), intel, bus.clone(), Clock::system())
        .await
        .expect("build prioritize");
    let token = CancellationToken::new();
    let svc = tokio::spawn({
        let token = token.clone();
        async move { service.run(token).await }
    });
    let (counter, sink_task) = count_on(&bus, "bench-sink", tail::FINDING_PRIORITIZED_ALL, &token);
    let run = timed(&bus, &counter, events, "decisions").await;
    token.cancel();
    let _ = svc.await;
    let _ = sink_task.await;
    bus.close().await;
    run
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::var("PATCHFLOW_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
        .max(2);
    let server = testkit::NatsServer::start();
    let url = server.url();
    let mut rng = common::Rng::new(3);
    let findings = common::findings(n, &mut rng);
    let raw_events = observations(&findings, 1);
    let e2e_events = observations(&findings, 2);
    let relay_events = observations(&findings, 3);
    let decisions = decisions_for(&relay_events, &common::intel(&mut common::Rng::new(11)));
    // The decisions prioritize publishes for these new findings are these
    // (same policy, intel and inputs): their mean size, measured off the
    // clock.
    let out_size = decisions.values().map(|e| e.to_json().len()).sum::<usize>() / n;
    let size = raw_events.iter().map(|e| e.to_json().len()).sum::<usize>() / n;

    let raw = raw(&url, &raw_events).await;
    let relayed = relay(&url, &relay_events, decisions).await;
    let e2e = end_to_end(&url, &e2e_events).await;
    let ratio = e2e.rate() / raw.rate();
    let floor = relayed.rate() / raw.rate();
    println!(
        "jetstream raw publish+consume: {} messages of {size} B in {:.3} s = {:.0} msg/s",
        raw.messages,
        raw.seconds,
        raw.rate()
    );
    println!(
        "prioritize end to end (observed -> decided -> received): {} findings in {:.3} s = {:.0} findings/s \
         ({size} B in, {out_size} B out, {} lanes)",
        e2e.messages,
        e2e.seconds,
        e2e.rate(),
        prioritize::adapter::OBSERVATION_LANES
    );
    println!(
        "relay (observed -> precomputed decision published -> received, no state): {} in {:.3} s = {:.0}/s",
        relayed.messages,
        relayed.seconds,
        relayed.rate()
    );
    println!(
        "ratio end to end / raw = {ratio:.2} (target >= 0.7: {})",
        if ratio >= 0.7 { "met" } else { "MISSED" }
    );
    println!(
        "ratio relay / raw = {floor:.2}: the most any stage publishing one stored event per stored event reaches here; \
         prioritize reaches {:.2} of it",
        e2e.rate() / relayed.rate()
    );
}
