//! The bus against a real nats-server: publish and dedupe, the consume loop's
//! dispositions (ack, nak and redeliver, poison to dead letter), KV
//! compare-and-set, the report object store, leases, and a server restart.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusConfig, BusError, Delivery, HandleError, Handler};
use chrono::Utc;
use events::spec::{self, ConsumerSpec};
use events::{Event, Payload, ScanScope, ScanSubmitted, Service};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

async fn bus_on(url: &str) -> Bus {
    let cfg = BusConfig::new(url, testkit::unique_namespace(), "bus-test");
    let bus = Bus::connect(&cfg).await.expect("connect");
    bus.ensure().await.expect("ensure");
    bus
}

fn submitted(n: u128) -> Event {
    let id = Uuid::from_u128(n);
    Event::new(
        id,
        Service::Cli,
        Utc::now(),
        ScanSubmitted {
            scan_id: id,
            object: format!("o{n}"),
            digest: None,
            size_bytes: 1,
            file_name: "f".into(),
            format_hint: None,
            scope: ScanScope::Full,
            submitted_by: "test".into(),
        },
    )
}

/// Records deliveries; fails transiently on the first delivery of `flaky`,
/// and calls `poison` what it is told to.
struct Recorder {
    tx: mpsc::UnboundedSender<(Uuid, u64)>,
    flaky: Option<Uuid>,
    poison: Option<Uuid>,
}

impl Handler for Recorder {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        if Some(d.event.id) == self.poison {
            return Err(HandleError::Poison("not for this stage".into()));
        }
        if Some(d.event.id) == self.flaky && d.delivered == 1 {
            return Err(HandleError::Transient("simulated outage".into()));
        }
        let _ = self.tx.send((d.event.id, d.delivered));
        Ok(())
    }
}

fn scans_consumer() -> ConsumerSpec {
    spec::consumers(Service::Ingest).remove(0)
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<(Uuid, u64)>) -> (Uuid, u64) {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("delivery within 20 s")
        .expect("channel open")
}

async fn dead_letters(bus: &Bus, n: usize) -> Vec<events::DeadLettered> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.len() < n && tokio::time::Instant::now() < deadline {
        out.clear();
        let last = bus.stream_last_sequence(&spec::DEADLETTER).await.unwrap();
        if last as usize >= n {
            use futures::StreamExt;
            let stream = bus::consume::replay(bus, &spec::DEADLETTER, 1)
                .await
                .unwrap();
            let mut stream = std::pin::pin!(stream.take(last as usize));
            while let Some(m) = stream.next().await {
                if let Payload::DeadLettered(d) =
                    Event::from_json(&m.unwrap().payload).unwrap().data
                {
                    out.push(d);
                }
            }
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    out
}

#[tokio::test]
async fn publish_is_acknowledged_once_per_event_id() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let e = submitted(1);
    let first = bus.publish(&e).await.unwrap();
    let second = bus.publish(&e).await.unwrap();
    assert_eq!(
        first, second,
        "duplicate inside the window is not stored again"
    );
    assert_eq!(bus.stream_last_sequence(&spec::SCANS).await.unwrap(), 1);
    bus.publish_all(&[submitted(2), submitted(3), e.clone()])
        .await
        .unwrap();
    assert_eq!(bus.stream_last_sequence(&spec::SCANS).await.unwrap(), 3);
}

#[tokio::test]
async fn consume_loop_acks_naks_and_dead_letters() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler = Arc::new(Recorder {
        tx,
        flaky: Some(Uuid::from_u128(11)),
        poison: Some(Uuid::from_u128(12)),
    });
    let token = CancellationToken::new();
    let run = {
        let bus = bus.clone();
        let token = token.clone();
        tokio::spawn(async move {
            bus::serve(
                &bus,
                Service::Ingest,
                vec![scans_consumer()],
                handler,
                false,
                token,
            )
            .await
        })
    };
    bus.publish(&submitted(10)).await.unwrap();
    assert_eq!(recv(&mut rx).await, (Uuid::from_u128(10), 1));

    // Transient: nak'ed, redelivered, then handled on delivery 2.
    bus.publish(&submitted(11)).await.unwrap();
    assert_eq!(recv(&mut rx).await, (Uuid::from_u128(11), 2));

    // Poison from the handler, and bytes that are no event at all.
    bus.publish(&submitted(12)).await.unwrap();
    let subject = bus
        .namespace()
        .subject(events::subject::tail::SCAN_SUBMITTED);
    let js = async_nats::jetstream::new(bus.client().clone());
    js.publish(subject.clone(), "{not json".into())
        .await
        .unwrap()
        .await
        .unwrap();
    bus.publish(&submitted(13)).await.unwrap();
    assert_eq!(
        recv(&mut rx).await,
        (Uuid::from_u128(13), 1),
        "the loop goes on after poison"
    );

    let letters = dead_letters(&bus, 2).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(
        letters
            .iter()
            .all(|d| d.service == Service::Ingest && d.subject == subject)
    );
    assert!(letters.iter().any(|d| d.reason == "not for this stage"));
    let undecodable = letters
        .iter()
        .find(|d| d.reason.starts_with("undecodable envelope"))
        .expect("undecodable dead letter");
    assert_eq!(undecodable.payload_text.as_deref(), Some("{not json"));

    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("serve stops on cancel")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn state_store_compare_and_set() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let store = bus.state(Service::Schedule).await.unwrap();
    let empty = store.load::<u32>("k").await.unwrap();
    assert_eq!((empty.value, empty.revision), (None, 0));
    let r1 = store.save("k", &1u32, 0).await.unwrap();
    assert!(matches!(
        store.save("k", &9u32, 0).await,
        Err(BusError::Conflict { .. })
    ));
    let r2 = store.save("k", &2u32, r1).await.unwrap();
    assert!(matches!(
        store.save("k", &3u32, r1).await,
        Err(BusError::Conflict { .. })
    ));
    let now = store.load::<u32>("k").await.unwrap();
    assert_eq!((now.value, now.revision), (Some(2), r2));
    store.delete("k", r2).await.unwrap();
    let gone = store.load::<u32>("k").await.unwrap();
    assert_eq!(gone.value, None);
    store.save("k", &4u32, gone.revision).await.unwrap();
    assert_eq!(store.keys().await.unwrap(), vec!["k".to_owned()]);
}

#[tokio::test]
async fn reports_stream_in_and_out() {
    use tokio::io::AsyncReadExt;
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let reports = bus.reports().await.unwrap();
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let stored = reports.put("big", &mut body.as_slice()).await.unwrap();
    assert_eq!(stored.size_bytes, body.len() as u64);
    assert!(
        stored
            .digest
            .as_deref()
            .is_some_and(|d| d.starts_with("SHA-256="))
    );
    let mut back = Vec::new();
    reports
        .open("big")
        .await
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert_eq!(back, body);
    assert!(reports.open("missing").await.is_err());
}

#[tokio::test]
async fn one_lease_holder_at_a_time() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let a = bus::Lease::new(&bus, "schedule").await.unwrap();
    let b = bus::Lease::new(&bus, "schedule").await.unwrap();
    assert!(a.hold().await.unwrap());
    assert!(!b.hold().await.unwrap());
    assert!(a.hold().await.unwrap(), "the holder renews");
}

#[tokio::test]
async fn survives_a_server_restart() {
    // Its own server: the others share one that must stay up.
    let mut server = testkit::NatsServer::start();
    let bus = bus_on(&server.url()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler = Arc::new(Recorder {
        tx,
        flaky: None,
        poison: None,
    });
    let token = CancellationToken::new();
    {
        let bus = bus.clone();
        let token = token.clone();
        tokio::spawn(async move {
            bus::serve(
                &bus,
                Service::Ingest,
                vec![scans_consumer()],
                handler,
                false,
                token,
            )
            .await
        });
    }
    bus.publish(&submitted(20)).await.unwrap();
    assert_eq!(recv(&mut rx).await.0, Uuid::from_u128(20));
    server.restart();
    // Publishing retries through the restart; the loop re-creates its consumer.
    bus.publish(&submitted(21)).await.unwrap();
    // Delivery is at least once: when the restart lost the ack of 20, 20
    // comes again before 21, and nothing else may.
    loop {
        let got = recv(&mut rx).await.0;
        if got == Uuid::from_u128(21) {
            break;
        }
        assert_eq!(got, Uuid::from_u128(20), "only the unacked event repeats");
    }
    token.cancel();
}

/// Counts handling overlap overall and per event subject.
#[derive(Default)]
struct LaneProbe {
    busy: std::sync::Mutex<std::collections::HashSet<String>>,
    in_flight: std::sync::atomic::AtomicUsize,
    max_in_flight: std::sync::atomic::AtomicUsize,
    same_subject_overlap: std::sync::atomic::AtomicBool,
    order: std::sync::Mutex<Vec<(String, Uuid, u64)>>,
}

struct LaneHandler(Arc<LaneProbe>);

impl Handler for LaneHandler {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        use std::sync::atomic::Ordering::SeqCst;
        let p = &self.0;
        if !p.busy.lock().unwrap().insert(d.event.subject.clone()) {
            p.same_subject_overlap.store(true, SeqCst);
        }
        let now = p.in_flight.fetch_add(1, SeqCst) + 1;
        p.max_in_flight.fetch_max(now, SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.order
            .lock()
            .unwrap()
            .push((d.event.subject.clone(), d.event.id, d.delivered));
        p.in_flight.fetch_sub(1, SeqCst);
        p.busy.lock().unwrap().remove(&d.event.subject);
        Ok(())
    }
}

/// Keyed lanes: different subjects are handled at once, the messages of
/// one subject one at a time and in stream order, each acked once.
#[tokio::test]
async fn keyed_lanes_run_subjects_in_parallel_and_each_subject_in_order() {
    use std::sync::atomic::Ordering::SeqCst;
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    // 6 scans (subjects), 5 events each, interleaved.
    let mut events = Vec::new();
    for round in 0..5u128 {
        for scan in 0..6u128 {
            let mut e = submitted(1000 + scan);
            e.id = Uuid::from_u128(2000 + round * 10 + scan);
            events.push(e);
        }
    }
    bus.publish_all(&events).await.unwrap();
    let probe = Arc::new(LaneProbe::default());
    let token = CancellationToken::new();
    let run = {
        let (bus, token, probe) = (bus.clone(), token.clone(), probe.clone());
        tokio::spawn(async move {
            bus::serve(
                &bus,
                Service::Ingest,
                vec![scans_consumer()],
                Arc::new(LaneHandler(probe)),
                bus::ServeOptions::keyed(8),
                token,
            )
            .await
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while probe.order.lock().unwrap().len() < events.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "all handled in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("serve drains and stops on cancel")
        .unwrap()
        .unwrap();
    let order = probe.order.lock().unwrap().clone();
    assert_eq!(order.len(), events.len(), "each message handled once");
    assert!(order.iter().all(|(_, _, delivered)| *delivered == 1));
    assert!(!probe.same_subject_overlap.load(SeqCst));
    assert!(
        probe.max_in_flight.load(SeqCst) > 1,
        "different subjects ran at once"
    );
    for scan in 0..6u128 {
        let subject = Uuid::from_u128(1000 + scan).to_string();
        let handled: Vec<Uuid> = order
            .iter()
            .filter(|(s, _, _)| *s == subject)
            .map(|(_, id, _)| *id)
            .collect();
        let published: Vec<Uuid> = events
            .iter()
            .filter(|e| e.subject == subject)
            .map(|e| e.id)
            .collect();
        assert_eq!(handled, published, "stream order within {subject}");
    }
    assert_eq!(
        bus::ServeOptions::from(true),
        bus::ServeOptions::SERIAL,
        "a bool still means serial or not"
    );
}

#[tokio::test]
async fn a_report_read_goes_on_across_a_server_restart() {
    use tokio::io::AsyncReadExt;
    // Its own server: the others share one that must stay up.
    let mut server = testkit::NatsServer::start();
    let bus = bus_on(&server.url()).await;
    let reports = bus.reports().await.unwrap();
    let body: Vec<u8> = (0..40_000_000u32).map(|i| (i % 251) as u8).collect();
    reports.put("big", &mut body.as_slice()).await.unwrap();
    let mut reader = reports.open("big").await.unwrap();
    let mut first = vec![0; 1000];
    reader.read_exact(&mut first).await.unwrap();
    server.restart();
    // The rest arrives whole: the object store's reader re-creates its
    // consumer. Were it to wait forever, ingest's handler would hold its
    // scan for good (its ack deadline is extended while it runs).
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), reader.read_to_end(&mut rest))
        .await
        .expect("the read hung across the restart")
        .expect("the read failed across the restart");
    first.extend(rest);
    assert_eq!(first.len(), body.len());
    assert!(first == body, "a read across the restart changed the bytes");
}
