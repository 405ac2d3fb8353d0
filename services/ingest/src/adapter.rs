//! The bus adapter of ingest: for every `patch.scan.submitted`, stream the
//! report from the object store twice — once to check the whole report
//! ([`check`]), once to publish it — so a broken report publishes
//! `patch.scan.rejected` and no finding at all. Both passes stream: the
//! report is never held whole in memory.
//!
//! Per host of a good report: `patch.asset.upserted` (with the informational
//! items as facts), then one `patch.finding.observed` per finding, whose SLA
//! clock start (`first_observed_at`) comes from the fingerprint state; then
//! `patch.scan.completed` with the counts. The fingerprint records are stored
//! after their events are acknowledged.
//!
//! KV layout (bucket `<ns>_ingest`): `finding.<finding id>`
//! [`FingerprintRecord`], `asset.<asset id>` (the last published inventory
//! attributes).

use std::io::BufReader;
use std::sync::Arc;

use bus::{Bus, BusError, Clock, Delivery, HandleError, Handler, StateStore, kv_key};
use chrono::{DateTime, Utc};
use events::{
    Asset, AssetSource, AssetUpserted, Event, Payload, ScanCompleted, ScanRejected, ScanSubmitted,
    Service, spec,
};
use serde::{Deserialize, Serialize};
use tokio_util::io::SyncIoBridge;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use crate::format::{self, Format};
use crate::inventory::Inventory;
use crate::normalize::NormalizedHost;

/// Namespace of inventory upsert ids: `v5(INVENTORY_NAMESPACE, asset id + content)`,
/// so loading the same inventory twice publishes nothing new.
pub const INVENTORY_NAMESPACE: Uuid = Uuid::from_u128(0x1a7e_0b5e_4c11_4f0e_8f0d_0000_0000_0002);

/// What ingest remembers of a finding across scans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintRecord {
    /// First observation on this asset (UTC): the SLA clock start.
    pub first_observed_at: DateTime<Utc>,
    /// Latest observation (UTC).
    pub last_observed_at: DateTime<Utc>,
    /// The scan of the latest observation.
    pub last_scan: Uuid,
}

/// The ingest service: build it, then [`IngestService::run`] it.
#[derive(Clone)]
pub struct IngestService {
    bus: Bus,
    clock: Clock,
    inventory: Arc<Inventory>,
    state: StateStore,
}

impl std::fmt::Debug for IngestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestService")
            .field("inventory_assets", &self.inventory.assets().len())
            .finish_non_exhaustive()
    }
}

impl IngestService {
    /// Opens the state bucket and publishes `patch.asset.upserted` for every
    /// inventory asset whose attributes changed since the last start.
    ///
    /// # Errors
    /// [`BusError`] when the bucket cannot be opened or an upsert not published.
    pub async fn build(inventory: Inventory, bus: Bus, clock: Clock) -> Result<Self, BusError> {
        let state = bus.state(Service::Ingest).await?;
        let service = IngestService {
            bus,
            clock,
            inventory: Arc::new(inventory),
            state,
        };
        service.publish_inventory().await?;
        Ok(service)
    }

    async fn publish_inventory(&self) -> Result<(), BusError> {
        let mut published = 0;
        for asset in self.inventory.assets() {
            let key = kv_key(&["asset", &asset.asset_id]);
            let stored = self.state.load::<Asset>(&key).await?;
            if stored.value.as_ref() == Some(asset) {
                continue;
            }
            let content = serde_json::to_vec(asset).unwrap_or_default();
            let mut name = asset.asset_id.as_bytes().to_vec();
            name.extend_from_slice(&content);
            let event = Event::new(
                Uuid::new_v5(&INVENTORY_NAMESPACE, &name),
                Service::Ingest,
                self.clock.now(),
                AssetUpserted {
                    asset: asset.clone(),
                    source: AssetSource::Inventory,
                    scan_id: None,
                    facts: Vec::new(),
                },
            );
            self.bus.publish(&event).await?;
            match self.state.save(&key, asset, stored.revision).await {
                Ok(_) | Err(BusError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
            published += 1;
        }
        if published > 0 {
            info!(assets = published, "inventory published");
        }
        Ok(())
    }

    /// Consumes until `token` fires, then finishes the report in hand.
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

        // Pass 2: publish host by host while the parser streams.
        let fallback = parent.time;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<NormalizedHost, String>>(16);
        let parse = self.with_report(&scan.object, move |reader| {
            let reader = match format::open(reader, Some(fmt)) {
                Ok((_, reader)) => reader,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.to_string()));
                    return;
                }
            };
            for host in format::hosts(fmt, reader, fallback) {
                if tx.blocking_send(host.map_err(|e| e.to_string())).is_err() {
                    return;
                }
            }
        });
        let publish = async {
            let mut hosts = Vec::new();
            let (mut findings, mut facts) = (0u64, 0u64);
            while let Some(host) = rx.recv().await {
                let host = host.map_err(|e| {
                    HandleError::Transient(format!("report changed between passes: {e}"))
                })?;
                let (f, i) = self
                    .publish_host(parent, scan.scan_id, host, &mut hosts)
                    .await?;
                findings += f;
                facts += i;
            }
            Ok::<_, HandleError>((hosts, findings, facts))
        };
        let (parsed, published) = tokio::join!(parse, publish);
        parsed?;
        let (hosts, findings, info_facts) = published?;

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
                hosts,
                findings,
                info_facts,
                started_at: summary.started_at,
                finished_at: summary.finished_at,
            },
        );
        done.traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        self.bus.publish(&done).await?;
        info!(scan = %scan.scan_id, file = %scan.file_name, findings, info_facts, "report ingested");
        Ok(())
    }

    /// Publishes one host's asset upsert and findings; returns (findings, facts).
    async fn publish_host(
        &self,
        parent: &Event,
        scan_id: Uuid,
        mut host: NormalizedHost,
        hosts: &mut Vec<String>,
    ) -> Result<(u64, u64), HandleError> {
        if let Some(known) = self.inventory.lookup(&host.asset) {
            host.asset.enrich(known);
        }
        let asset = host.asset.clone();
        let now = self.clock.now();
        let traceparent = Some(bus::trace::child(parent.traceparent.as_deref()));
        let mut events = vec![Event::derived(
            parent,
            Service::Ingest,
            &format!("asset/{}", asset.asset_id),
            now,
            host.asset_upserted(scan_id),
        )];
        let mut records = Vec::with_capacity(host.findings.len());
        for obs in &host.findings {
            let probe = obs.to_finding(&asset, scan_id, host.observed_at);
            let key = kv_key(&["finding", &probe.finding_id.to_string()]);
            let stored = self.state.load::<FingerprintRecord>(&key).await?;
            let first = stored.value.as_ref().map_or(host.observed_at, |r| {
                r.first_observed_at.min(host.observed_at)
            });
            let finding = obs.to_finding(&asset, scan_id, first);
            let record = FingerprintRecord {
                first_observed_at: first,
                last_observed_at: stored.value.as_ref().map_or(host.observed_at, |r| {
                    r.last_observed_at.max(host.observed_at)
                }),
                last_scan: scan_id,
            };
            events.push(Event::derived(
                parent,
                Service::Ingest,
                &format!("finding/{}", finding.finding_id),
                now,
                finding,
            ));
            if stored.value.as_ref() != Some(&record) {
                records.push((key, record, stored.revision));
            }
        }
        for e in &mut events {
            e.traceparent.clone_from(&traceparent);
        }
        self.bus.publish_all(&events).await?;
        for (key, record, revision) in records {
            self.state.save(&key, &record, revision).await?;
        }
        hosts.push(asset.asset_id);
        Ok((host.findings.len() as u64, host.facts.len() as u64))
    }
}

impl Handler for IngestService {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let Payload::ScanSubmitted(scan) = &d.event.data else {
            return Err(HandleError::Poison(format!(
                "ingest does not consume {}",
                d.event.event_type()
            )));
        };
        self.ingest(&d.event, scan).await
    }
}
