//! Bulletin and intel feeds on the bus: the feed loader (validate a whole
//! document, store it, publish what it says) and the poller that fetches
//! configured feeds over HTTP(S) or from a file.
//!
//! One code path for every source: a poll, or `patchflow feed load FILE`,
//! hands the document to [`FeedLoader::load`], which
//!
//! 1. skips a document whose SHA-256 equals the last one loaded from the
//!    same source (publishes nothing) — for KEV and EPSS only while it is
//!    still the catalog in force, so a good catalog can be loaded again
//!    after another one replaced it;
//! 2. parses and validates the whole document ([`feeds::parse`]): a broken
//!    file or an HTML error page is rejected with the reason, publishes
//!    nothing and leaves every stored catalog in place; so is a KEV or EPSS
//!    catalog **older** than the one in force (an earlier `dateReleased` or
//!    `score_date`; KEV by date, as its CSV form carries none): a stale
//!    mirror or an old file would take back KEV entries CISA still lists,
//!    or announce as new the ones it has removed; and so is a KEV catalog
//!    that would take more than [`KEV_REMOVALS_TOLERATED`] CVEs (or 5 %)
//!    out of the one in force at once (a trimmed copy);
//! 3. stores the raw document in the reports object store
//!    (`feed-<kind>-<sha256>`);
//! 4. publishes, in order: `patch.bulletin.catalog_loaded` (KEV, EPSS), one
//!    `patch.bulletin.kev_added` per CVE new since the previous KEV catalog,
//!    and `patch.bulletin.advisory` for each CSAF document or OSV record whose
//!    content changed since it was last published;
//! 5. then stores its state in ingest's KV bucket (compare-and-set).
//!
//! **The first KEV catalog publishes `catalog_loaded` only.** With no
//! previous catalog there is nothing to compare with: every one of its
//! ~1,400 entries would look "added", flooding consumers with years-old
//! additions (and, through the emergency lane, zero-day declarations). The
//! first catalog is the baseline; consumers load the whole table from
//! `catalog_loaded`, and only entries added after it are news.
//!
//! Event ids are deterministic, so a load that is retried after a crash
//! (events published, state not yet stored) republishes the same ids and
//! JetStream's duplicate window drops them: `catalog_loaded` is a UUIDv5 of
//! (kind, document digest, the previously loaded digest of that source);
//! each `kev_added` derives from it with the CVE as key; an advisory's id is
//! a UUIDv5 of (format, id, content hash).
//!
//! KV layout (bucket `<ns>_ingest`): `feed.<kind>.<source>` [`FeedState`]
//! (HTTP validators, last digest, last check), `catalog.kev` and
//! `catalog.epss` [`CatalogInForce`] (the catalog consumers were last
//! given), `kev.baseline`
//! [`KevBaseline`] (the CVE set of the last KEV catalog: one KEV catalog
//! per deployment), `advisory.<format>.<id>` (the content hash last
//! published).
//!
//! The poller ([`FeedPoller`]) checks every [`TICK`] which feeds are due
//! (`interval_secs` after their last check, by the injected clock) and runs
//! only on the holder of the `ingest-feeds` lease, so several ingest
//! instances fetch each feed once. HTTP fetches send `If-None-Match` and
//! `If-Modified-Since` from the last successful load; a `304 Not Modified`
//! publishes nothing. Connection failures, timeouts, `408`, `429` and `5xx`
//! are retried with exponential backoff ([`Retry`]); other statuses fail the
//! poll at once. A failed poll is retried at the next interval.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bus::{Bus, BusError, Clock, StateStore, kv_key};
use chrono::{DateTime, Utc};
use events::{AdvisoryFormat, Event, Service};
use feeds::{FeedDocument, ParseOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

pub use feeds::FeedKind;

/// Namespace of feed event ids (catalogs and advisories).
pub const FEED_NAMESPACE: Uuid = Uuid::from_u128(0x1a7e_0b5e_4c11_4f0e_8f0d_0000_0000_0003);

/// How often the poller looks for due feeds (real time; below the lease
/// TTL of 15 s so the lease is kept).
pub const TICK: Duration = Duration::from_secs(5);

/// The largest document a fetch accepts: 128 MiB (the EPSS daily file is
/// about 10 MB uncompressed).
pub const MAX_DOCUMENT_BYTES: usize = 128 * 1024 * 1024;

/// Default `interval_secs`: one hour.
pub const DEFAULT_INTERVAL_SECS: u64 = 3600;

fn default_interval() -> u64 {
    DEFAULT_INTERVAL_SECS
}

/// One `[[ingest.feeds]]` entry.
///
/// ```toml
/// [[ingest.feeds]]
/// kind = "kev"                 # kev | epss | csaf | osv
/// url = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
/// interval_secs = 3600         # default 3600
///
/// [[ingest.feeds]]
/// kind = "osv"
/// path = "advisories/DSA-5555-1.json"   # relative to the config file
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// What the document is.
    pub kind: FeedKind,
    /// An `http://` or `https://` URL to poll (exactly one of `url`, `path`).
    #[serde(default)]
    pub url: Option<String>,
    /// A file to re-read every interval.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Seconds between two checks (clock time; default 3600, at least 1).
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
}

impl FeedConfig {
    /// The source as stored and published: the URL, or the path.
    pub fn source(&self) -> String {
        match (&self.url, &self.path) {
            (Some(url), _) => url.clone(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => String::new(),
        }
    }

    /// Checks the entry.
    ///
    /// # Errors
    /// A one-line reason: neither or both of `url` and `path`, a URL that is
    /// not `http(s)://host…`, an interval of 0.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.url, &self.path) {
            (Some(_), Some(_)) => {
                return Err(format!("{} feed: set url or path, not both", self.kind));
            }
            (None, None) => return Err(format!("{} feed: set url or path", self.kind)),
            (Some(url), None) => {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| format!("{} feed: url {url:?}: {e}", self.kind))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(format!(
                        "{} feed: url {url:?} is not an http:// or https:// URL",
                        self.kind
                    ));
                }
            }
            (None, Some(_)) => {}
        }
        if self.interval_secs == 0 {
            return Err(format!(
                "{} feed: interval_secs must be at least 1",
                self.kind
            ));
        }
        Ok(())
    }
}

/// What ingest remembers of one feed source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeedState {
    /// `ETag` of the last document loaded (sent as `If-None-Match`).
    pub etag: Option<String>,
    /// `Last-Modified` of the last document loaded (sent as `If-Modified-Since`).
    pub last_modified: Option<String>,
    /// SHA-256 (hex) of the last document loaded.
    pub digest: Option<String>,
    /// Its version (KEV `catalogVersion`, …).
    pub version: Option<String>,
    /// When it was loaded (UTC).
    pub loaded_at: Option<DateTime<Utc>>,
    /// Last check, successful or not (UTC): the interval counts from here.
    pub checked_at: Option<DateTime<Utc>>,
    /// Why the last check failed, if it did.
    pub last_error: Option<String>,
}

/// The CVE set of the last KEV catalog loaded, the base of the next diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevBaseline {
    /// Its `catalogVersion`.
    pub catalog_version: String,
    /// Its document digest (SHA-256 hex).
    pub digest: String,
    /// Its CVEs, upper case.
    pub cves: BTreeSet<String>,
}

/// The KEV or EPSS catalog last published (KV `catalog.<kind>`): the one
/// in force, which an older document may not replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogInForce {
    /// [`FeedDocument::version`].
    pub version: String,
    /// [`FeedDocument::released`] (UTC).
    pub released: DateTime<Utc>,
    /// Its document digest (SHA-256 hex).
    pub digest: String,
    /// Where it was loaded from.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AdvisoryState {
    hash: String,
    revision: Option<String>,
}

/// Options of one load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The response's `ETag`, remembered when the load succeeds.
    pub etag: Option<String>,
    /// The response's `Last-Modified`, remembered when the load succeeds.
    pub last_modified: Option<String>,
    /// EPSS `score_date` for files that state none (v1), UTC.
    pub epss_score_date: Option<DateTime<Utc>>,
}

/// What a load published.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Object name of the stored document.
    pub object: String,
    /// Document version ([`FeedDocument::version`]).
    pub version: String,
    /// Entries ([`FeedDocument::entries`]).
    pub entries: u64,
    /// The `catalog_loaded` event, for KEV and EPSS.
    pub catalog: Option<Event>,
    /// CVEs published as `kev_added`, in order.
    pub kev_added: Vec<String>,
    /// Whether this KEV catalog was the first (the baseline: no `kev_added`).
    pub kev_baseline: bool,
    /// Advisories published (new or changed).
    pub advisories: usize,
    /// Advisories left out because they are unchanged since last published.
    pub advisories_unchanged: usize,
    /// Non-fatal oddities of the document.
    pub warnings: Vec<String>,
}

/// The outcome of [`FeedLoader::load`].
#[derive(Debug, Clone, PartialEq)]
pub enum LoadOutcome {
    /// Same bytes as the last document loaded from this source: nothing published.
    Unchanged {
        /// Its SHA-256 (hex).
        digest: String,
    },
    /// The document is unusable: nothing published, nothing replaced.
    Rejected {
        /// Why, in one line.
        reason: String,
    },
    /// Stored and published.
    Loaded(Box<LoadReport>),
}

/// Validates, stores and publishes feed documents (see the module docs).
#[derive(Clone)]
pub struct FeedLoader {
    bus: Bus,
    clock: Clock,
    state: StateStore,
}

impl std::fmt::Debug for FeedLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedLoader").finish_non_exhaustive()
    }
}

const KEV_BASELINE_KEY: &str = "kev.baseline";

/// CVEs a new KEV catalog may take out of the one in force before it is
/// refused as trimmed: this many, or 5 % of the catalog in force if more.
pub const KEV_REMOVALS_TOLERATED: usize = 25;

fn in_force_key(kind: FeedKind) -> String {
    kv_key(&["catalog", kind.as_str()])
}

fn feed_key(kind: FeedKind, source: &str) -> String {
    kv_key(&["feed", kind.as_str(), source])
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl FeedLoader {
    /// Opens ingest's state bucket.
    ///
    /// # Errors
    /// [`BusError`] when it cannot be opened.
    pub async fn new(bus: Bus, clock: Clock) -> Result<Self, BusError> {
        let state = bus.state(Service::Ingest).await?;
        Ok(FeedLoader { bus, clock, state })
    }

    /// The stored state of a source.
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be read.
    pub async fn feed_state(&self, kind: FeedKind, source: &str) -> Result<FeedState, BusError> {
        Ok(self
            .state
            .load::<FeedState>(&feed_key(kind, source))
            .await?
            .value
            .unwrap_or_default())
    }

    /// Records a check that loaded nothing (`error`: why it failed; `None`:
    /// not modified).
    async fn mark_checked(
        &self,
        kind: FeedKind,
        source: &str,
        error: Option<String>,
    ) -> Result<(), BusError> {
        let now = self.clock.now();
        self.state
            .modify::<FeedState>(&feed_key(kind, source), |s| {
                s.checked_at = Some(now);
                s.last_error.clone_from(&error);
                true
            })
            .await
    }

    /// Validates `body` as a `kind` document from `source` and, when it is
    /// new and valid, stores and publishes it (see the module docs).
    ///
    /// # Errors
    /// [`BusError`] when storing or publishing fails (a transient failure:
    /// call again; the ids are the same). A bad document is not an error
    /// but [`LoadOutcome::Rejected`], which the caller reports (the loader
    /// logs nothing for it).
    pub async fn load(
        &self,
        kind: FeedKind,
        source: &str,
        body: Vec<u8>,
        options: LoadOptions,
    ) -> Result<LoadOutcome, BusError> {
        let key = feed_key(kind, source);
        let digest = sha256_hex(&body);
        let stored = self.state.load::<FeedState>(&key).await?;
        let previous = stored.value.clone().unwrap_or_default();
        let now = self.clock.now();
        let catalog_kind = matches!(kind, FeedKind::Kev | FeedKind::Epss);
        let in_force = if catalog_kind {
            self.state
                .load::<CatalogInForce>(&in_force_key(kind))
                .await?
        } else {
            bus::Versioned {
                value: None,
                revision: 0,
            }
        };
        let still_in_force = in_force.value.as_ref().is_none_or(|f| f.digest == digest);
        if previous.digest.as_deref() == Some(digest.as_str()) && still_in_force {
            let mut state = previous;
            state.checked_at = Some(now);
            state.last_error = None;
            if options.etag.is_some() || options.last_modified.is_some() {
                state.etag = options.etag;
                state.last_modified = options.last_modified;
            }
            self.state.put(&key, &state).await?;
            info!(%kind, source, "feed unchanged");
            return Ok(LoadOutcome::Unchanged { digest });
        }

        let parse_options = ParseOptions {
            epss_score_date: options.epss_score_date,
        };
        let (body, parsed) = tokio::task::spawn_blocking(move || {
            let parsed = feeds::parse(kind, &body, parse_options);
            (body, parsed)
        })
        .await
        .map_err(|e| BusError::Io {
            op: format!("parse {kind} feed {source}"),
            reason: e.to_string(),
        })?;
        let doc = match parsed {
            Ok(doc) => doc,
            Err(e) => {
                let reason = e.to_string();
                self.mark_checked(kind, source, Some(reason.clone()))
                    .await?;
                return Ok(LoadOutcome::Rejected { reason });
            }
        };

        // KEV by release date (the CSV form has no time: the same day's
        // JSON and CSV are one catalog), EPSS by score_date.
        let older = |released: DateTime<Utc>, force: &CatalogInForce| match kind {
            FeedKind::Kev => released.date_naive() < force.released.date_naive(),
            _ => released < force.released,
        };
        if let (Some(force), Some(released)) = (&in_force.value, doc.released())
            && older(released, force)
        {
            let reason = format!(
                "{kind} catalog {} (released {}) is older than the catalog in force, {} (released \
                 {}, from {}): nothing published",
                doc.version(),
                released.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                force.version,
                force
                    .released
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                force.source
            );
            self.mark_checked(kind, source, Some(reason.clone()))
                .await?;
            return Ok(LoadOutcome::Rejected { reason });
        }

        // A KEV catalog that would take many CVEs out of KEV at once is a
        // trimmed copy or a broken export, not CISA's catalog: CISA removes
        // a handful of entries a year.
        // (Read once: the diff below publishes against the same baseline.)
        let kev = match &doc {
            FeedDocument::Kev(feed) => Some((
                feeds::kev_cves(feed),
                self.state.load::<KevBaseline>(KEV_BASELINE_KEY).await?,
            )),
            _ => None,
        };
        if let Some((kept, baseline)) = &kev
            && let Some(base) = &baseline.value
        {
            let removed = base.cves.difference(kept).count();
            let limit = (base.cves.len() / 20).max(KEV_REMOVALS_TOLERATED);
            if removed > limit {
                let reason = format!(
                    "kev catalog {} would take {removed} of the {} CVEs of the catalog in force \
                     ({}) out of KEV (at most {limit} at once): a trimmed copy or a broken \
                     export; nothing published",
                    doc.version(),
                    base.cves.len(),
                    base.catalog_version
                );
                self.mark_checked(kind, source, Some(reason.clone()))
                    .await?;
                return Ok(LoadOutcome::Rejected { reason });
            }
        }

        let object = format!("feed-{kind}-{digest}");
        let stored_object = self
            .bus
            .reports()
            .await?
            .put(&object, &mut body.as_slice())
            .await?;
        drop(body);

        let mut events = Vec::new();
        let mut report = LoadReport {
            object: object.clone(),
            version: doc.version(),
            entries: doc.entries(),
            catalog: None,
            kev_added: Vec::new(),
            kev_baseline: false,
            advisories: 0,
            advisories_unchanged: 0,
            warnings: doc.warnings().to_vec(),
        };
        let mut baseline_write = None;
        if let Some(payload) = doc.catalog_loaded(&object, stored_object.digest.clone(), source) {
            // Replacing the catalog in force: a retry after a crash (events
            // published, state not stored) gives the same id.
            let name = format!(
                "catalog/{kind}/{digest}/{}",
                in_force.value.as_ref().map_or("-", |f| f.digest.as_str())
            );
            let mut catalog = Event::new(
                Uuid::new_v5(&FEED_NAMESPACE, name.as_bytes()),
                Service::Ingest,
                now,
                payload,
            );
            catalog.traceparent = Some(bus::trace::child(None));
            events.push(catalog.clone());
            if let (FeedDocument::Kev(feed), Some((cves, baseline))) = (&doc, kev) {
                match &baseline.value {
                    Some(base) => {
                        for added in feeds::kev_added(&base.cves, feed) {
                            let cve = added.entry.cve.clone();
                            events.push(Event::derived(
                                &catalog,
                                Service::Ingest,
                                &cve,
                                now,
                                added,
                            ));
                            report.kev_added.push(cve);
                        }
                    }
                    None => report.kev_baseline = true,
                }
                baseline_write = Some((
                    KevBaseline {
                        catalog_version: feed.catalog.catalog_version.clone(),
                        digest: digest.clone(),
                        cves,
                    },
                    baseline.revision,
                ));
            }
            report.catalog = Some(catalog);
        }

        let mut advisory_writes = Vec::new();
        for advisory in doc.advisories() {
            let format = match advisory.format {
                AdvisoryFormat::Csaf => "csaf",
                AdvisoryFormat::Osv => "osv",
            };
            let hash = sha256_hex(&serde_json::to_vec(&advisory).unwrap_or_default());
            let akey = kv_key(&["advisory", format, &advisory.id]);
            let known = self.state.load::<AdvisoryState>(&akey).await?;
            if known.value.as_ref().is_some_and(|k| k.hash == hash) {
                report.advisories_unchanged += 1;
                continue;
            }
            let name = format!("advisory/{format}/{}/{hash}", advisory.id);
            let state = AdvisoryState {
                hash,
                revision: advisory.revision.clone(),
            };
            let mut event = Event::new(
                Uuid::new_v5(&FEED_NAMESPACE, name.as_bytes()),
                Service::Ingest,
                now,
                advisory,
            );
            event.traceparent = Some(bus::trace::child(None));
            events.push(event);
            advisory_writes.push((akey, state, known.revision));
            report.advisories += 1;
        }

        self.bus.publish_all(&events).await?;

        if let Some((baseline, revision)) = baseline_write {
            match self.state.save(KEV_BASELINE_KEY, &baseline, revision).await {
                Ok(_) => {}
                Err(BusError::Conflict { .. }) => {
                    warn!(
                        source,
                        "another loader stored a KEV catalog at the same time; keeping theirs"
                    )
                }
                Err(e) => return Err(e),
            }
        }
        if let (true, Some(released)) = (catalog_kind, doc.released()) {
            let force = CatalogInForce {
                version: report.version.clone(),
                released,
                digest: digest.clone(),
                source: source.to_owned(),
            };
            self.state.put(&in_force_key(kind), &force).await?;
        }
        for (akey, state, revision) in advisory_writes {
            match self.state.save(&akey, &state, revision).await {
                Ok(_) | Err(BusError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let state = FeedState {
            etag: options.etag,
            last_modified: options.last_modified,
            digest: Some(digest),
            version: Some(report.version.clone()),
            loaded_at: Some(now),
            checked_at: Some(now),
            last_error: None,
        };
        self.state.put(&key, &state).await?;
        info!(
            %kind,
            source,
            version = %report.version,
            entries = report.entries,
            kev_added = report.kev_added.len(),
            advisories = report.advisories,
            baseline = report.kev_baseline,
            "feed loaded"
        );
        Ok(LoadOutcome::Loaded(Box::new(report)))
    }
}

/// Retries of one HTTP fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Backoff before the second attempt; doubles each time (±25 % jitter).
    pub base: Duration,
    /// Longest backoff.
    pub max: Duration,
}

impl Default for Retry {
    /// 5 attempts, 2 s doubling to at most 60 s.
    fn default() -> Self {
        Retry {
            attempts: 5,
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        }
    }
}

/// The outcome of one poll.
#[derive(Debug, Clone, PartialEq)]
pub enum PollOutcome {
    /// `304 Not Modified`: nothing published.
    NotModified,
    /// The fetch failed after its retries (or with a status that cannot heal).
    FetchFailed {
        /// Why.
        reason: String,
    },
    /// A document was fetched and handed to the loader.
    Fetched(LoadOutcome),
}

/// Why the poller could not start.
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    /// A `[[ingest.feeds]]` entry is invalid.
    #[error("invalid feed: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("feed http client: {0}")]
    Client(String),
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Polls the configured feeds (see the module docs).
#[derive(Clone)]
pub struct FeedPoller {
    loader: FeedLoader,
    feeds: Arc<Vec<FeedConfig>>,
    client: reqwest::Client,
    retry: Retry,
}

impl std::fmt::Debug for FeedPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedPoller")
            .field("feeds", &self.feeds.len())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

enum FetchError {
    Retryable(String),
    Fatal(String),
}

enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// The shared HTTP client: HTTP/1.1, rustls with the ring provider and the
/// platform's certificate verifier (as validate's probes), up to 5
/// redirects, 120 s per request.
fn client() -> Result<reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT.get_or_init(build_client).clone()
}

fn build_client() -> Result<reqwest::Client, String> {
    httpclient::build(
        httpclient::builder(concat!("patchflow-ingest/", env!("CARGO_PKG_VERSION")))?
            .redirect(reqwest::redirect::Policy::limited(5))
            .timeout(Duration::from_secs(120)),
    )
}

use httpclient::error_chain as chain;

impl FeedPoller {
    /// Checks the feeds and opens the state bucket.
    ///
    /// # Errors
    /// [`PollerError::Config`] for an invalid entry, [`PollerError::Client`]
    /// when TLS cannot be set up, [`PollerError::Bus`].
    pub async fn build(
        feeds: Vec<FeedConfig>,
        bus: Bus,
        clock: Clock,
    ) -> Result<Self, PollerError> {
        for f in &feeds {
            f.validate().map_err(PollerError::Config)?;
        }
        let client = client().map_err(PollerError::Client)?;
        Ok(FeedPoller {
            loader: FeedLoader::new(bus, clock).await?,
            feeds: Arc::new(feeds),
            client,
            retry: Retry::default(),
        })
    }

    /// The same poller with other fetch retries.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The loader it publishes through.
    pub fn loader(&self) -> &FeedLoader {
        &self.loader
    }

    /// Polls due feeds every [`TICK`] while holding the `ingest-feeds`
    /// lease, until `token` fires.
    ///
    /// # Errors
    /// [`BusError`] when the lease bucket cannot be opened.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        if self.feeds.is_empty() {
            return Ok(());
        }
        info!(feeds = self.feeds.len(), "feed poller started");
        let bus = self.loader.bus.clone();
        let poller = self;
        bus::run_ticks(&bus, "ingest-feeds", TICK, token, move || {
            let poller = poller.clone();
            async move { poller.poll_due().await }
        })
        .await
    }

    /// Polls every feed whose interval has passed since its last check.
    ///
    /// # Errors
    /// [`BusError`] when a feed's state cannot be read; a poll that fails is
    /// logged and recorded, not returned.
    pub async fn poll_due(&self) -> Result<(), BusError> {
        let now = self.loader.clock.now();
        for feed in self.feeds.iter() {
            let state = self.loader.feed_state(feed.kind, &feed.source()).await?;
            let interval =
                chrono::Duration::seconds(i64::try_from(feed.interval_secs).unwrap_or(i64::MAX));
            let due = state
                .checked_at
                .is_none_or(|t| now.signed_duration_since(t) >= interval);
            if !due {
                continue;
            }
            if let Err(e) = self.poll(feed).await {
                warn!(kind = %feed.kind, source = %feed.source(), error = %e, "feed poll failed, retrying next interval");
            }
        }
        Ok(())
    }

    /// Fetches one feed now (conditionally, with retries) and loads what it
    /// got.
    ///
    /// # Errors
    /// [`BusError`] when the state cannot be read or written, or the load
    /// cannot store or publish.
    pub async fn poll(&self, feed: &FeedConfig) -> Result<PollOutcome, BusError> {
        let source = feed.source();
        let state = self.loader.feed_state(feed.kind, &source).await?;
        let fetched = match (&feed.url, &feed.path) {
            (Some(url), _) => self.fetch(url, &state).await,
            (None, Some(path)) => tokio::fs::read(path)
                .await
                .map(|bytes| Fetched::Body {
                    bytes,
                    etag: None,
                    last_modified: None,
                })
                .map_err(|e| format!("read {}: {e}", path.display())),
            (None, None) => Err("neither url nor path".to_owned()),
        };
        match fetched {
            Ok(Fetched::NotModified) => {
                self.loader.mark_checked(feed.kind, &source, None).await?;
                info!(kind = %feed.kind, %source, "feed not modified");
                Ok(PollOutcome::NotModified)
            }
            Ok(Fetched::Body {
                bytes,
                etag,
                last_modified,
            }) => {
                let options = LoadOptions {
                    etag,
                    last_modified,
                    epss_score_date: None,
                };
                let outcome = self.loader.load(feed.kind, &source, bytes, options).await?;
                if let LoadOutcome::Rejected { reason } = &outcome {
                    // The loader's caller says it: here the log, in
                    // `patchflow feed load` the command's own error line.
                    warn!(kind = %feed.kind, %source, %reason, "feed document rejected; nothing published");
                }
                Ok(PollOutcome::Fetched(outcome))
            }
            Err(reason) => {
                warn!(kind = %feed.kind, %source, %reason, "feed fetch failed");
                self.loader
                    .mark_checked(feed.kind, &source, Some(reason.clone()))
                    .await?;
                Ok(PollOutcome::FetchFailed { reason })
            }
        }
    }

    async fn fetch(&self, url: &str, state: &FeedState) -> Result<Fetched, String> {
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.fetch_once(url, state).await {
                Ok(f) => return Ok(f),
                Err(FetchError::Fatal(reason)) => return Err(reason),
                Err(FetchError::Retryable(reason)) if attempt >= attempts => {
                    return Err(format!("{reason} (after {attempts} attempts)"));
                }
                Err(FetchError::Retryable(reason)) => {
                    let wait = bus::backoff(attempt, self.retry.base, self.retry.max);
                    warn!(url, attempt, %reason, wait_ms = wait.as_millis() as u64, "feed fetch failed, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn fetch_once(&self, url: &str, state: &FeedState) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url);
        // Validators only from a document we actually loaded.
        if state.digest.is_some() {
            if let Some(etag) = &state.etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(since) = &state.last_modified {
                request = request.header(reqwest::header::IF_MODIFIED_SINCE, since);
            }
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| FetchError::Retryable(format!("GET {url}: {}", chain(&e))))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let reason = format!("GET {url}: HTTP {status}");
            return Err(
                if status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT
                {
                    FetchError::Retryable(reason)
                } else {
                    FetchError::Fatal(reason)
                },
            );
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(FetchError::Fatal(format!(
                "GET {url}: the document is larger than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                        return Err(FetchError::Fatal(format!(
                            "GET {url}: the document is larger than {MAX_DOCUMENT_BYTES} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(FetchError::Retryable(format!(
                        "GET {url}: reading the body: {}",
                        chain(&e)
                    )));
                }
            }
        }
        Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(url: Option<&str>, path: Option<&str>, interval_secs: u64) -> FeedConfig {
        FeedConfig {
            kind: FeedKind::Kev,
            url: url.map(str::to_owned),
            path: path.map(PathBuf::from),
            interval_secs,
        }
    }

    #[test]
    fn feed_entries_are_checked() {
        let table = [
            (
                feed(Some("https://www.cisa.gov/kev.json"), None, 3600),
                Ok(()),
            ),
            (feed(None, Some("kev.json"), 60), Ok(())),
            (feed(None, None, 60), Err("kev feed: set url or path")),
            (
                feed(Some("https://x/kev.json"), Some("kev.json"), 60),
                Err("kev feed: set url or path, not both"),
            ),
            (
                feed(Some("ftp://x/kev.json"), None, 60),
                Err("kev feed: url \"ftp://x/kev.json\" is not an http:// or https:// URL"),
            ),
            (
                feed(Some("not a url"), None, 60),
                Err("kev feed: url \"not a url\": relative URL without a base"),
            ),
            (
                feed(Some("http://x/kev.json"), None, 0),
                Err("kev feed: interval_secs must be at least 1"),
            ),
        ];
        for (f, want) in table {
            assert_eq!(f.validate(), want.map_err(str::to_owned), "{f:?}");
        }
    }

    #[test]
    fn feed_entries_read_from_toml_with_defaults() {
        #[derive(Deserialize)]
        struct File {
            feeds: Vec<FeedConfig>,
        }
        let file: File = toml::from_str(
            "[[feeds]]\nkind = \"epss\"\nurl = \"https://epss.example/scores.csv.gz\"\n\
             [[feeds]]\nkind = \"osv\"\npath = \"osv/DSA.json\"\ninterval_secs = 60\n",
        )
        .unwrap();
        assert_eq!(file.feeds[0].kind, FeedKind::Epss);
        assert_eq!(file.feeds[0].interval_secs, DEFAULT_INTERVAL_SECS);
        assert_eq!(file.feeds[1].source(), "osv/DSA.json");
        assert_eq!(file.feeds[1].interval_secs, 60);
        let err = toml::from_str::<File>("[[feeds]]\nkind = \"rss\"\npath = \"x\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown variant `rss`"), "{err}");
        let err = toml::from_str::<File>("[[feeds]]\nkind = \"kev\"\npath = \"x\"\nevery = 5\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field `every`"), "{err}");
    }
}
