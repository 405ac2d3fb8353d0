//! The asset inventory: which environment (ring), criticality (tier),
//! exposure, owner and maintenance window each host has, and the
//! identifiers it is known by. Read from a CSV or JSON file (the
//! configuration's `[ingest] inventory`); the same attributes arrive from a
//! CMDB as `patch.asset.upserted` with source `cmdb` (see
//! [`crate::adapter`]). Both feed ingest's asset store, which scanned hosts
//! are reconciled with ([`crate::reconcile`]).
//!
//! # CSV
//!
//! ```text
//! hostname,ip,ring,tier,internet_facing,owner,window
//! web01.example.com,10.0.0.11,prod,1,yes,web-team,weekend
//! db01,,staging,2,false,"dba, core",
//! ```
//!
//! - A header line names the columns, in any order, each once (names are
//!   matched case-insensitively; an unknown column is an error, so a typo is
//!   not silently ignored). Every column is optional, but at least one of
//!   `hostname`, `fqdn`, `ip` must be there.
//! - Columns (aliases in parentheses):
//!   - `hostname`: a short name or an FQDN (not an IP: that goes in `ip`);
//!   - `fqdn`: a fully qualified name;
//!   - `ip`: an IPv4 or IPv6 address;
//!   - `mac`: one or more MAC addresses (separated by spaces or `;`);
//!   - `agent_id`: the id of the agent on the host;
//!   - `ring` (`environment`, `env`): the rollout ring, lower-cased (`dev`,
//!     `test`, `staging`, `prod`);
//!   - `tier` (`criticality`): 1 = most critical … 4 = least, or the words
//!     `critical`, `high`, `medium`, `low` (1 … 4);
//!   - `internet_facing` (`exposure`): `true`/`false`, `yes`/`no`, `1`/`0`,
//!     or `internet`, `external`, `public` (true) and `internal`, `private`
//!     (false), any case;
//!   - `owner`: free text;
//!   - `window` (`maintenance_window`): free text naming a maintenance
//!     window.
//! - An empty cell means unknown. Every row needs a `hostname`, an `fqdn` or
//!   an `ip`.
//! - UTF-8 with or without a BOM, LF or CRLF line ends, RFC 4180 quoting.
//!
//! # JSON
//!
//! An array of objects, or an object whose `assets` member is one; each
//! object has the CSV's columns as members (same names, aliases and
//! rules), with string, number, boolean or `null` values:
//!
//! ```text
//! {"assets": [
//!   {"hostname": "web01", "fqdn": "web01.example.com", "ip": "10.0.0.11",
//!    "environment": "prod", "criticality": 1, "exposure": "internet",
//!    "owner": "web-team", "window": "weekend", "mac": "00:50:56:a1:b2:c3"}
//! ]}
//! ```
//!
//! The format is told from the content: a file whose first non-blank
//! character is `[` or `{` is JSON, anything else CSV.
//!
//! # Identity
//!
//! The `asset_id` of an entry follows the same rule as scanner assets
//! ([`crate::identity`]): the lower-case short host name (from `hostname`,
//! else the first label of `fqdn`), else the IP. Two entries with the same
//! asset id, IP, FQDN, MAC or agent id are an error: a lookup must never be
//! ambiguous.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use events::Asset;

use crate::identity;

/// Why an inventory file was refused. Every variant names where: the line
/// (1-based) and, for a bad cell, the column (1-based, with its name) of a
/// CSV; the entry (1-based) and member of a JSON file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// The header line is missing or wrong.
    #[error("inventory line 1 (header): {reason}")]
    Header {
        /// What is wrong.
        reason: String,
    },
    /// A cell does not parse.
    #[error("inventory line {line}, column {column} ({name}): {reason}")]
    Cell {
        /// Line of the row.
        line: u64,
        /// Column number (1-based).
        column: usize,
        /// Column name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A row as a whole is wrong (cell count, no identity, duplicate).
    #[error("inventory line {line}: {reason}")]
    Row {
        /// Line of the row.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A JSON entry, or one of its members, is wrong.
    #[error("inventory entry {entry}{}: {reason}", member.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Entry {
        /// The entry's position in the array (1-based).
        entry: usize,
        /// The member, when one is at fault.
        member: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// The JSON document as a whole is wrong (not JSON, not an array).
    #[error("inventory JSON: {reason}")]
    Json {
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read.
    #[error("inventory read error: {reason}")]
    Read {
        /// The I/O error.
        reason: String,
    },
}

/// The inventory's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Hostname,
    Fqdn,
    Ip,
    Mac,
    AgentId,
    Ring,
    Tier,
    InternetFacing,
    Owner,
    Window,
}

impl Column {
    const ALL: [Column; 10] = [
        Column::Hostname,
        Column::Fqdn,
        Column::Ip,
        Column::Mac,
        Column::AgentId,
        Column::Ring,
        Column::Tier,
        Column::InternetFacing,
        Column::Owner,
        Column::Window,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::Hostname => "hostname",
            Column::Fqdn => "fqdn",
            Column::Ip => "ip",
            Column::Mac => "mac",
            Column::AgentId => "agent_id",
            Column::Ring => "ring",
            Column::Tier => "tier",
            Column::InternetFacing => "internet_facing",
            Column::Owner => "owner",
            Column::Window => "window",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Ring => &["environment", "env"],
            Column::Tier => &["criticality"],
            Column::InternetFacing => &["exposure"],
            Column::Window => &["maintenance_window"],
            _ => &[],
        }
    }

    /// The column a header cell or JSON member names (case-insensitive).
    fn named(name: &str) -> Option<Column> {
        let name = name
            .trim_start_matches('\u{feff}')
            .trim()
            .to_ascii_lowercase();
        Column::ALL
            .into_iter()
            .find(|c| c.name() == name || c.aliases().contains(&name.as_str()))
    }

    fn identifies(self) -> bool {
        matches!(self, Column::Hostname | Column::Fqdn | Column::Ip)
    }
}

const EXPECTED: &str = "expected columns among hostname, fqdn, ip, mac, agent_id, ring (environment), tier (criticality), internet_facing (exposure), owner, window; at least one of hostname, fqdn, ip";

/// The parsed inventory: its assets and indexes by name and IP.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    assets: Vec<Asset>,
    /// Lower-case full names (FQDN and short name) → index.
    by_name: HashMap<String, usize>,
    /// Asset id of named rows → index.
    by_short: HashMap<String, usize>,
    /// Canonical IP → index.
    by_ip: HashMap<String, usize>,
    /// Other unique identifiers (`fqdn:…`, `mac:…`, `agent:…`) → index, for
    /// duplicate checks.
    unique: HashMap<String, usize>,
    /// Where each asset came from (`line 3`, `entry 2`), for duplicate errors.
    places: Vec<String>,
}

impl Inventory {
    /// Reads an inventory, CSV or JSON (told from the content; see the
    /// module docs for both formats).
    ///
    /// # Errors
    /// [`InventoryError`] naming the line and column (CSV) or the entry and
    /// member (JSON) of the first problem.
    pub fn from_reader<R: Read>(input: R) -> Result<Inventory, InventoryError> {
        let read = |e: std::io::Error| InventoryError::Read {
            reason: e.to_string(),
        };
        let mut input = BufReader::new(input);
        let is_json = loop {
            let buf = input.fill_buf().map_err(read)?;
            if buf.is_empty() {
                break false;
            }
            let text = String::from_utf8_lossy(buf);
            match text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .chars()
                .next()
            {
                Some(c) => break c == '[' || c == '{',
                // Only blanks so far: they change nothing in either format.
                None => {
                    let n = buf.len();
                    input.consume(n);
                }
            }
        };
        if is_json {
            if input.fill_buf().map_err(read)?.starts_with(b"\xef\xbb\xbf") {
                input.consume(3);
            }
            Inventory::from_json(input)
        } else {
            Inventory::from_csv(input)
        }
    }

    fn from_csv<R: Read>(input: R) -> Result<Inventory, InventoryError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut records = csv.records();
        let header = match records.next() {
            Some(r) => r.map_err(csv_error)?,
            None => {
                return Err(InventoryError::Header {
                    reason: format!("the file is empty; {EXPECTED}"),
                });
            }
        };
        let columns = header_columns(&header)?;
        let mut inventory = Inventory::default();
        for record in records {
            let record = record.map_err(csv_error)?;
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if record.len() != columns.len() {
                return Err(InventoryError::Row {
                    line,
                    reason: format!("{} cells, the header has {}", record.len(), columns.len()),
                });
            }
            let cells = record
                .iter()
                .zip(&columns)
                .enumerate()
                .map(|(i, (cell, col))| (*col, cell.to_owned(), i + 1));
            let asset = parse_entry(
                cells,
                |col, i, reason| InventoryError::Cell {
                    line,
                    column: i,
                    name: col.name(),
                    reason,
                },
                |reason| InventoryError::Row { line, reason },
            )?;
            inventory.insert(asset, format!("line {line}"), |reason| {
                InventoryError::Row { line, reason }
            })?;
        }
        Ok(inventory)
    }

    fn from_json<R: Read>(input: R) -> Result<Inventory, InventoryError> {
        let doc: serde_json::Value =
            serde_json::from_reader(input).map_err(|e| InventoryError::Json {
                reason: e.to_string(),
            })?;
        let entries = match doc {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Object(mut o) => match o.remove("assets") {
                Some(serde_json::Value::Array(a)) => a,
                _ => {
                    return Err(InventoryError::Json {
                        reason: "an object must have an \"assets\" array".to_owned(),
                    });
                }
            },
            _ => {
                return Err(InventoryError::Json {
                    reason: "expected an array of assets or {\"assets\": [...]}".to_owned(),
                });
            }
        };
        let mut inventory = Inventory::default();
        for (i, entry) in entries.into_iter().enumerate() {
            let entry_no = i + 1;
            let whole = |reason: String| InventoryError::Entry {
                entry: entry_no,
                member: None,
                reason,
            };
            let serde_json::Value::Object(members) = entry else {
                return Err(whole("not an object".to_owned()));
            };
            let mut cells = Vec::with_capacity(members.len());
            let mut seen: Vec<Column> = Vec::new();
            for (key, value) in members {
                let member = |reason: String| InventoryError::Entry {
                    entry: entry_no,
                    member: Some(key.clone()),
                    reason,
                };
                let Some(col) = Column::named(&key) else {
                    return Err(member(format!("unknown member; {EXPECTED}")));
                };
                if seen.contains(&col) {
                    return Err(member(format!("{} is given twice", col.name())));
                }
                seen.push(col);
                let text = match value {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => return Err(member("not a string, number, boolean or null".to_owned())),
                };
                cells.push((col, text, 0));
            }
            let asset = parse_entry(
                cells.into_iter(),
                |col, _, reason| InventoryError::Entry {
                    entry: entry_no,
                    member: Some(col.name().to_owned()),
                    reason,
                },
                whole,
            )?;
            inventory.insert(asset, format!("entry {entry_no}"), whole)?;
        }
        Ok(inventory)
    }

    /// Every asset, in file order.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// Number of assets.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Whether there are no assets.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// The inventory record of a (scanner) asset: matched by host name,
    /// case-insensitively — first a full name (its FQDN, host name or asset
    /// id equal to an inventory FQDN or host name), then a short name (the
    /// first label of any of them equal to an inventory asset id) — and only
    /// then by IP address (compared in canonical form).
    ///
    /// The service itself reconciles through its asset store
    /// ([`crate::reconcile`]), which also uses agent ids and MAC addresses;
    /// this lookup serves tools that read an inventory without NATS.
    pub fn lookup(&self, asset: &Asset) -> Option<&Asset> {
        let names: Vec<String> = [
            asset.fqdn.as_deref(),
            asset.hostname.as_deref(),
            Some(asset.asset_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .map(|n| n.trim().trim_end_matches('.').to_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
        let by_full = names.iter().find_map(|n| self.by_name.get(n));
        let by_short = || {
            names
                .iter()
                .filter_map(|n| identity::short_name(n))
                .find_map(|n| self.by_short.get(n))
        };
        let by_ip = || {
            [asset.ip.as_deref(), Some(asset.asset_id.as_str())]
                .into_iter()
                .flatten()
                .filter_map(identity::canonical_ip)
                .find_map(|ip| self.by_ip.get(&ip))
        };
        let index = by_full.or_else(by_short).or_else(by_ip)?;
        self.assets.get(*index)
    }

    fn insert(
        &mut self,
        asset: Asset,
        place: String,
        error: impl Fn(String) -> InventoryError,
    ) -> Result<(), InventoryError> {
        let index = self.assets.len();
        let first_place = |first: usize| {
            self.places
                .get(first)
                .cloned()
                .unwrap_or_else(|| "an earlier entry".to_owned())
        };
        let named = asset.hostname.is_some();
        if let Some(&first) = named.then(|| self.by_short.get(&asset.asset_id)).flatten() {
            return Err(error(format!(
                "host {:?} is already on {}",
                asset.asset_id,
                first_place(first)
            )));
        }
        let ip = asset.ip.as_deref().and_then(identity::canonical_ip);
        if let Some((ip, &first)) = ip
            .as_ref()
            .and_then(|ip| self.by_ip.get(ip).map(|f| (ip, f)))
        {
            return Err(error(format!(
                "ip {ip} is already on {}",
                first_place(first)
            )));
        }
        let mut unique: Vec<String> = Vec::new();
        if let Some(f) = asset.fqdn.as_deref().and_then(identity::canonical_fqdn) {
            unique.push(format!("fqdn {f}"));
        }
        for m in asset.mac.as_deref().map(identity::macs).unwrap_or_default() {
            unique.push(format!("mac {m}"));
        }
        if let Some(a) = &asset.agent_id {
            unique.push(format!("agent_id {a}"));
        }
        for key in &unique {
            if let Some(&first) = self.unique.get(key) {
                return Err(error(format!("{key} is already on {}", first_place(first))));
            }
        }
        for key in unique {
            self.unique.insert(key, index);
        }
        if named {
            self.by_short.insert(asset.asset_id.clone(), index);
        }
        for name in [asset.fqdn.as_deref(), asset.hostname.as_deref()]
            .into_iter()
            .flatten()
        {
            self.by_name.entry(name.to_lowercase()).or_insert(index);
        }
        if let Some(ip) = ip {
            self.by_ip.insert(ip, index);
        }
        self.places.push(place);
        self.assets.push(asset);
        Ok(())
    }
}

fn csv_error(e: csv::Error) -> InventoryError {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => InventoryError::Row {
            line,
            reason: format!("cell {} is not valid UTF-8", err.field() + 1),
        },
        csv::ErrorKind::Io(io) => InventoryError::Read {
            reason: io.to_string(),
        },
        _ => InventoryError::Row {
            line,
            reason: e.to_string(),
        },
    }
}

fn header_columns(header: &csv::StringRecord) -> Result<Vec<Column>, InventoryError> {
    let mut columns = Vec::with_capacity(header.len());
    for cell in header {
        let Some(col) = Column::named(cell) else {
            return Err(InventoryError::Header {
                reason: format!("unknown column {cell:?}; {EXPECTED}"),
            });
        };
        if columns.contains(&col) {
            return Err(InventoryError::Header {
                reason: format!("column {} appears twice", col.name()),
            });
        }
        columns.push(col);
    }
    if !columns.iter().any(|c| c.identifies()) {
        return Err(InventoryError::Header {
            reason: format!("no identifying column; {EXPECTED}"),
        });
    }
    Ok(columns)
}

/// One entry from its `(column, text, position)` cells: `cell_error` for a
/// bad cell (column, position, reason), `entry_error` for the entry as a
/// whole.
fn parse_entry(
    cells: impl Iterator<Item = (Column, String, usize)>,
    cell_error: impl Fn(Column, usize, String) -> InventoryError,
    entry_error: impl Fn(String) -> InventoryError,
) -> Result<Asset, InventoryError> {
    let mut asset = Asset::default();
    for (col, cell, position) in cells {
        let value = cell.trim();
        if value.is_empty() {
            continue;
        }
        let bad = |reason: String| cell_error(col, position, reason);
        match col {
            Column::Hostname => {
                if identity::is_ip(value) {
                    return Err(bad(format!(
                        "{value:?} is an IP address; put it in the ip column"
                    )));
                }
                let name = value.trim_end_matches('.');
                let short = identity::short_name(name)
                    .ok_or_else(|| bad(format!("{value:?} is not a host name")))?;
                asset.hostname = Some(short.to_owned());
                if name.contains('.') && asset.fqdn.is_none() {
                    asset.fqdn = Some(name.to_owned());
                }
            }
            Column::Fqdn => {
                identity::canonical_fqdn(value)
                    .filter(|_| identity::url_host(value).is_none())
                    .ok_or_else(|| bad(format!("{value:?} is not a fully qualified name")))?;
                asset.fqdn = Some(value.trim_end_matches('.').to_owned());
            }
            Column::Ip => {
                if !identity::is_ip(value) {
                    return Err(bad(format!("{value:?} is not an IPv4 or IPv6 address")));
                }
                asset.ip = Some(value.to_owned());
            }
            Column::Mac => {
                let parts: Vec<&str> = value
                    .split(|c: char| c.is_whitespace() || c == ';')
                    .filter(|p| !p.is_empty())
                    .collect();
                let mut macs = Vec::with_capacity(parts.len());
                for p in parts {
                    macs.push(identity::canonical_mac(p).ok_or_else(|| {
                        bad(format!("{p:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"))
                    })?);
                }
                asset.mac = Some(macs.join("\n"));
            }
            Column::AgentId => asset.agent_id = Some(value.to_owned()),
            Column::Ring => asset.ring = Some(value.to_lowercase()),
            Column::Tier => {
                asset.tier = Some(match value.to_ascii_lowercase().as_str() {
                    "1" | "critical" => 1,
                    "2" | "high" => 2,
                    "3" | "medium" => 3,
                    "4" | "low" => 4,
                    _ => {
                        return Err(bad(format!(
                            "{value:?} is not a tier 1-4 (1 = most critical) or critical/high/medium/low"
                        )));
                    }
                });
            }
            Column::InternetFacing => {
                asset.internet_facing = Some(match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" | "internet" | "external" | "public" => true,
                    "false" | "no" | "0" | "internal" | "private" => false,
                    _ => {
                        return Err(bad(format!(
                            "{value:?} is not true/false, yes/no, 1/0, internet/external/public or internal/private"
                        )));
                    }
                });
            }
            Column::Owner => asset.owner = Some(value.to_owned()),
            Column::Window => asset.window = Some(value.to_owned()),
        }
    }
    if asset.hostname.is_none() {
        asset.hostname = asset
            .fqdn
            .as_deref()
            .and_then(identity::short_name)
            .map(str::to_owned);
    }
    asset.asset_id = identity::asset_id(asset.hostname.as_deref(), asset.ip.as_deref())
        .ok_or_else(|| entry_error("no hostname, fqdn or ip is given".to_owned()))?;
    Ok(asset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "hostname,ip,ring,tier,internet_facing,owner,window\n";

    fn parse(text: &str) -> Result<Inventory, InventoryError> {
        Inventory::from_reader(text.as_bytes())
    }

    fn reason(text: &str) -> String {
        match parse(text) {
            Ok(inv) => panic!("accepted: {inv:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_file_parses_every_column() {
        let inv = parse(&format!(
            "{HEADER}Web01.Example.com,10.0.0.11,PROD,1,yes,web-team,weekend\n\
             db01,,staging,2,FALSE,\"dba, core\",\n\
             ,10.0.0.99,dev,,,,\n"
        ))
        .unwrap();
        assert_eq!(inv.len(), 3);
        let a = &inv.assets()[0];
        assert_eq!(a.asset_id, "web01");
        assert_eq!(a.hostname.as_deref(), Some("Web01"));
        assert_eq!(a.fqdn.as_deref(), Some("Web01.Example.com"));
        assert_eq!(a.ip.as_deref(), Some("10.0.0.11"));
        assert_eq!(a.ring.as_deref(), Some("prod"));
        assert_eq!(a.tier, Some(1));
        assert_eq!(a.internet_facing, Some(true));
        assert_eq!(a.owner.as_deref(), Some("web-team"));
        assert_eq!(a.window.as_deref(), Some("weekend"));
        let b = &inv.assets()[1];
        assert_eq!((b.asset_id.as_str(), b.ip.as_deref()), ("db01", None));
        assert_eq!(b.internet_facing, Some(false));
        assert_eq!(b.owner.as_deref(), Some("dba, core"));
        assert_eq!(b.window, None);
        assert_eq!(inv.assets()[2].asset_id, "10.0.0.99");
        assert_eq!(inv.assets()[2].tier, None);
    }

    #[test]
    fn bom_crlf_reordered_aliased_and_optional_columns_are_accepted() {
        let inv = parse(
            "\u{feff}IP,Hostname,Environment,criticality,exposure,MAC,agent_id,fqdn\r\n\
             10.0.0.1,\"app01\",Prod,high,internal,00-50-56-A1-B2-C3 02:42:ac:11:00:02,agent-9,app01.corp.example\r\n",
        )
        .unwrap();
        let a = &inv.assets()[0];
        assert_eq!(
            (a.asset_id.as_str(), a.ip.as_deref()),
            ("app01", Some("10.0.0.1"))
        );
        assert_eq!(a.ring.as_deref(), Some("prod"));
        assert_eq!((a.tier, a.internet_facing), (Some(2), Some(false)));
        assert_eq!(
            a.mac.as_deref(),
            Some("00:50:56:a1:b2:c3\n02:42:ac:11:00:02")
        );
        assert_eq!(a.agent_id.as_deref(), Some("agent-9"));
        assert_eq!(a.fqdn.as_deref(), Some("app01.corp.example"));
        assert_eq!((a.window.as_deref(), a.owner.as_deref()), (None, None));
        // An FQDN alone names the host by its first label.
        let inv = parse("fqdn,ring\ndb7.corp.example,test\n").unwrap();
        let b = &inv.assets()[0];
        assert_eq!(
            (b.asset_id.as_str(), b.hostname.as_deref()),
            ("db7", Some("db7"))
        );
    }

    #[test]
    fn json_inventories_follow_the_same_rules() {
        let inv = parse(
            r#"  {"assets": [
              {"hostname": "web01", "fqdn": "web01.example.com", "ip": "10.0.0.11",
               "environment": "PROD", "criticality": 1, "exposure": "internet",
               "owner": "web-team", "window": "weekend", "mac": "00:50:56:a1:b2:c3",
               "agent_id": null},
              {"ip": "10.0.0.12", "tier": "4", "internet_facing": false}
            ]}"#,
        )
        .unwrap();
        assert_eq!(inv.len(), 2);
        let a = &inv.assets()[0];
        assert_eq!(a.asset_id, "web01");
        assert_eq!((a.ring.as_deref(), a.tier), (Some("prod"), Some(1)));
        assert_eq!(a.internet_facing, Some(true));
        assert_eq!(a.agent_id, None);
        let b = &inv.assets()[1];
        assert_eq!(
            (b.asset_id.as_str(), b.tier, b.internet_facing),
            ("10.0.0.12", Some(4), Some(false))
        );
        let bare = parse("\u{feff}[{\"hostname\": \"x\"}]").unwrap();
        assert_eq!(bare.assets()[0].asset_id, "x");
        let table = [
            (
                r#"[{"hostname": "a", "tier": 9}]"#,
                "inventory entry 1 (tier): \"9\" is not a tier 1-4",
            ),
            (
                r#"[{"hostname": "a"}, {"hostnme": "b"}]"#,
                "inventory entry 2 (hostnme): unknown member",
            ),
            (
                r#"[{"ring": "prod"}]"#,
                "inventory entry 1: no hostname, fqdn or ip",
            ),
            (
                r#"[{"hostname": "a", "ip": "10.0.0.1"}, {"hostname": "b", "ip": "10.0.0.1"}]"#,
                "inventory entry 2: ip 10.0.0.1 is already on entry 1",
            ),
            (
                r#"[{"hostname": ["a"]}]"#,
                "inventory entry 1 (hostname): not a string",
            ),
            (
                r#"[{"env": "a", "ring": "b", "ip": "10.0.0.1"}]"#,
                "ring is given twice",
            ),
            (r#"[1]"#, "inventory entry 1: not an object"),
            (
                r#"{"hosts": []}"#,
                "inventory JSON: an object must have an \"assets\" array",
            ),
            (r#"[{"hostname": "a""#, "inventory JSON: EOF"),
        ];
        for (text, want) in table {
            let got = reason(text);
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        let table = [
            (
                format!("{HEADER}a,10.0.0.1,prod,5,yes,o,w\n"),
                "inventory line 2, column 4 (tier): \"5\" is not a tier 1-4",
            ),
            (
                format!("{HEADER}a,,prod,1,yes,o,w\nb,,prod,0,yes,o,w\n"),
                "inventory line 3, column 4 (tier): \"0\"",
            ),
            (
                format!("{HEADER}a,10.0.0.300,prod,1,yes,o,w\n"),
                "line 2, column 2 (ip): \"10.0.0.300\" is not an IPv4",
            ),
            (
                format!("{HEADER}a,,prod,1,maybe,o,w\n"),
                "line 2, column 5 (internet_facing)",
            ),
            (
                format!("{HEADER}10.0.0.1,,prod,1,yes,o,w\n"),
                "line 2, column 1 (hostname): \"10.0.0.1\" is an IP address",
            ),
            (
                format!("{HEADER}a,,prod\n"),
                "inventory line 2: 3 cells, the header has 7",
            ),
            (
                format!("{HEADER},,prod,1,yes,o,w\n"),
                "inventory line 2: no hostname, fqdn or ip",
            ),
            (
                format!("{HEADER}a.x.com,,,,,,\nA.y.com,,,,,,\n"),
                "inventory line 3: host \"a\" is already on line 2",
            ),
            (
                format!("{HEADER}a,10.0.0.1,,,,,\nb,10.0.0.1,,,,,\n"),
                "inventory line 3: ip 10.0.0.1 is already on line 2",
            ),
            (
                "hostname,mac\na,00:50:56:00:00:01\nb,00-50-56-00-00-01\n".to_owned(),
                "inventory line 3: mac 00:50:56:00:00:01 is already on line 2",
            ),
            (
                "hostname,mac\na,00:50:56\n".to_owned(),
                "line 2, column 2 (mac): \"00:50:56\" is not a MAC address",
            ),
            (
                "ip,fqdn\n10.0.0.1,web01\n".to_owned(),
                "line 2, column 2 (fqdn): \"web01\" is not a fully qualified name",
            ),
            (
                "hostname,ip,ring,teir,internet_facing,owner,window\n".to_owned(),
                "unknown column \"teir\"",
            ),
            ("ring,owner\nprod,x\n".to_owned(), "no identifying column"),
            (
                "hostname,ip,env,ring\n".to_owned(),
                "column ring appears twice",
            ),
            (
                String::new(),
                "inventory line 1 (header): the file is empty",
            ),
        ];
        for (text, want) in table {
            let got = reason(&text);
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"ok,,,,,,\nbad\xff,,,,,,\n");
        let got = Inventory::from_reader(&bytes[..]).unwrap_err().to_string();
        assert_eq!(got, "inventory line 3: cell 1 is not valid UTF-8");
    }

    #[test]
    fn lookup_matches_fqdn_short_name_then_ip() {
        let inv = parse(&format!(
            "{HEADER}web01.example.com,10.0.0.11,prod,1,,,\n\
             db01,10.0.0.12,test,2,,,\n\
             ,2001:db8::7,dev,4,,,\n"
        ))
        .unwrap();
        let scan = |id: &str, hostname: Option<&str>, fqdn: Option<&str>, ip: Option<&str>| Asset {
            asset_id: id.to_owned(),
            hostname: hostname.map(str::to_owned),
            fqdn: fqdn.map(str::to_owned),
            ip: ip.map(str::to_owned),
            ..Asset::default()
        };
        let table = [
            (
                scan("web01", None, Some("WEB01.example.com"), None),
                Some("web01"),
            ),
            (scan("web01", Some("WEB01"), None, None), Some("web01")),
            (
                scan("db01", Some("db01"), Some("db01.corp.example"), None),
                Some("db01"),
            ),
            (
                scan("10.0.0.12", None, None, Some("10.0.0.12")),
                Some("db01"),
            ),
            (
                scan("2001:db8::7", None, None, Some("2001:DB8:0::7")),
                Some("2001:db8::7"),
            ),
            (scan("other", Some("other"), None, Some("10.9.9.9")), None),
            // A name match wins over a conflicting IP.
            (
                scan("web01", Some("web01"), None, Some("10.0.0.12")),
                Some("web01"),
            ),
        ];
        for (asset, want) in table {
            assert_eq!(
                inv.lookup(&asset).map(|a| a.asset_id.as_str()),
                want,
                "{asset:?}"
            );
        }
    }
}
