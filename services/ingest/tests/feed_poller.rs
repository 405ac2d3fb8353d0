//! The feed poller against a local HTTP server (axum on 127.0.0.1:0) and a
//! real nats-server: one fetch, then a `304` that publishes nothing, then a
//! changed catalog that publishes only the new KEV entries; an HTML error
//! page publishes nothing and replaces nothing; transient statuses are
//! retried, others are not; the loader skips unchanged documents and
//! unchanged advisories.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bus::{Bus, BusConfig, Clock};
use chrono::{DateTime, Utc};
use events::spec;
use events::{CatalogKind, Event, Payload};
use ingest::feed::{
    FeedConfig, FeedKind, FeedLoader, FeedPoller, LoadOptions, LoadOutcome, PollOutcome, Retry,
};
use tokio_util::sync::CancellationToken;

/// What the test server serves and saw.
#[derive(Default)]
struct Served {
    /// `/kev.json`: body and ETag.
    kev: (String, String),
    /// `If-None-Match` of each `/kev.json` request.
    kev_requests: Vec<Option<String>>,
    /// `/flaky.json`: 503 while this is above 0.
    flaky_failures: u32,
    flaky_requests: u32,
    missing_requests: u32,
}

type Shared = Arc<Mutex<Served>>;

async fn kev(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = s.lock().unwrap();
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.kev_requests.push(inm.clone());
    let (body, etag) = s.kev.clone();
    if inm.as_deref() == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (StatusCode::OK, [(header::ETAG, etag)], body).into_response()
}

async fn flaky(State(s): State<Shared>) -> Response {
    let mut s = s.lock().unwrap();
    s.flaky_requests += 1;
    if s.flaky_failures > 0 {
        s.flaky_failures -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    (
        StatusCode::OK,
        catalog("2025.03.01", &[(1, "Acme", "Anvil")]),
    )
        .into_response()
}

async fn missing(State(s): State<Shared>) -> Response {
    s.lock().unwrap().missing_requests += 1;
    (StatusCode::NOT_FOUND, "no such feed").into_response()
}

async fn serve(shared: Shared) -> String {
    let app = axum::Router::new()
        .route("/kev.json", get(kev))
        .route("/flaky.json", get(flaky))
        .route("/missing.json", get(missing))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// A KEV JSON catalog listing `CVE-2025-000<n>` for each entry.
fn catalog(version: &str, entries: &[(u32, &str, &str)]) -> String {
    catalog_released(version, "2025-02-20T10:00:00.0000Z", entries)
}

/// [`catalog`] with its `dateReleased`.
fn catalog_released(version: &str, released: &str, entries: &[(u32, &str, &str)]) -> String {
    let vulns: Vec<String> = entries
        .iter()
        .map(|(n, vendor, product)| {
            format!(
                r#"{{"cveID":"CVE-2025-{n:04}","vendorProject":"{vendor}","product":"{product}",
                  "vulnerabilityName":"{vendor} {product} flaw","dateAdded":"2025-02-{n:02}",
                  "shortDescription":"d","requiredAction":"Apply updates per vendor instructions.",
                  "dueDate":"2025-03-{n:02}","knownRansomwareCampaignUse":"Unknown","notes":"","cwes":[]}}"#
            )
        })
        .collect();
    kev_document(version, released, &vulns)
}

/// A KEV JSON document around `vulns` (each one entry's JSON object).
fn kev_document(version: &str, released: &str, vulns: &[String]) -> String {
    format!(
        r#"{{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"{version}",
            "dateReleased":"{released}","count":{},"vulnerabilities":[{}]}}"#,
        vulns.len(),
        vulns.join(",")
    )
}

async fn bus_on(url: &str) -> Bus {
    let cfg = BusConfig::new(url, testkit::unique_namespace(), "feed-test");
    let bus = Bus::connect(&cfg).await.expect("connect");
    bus.ensure().await.expect("ensure");
    bus
}

/// Every event on the bulletins stream, in order.
async fn bulletins(bus: &Bus) -> Vec<Event> {
    let last = bus.stream_last_sequence(&spec::BULLETINS).await.unwrap();
    let token = CancellationToken::new();
    let mut rx = bus::consume::follow(bus, spec::BULLETINS, 1, token.clone());
    let mut out = Vec::new();
    while (out.len() as u64) < last {
        let m = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("bulletin within 20 s")
            .expect("stream open");
        out.push(Event::from_json(&m.payload).unwrap());
    }
    token.cancel();
    out
}

fn t0() -> DateTime<Utc> {
    "2025-02-20T12:00:00Z".parse().unwrap()
}

fn url_feed(url: String) -> FeedConfig {
    FeedConfig {
        kind: FeedKind::Kev,
        url: Some(url),
        path: None,
        interval_secs: 3600,
    }
}

fn fast() -> Retry {
    Retry {
        attempts: 3,
        base: Duration::from_millis(10),
        max: Duration::from_millis(50),
    }
}

fn loaded(outcome: PollOutcome) -> ingest::feed::LoadReport {
    match outcome {
        PollOutcome::Fetched(LoadOutcome::Loaded(report)) => *report,
        other => panic!("expected a loaded document, got {other:?}"),
    }
}

#[tokio::test]
async fn poll_fetches_then_304_then_only_new_kev_entries() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let shared: Shared = Arc::default();
    let v1 = catalog(
        "2025.02.20",
        &[
            (1, "Acme", "Anvil"),
            (2, "Acme", "Rocket"),
            (3, "Initech", "TPS"),
        ],
    );
    shared.lock().unwrap().kev = (v1.clone(), "\"v1\"".to_owned());
    let base = serve(shared.clone()).await;
    let feed = url_feed(format!("{base}/kev.json"));
    let clock = Clock::manual(t0());
    let poller = FeedPoller::build(vec![feed.clone()], bus.clone(), clock.clone())
        .await
        .unwrap()
        .with_retry(fast());

    // 1. First poll: fetched, stored, catalog_loaded only (the baseline).
    let first = loaded(poller.poll(&feed).await.unwrap());
    assert!(first.kev_baseline);
    assert!(first.kev_added.is_empty());
    assert_eq!((first.version.as_str(), first.entries), ("2025.02.20", 3));
    let events = bulletins(&bus).await;
    assert_eq!(events.len(), 1);
    let Payload::CatalogLoaded(c) = &events[0].data else {
        panic!("{:?}", events[0].data);
    };
    assert_eq!(c.kind, CatalogKind::Kev);
    assert_eq!(c.version, "2025.02.20");
    assert_eq!(c.entries, 3);
    assert_eq!(c.source, feed.source());
    assert_eq!(c.object, first.object);
    assert!(
        c.digest
            .as_deref()
            .is_some_and(|d| d.starts_with("SHA-256="))
    );
    // The raw catalog is in the object store, byte for byte.
    let mut stored = Vec::new();
    let mut reader = bus.reports().await.unwrap().open(&c.object).await.unwrap();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut stored)
        .await
        .unwrap();
    assert_eq!(stored, v1.as_bytes());

    // 2. Second poll: the server answers 304 to our ETag; nothing published.
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(poller.poll(&feed).await.unwrap(), PollOutcome::NotModified);
    assert_eq!(
        shared.lock().unwrap().kev_requests,
        vec![None, Some("\"v1\"".to_owned())]
    );
    assert_eq!(bulletins(&bus).await.len(), 1);

    // 3. A changed catalog with two new CVEs: a new catalog_loaded and
    //    exactly two kev_added.
    let v2 = catalog(
        "2025.02.21",
        &[
            (1, "Acme", "Anvil"),
            (2, "Acme", "Rocket"),
            (3, "Initech", "TPS"),
            (4, "Globex", "Magnet"),
            (5, "Hooli", "Nucleus"),
        ],
    );
    shared.lock().unwrap().kev = (v2, "\"v2\"".to_owned());
    clock.advance(chrono::Duration::hours(1));
    let third = loaded(poller.poll(&feed).await.unwrap());
    assert!(!third.kev_baseline);
    assert_eq!(third.kev_added, ["CVE-2025-0004", "CVE-2025-0005"]);
    let events = bulletins(&bus).await;
    assert_eq!(events.len(), 4);
    let Payload::CatalogLoaded(c2) = &events[1].data else {
        panic!("{:?}", events[1].data);
    };
    assert_eq!((c2.version.as_str(), c2.entries), ("2025.02.21", 5));
    let added: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::KevAdded(k) => Some((
                k.entry.cve.clone(),
                k.vendor_project.clone(),
                k.product.clone(),
                k.entry.catalog_version.clone(),
                e.id,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 2);
    assert_eq!(
        added
            .iter()
            .map(|a| (a.0.as_str(), a.1.as_str(), a.2.as_str(), a.3.as_str()))
            .collect::<Vec<_>>(),
        [
            ("CVE-2025-0004", "Globex", "Magnet", "2025.02.21"),
            ("CVE-2025-0005", "Hooli", "Nucleus", "2025.02.21"),
        ]
    );
    // Derived from the catalog event, keyed by CVE.
    assert_eq!(
        added[0].4,
        events::derive_id(events[1].id, "ingest", "CVE-2025-0004")
    );

    // 4. An HTML error page with status 200 publishes nothing and replaces
    //    nothing: the next poll still sends the v2 ETag.
    shared.lock().unwrap().kev = (
        "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>denied</BODY></HTML>".to_owned(),
        "\"err\"".to_owned(),
    );
    clock.advance(chrono::Duration::hours(1));
    match poller.poll(&feed).await.unwrap() {
        PollOutcome::Fetched(LoadOutcome::Rejected { reason }) => assert_eq!(
            reason,
            "KEV catalog is not JSON: it is an HTML page titled \"Access Denied\" \
             (an error page saved as the feed?)"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(bulletins(&bus).await.len(), 4);
    let state = poller
        .loader()
        .feed_state(FeedKind::Kev, &feed.source())
        .await
        .unwrap();
    assert_eq!(state.etag.as_deref(), Some("\"v2\""));
    assert_eq!(state.version.as_deref(), Some("2025.02.21"));
    assert!(
        state
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("Access Denied"))
    );
    shared.lock().unwrap().kev.1 = "\"v2\"".to_owned();
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(poller.poll(&feed).await.unwrap(), PollOutcome::NotModified);
    assert_eq!(
        shared
            .lock()
            .unwrap()
            .kev_requests
            .last()
            .cloned()
            .flatten()
            .as_deref(),
        Some("\"v2\"")
    );
    assert_eq!(bulletins(&bus).await.len(), 4);
}

#[tokio::test]
async fn transient_statuses_are_retried_and_others_are_not() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let shared: Shared = Arc::default();
    shared.lock().unwrap().flaky_failures = 2;
    let base = serve(shared.clone()).await;
    let poller = FeedPoller::build(Vec::new(), bus.clone(), Clock::manual(t0()))
        .await
        .unwrap()
        .with_retry(fast());

    let report = loaded(
        poller
            .poll(&url_feed(format!("{base}/flaky.json")))
            .await
            .unwrap(),
    );
    assert_eq!(report.entries, 1);
    assert_eq!(shared.lock().unwrap().flaky_requests, 3);

    let missing = url_feed(format!("{base}/missing.json"));
    assert_eq!(
        poller.poll(&missing).await.unwrap(),
        PollOutcome::FetchFailed {
            reason: format!("GET {base}/missing.json: HTTP 404 Not Found")
        }
    );
    assert_eq!(shared.lock().unwrap().missing_requests, 1);
    let state = poller
        .loader()
        .feed_state(FeedKind::Kev, &missing.source())
        .await
        .unwrap();
    assert_eq!(state.checked_at, Some(t0()));
    assert!(state.digest.is_none());

    shared.lock().unwrap().flaky_failures = 5;
    let flaky = url_feed(format!("{base}/flaky.json"));
    match poller.poll(&flaky).await.unwrap() {
        PollOutcome::FetchFailed { reason } => assert_eq!(
            reason,
            format!("GET {base}/flaky.json: HTTP 503 Service Unavailable (after 3 attempts)")
        ),
        other => panic!("expected a failed fetch, got {other:?}"),
    }
    // Only the successful load published anything.
    assert_eq!(bulletins(&bus).await.len(), 1);
}

#[tokio::test]
async fn poll_due_respects_each_feeds_interval() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let shared: Shared = Arc::default();
    shared.lock().unwrap().kev = (
        catalog("2025.02.20", &[(1, "Acme", "Anvil")]),
        "\"a\"".into(),
    );
    let base = serve(shared.clone()).await;
    let clock = Clock::manual(t0());
    let feed = url_feed(format!("{base}/kev.json"));
    let poller = FeedPoller::build(vec![feed], bus.clone(), clock.clone())
        .await
        .unwrap();
    poller.poll_due().await.unwrap();
    poller.poll_due().await.unwrap();
    assert_eq!(
        shared.lock().unwrap().kev_requests.len(),
        1,
        "not due again yet"
    );
    clock.advance(chrono::Duration::seconds(3599));
    poller.poll_due().await.unwrap();
    assert_eq!(shared.lock().unwrap().kev_requests.len(), 1);
    clock.advance(chrono::Duration::seconds(1));
    poller.poll_due().await.unwrap();
    assert_eq!(shared.lock().unwrap().kev_requests.len(), 2);
}

#[tokio::test]
async fn the_loader_skips_unchanged_documents_and_advisories() {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let loader = FeedLoader::new(bus.clone(), Clock::manual(t0()))
        .await
        .unwrap();
    let osv = br#"[
        {"id":"DSA-1-1","modified":"2026-01-01T00:00:00Z","upstream":["CVE-2026-0001"],
         "affected":[{"package":{"ecosystem":"Debian:13","name":"example"},
           "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2-1"}]}]}]},
        {"id":"DSA-2-1","modified":"2026-01-02T00:00:00Z","affected":[]}
    ]"#;
    let outcome = loader
        .load(
            FeedKind::Osv,
            "osv-a.json",
            osv.to_vec(),
            LoadOptions::default(),
        )
        .await
        .unwrap();
    let LoadOutcome::Loaded(report) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!((report.advisories, report.advisories_unchanged), (2, 0));
    assert!(report.catalog.is_none());
    let events = bulletins(&bus).await;
    let ids: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::AdvisoryPublished(a) => Some((a.id.clone(), a.aliases.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("DSA-1-1".to_owned(), vec!["CVE-2026-0001".to_owned()]),
            ("DSA-2-1".to_owned(), vec![])
        ]
    );

    // The same bytes from the same source: unchanged, nothing published.
    let again = loader
        .load(
            FeedKind::Osv,
            "osv-a.json",
            osv.to_vec(),
            LoadOptions::default(),
        )
        .await
        .unwrap();
    assert!(matches!(again, LoadOutcome::Unchanged { .. }), "{again:?}");
    // The same records from another source: every advisory unchanged.
    let LoadOutcome::Loaded(other) = loader
        .load(
            FeedKind::Osv,
            "osv-b.json",
            osv.to_vec(),
            LoadOptions::default(),
        )
        .await
        .unwrap()
    else {
        panic!("expected a load");
    };
    assert_eq!((other.advisories, other.advisories_unchanged), (0, 2));
    assert_eq!(bulletins(&bus).await.len(), 2);

    // An EPSS file publishes its catalog_loaded; a broken one nothing.
    let epss = "#model_version:v2025.03.14,score_date:2025-03-17T12:55:00Z\ncve,epss,percentile\n\
                CVE-2024-0001,0.5,0.9\nCVE-2024-0002,8e-05,0.1\n";
    let LoadOutcome::Loaded(e) = loader
        .load(
            FeedKind::Epss,
            "epss.csv",
            epss.as_bytes().to_vec(),
            LoadOptions::default(),
        )
        .await
        .unwrap()
    else {
        panic!("expected a load");
    };
    assert_eq!(
        (e.version.as_str(), e.entries),
        ("v2025.03.14@2025-03-17T12:55:00Z", 2)
    );
    let rejected = loader
        .load(
            FeedKind::Epss,
            "epss.csv",
            b"invalid,header,format\nCVE-2024-0001,0.5,0.9\n".to_vec(),
            LoadOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        rejected,
        LoadOutcome::Rejected {
            // What the file is comes before what it lacks (no score_date either).
            reason: "EPSS header \"invalid,header,format\" is not `cve,epss` or \
                     `cve,epss,percentile`"
                .to_owned()
        }
    );
    let events = bulletins(&bus).await;
    assert_eq!(events.len(), 3);
    assert!(matches!(&events[2].data, Payload::CatalogLoaded(c) if c.kind == CatalogKind::Epss));
}

/// A bus in a fresh namespace and a feed loader on it, at [`t0`].
async fn kev_loader() -> (Bus, FeedLoader) {
    let server = testkit::NatsServer::shared();
    let bus = bus_on(&server.url()).await;
    let loader = FeedLoader::new(bus.clone(), Clock::manual(t0()))
        .await
        .unwrap();
    (bus, loader)
}

/// Loads a KEV document from `source`.
async fn load_kev(loader: &FeedLoader, source: &str, body: String) -> LoadOutcome {
    loader
        .load(
            FeedKind::Kev,
            source,
            body.into_bytes(),
            LoadOptions::default(),
        )
        .await
        .unwrap()
}

/// An older catalog never replaces the one in force (its "additions" would
/// be CVEs CISA removed since); the catalog in force can be loaded again
/// from its source after another one replaced it.
#[tokio::test]
async fn an_older_catalog_is_refused_and_the_one_in_force_reloads() {
    let (bus, loader) = kev_loader().await;
    let load = |source: &'static str, body: String| load_kev(&loader, source, body);
    let august = catalog_released(
        "2025.08.25",
        "2025-08-25T14:00:00.0000Z",
        &[(1, "A", "a"), (2, "B", "b")],
    );
    let april = catalog_released(
        "2023.04.12",
        "2023-04-12T11:35:19.8163Z",
        &[(1, "A", "a"), (3, "C", "c")],
    );
    let september = catalog_released(
        "2025.09.02",
        "2025-09-02T14:00:00.0000Z",
        &[(1, "A", "a"), (2, "B", "b"), (4, "D", "d")],
    );
    assert!(matches!(
        load("aug.json", august.clone()).await,
        LoadOutcome::Loaded(_)
    ));
    assert_eq!(
        load("apr.json", april).await,
        LoadOutcome::Rejected {
            reason: "kev catalog 2023.04.12 (released 2023-04-12T11:35:19Z) is older than the \
                     catalog in force, 2025.08.25 (released 2025-08-25T14:00:00Z, from aug.json): \
                     nothing published"
                .to_owned()
        }
    );
    // The catalog in force, again: unchanged.
    assert!(matches!(
        load("aug.json", august.clone()).await,
        LoadOutcome::Unchanged { .. }
    ));
    let LoadOutcome::Loaded(newer) = load("sep.json", september).await else {
        panic!("a newer catalog loads");
    };
    assert_eq!(newer.kev_added, ["CVE-2025-0004"]);
    // Back to August from its own source: it is no longer in force, so it
    // is not "unchanged", and it is older than September: refused.
    assert!(matches!(
        load("aug.json", august).await,
        LoadOutcome::Rejected { .. }
    ));
    let kinds: Vec<&str> = bulletins(&bus)
        .await
        .iter()
        .map(|e| e.event_type())
        .collect();
    assert_eq!(
        kinds,
        [
            "patch.bulletin.catalog_loaded.v1",
            "patch.bulletin.catalog_loaded.v1",
            "patch.bulletin.kev_added.v1"
        ],
        "nothing published for the refused catalogs"
    );
}

/// A KEV JSON catalog of `CVE-2024-<n>` for each `n`, released at `released`.
fn numbered_catalog(version: &str, released: &str, ns: impl Iterator<Item = u32>) -> String {
    let vulns: Vec<String> = ns
        .map(|n| {
            format!(
                r#"{{"cveID":"CVE-2024-{n:05}","vendorProject":"V","product":"P",
                  "vulnerabilityName":"V P flaw","dateAdded":"2024-06-01",
                  "shortDescription":"d","requiredAction":"Apply updates.",
                  "dueDate":"2024-06-22","knownRansomwareCampaignUse":"Unknown","notes":"","cwes":[]}}"#
            )
        })
        .collect();
    kev_document(version, released, &vulns)
}

/// A catalog that would take many CVEs out of KEV at once is a trimmed
/// copy: refused. The same day's catalog without a release time (the CSV
/// form gives midnight) is not "older".
#[tokio::test]
async fn a_trimmed_kev_catalog_is_refused_and_the_same_day_is_not_older() {
    let (_bus, loader) = kev_loader().await;
    let load = |source: &'static str, body: String| load_kev(&loader, source, body);
    let full = numbered_catalog("2025.08.25", "2025-08-25T17:04:19.0000Z", 1..=100);
    assert!(matches!(
        load("full.json", full).await,
        LoadOutcome::Loaded(_)
    ));
    let trimmed = numbered_catalog("2025.09.01", "2025-09-01T10:00:00.0000Z", 1..=3);
    assert_eq!(
        load("trimmed.json", trimmed).await,
        LoadOutcome::Rejected {
            reason: "kev catalog 2025.09.01 would take 97 of the 100 CVEs of the catalog in \
                     force (2025.08.25) out of KEV (at most 25 at once): a trimmed copy or a \
                     broken export; nothing published"
                .to_owned()
        }
    );
    // Ten removals and two additions: a real update.
    let next = numbered_catalog("2025.09.02", "2025-09-02T10:00:00.0000Z", 11..=102);
    let LoadOutcome::Loaded(r) = load("next.json", next).await else {
        panic!("a catalog removing 10 of 100 loads");
    };
    assert_eq!(r.kev_added, ["CVE-2024-00101", "CVE-2024-00102"]);
    // The same catalog day at midnight (as the CSV form reads): not older.
    let same_day = numbered_catalog("2025.09.02", "2025-09-02T00:00:00.0000Z", 11..=103);
    let LoadOutcome::Loaded(r) = load("next.csv", same_day).await else {
        panic!("the same day's catalog is not older");
    };
    assert_eq!(r.kev_added, ["CVE-2024-00103"]);
}
