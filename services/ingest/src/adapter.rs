//! The bus adapter of ingest.
//!
//! # Reports (`patch.scan.submitted`)
//!
//! Stream the report from the object store twice — once to check the whole
//! report ([`format::check`]), once to publish it — so a broken report
//! publishes `patch.scan.rejected` and no finding at all. Both passes
//! stream: the report is never held whole in memory. (A Nessus report is
//! also opened once more to read its policy, which comes before its hosts:
//! [`coverage::read_policy_of`].)
//!
//! Per host of a good report, in order:
//! 1. reconcile the host with the known assets ([`reconcile`]), so a host
//!    keeps its asset id when its DNS name changes, and rebind its
//!    fingerprints to that id ([`identity::rebind_fingerprint`]);
//! 2. decide its findings against the fingerprint records and the asset's
//!    open index ([`resolve::decide_host`]);
//! 3. publish `patch.asset.upserted` (source `scan`, with the informational
//!    items as facts, inventory attributes overlaid), one
//!    `patch.finding.observed` per finding (SLA clock start from the
//!    records; `reopened` when it came back after a resolution) and one
//!    `patch.finding.resolved` per open finding a full scan covered and no
//!    longer shows, and await every acknowledgement;
//! 4. store the records, the open index and the asset (compare-and-set).
//!
//! Then `patch.scan.completed` with the counts; then the message is acked.
//! Every output id is derived from the submitted event, so a redelivered
//! report republishes the same ids and stores the same state.
//!
//! # Inventory
//!
//! At start, every entry of the configured inventory file is reconciled into
//! the asset store; an entry that changes what is known is published as
//! `patch.asset.upserted` (source `inventory`). A `patch.asset.upserted`
//! with source `cmdb` is handled the same way (its output is derived from
//! it); ingest's own upserts (sources `scan` and `inventory`) are read back
//! and skipped, so nothing loops.
//!
//! # KV layout (bucket `<ns>_ingest`)
//!
//! | key | value |
//! |---|---|
//! | `finding.<finding id>` | [`FingerprintRecord`]: SLA clock start, last observation, status, history |
//! | `open.<asset id>` | [`OpenIndex`]: the asset's open findings |
//! | `known.<asset id>` | [`KnownAsset`]: the asset as last published, its identifiers |
//! | `ident.<kind>.<value>` | the asset id an identifier last belonged to (JSON string) |

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::sync::Arc;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler, StateStore, Versioned, kv_key};
use events::{
    Asset, AssetSource, AssetUpserted, Event, Payload, ScanCompleted, ScanRejected, ScanSubmitted,
    Service, spec,
};
use tokio_util::io::SyncIoBridge;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::coverage::{self, HostCoverage, NessusPolicy};
use crate::format::{self, Format};
use crate::identity;
use crate::inventory::Inventory;
use crate::normalize::{self, NormalizedHost};
use crate::reconcile::{self, Ident, KnownAsset, Reconciled};
use crate::resolve::{self, HostScan, OpenIndex};

pub use crate::resolve::FingerprintRecord;

/// Namespace of inventory upsert ids: `v5(INVENTORY_NAMESPACE, asset id + content)`,
/// so loading the same inventory twice publishes nothing new.
pub const INVENTORY_NAMESPACE: Uuid = Uuid::from_u128(0x1a7e_0b5e_4c11_4f0e_8f0d_0000_0000_0002);

/// How often registering one inventory entry is retried after losing a
/// compare-and-set race (another instance registering the same file).
const INVENTORY_ATTEMPTS: u32 = 8;

/// The ingest service: build it, then [`IngestService::run`] it.
#[derive(Clone)]
pub struct IngestService {
    bus: Bus,
    clock: Clock,
    state: StateStore,
    inventory_assets: usize,
}

impl std::fmt::Debug for IngestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestService")
            .field("inventory_assets", &self.inventory_assets)
            .finish_non_exhaustive()
    }
}

fn known_key(asset_id: &str) -> String {
    kv_key(&["known", asset_id])
}

fn ident_key(ident: &Ident) -> String {
    kv_key(&["ident", ident.kind.as_str(), &ident.value])
}

fn open_key(asset_id: &str) -> String {
    kv_key(&["open", asset_id])
}

fn finding_key(id: Uuid) -> String {
    kv_key(&["finding", &id.to_string()])
}

/// A host (or inventory entry) matched against the asset store, with the
/// revisions its update must be written at.
struct Lookup {
    reconciled: Reconciled,
    known: Versioned<KnownAsset>,
    index: BTreeMap<Ident, Versioned<String>>,
}

impl Lookup {
    fn asset_id(&self) -> &str {
        self.reconciled.asset_id()
    }

    /// What is known of the asset, or a fresh record with its id.
    fn known_or_new(&self) -> KnownAsset {
        self.known.value.clone().unwrap_or_else(|| KnownAsset {
            asset: Asset {
                asset_id: self.asset_id().to_owned(),
                ..Asset::default()
            },
            ..KnownAsset::default()
        })
    }
}

impl IngestService {
    /// Opens the state bucket and reconciles every inventory entry into the
    /// asset store, publishing `patch.asset.upserted` for those that change
    /// what is known.
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be opened, an upsert not published
    /// or the store not written.
    pub async fn build(inventory: Inventory, bus: Bus, clock: Clock) -> Result<Self, BusError> {
        let state = bus.state(Service::Ingest).await?;
        let service = IngestService {
            bus,
            clock,
            state,
            inventory_assets: inventory.len(),
        };
        service.publish_inventory(&inventory).await?;
        Ok(service)
    }

    async fn publish_inventory(&self, inventory: &Inventory) -> Result<(), BusError> {
        let mut published = 0;
        for row in inventory.assets() {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.register_inventory(row).await {
                    Ok(changed) => {
                        published += u32::from(changed);
                        break;
                    }
                    Err(BusError::Conflict { .. }) if attempt < INVENTORY_ATTEMPTS => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        if published > 0 {
            info!(assets = published, "inventory published");
        }
        Ok(())
    }

    /// Reconciles one inventory file entry; publishes and stores it when it
    /// changes what is known. Returns whether it did.
    async fn register_inventory(&self, row: &Asset) -> Result<bool, BusError> {
        let lookup = self.lookup(row).await?;
        let mut known = lookup.known_or_new();
        if !known.inventory(row) {
            return Ok(false);
        }
        let content = serde_json::to_vec(&known.asset).unwrap_or_default();
        let mut name = known.asset.asset_id.as_bytes().to_vec();
        name.extend_from_slice(&content);
        let event = Event::new(
            Uuid::new_v5(&INVENTORY_NAMESPACE, &name),
            Service::Ingest,
            self.clock.now(),
            AssetUpserted {
                asset: known.asset.clone(),
                source: AssetSource::Inventory,
                scan_id: None,
                facts: Vec::new(),
            },
        );
        self.bus.publish(&event).await?;
        self.store_asset(&lookup, &known).await?;
        Ok(true)
    }

    /// A CMDB's `patch.asset.upserted`: reconciled and merged like an
    /// inventory entry; published again (source `inventory`, under the
    /// reconciled asset id) when it changed what is known.
    async fn cmdb(&self, parent: &Event, upsert: &AssetUpserted) -> Result<(), HandleError> {
        if upsert.source != AssetSource::Cmdb {
            // Our own upserts (scan, inventory) and nothing else: never loop.
            return Ok(());
        }
        let mut row = upsert.asset.clone();
        if row.asset_id.trim().is_empty() {
            let name = row
                .hostname
                .as_deref()
                .or(row.fqdn.as_deref())
                .and_then(identity::host_name_of);
            row.asset_id =
                identity::asset_id(name.as_deref(), row.ip.as_deref()).ok_or_else(|| {
                    HandleError::Poison(
                        "a CMDB asset needs an asset_id, a hostname, an fqdn or an ip".to_owned(),
                    )
                })?;
        }
        let lookup = self.lookup(&row).await?;
        let mut known = lookup.known_or_new();
        if !known.inventory(&row) {
            debug!(asset = %lookup.asset_id(), "cmdb upsert changes nothing");
            return Ok(());
        }
        let mut event = Event::derived(
            parent,
            Service::Ingest,
            &format!("asset/{}", lookup.asset_id()),
            self.clock.now(),
            AssetUpserted {
                asset: known.asset.clone(),
                source: AssetSource::Inventory,
                scan_id: None,
                facts: Vec::new(),
            },
        );
        event.traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        self.bus.publish(&event).await?;
        self.store_asset(&lookup, &known).await?;
        info!(asset = %lookup.asset_id(), cmdb_id = %upsert.asset.asset_id, "cmdb asset reconciled");
        Ok(())
    }

    /// Matches `asset` against the asset store ([`reconcile::reconcile`]).
    async fn lookup(&self, asset: &Asset) -> Result<Lookup, BusError> {
        let mut index = BTreeMap::new();
        let mut records: BTreeMap<String, Versioned<KnownAsset>> = BTreeMap::new();
        let mut candidates = BTreeMap::new();
        for ident in reconcile::identifiers(asset) {
            let entry = self.state.load::<String>(&ident_key(&ident)).await?;
            if let Some(id) = &entry.value {
                if !records.contains_key(id) {
                    let k = self.state.load::<KnownAsset>(&known_key(id)).await?;
                    records.insert(id.clone(), k);
                }
                if let Some(k) = records.get(id).and_then(|k| k.value.clone()) {
                    candidates.insert(ident.clone(), k);
                }
            }
            index.insert(ident, entry);
        }
        let mut reconciled = reconcile::reconcile(asset, &candidates, &BTreeSet::new());
        if let Reconciled::New { .. } = reconciled {
            let mut taken = BTreeSet::new();
            for id in reconcile::new_id_candidates(asset) {
                if !records.contains_key(&id) {
                    let k = self.state.load::<KnownAsset>(&known_key(&id)).await?;
                    records.insert(id.clone(), k);
                }
                if records.get(&id).is_some_and(|k| k.value.is_some()) {
                    taken.insert(id);
                }
            }
            reconciled = reconcile::reconcile(asset, &candidates, &taken);
        }
        let id = reconciled.asset_id().to_owned();
        let known = match records.remove(&id) {
            Some(k) => k,
            None => self.state.load::<KnownAsset>(&known_key(&id)).await?,
        };
        Ok(Lookup {
            reconciled,
            known,
            index,
        })
    }

    /// Stores `known` and points every identifier it currently has at it.
    async fn store_asset(&self, lookup: &Lookup, known: &KnownAsset) -> Result<(), BusError> {
        let id = known.asset.asset_id.as_str();
        if lookup.known.value.as_ref() != Some(known) {
            self.state
                .save(&known_key(id), known, lookup.known.revision)
                .await?;
        }
        for ident in known.current() {
            let entry = match lookup.index.get(ident) {
                Some(e) => e.clone(),
                None => self.state.load::<String>(&ident_key(ident)).await?,
            };
            if entry.value.as_deref() != Some(id) {
                self.state
                    .save(&ident_key(ident), &id.to_owned(), entry.revision)
                    .await?;
            }
        }
        Ok(())
    }

    /// Consumes until `token` fires, then finishes the message in hand.
    ///
    /// # Errors
    /// [`BusError`] when a consumer cannot be set up.
    pub async fn run(self, token: CancellationToken) -> Result<(), BusError> {
        let bus = self.bus.clone();
        bus::serve(
            &bus,
            Service::Ingest,
            spec::consumers(Service::Ingest),
            Arc::new(self),
            false,
            token,
        )
        .await
    }

    async fn reject(
        &self,
        parent: &Event,
        scan: &ScanSubmitted,
        format: Option<&str>,
        reason: String,
    ) -> Result<(), HandleError> {
        warn!(scan = %scan.scan_id, file = %scan.file_name, %reason, "report rejected");
        let mut event = Event::derived(
            parent,
            Service::Ingest,
            "rejected",
            self.clock.now(),
            ScanRejected {
                scan_id: scan.scan_id,
                object: scan.object.clone(),
                file_name: scan.file_name.clone(),
                format: format.map(str::to_owned),
                reason,
            },
        );
        event.traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        self.bus.publish(&event).await?;
        Ok(())
    }

    /// Streams the report through `f` on a blocking thread.
    async fn with_report<T: Send + 'static>(
        &self,
        object: &str,
        f: impl FnOnce(BufReader<SyncIoBridge<Box<dyn tokio::io::AsyncRead + Unpin + Send>>>) -> T
        + Send
        + 'static,
    ) -> Result<T, BusError> {
        let reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> =
            Box::new(self.bus.reports().await?.open(object).await?);
        let bridge = SyncIoBridge::new(reader);
        tokio::task::spawn_blocking(move || f(BufReader::with_capacity(256 * 1024, bridge)))
            .await
            .map_err(|e| BusError::Io {
                op: format!("parse {object}"),
                reason: e.to_string(),
            })
    }

    async fn ingest(&self, parent: &Event, scan: &ScanSubmitted) -> Result<(), HandleError> {
        // Pass 1: the whole report must parse before anything is published.
        let hint = scan
            .format_hint
            .as_deref()
            .and_then(|h| h.parse::<Format>().ok());
        let checked = self
            .with_report(&scan.object, move |reader| {
                let (fmt, reader) = format::open(reader, hint)?;
                format::check(fmt, reader).map(|s| (fmt, s))
            })
            .await;
        let (fmt, summary) = match checked {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return self.reject(parent, scan, None, e.to_string()).await,
            Err(BusError::NotFound { what }) => {
                return self
                    .reject(parent, scan, None, format!("{what}: nothing to ingest"))
                    .await;
            }
            Err(e) => return Err(e.into()),
        };

        // What the report says ran, before its hosts (the Nessus policy).
        let policy: Arc<NessusPolicy> = if fmt == Format::Nessus {
            self.with_report(&scan.object, move |reader| {
                coverage::read_policy_of(fmt, reader)
            })
            .await?
        } else {
            Arc::default()
        };

        // Pass 2: publish host by host while the parser streams.
        let fallback = parent.time;
        type Host = Result<(NormalizedHost, HostCoverage), String>;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Host>(16);
        let parse = self.with_report(&scan.object, move |reader| {
            let reader = match format::open(reader, Some(fmt)) {
                Ok((_, reader)) => reader,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.to_string()));
                    return;
                }
            };
            for host in coverage::hosts(fmt, reader, fallback, policy) {
                if tx.blocking_send(host.map_err(|e| e.to_string())).is_err() {
                    return;
                }
            }
        });
        let publish = async {
            let mut totals = Totals::default();
            while let Some(host) = rx.recv().await {
                let (host, coverage) = host.map_err(|e| {
                    HandleError::Transient(format!("report changed between passes: {e}"))
                })?;
                self.publish_host(parent, scan, host, &coverage, &mut totals)
                    .await?;
            }
            Ok::<_, HandleError>(totals)
        };
        let (parsed, published) = tokio::join!(parse, publish);
        parsed?;
        let totals = published?;

        let mut done = Event::derived(
            parent,
            Service::Ingest,
            "completed",
            self.clock.now(),
            ScanCompleted {
                scan_id: scan.scan_id,
                object: scan.object.clone(),
                format: fmt.as_str().to_owned(),
                scope: scan.scope,
                hosts: totals.hosts,
                findings: totals.findings,
                info_facts: totals.facts,
                started_at: summary.started_at,
                finished_at: summary.finished_at,
                resolved: totals.resolved,
            },
        );
        done.traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        if let Some(w) =
            format::future_scan_warning(summary.started_at, summary.finished_at, self.clock.now())
        {
            warn!(scan = %scan.scan_id, file = %scan.file_name, "{w}");
        }
        self.bus.publish(&done).await?;
        info!(
            scan = %scan.scan_id,
            file = %scan.file_name,
            findings = totals.findings,
            info_facts = totals.facts,
            resolved = totals.resolved,
            stale = totals.stale,
            "report ingested"
        );
        Ok(())
    }

    /// Reconciles, decides, publishes and stores one host (see the module
    /// docs).
    async fn publish_host(
        &self,
        parent: &Event,
        scan: &ScanSubmitted,
        host: NormalizedHost,
        coverage: &HostCoverage,
        totals: &mut Totals,
    ) -> Result<(), HandleError> {
        // 1. Which asset this is; its findings' ids follow its asset id.
        let lookup = self.lookup(&host.asset).await?;
        let asset_id = lookup.asset_id().to_owned();
        let mut known = lookup.known_or_new();
        let mut scanned = host.asset.clone();
        scanned.asset_id.clone_from(&asset_id);
        let asset = known.observe(&scanned);
        let mut findings = host.findings;
        if host.asset.asset_id != asset_id {
            debug!(proposed = %host.asset.asset_id, asset = %asset_id, "host reconciled to a known asset");
            for obs in &mut findings {
                match identity::rebind_fingerprint(
                    &obs.fingerprint,
                    &host.asset.asset_id,
                    &asset_id,
                ) {
                    Some(fp) => {
                        obs.finding_id = normalize::finding_id(&fp);
                        obs.fingerprint = fp;
                    }
                    None => warn!(fingerprint = %obs.fingerprint, asset = %asset_id,
                        "fingerprint does not follow <source>:v<N>:<asset_id>:…; kept as is"),
                }
            }
        }

        // 2. Decide against the stored state.
        let index_entry = self.state.load::<OpenIndex>(&open_key(&asset_id)).await?;
        let index = index_entry.value.clone().unwrap_or_default();
        let seen: BTreeSet<Uuid> = findings.iter().map(|o| o.finding_id).collect();
        let resolvable: Vec<Uuid> =
            resolve::resolvable(&index, &seen, scan.scope, host.observed_at, coverage)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
        let mut records = BTreeMap::new();
        let mut revisions = BTreeMap::new();
        for id in seen.iter().chain(&resolvable) {
            let stored = self
                .state
                .load::<FingerprintRecord>(&finding_key(*id))
                .await?;
            revisions.insert(*id, stored.revision);
            if let Some(r) = stored.value {
                records.insert(*id, r);
            }
        }
        let host_scan = HostScan {
            asset_id: &asset_id,
            scan_id: scan.scan_id,
            scope: scan.scope,
            observed_at: host.observed_at,
            findings: &findings,
            coverage,
        };
        let decision = resolve::decide_host(&host_scan, &index, &records);

        // 3. Publish.
        let now = self.clock.now();
        let traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        let mut events = vec![Event::derived(
            parent,
            Service::Ingest,
            &format!("asset/{asset_id}"),
            now,
            AssetUpserted {
                asset: asset.clone(),
                source: AssetSource::Scan,
                scan_id: Some(scan.scan_id),
                facts: host.facts.clone(),
            },
        )];
        for (i, first, reopened) in &decision.observed {
            let Some(obs) = findings.get(*i) else {
                continue;
            };
            let mut finding = obs.to_finding(&asset, scan.scan_id, *first);
            finding.reopened = *reopened;
            events.push(Event::derived(
                parent,
                Service::Ingest,
                &format!("finding/{}", finding.finding_id),
                now,
                finding,
            ));
        }
        for resolved in &decision.resolved {
            events.push(Event::derived(
                parent,
                Service::Ingest,
                &format!("resolved/{}", resolved.finding_id),
                now,
                resolved.clone(),
            ));
        }
        for e in &mut events {
            e.traceparent.clone_from(&traceparent);
        }
        self.bus.publish_all(&events).await?;

        // 4. Store: records, the open index, the asset.
        for (id, record) in &decision.records {
            let revision = revisions.get(id).copied().unwrap_or(0);
            self.state.save(&finding_key(*id), record, revision).await?;
        }
        if let Some(next) = &decision.index {
            self.state
                .save(&open_key(&asset_id), next, index_entry.revision)
                .await?;
        }
        self.store_asset(&lookup, &known).await?;

        for (i, resolved_at) in &decision.stale {
            if let Some(obs) = findings.get(*i) {
                debug!(finding = %obs.finding_id, %resolved_at, "stale sighting: older than its resolution, not published");
            }
        }
        if !totals.hosts.contains(&asset_id) {
            totals.hosts.push(asset_id);
        }
        totals.findings += decision.observed.len() as u64;
        totals.facts += host.facts.len() as u64;
        totals.resolved += decision.resolved.len() as u64;
        totals.stale += decision.stale.len() as u64;
        Ok(())
    }
}

/// What one report published.
#[derive(Debug, Default)]
struct Totals {
    /// Reconciled asset ids, in report order, each once.
    hosts: Vec<String>,
    findings: u64,
    facts: u64,
    resolved: u64,
    stale: u64,
}

impl Handler for IngestService {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        match &d.event.data {
            Payload::ScanSubmitted(scan) => self.ingest(&d.event, scan).await,
            Payload::AssetUpserted(upsert) => self.cmdb(&d.event, upsert).await,
            _ => Err(HandleError::Poison(format!(
                "ingest does not consume {}",
                d.event.event_type()
            ))),
        }
    }
}
