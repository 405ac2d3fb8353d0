//! Asset reconciliation: which known asset a scanned host (or an inventory
//! row, or a CMDB record) is, so one machine keeps one asset id whatever
//! name a scanner gives it today.
//!
//! Pure: the adapter loads the candidates from its KV asset store (an index
//! `ident.<kind>.<value>` → asset id, and `known.<asset id>` →
//! [`KnownAsset`]), calls [`reconcile`], publishes, then stores.
//!
//! # Rules
//!
//! - **Identifiers** ([`identifiers`]), in order of trust: the agent id, the
//!   FQDN (canonical, [`identity::canonical_fqdn`]), the host name (lower
//!   case; a web-application target's whole host), every IP address
//!   (canonical) and every MAC address (canonical; all-zero and broadcast
//!   addresses are not identifiers). An asset with none of them — a scanned
//!   artifact (image, directory, repository) — is identified by its name,
//!   the asset id the format gave it.
//! - **Match**: the identifiers of the scanned host are tried in that order;
//!   the first one whose index entry names a known asset that still carries
//!   that identifier ([`KnownAsset::current`]; a name the asset gave up is
//!   stale and matches nothing) and that passes the conflict checks below
//!   wins. A weaker identifier never overrides a stronger match.
//! - **Conflicts** (a weaker identifier shared by two different machines):
//!   - different agent ids on both sides: never the same asset;
//!   - a host-name match where both sides have an FQDN and they differ
//!     (`web01.corp-a.example` vs `web01.corp-b.example`) is refused;
//!   - an IP match where both sides have MAC addresses and share none (an
//!     address reassigned by DHCP to another machine) is refused.
//!
//!   So a changed DNS name on the same IP (and MAC, when both know one)
//!   keeps the asset id (the point of this module), and so does a changed
//!   IP on the same MAC.
//! - **New asset**: no match gives a new asset whose id is the proposed one
//!   ([`identity`] rules) unless a different known asset already has that
//!   id; then the first free one of the FQDN, the IP, the MAC
//!   ([`new_id_candidates`]), else the proposed id with a suffix derived
//!   from its identifiers.
//! - **What is kept** ([`KnownAsset`]): the asset as last published (latest
//!   identity fields; inventory attributes — ring, tier, exposure, owner,
//!   window — only ever set by the inventory or a CMDB), the identifiers the
//!   inventory gave and those of the latest scan. The current identifiers
//!   are their union.

use std::collections::{BTreeMap, BTreeSet};

use events::Asset;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity;

/// A kind of host identifier, ordered from most to least trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentKind {
    /// An agent's id (patchflow agent, EDR or scanner agent).
    Agent,
    /// A fully qualified domain name.
    Fqdn,
    /// A host name (short name, or a web-application target's host).
    Host,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A MAC address.
    Mac,
    /// The name of a scanned artifact without any host identifier (a
    /// container image, a directory, a repository): its asset id.
    Artifact,
}

impl IdentKind {
    /// Lower-case name, as used in KV keys.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentKind::Agent => "agent",
            IdentKind::Fqdn => "fqdn",
            IdentKind::Host => "host",
            IdentKind::Ip => "ip",
            IdentKind::Mac => "mac",
            IdentKind::Artifact => "artifact",
        }
    }
}

/// One identifier of a host, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ident {
    /// Its kind.
    pub kind: IdentKind,
    /// Its canonical value (see [`identifiers`]).
    pub value: String,
}

impl Ident {
    /// An identifier of `kind` with an already canonical `value`.
    pub fn new(kind: IdentKind, value: impl Into<String>) -> Ident {
        Ident {
            kind,
            value: value.into(),
        }
    }
}

/// The identifiers of `asset`, in order of trust, canonical and
/// de-duplicated:
/// `agent_id` (trimmed), `fqdn` (or a dotted `hostname`) via
/// [`identity::canonical_fqdn`], `hostname` lower-cased, `ip` via
/// [`identity::canonical_ip`], and every address of `mac` via
/// [`identity::macs`]; when none of these exists, the asset id as an
/// [`IdentKind::Artifact`].
pub fn identifiers(asset: &Asset) -> Vec<Ident> {
    fn add(out: &mut Vec<Ident>, kind: IdentKind, value: Option<String>) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            let ident = Ident::new(kind, value);
            if !out.contains(&ident) {
                out.push(ident);
            }
        }
    }
    let mut out: Vec<Ident> = Vec::new();
    let mut push = |kind: IdentKind, value: Option<String>| add(&mut out, kind, value);
    push(
        IdentKind::Agent,
        asset.agent_id.as_deref().map(|a| a.trim().to_owned()),
    );
    push(
        IdentKind::Fqdn,
        asset.fqdn.as_deref().and_then(identity::canonical_fqdn),
    );
    if asset.fqdn.is_none() {
        push(
            IdentKind::Fqdn,
            asset.hostname.as_deref().and_then(identity::canonical_fqdn),
        );
    }
    push(
        IdentKind::Host,
        asset
            .hostname
            .as_deref()
            .map(|h| h.trim().trim_end_matches('.').to_lowercase())
            .filter(|h| !identity::is_ip(h)),
    );
    push(
        IdentKind::Ip,
        asset.ip.as_deref().and_then(identity::canonical_ip),
    );
    for mac in asset.mac.as_deref().map(identity::macs).unwrap_or_default() {
        push(IdentKind::Mac, Some(mac));
    }
    if out.is_empty() {
        add(&mut out, IdentKind::Artifact, Some(asset.asset_id.clone()));
    }
    out
}

/// What ingest keeps of an asset it knows (KV `known.<asset id>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KnownAsset {
    /// The asset as last published: its (reconciled) id, latest identity
    /// fields and its inventory attributes.
    pub asset: Asset,
    /// Identifiers the inventory (file or CMDB) gave it.
    #[serde(default)]
    pub inventory: Vec<Ident>,
    /// Identifiers of the latest scan that saw it.
    #[serde(default)]
    pub observed: Vec<Ident>,
}

impl KnownAsset {
    /// The identifiers it currently has: the inventory's and the latest
    /// scan's, sorted, de-duplicated.
    pub fn current(&self) -> BTreeSet<&Ident> {
        self.inventory.iter().chain(&self.observed).collect()
    }

    fn values(&self, kind: IdentKind) -> BTreeSet<&str> {
        self.current()
            .into_iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.value.as_str())
            .collect()
    }

    /// A scan saw it as `scanned` (already carrying the reconciled id):
    /// returns the asset to publish — the scan's identity fields, gaps
    /// filled from what is known, inventory attributes overlaid
    /// ([`Asset::enrich`]) — and records it with the scan's identifiers.
    pub fn observe(&mut self, scanned: &Asset) -> Asset {
        let mut published = scanned.clone();
        published.enrich(&self.asset);
        self.asset = published.clone();
        self.observed = identifiers(scanned);
        published
    }

    /// The inventory (file or CMDB) describes it as `row`: its attributes
    /// (ring, tier, exposure, owner, window, agent id) replace the known
    /// ones when given, its identity fields fill gaps (a scan is fresher
    /// about addresses), and its identifiers become the inventory's. The
    /// asset id never changes. Returns whether anything changed.
    pub fn inventory(&mut self, row: &Asset) -> bool {
        let before = self.clone();
        let id = self.asset.asset_id.clone();
        let mut merged = self.asset.clone();
        merged.enrich(row);
        if row.agent_id.is_some() {
            merged.agent_id.clone_from(&row.agent_id);
        }
        merged.asset_id = id;
        self.asset = merged;
        self.inventory = identifiers(row);
        *self != before
    }
}

/// The outcome of [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// A known asset, matched by `by`.
    Known {
        /// Its asset id.
        asset_id: String,
        /// The identifier that matched.
        by: Ident,
    },
    /// No known asset matched: a new one with this id.
    New {
        /// The id it gets.
        asset_id: String,
    },
}

impl Reconciled {
    /// The asset id either way.
    pub fn asset_id(&self) -> &str {
        match self {
            Reconciled::Known { asset_id, .. } | Reconciled::New { asset_id } => asset_id,
        }
    }
}

/// The ids a new asset may take, best first: the proposed `asset_id`, the
/// canonical FQDN, the canonical IP, the MAC addresses. The adapter loads
/// `known.<id>` for each and passes the taken ones to [`reconcile`].
pub fn new_id_candidates(asset: &Asset) -> Vec<String> {
    let mut out = vec![asset.asset_id.clone()];
    for ident in identifiers(asset) {
        if matches!(ident.kind, IdentKind::Fqdn | IdentKind::Ip | IdentKind::Mac)
            && !out.contains(&ident.value)
        {
            out.push(ident.value);
        }
    }
    out
}

/// Namespace of the suffix of a new asset whose every candidate id is taken.
const ID_SUFFIX_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_07a4_8a52_4a4b_9d0e_0000_0000_0003);

/// Decides which known asset `scanned` is (see the module rules).
///
/// - `candidates`: for each identifier of `scanned` whose index entry exists,
///   the known asset it names (stale or not; this function checks);
/// - `taken`: the ids among [`new_id_candidates`]`(scanned)` that a known
///   asset already has.
pub fn reconcile(
    scanned: &Asset,
    candidates: &BTreeMap<Ident, KnownAsset>,
    taken: &BTreeSet<String>,
) -> Reconciled {
    let mine = identifiers(scanned);
    let mine_of = |kind: IdentKind| -> BTreeSet<&str> {
        mine.iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.value.as_str())
            .collect()
    };
    let conflicts = |kind: IdentKind, known: &KnownAsset| {
        let (a, b) = (mine_of(kind), known.values(kind));
        !a.is_empty() && !b.is_empty() && a.is_disjoint(&b)
    };
    for ident in &mine {
        let Some(known) = candidates.get(ident) else {
            continue;
        };
        if !known.current().contains(ident) || known.asset.asset_id.is_empty() {
            continue;
        }
        let refused = conflicts(IdentKind::Agent, known)
            || (ident.kind == IdentKind::Host && conflicts(IdentKind::Fqdn, known))
            || (ident.kind == IdentKind::Ip && conflicts(IdentKind::Mac, known));
        if !refused {
            return Reconciled::Known {
                asset_id: known.asset.asset_id.clone(),
                by: ident.clone(),
            };
        }
    }
    let asset_id = new_id_candidates(scanned)
        .into_iter()
        .find(|id| !id.is_empty() && !taken.contains(id))
        .unwrap_or_else(|| {
            let name: Vec<String> = mine
                .iter()
                .map(|i| format!("{}={}", i.kind.as_str(), i.value))
                .collect();
            let suffix = Uuid::new_v5(&ID_SUFFIX_NAMESPACE, name.join(",").as_bytes()).simple();
            let suffix = suffix.to_string();
            format!(
                "{}-{}",
                scanned.asset_id,
                suffix.get(..8).unwrap_or(&suffix)
            )
        });
    Reconciled::New { asset_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(
        id: &str,
        host: Option<&str>,
        fqdn: Option<&str>,
        ip: Option<&str>,
        mac: Option<&str>,
    ) -> Asset {
        Asset {
            asset_id: id.to_owned(),
            hostname: host.map(str::to_owned),
            fqdn: fqdn.map(str::to_owned),
            ip: ip.map(str::to_owned),
            mac: mac.map(str::to_owned),
            ..Asset::default()
        }
    }

    /// A store holding `known` assets, as the adapter would load it for
    /// `scanned`: every identifier of `scanned` that some known asset ever
    /// had (current or not, per `index`) maps to that asset.
    fn candidates(
        scanned: &Asset,
        known: &[KnownAsset],
        index: &[(Ident, &str)],
    ) -> BTreeMap<Ident, KnownAsset> {
        let mut out = BTreeMap::new();
        for ident in identifiers(scanned) {
            let by_index = index.iter().find(|(i, _)| *i == ident).map(|(_, id)| *id);
            let by_current = known
                .iter()
                .find(|k| k.current().contains(&ident))
                .map(|k| k.asset.asset_id.as_str());
            let id = by_index.or(by_current);
            if let Some(k) = known.iter().find(|k| Some(k.asset.asset_id.as_str()) == id) {
                out.insert(ident, k.clone());
            }
        }
        out
    }

    fn known(a: Asset) -> KnownAsset {
        let mut k = KnownAsset {
            asset: Asset {
                asset_id: a.asset_id.clone(),
                ..Asset::default()
            },
            ..KnownAsset::default()
        };
        k.observe(&a);
        k
    }

    fn check(
        name: &str,
        scanned: Asset,
        known_assets: &[KnownAsset],
        index: &[(Ident, &str)],
        taken: &[&str],
        want: &str,
        want_known: bool,
    ) {
        let c = candidates(&scanned, known_assets, index);
        let taken: BTreeSet<String> = taken.iter().map(|s| (*s).to_owned()).collect();
        let got = reconcile(&scanned, &c, &taken);
        assert_eq!(got.asset_id(), want, "{name}: {got:?}");
        assert_eq!(
            matches!(got, Reconciled::Known { .. }),
            want_known,
            "{name}: {got:?}"
        );
    }

    #[test]
    fn identifiers_are_canonical_and_in_trust_order() {
        let mut a = asset(
            "web01",
            Some("Web01"),
            Some("Web01.Example.com."),
            Some("10.0.0.5"),
            Some("00:50:56:A1:B2:C3\n00:00:00:00:00:00"),
        );
        a.agent_id = Some(" agent-7 ".into());
        let ids: Vec<(IdentKind, String)> = identifiers(&a)
            .into_iter()
            .map(|i| (i.kind, i.value))
            .collect();
        assert_eq!(
            ids,
            vec![
                (IdentKind::Agent, "agent-7".to_owned()),
                (IdentKind::Fqdn, "web01.example.com".to_owned()),
                (IdentKind::Host, "web01".to_owned()),
                (IdentKind::Ip, "10.0.0.5".to_owned()),
                (IdentKind::Mac, "00:50:56:a1:b2:c3".to_owned()),
            ]
        );
    }

    #[test]
    fn scanned_hosts_reconcile_by_trust_order_and_refuse_conflicts() {
        let web01 = known(asset(
            "web01",
            Some("web01"),
            Some("web01.example.com"),
            Some("10.0.0.5"),
            Some("00:50:56:00:00:01"),
        ));
        let db01 = known(asset("db01", Some("db01"), None, Some("10.0.0.6"), None));
        let mut agent_box = known(asset("box", Some("box"), None, Some("10.0.0.9"), None));
        agent_box.inventory = vec![Ident::new(IdentKind::Agent, "A-1")];
        let store = [web01.clone(), db01.clone(), agent_box.clone()];
        let stale_name = (Ident::new(IdentKind::Fqdn, "old.example.com"), "db01");

        // (name, scanned, index extras, taken, want id, known?)
        check(
            "same name, same everything",
            asset(
                "web01",
                Some("web01"),
                Some("web01.example.com"),
                Some("10.0.0.5"),
                None,
            ),
            &store,
            &[],
            &[],
            "web01",
            true,
        );
        check(
            "DNS name changed, same IP and MAC: the id does not flip",
            asset(
                "web01-new",
                Some("web01-new"),
                Some("web01-new.example.com"),
                Some("10.0.0.5"),
                Some("00-50-56-00-00-01"),
            ),
            &store,
            &[],
            &["web01-new"],
            "web01",
            true,
        );
        check(
            "domain changed, same short name: host match refused (FQDNs differ), the IP matches",
            asset(
                "web01",
                Some("web01"),
                Some("web01.new.example"),
                Some("10.0.0.5"),
                None,
            ),
            &store,
            &[],
            &["web01"],
            "web01",
            true,
        );
        check(
            "same short name in another domain, other IP: a new asset named by its FQDN",
            asset(
                "web01",
                Some("web01"),
                Some("web01.corp-b.example"),
                Some("10.9.9.9"),
                None,
            ),
            &store,
            &[],
            &["web01"],
            "web01.corp-b.example",
            false,
        );
        check(
            "IP reassigned to another machine (other MAC): no match",
            asset(
                "10.0.0.5",
                None,
                None,
                Some("10.0.0.5"),
                Some("00:50:56:00:00:99"),
            ),
            &store,
            &[],
            &[],
            "10.0.0.5",
            false,
        );
        check(
            "IP changed, same MAC: MAC matches",
            asset(
                "10.0.0.77",
                None,
                None,
                Some("10.0.0.77"),
                Some("00:50:56:00:00:01"),
            ),
            &store,
            &[],
            &[],
            "web01",
            true,
        );
        check(
            "IP only, no MACs to compare: the IP matches",
            asset("10.0.0.6", None, None, Some("10.0.0.6"), None),
            &store,
            &[],
            &[],
            "db01",
            true,
        );
        check(
            "agent id beats a host name that points elsewhere",
            Asset {
                agent_id: Some("A-1".into()),
                ..asset("db01", Some("db01"), None, None, None)
            },
            &store,
            &[],
            &["db01"],
            "box",
            true,
        );
        check(
            "different agent ids: never the same asset",
            Asset {
                agent_id: Some("A-2".into()),
                ..asset("box", Some("box"), None, Some("10.0.0.9"), None)
            },
            &store,
            &[],
            &["box"],
            "10.0.0.9",
            false,
        );
        check(
            "a name the asset gave up (stale index entry) matches nothing",
            asset(
                "old",
                Some("old"),
                Some("old.example.com"),
                Some("10.8.8.8"),
                None,
            ),
            &store,
            &[stale_name],
            &[],
            "old",
            false,
        );
    }

    #[test]
    fn artifacts_are_identified_by_their_name() {
        let image = asset("registry.example/app:1.2", None, None, None, None);
        let ids = identifiers(&image);
        assert_eq!(
            ids,
            vec![Ident::new(IdentKind::Artifact, "registry.example/app:1.2")]
        );
        let store = [known(image.clone())];
        check(
            "the same artifact again",
            image.clone(),
            &store,
            &[],
            &[image.asset_id.as_str()],
            "registry.example/app:1.2",
            true,
        );
    }

    #[test]
    fn a_new_id_with_every_candidate_taken_is_stable() {
        let a = asset("x", Some("x"), None, Some("10.7.7.7"), None);
        let taken: BTreeSet<String> = ["x", "10.7.7.7"].iter().map(|s| (*s).to_owned()).collect();
        let first = reconcile(&a, &BTreeMap::new(), &taken);
        let second = reconcile(&a, &BTreeMap::new(), &taken);
        assert_eq!(first, second);
        assert!(
            first.asset_id().starts_with("x-") && first.asset_id().len() == 10,
            "{first:?}"
        );
    }

    #[test]
    fn inventory_sets_attributes_and_scans_keep_them() {
        let mut k = KnownAsset {
            asset: Asset {
                asset_id: "web01".into(),
                ..Asset::default()
            },
            ..KnownAsset::default()
        };
        let row = Asset {
            ring: Some("prod".into()),
            tier: Some(1),
            internet_facing: Some(true),
            owner: Some("web-team".into()),
            window: Some("sun".into()),
            ..asset("web01", Some("web01"), None, Some("10.0.0.5"), None)
        };
        assert!(k.inventory(&row));
        assert!(!k.inventory(&row), "the same row again changes nothing");
        let published = k.observe(&asset(
            "web01",
            Some("web01-new"),
            Some("web01-new.example.com"),
            Some("10.0.0.5"),
            None,
        ));
        assert_eq!(published.asset_id, "web01");
        assert_eq!(published.hostname.as_deref(), Some("web01-new"));
        assert_eq!(
            (published.ring.as_deref(), published.tier),
            (Some("prod"), Some(1))
        );
        assert_eq!(published.owner.as_deref(), Some("web-team"));
        let current: Vec<String> = k.current().iter().map(|i| i.value.clone()).collect();
        assert!(
            current.contains(&"web01-new.example.com".to_owned()),
            "{current:?}"
        );
        assert!(
            current.contains(&"web01".to_owned()),
            "inventory name kept: {current:?}"
        );
    }
}
