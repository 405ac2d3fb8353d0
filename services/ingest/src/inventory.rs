//! The asset inventory CSV: which ring, tier, exposure, owner and maintenance
//! window each host has, joined onto scanner assets by host name or IP.
//!
//! # Format
//!
//! ```text
//! hostname,ip,ring,tier,internet_facing,owner,window
//! web01.example.com,10.0.0.11,prod,1,yes,web-team,weekend
//! db01,,staging,2,false,"dba, core",
//! ```
//!
//! - The header names all seven columns, in any order, each once (names are
//!   matched case-insensitively; an unknown column is an error, so a typo is
//!   not silently ignored).
//! - An empty cell means unknown. Every row needs a `hostname` or an `ip`.
//! - `hostname`: a short name or an FQDN (not an IP: that goes in `ip`).
//! - `ip`: an IPv4 or IPv6 address.
//! - `ring`: the rollout ring, lower-cased (`dev`, `test`, `staging`, `prod`).
//! - `tier`: 1 = most critical … 4 = least.
//! - `internet_facing`: `true`/`false`, `yes`/`no`, `1`/`0` (any case).
//! - `owner`, `window`: free text (`window` names a maintenance window).
//! - UTF-8 with or without a BOM, LF or CRLF line ends, RFC 4180 quoting.
//!
//! The `asset_id` of a row follows the same rule as scanner assets
//! ([`crate::identity`]): the lower-case short host name, else the IP. Two
//! rows with the same asset id or the same IP are an error: a lookup must
//! never be ambiguous.

use std::collections::HashMap;
use std::io::Read;

use events::Asset;

use crate::identity;

/// Why an inventory file was refused. Every variant names the line (1-based)
/// and, for a bad cell, the column (1-based, with its name).
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
    Ip,
    Ring,
    Tier,
    InternetFacing,
    Owner,
    Window,
}

impl Column {
    const ALL: [Column; 7] = [
        Column::Hostname,
        Column::Ip,
        Column::Ring,
        Column::Tier,
        Column::InternetFacing,
        Column::Owner,
        Column::Window,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::Hostname => "hostname",
            Column::Ip => "ip",
            Column::Ring => "ring",
            Column::Tier => "tier",
            Column::InternetFacing => "internet_facing",
            Column::Owner => "owner",
            Column::Window => "window",
        }
    }
}

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
    /// File line of each asset, for duplicate errors.
    lines: Vec<u64>,
}

impl Inventory {
    /// Reads an inventory CSV (see the module docs for the format).
    ///
    /// # Errors
    /// [`InventoryError`] naming the line and column of the first problem.
    pub fn from_reader<R: Read>(input: R) -> Result<Inventory, InventoryError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut records = csv.records();
        let header = match records.next() {
            Some(r) => r.map_err(csv_error)?,
            None => {
                return Err(InventoryError::Header {
                    reason: "the file is empty; expected hostname,ip,ring,tier,internet_facing,owner,window".to_owned(),
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
            let asset = parse_row(&record, &columns, line)?;
            inventory.insert(asset, line)?;
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

    fn insert(&mut self, asset: Asset, line: u64) -> Result<(), InventoryError> {
        let index = self.assets.len();
        let duplicate = |what: String, first: Option<&usize>| InventoryError::Row {
            line,
            reason: format!(
                "{what} is already on line {}",
                first.and_then(|i| self.lines.get(*i)).copied().unwrap_or(0)
            ),
        };
        let named = asset.hostname.is_some();
        if let Some(first) = named.then(|| self.by_short.get(&asset.asset_id)).flatten() {
            return Err(duplicate(format!("host {:?}", asset.asset_id), Some(first)));
        }
        let ip = asset.ip.as_deref().and_then(identity::canonical_ip);
        if let Some((ip, first)) = ip
            .as_ref()
            .and_then(|ip| self.by_ip.get(ip).map(|f| (ip, f)))
        {
            return Err(duplicate(format!("ip {ip}"), Some(first)));
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
        self.lines.push(line);
        self.assets.push(asset);
        Ok(())
    }
}

fn csv_error(e: csv::Error) -> InventoryError {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => InventoryError::Cell {
            line,
            column: err.field() + 1,
            name: Column::ALL.get(err.field()).map_or("?", |c| c.name()),
            reason: "not valid UTF-8".to_owned(),
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
    let expected = "expected hostname,ip,ring,tier,internet_facing,owner,window";
    let mut columns = Vec::with_capacity(header.len());
    for cell in header {
        let name = cell
            .trim_start_matches('\u{feff}')
            .trim()
            .to_ascii_lowercase();
        let Some(col) = Column::ALL.into_iter().find(|c| c.name() == name) else {
            return Err(InventoryError::Header {
                reason: format!("unknown column {cell:?}; {expected}"),
            });
        };
        if columns.contains(&col) {
            return Err(InventoryError::Header {
                reason: format!("column {} appears twice", col.name()),
            });
        }
        columns.push(col);
    }
    if let Some(missing) = Column::ALL.into_iter().find(|c| !columns.contains(c)) {
        return Err(InventoryError::Header {
            reason: format!("missing column {}; {expected}", missing.name()),
        });
    }
    Ok(columns)
}

fn parse_row(
    record: &csv::StringRecord,
    columns: &[Column],
    line: u64,
) -> Result<Asset, InventoryError> {
    let mut asset = Asset::default();
    for (i, (cell, col)) in record.iter().zip(columns).enumerate() {
        let value = cell.trim();
        if value.is_empty() {
            continue;
        }
        let bad = |reason: String| InventoryError::Cell {
            line,
            column: i + 1,
            name: col.name(),
            reason,
        };
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
                if name.contains('.') {
                    asset.fqdn = Some(name.to_owned());
                }
            }
            Column::Ip => {
                if !identity::is_ip(value) {
                    return Err(bad(format!("{value:?} is not an IPv4 or IPv6 address")));
                }
                asset.ip = Some(value.to_owned());
            }
            Column::Ring => asset.ring = Some(value.to_lowercase()),
            Column::Tier => {
                asset.tier = Some(match value.parse::<u8>() {
                    Ok(t @ 1..=4) => t,
                    _ => {
                        return Err(bad(format!(
                            "{value:?} is not a tier 1-4 (1 = most critical)"
                        )));
                    }
                });
            }
            Column::InternetFacing => {
                asset.internet_facing = Some(match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(bad(format!("{value:?} is not true/false, yes/no or 1/0"))),
                });
            }
            Column::Owner => asset.owner = Some(value.to_owned()),
            Column::Window => asset.window = Some(value.to_owned()),
        }
    }
    asset.asset_id = identity::asset_id(asset.hostname.as_deref(), asset.ip.as_deref()).ok_or(
        InventoryError::Row {
            line,
            reason: "neither hostname nor ip is given".to_owned(),
        },
    )?;
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
    fn bom_crlf_and_reordered_columns_are_accepted() {
        let inv = parse(
            "\u{feff}IP,Hostname,ring,tier,internet_facing,owner,window\r\n\
             10.0.0.1,\"app01\",prod,3,0,ops,sun\r\n",
        )
        .unwrap();
        let a = &inv.assets()[0];
        assert_eq!(
            (a.asset_id.as_str(), a.ip.as_deref()),
            ("app01", Some("10.0.0.1"))
        );
        assert_eq!((a.tier, a.internet_facing), (Some(3), Some(false)));
        assert_eq!(a.window.as_deref(), Some("sun"));
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
                "inventory line 2: neither hostname nor ip",
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
                "hostname,ip,ring,teir,internet_facing,owner,window\n".to_owned(),
                "unknown column \"teir\"",
            ),
            (
                "hostname,ip,ring,tier,internet_facing,owner\n".to_owned(),
                "missing column window",
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
        assert_eq!(
            got,
            "inventory line 3, column 1 (hostname): not valid UTF-8"
        );
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
