//! Assets: the hosts findings are observed on, with the attributes inventory
//! gives them (`patch.asset.upserted`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A managed host and what patchflow knows of it.
///
/// `asset_id` is the reconciled identity: the lower-case short host name when
/// one is known, else the IP address, else the scanner's host label. It is the
/// key of agent subjects (`patch.agent.job.<asset_id>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Asset {
    /// Reconciled identity (see the type docs).
    pub asset_id: String,
    /// Short host name, as reported.
    pub hostname: Option<String>,
    /// IPv4 or IPv6 address, as reported.
    pub ip: Option<String>,
    /// Fully qualified domain name.
    pub fqdn: Option<String>,
    /// Operating system as reported by the scanner.
    pub os: Option<String>,
    /// MAC address.
    pub mac: Option<String>,
    /// Rollout ring (`dev`, `test`, `staging`, `prod`), from inventory.
    pub ring: Option<String>,
    /// Criticality tier: 1 = most critical … 4 = least, from inventory.
    pub tier: Option<u8>,
    /// Reachable from the internet, from inventory.
    pub internet_facing: Option<bool>,
    /// Owning team or person, from inventory.
    pub owner: Option<String>,
    /// Name of the asset's maintenance window, from inventory.
    pub window: Option<String>,
    /// The id of the agent installed on the host (a patchflow agent, an EDR
    /// or scanner agent), from inventory or an agent-based scan: the most
    /// trusted identifier when ingest reconciles a scanned host with a known
    /// asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

impl Asset {
    /// Overlays the inventory attributes of `inventory` (ring, tier, exposure,
    /// owner, window) and fills identity fields this asset lacks.
    pub fn enrich(&mut self, inventory: &Asset) {
        fn fill<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
            if dst.is_none() {
                dst.clone_from(src);
            }
        }
        fn overlay<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
            if src.is_some() {
                dst.clone_from(src);
            }
        }
        fill(&mut self.hostname, &inventory.hostname);
        fill(&mut self.ip, &inventory.ip);
        fill(&mut self.fqdn, &inventory.fqdn);
        fill(&mut self.os, &inventory.os);
        fill(&mut self.mac, &inventory.mac);
        fill(&mut self.agent_id, &inventory.agent_id);
        overlay(&mut self.ring, &inventory.ring);
        overlay(&mut self.tier, &inventory.tier);
        overlay(&mut self.internet_facing, &inventory.internet_facing);
        overlay(&mut self.owner, &inventory.owner);
        overlay(&mut self.window, &inventory.window);
    }
}

/// Where an asset record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetSource {
    /// The inventory CSV of the ingest configuration.
    Inventory,
    /// A scan report (host properties and informational items).
    Scan,
    /// An external CMDB publishing on the bus.
    Cmdb,
}

/// An informational scanner item kept as a fact about the asset, not a finding
/// (Nessus severity 0: "Nessus Scan Information", "SYN scanner", …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AssetFact {
    /// Scanner check id (Nessus plugin id).
    pub check_id: String,
    /// Check title.
    pub name: String,
    /// Port (`0` = host level).
    pub port: u16,
    /// Lower-case protocol.
    pub protocol: String,
    /// Service name as reported.
    pub service: Option<String>,
}

/// `patch.asset.upserted`: an asset and its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AssetUpserted {
    /// The asset as now known.
    pub asset: Asset,
    /// Who said so.
    pub source: AssetSource,
    /// The scan it came from, when `source` is `scan`.
    pub scan_id: Option<Uuid>,
    /// Informational items of that scan for this asset (empty otherwise).
    pub facts: Vec<AssetFact>,
}
