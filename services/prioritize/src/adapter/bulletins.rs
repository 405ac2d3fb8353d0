//! Intel from the bus: KEV additions, reloaded KEV and EPSS catalogs and
//! advisories (the CVEs they state exploited), applied to the in-memory tables, remembered in KV for a
//! restart, and followed by the re-decision of the open findings they
//! change and, for an exploited CVE, the emergency lane.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::PoisonError;

use bus::{Bus, BusError, HandleError, StateStore};
use chrono::{DateTime, NaiveDate, Utc};
use events::{
    AdvisoryPublished, CatalogKind, CatalogLoaded, DecisionTrigger, Event, KevAdded, KevInput,
};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tracing::{info, warn};
use uuid::Uuid;

use super::{PrioritizeService, keys, restore_failed};
use crate::Intel;
use crate::intel::{EpssTable, ExploitedAdvisory, KevCatalog, load_epss};
use crate::reassess;

/// A catalog read back from the object store.
enum Table {
    Kev(KevCatalog),
    Epss(EpssTable),
}

/// The CVEs a catalog changed (KV `intel.changes.<kind>`), kept until
/// their findings were decided again.
#[derive(Debug, Serialize, Deserialize)]
struct CatalogChanges {
    /// The catalog object they were computed for.
    object: String,
    /// CVE → what changed.
    changes: BTreeMap<String, String>,
    /// Every finding was decided again.
    done: bool,
}

/// The EPSS score date a `catalog_loaded` version names
/// (`model_version@score_date`), as the fallback for files without one.
fn epss_score_date(version: &str) -> Option<DateTime<Utc>> {
    let date = version.rsplit('@').next()?.trim();
    DateTime::parse_from_rfc3339(date)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// Reads a whole object of the reports bucket.
async fn fetch(bus: &Bus, object: &str) -> Result<Vec<u8>, BusError> {
    let mut reader = bus.reports().await?.open(object).await?;
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| BusError::Io {
            op: format!("read catalog {object}"),
            reason: e.to_string(),
        })?;
    Ok(bytes)
}

/// Fetches and loads the catalog of a `catalog_loaded`; `Err` carries
/// whether retrying can help (`true`: the bus failed) and why.
async fn load_catalog(bus: &Bus, c: &CatalogLoaded) -> Result<Table, (bool, String)> {
    let bytes = fetch(bus, &c.object).await.map_err(|e| {
        let transient = !matches!(e, BusError::NotFound { .. });
        (transient, e.to_string())
    })?;
    let loaded = match c.kind {
        // The feed as fetched: JSON or CSV, told apart by content.
        CatalogKind::Kev => feeds::parse_kev_any(&bytes).map(|f| Table::Kev(f.catalog)),
        CatalogKind::Epss => {
            load_epss(bytes.as_slice(), epss_score_date(&c.version)).map(Table::Epss)
        }
    };
    loaded.map_err(|e| (false, format!("catalog {} does not load: {e}", c.object)))
}

/// What prioritize keeps of the intel the bus delivered (its KV bucket
/// and the catalogs in the reports object store).
struct Delivered {
    tables: Vec<Table>,
    added: BTreeMap<String, KevInput>,
    exploited: BTreeMap<String, ExploitedAdvisory>,
}

async fn delivered(bus: &Bus, state: &StateStore) -> Result<Delivered, BusError> {
    let mut tables = Vec::new();
    for kind in [CatalogKind::Kev, CatalogKind::Epss] {
        let Some(c) = state
            .load::<CatalogLoaded>(&keys::catalog(kind))
            .await?
            .value
        else {
            continue;
        };
        match load_catalog(bus, &c).await {
            Ok(table) => tables.push(table),
            Err((_, reason)) => restore_failed(kind, &c.object, &reason),
        }
    }
    let added = state
        .load::<BTreeMap<String, KevInput>>(keys::KEV_ADDED)
        .await?
        .value
        .unwrap_or_default();
    let exploited = state
        .load::<BTreeMap<String, ExploitedAdvisory>>(keys::EXPLOITED)
        .await?
        .value
        .unwrap_or_default();
    Ok(Delivered {
        tables,
        added,
        exploited,
    })
}

/// Applies what the bus delivered to `intel`: a stored catalog replaces the
/// configured one when it is at least as new, KEV additions the KEV table
/// does not list are added, and the exploited advisories are taken whole.
fn apply_delivered(intel: &mut Intel, d: Delivered) {
    for table in d.tables {
        if older_than_in_force(intel, &table) {
            continue;
        }
        match table {
            Table::Kev(k) => intel.kev = Some(k),
            Table::Epss(e) => intel.epss = Some(e),
        }
    }
    intel.exploited = d.exploited;
    for entry in d.added.values() {
        let listed = intel
            .kev
            .as_ref()
            .is_some_and(|k| k.get(&entry.cve).is_some());
        if !listed {
            reassess::add_kev_entry(intel, entry, date_added_instant(entry));
        }
    }
}

/// Whether `table` was issued before the table of its kind in force (the
/// `[prioritize]` file, or the catalog applied last): such a catalog is
/// never applied, at start, live or in `policy diff`, so all three decide
/// with the same table. KEV compares release *dates* (the CSV form carries
/// no time: the same day's JSON and CSV are the same catalog), EPSS its
/// `score_date`.
fn older_than_in_force(intel: &Intel, table: &Table) -> bool {
    match table {
        Table::Kev(k) => intel
            .kev
            .as_ref()
            .is_some_and(|cur| k.released.date_naive() < cur.released.date_naive()),
        Table::Epss(e) => intel
            .epss
            .as_ref()
            .is_some_and(|cur| e.score_date < cur.score_date),
    }
}

/// The intel prioritize decides with: `configured` (the `[prioritize]`
/// KEV and EPSS files) updated with what the bus delivered — the last
/// KEV and EPSS catalogs loaded (`patchflow feed load`, the feed poller)
/// when at least as new, the KEV additions since, and the CVEs advisories
/// stated exploited. It is what the service restores at start; `patchflow
/// policy diff` replays with it. Reads prioritize's KV bucket and the
/// reports object store; publishes nothing. A stored catalog that no
/// longer loads is logged and skipped.
///
/// # Errors
/// [`BusError`] when the bucket or the object store cannot be read.
pub async fn intel_in_force(bus: &Bus, mut configured: Intel) -> Result<Intel, BusError> {
    let state = bus.state(events::Service::Prioritize).await?;
    let d = delivered(bus, &state).await?;
    apply_delivered(&mut configured, d);
    Ok(configured)
}

impl PrioritizeService {
    /// At start: the catalogs the bus delivered (when newer than the
    /// configured files), then the KEV additions not in the KEV table, then
    /// the CVEs advisories stated exploited ([`intel_in_force`]).
    pub(super) async fn restore_intel(&self) -> Result<(), BusError> {
        let d = delivered(&self.bus, &self.state).await?;
        let mut intel = self.intel.write().unwrap_or_else(PoisonError::into_inner);
        apply_delivered(&mut intel, d);
        Ok(())
    }

    /// `patch.bulletin.kev_added`: add the entry, re-decide the CVE's open
    /// findings (trigger `kev`), then open the emergency lane if any is hit.
    pub(super) async fn on_kev_added(
        &self,
        parent: &Event,
        k: &KevAdded,
    ) -> Result<(), HandleError> {
        let cve = k.entry.cve.trim().to_ascii_uppercase();
        self.modify::<BTreeMap<String, KevInput>>(keys::KEV_ADDED, |m| {
            if m.get(&cve) == Some(&k.entry) {
                return false;
            }
            m.insert(cve.clone(), k.entry.clone());
            true
        })
        .await?;
        {
            let mut intel = self.intel.write().unwrap_or_else(PoisonError::into_inner);
            reassess::add_kev_entry(&mut intel, &k.entry, parent.time);
        }
        let cves: BTreeSet<String> = [cve.clone()].into();
        let by_cve = self.findings_with(&cves).await?;
        let ids: BTreeSet<Uuid> = by_cve.values().flatten().copied().collect();
        let trigger = DecisionTrigger::Intel {
            source: "kev".to_owned(),
            detail: reassess::kev_added_detail(&k.entry),
        };
        let published = self.redecide_all(parent, ids, |_| trigger.clone()).await?;
        info!(%cve, published, "KEV addition applied");
        self.declare(
            parent,
            vec![cve],
            reassess::kev_emergency_reason(k),
            &by_cve,
        )
        .await
    }

    /// `patch.bulletin.catalog_loaded`: reload the table from the object
    /// store, re-decide the open findings of every CVE whose standing
    /// changed (KEV added, removed or re-dated; EPSS crossing a policy
    /// threshold), and remember the catalog for a restart.
    pub(super) async fn on_catalog_loaded(
        &self,
        parent: &Event,
        c: &CatalogLoaded,
    ) -> Result<(), HandleError> {
        let table = load_catalog(&self.bus, c)
            .await
            .map_err(|(transient, reason)| {
                if transient {
                    HandleError::Transient(reason)
                } else {
                    HandleError::Poison(reason)
                }
            })?;
        let source = match c.kind {
            CatalogKind::Kev => "kev",
            CatalogKind::Epss => "epss",
        };
        let stale = {
            let intel = self.intel.read().unwrap_or_else(PoisonError::into_inner);
            older_than_in_force(&intel, &table)
        };
        if stale {
            warn!(
                kind = source,
                version = %c.version,
                object = %c.object,
                "catalog issued before the table in force; not applied"
            );
            return Ok(());
        }
        // The changes are computed once per catalog object and stored before
        // the table is swapped, so a retry or a restart part-way resumes them
        // (a second diff against the swapped table would find none).
        let changes_key = keys::catalog_changes(c.kind);
        let pending = self
            .state
            .load::<CatalogChanges>(&changes_key)
            .await?
            .value
            .filter(|p| p.object == c.object);
        let mut kev_listed = BTreeSet::new();
        let computed = match table {
            Table::Kev(mut catalog) => {
                let added = self
                    .state
                    .load::<BTreeMap<String, KevInput>>(keys::KEV_ADDED)
                    .await?
                    .value
                    .unwrap_or_default();
                kev_listed = catalog.entries.keys().cloned().collect();
                // Additions the catalog does not list yet stay.
                for (cve, e) in &added {
                    if !catalog.entries.contains_key(cve) {
                        catalog.entries.insert(cve.clone(), e.clone());
                    }
                }
                let mut intel = self.intel.write().unwrap_or_else(PoisonError::into_inner);
                let changes = reassess::kev_changes(intel.kev.as_ref(), &catalog);
                intel.kev = Some(catalog);
                changes
            }
            Table::Epss(table) => {
                let thresholds = [
                    self.policy.epss.probability_threshold,
                    self.policy.ssvc.poc_epss_probability,
                ];
                let mut intel = self.intel.write().unwrap_or_else(PoisonError::into_inner);
                let mut changes =
                    reassess::epss_crossings(intel.epss.as_ref(), &table, &thresholds);
                if let Some(t) = self.policy.epss.percentile_threshold {
                    let by_percentile = reassess::epss_percentile_crossings(
                        intel.epss.as_ref(),
                        &table,
                        t,
                        &changes,
                    );
                    changes.extend(by_percentile);
                }
                intel.epss = Some(table);
                changes
            }
        };
        let changes = match pending {
            Some(p) if p.done => BTreeMap::new(),
            Some(p) => p.changes,
            None => {
                let p = CatalogChanges {
                    object: c.object.clone(),
                    changes: computed,
                    done: false,
                };
                self.state.put(&changes_key, &p).await?;
                p.changes
            }
        };
        let cves: BTreeSet<String> = changes.keys().cloned().collect();
        let ids: BTreeSet<Uuid> = self
            .findings_with(&cves)
            .await?
            .into_values()
            .flatten()
            .collect();
        let published = self
            .redecide_all(parent, ids, |r| {
                let detail = r
                    .cves()
                    .iter()
                    .find_map(|cve| changes.get(&cve.to_ascii_uppercase()))
                    .cloned()
                    .unwrap_or_else(|| format!("{source} catalog {} loaded", c.version));
                DecisionTrigger::Intel {
                    source: source.to_owned(),
                    detail,
                }
            })
            .await?;
        // Applied: remember the catalog for a restart, drop the additions it
        // now lists, mark the changes done.
        self.state.put(&keys::catalog(c.kind), c).await?;
        if !kev_listed.is_empty() {
            self.modify::<BTreeMap<String, KevInput>>(keys::KEV_ADDED, |m| {
                let before = m.len();
                m.retain(|cve, _| !kev_listed.contains(cve));
                m.len() != before
            })
            .await?;
        }
        self.state
            .put(
                &changes_key,
                &CatalogChanges {
                    object: c.object.clone(),
                    changes: changes.clone(),
                    done: true,
                },
            )
            .await?;
        info!(kind = source, version = %c.version, changed_cves = changes.len(), published, "catalog applied");
        Ok(())
    }

    /// `patch.bulletin.advisory`: an advisory stating exploitation in the
    /// wild (or withdrawn) updates the CVEs stated exploited (KV first,
    /// then the table, [`reassess::apply_advisory`]), re-decides the open
    /// findings of its CVEs (trigger `intel`, source `advisory`: the rule
    /// `exploited_advisory` raises them to critical), then opens the
    /// emergency lane for its CVEs that hit open findings. An advisory
    /// that states no exploitation changes nothing. A redelivery
    /// re-decides again, which publishes only what is still unpublished.
    pub(super) async fn on_advisory(
        &self,
        parent: &Event,
        a: &AdvisoryPublished,
    ) -> Result<(), HandleError> {
        let stated = ExploitedAdvisory::of(a, parent.time);
        let set = {
            let intel = self.intel.read().unwrap_or_else(PoisonError::into_inner);
            reassess::advisory_cves(&intel.exploited, a)
        };
        if set.is_empty() {
            return Ok(());
        }
        let stored = self
            .modify::<BTreeMap<String, ExploitedAdvisory>>(keys::EXPLOITED, |m| {
                !reassess::apply_advisory(m, a, &stated).is_empty()
            })
            .await?;
        // The table follows the KV value (which also holds what another
        // instance stored).
        self.intel
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .exploited = stored;
        let by_cve = self.findings_with(&set).await?;
        let ids: BTreeSet<Uuid> = by_cve.values().flatten().copied().collect();
        let trigger = DecisionTrigger::Intel {
            source: "advisory".to_owned(),
            detail: reassess::advisory_detail(a, &stated),
        };
        let published = self.redecide_all(parent, ids, |_| trigger.clone()).await?;
        info!(advisory = %a.id, cves = set.len(), published, "advisory applied");
        let cves = reassess::exploited_cves(a);
        if cves.is_empty() {
            return Ok(());
        }
        self.declare(
            parent,
            cves,
            reassess::advisory_emergency_reason(a),
            &by_cve,
        )
        .await
    }
}

/// The KEV `dateAdded` as an instant (midnight UTC), for entries restored
/// without their bulletin's time.
fn date_added_instant(e: &KevInput) -> DateTime<Utc> {
    e.date_added
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalog_issued_before_the_table_in_force_is_older() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let kev = |released: &str| KevCatalog {
            catalog_version: "v".into(),
            released: at(released),
            entries: Default::default(),
            warnings: Vec::new(),
        };
        let epss = |date: &str| EpssTable {
            model_version: None,
            score_date: at(date),
            scores: Default::default(),
            warnings: Vec::new(),
        };
        let intel = Intel {
            kev: Some(kev("2025-08-25T17:04:19Z")),
            epss: Some(epss("2026-11-29T00:00:00Z")),
            exploited: BTreeMap::new(),
        };
        let older = |t: Table| older_than_in_force(&intel, &t);
        assert!(older(Table::Kev(kev("2023-04-12T11:35:19Z"))));
        // The same day's CSV (no time: midnight) is the same catalog.
        assert!(!older(Table::Kev(kev("2025-08-25T00:00:00Z"))));
        assert!(!older(Table::Kev(kev("2025-09-02T14:00:00Z"))));
        assert!(older(Table::Epss(epss("2025-03-17T00:00:00Z"))));
        assert!(!older(Table::Epss(epss("2026-11-29T00:00:00Z"))));
        // Nothing in force: nothing is older.
        let empty = Intel::default();
        assert!(!older_than_in_force(
            &empty,
            &Table::Kev(kev("2023-04-12T00:00:00Z"))
        ));
    }

    #[test]
    fn epss_versions_name_their_score_date() {
        let table: &[(&str, Option<&str>)] = &[
            (
                "v2025.03.14@2025-03-17T12:55:00Z",
                Some("2025-03-17T12:55:00Z"),
            ),
            ("v2025.03.14@2025-03-17", Some("2025-03-17T00:00:00Z")),
            ("2025-03-17", Some("2025-03-17T00:00:00Z")),
            ("v2025.03.14", None),
        ];
        for (version, want) in table {
            assert_eq!(
                epss_score_date(version),
                want.map(|w| w.parse::<DateTime<Utc>>().unwrap()),
                "{version}"
            );
        }
    }
}
