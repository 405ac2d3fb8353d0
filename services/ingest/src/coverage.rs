//! What a scan covered, host by host: the evidence that the absence of a
//! finding in a rescan proves it gone ([`crate::resolve`] decides with it).
//!
//! The rule is conservative: a finding is resolved only when the rescan
//! demonstrably ran the check that found it, on its host and port. When in
//! doubt, the finding stays open (a later scan that does cover it resolves
//! it); a wrong resolution would hide real exposure and restart its SLA clock
//! on the next sighting.
//!
//! # Every format
//!
//! An open finding is covered by a host of a scan ([`HostCoverage::covers`])
//! only when:
//! - the scan's scope is `full` (a `partial` scan covers nothing: checked by
//!   [`crate::resolve`]), the host reconciles to the finding's asset, and the
//!   host's scan time is later than the finding's last observation (an older
//!   report imported late proves nothing);
//! - the finding's scanner ([`events::Check::scanner`]) is one this report
//!   speaks for: its format's name, or the scanner of one of its findings
//!   (a Trivy report never resolves a Nessus finding);
//! - a finding on a port (port ≠ 0) is on a port the scan reported on for
//!   that host: an item of any severity, informational ones included (Nessus
//!   "SYN scanner" and service detection items name every open port).
//!
//! For formats that carry no description of what ran (Qualys, OpenVAS,
//! Nexpose, Trivy, Grype, SARIF, CSV/JSON) that is all: the submitter's
//! `full` scope vouches for the checks. Host-level findings (port 0:
//! packages, code) are covered by the host alone.
//!
//! # Nessus
//!
//! A `.nessus` file says what ran, so a Nessus finding (plugin `p` of family
//! `F` on port `n`) needs, besides the above, evidence that plugin `p` ran on
//! that host:
//! - an item of family `F` on that host in the rescan (the family ran
//!   there), or
//! - the rescan's policy enabled it — family `F` `enabled` in
//!   `FamilySelection`, or `p` `enabled` in `IndividualPluginSelection` (a
//!   `mixed`/`partial` family enables only its listed plugins) — and, for a
//!   host-level finding (port 0: local checks), the host was scanned with
//!   working credentials ([`NessusHost::credentialed`]): a policy that
//!   enables local checks whose login failed ran none of them.
//!
//! A port counts as covered for Nessus also when the policy's `port_range`
//! is an explicit list or range that contains it (`1-65535`, `22,80,T:443`,
//! `U:161`; `default` is not evaluated) and a port scanner ran on the host
//! (an item of family `Port scanners`): the port was scanned and found
//! closed, so the service is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::Event as Xml;

use crate::format::{self, Format, FormatError};
use crate::nessus::{NessusReader, ReportHost};
use crate::normalize::{self, NormalizedHost};

/// Where a check reported a finding: what [`HostCoverage::covers`] needs to
/// know of an open finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckSite {
    /// Scanner family ([`events::Check::scanner`]).
    pub scanner: String,
    /// The scanner's check id (Nessus plugin id).
    pub check_id: String,
    /// The check family (Nessus `pluginFamily`), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Port; `0` = host level.
    pub port: u16,
    /// Lower-case protocol.
    pub protocol: String,
}

/// A Nessus family's status in a policy's `FamilySelection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyStatus {
    /// Every plugin of the family.
    Enabled,
    /// None of them.
    Disabled,
    /// Some (`mixed`, `partial`): only those listed as enabled in
    /// `IndividualPluginSelection`.
    Mixed,
}

/// Port ranges, inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortRanges(pub Vec<(u16, u16)>);

impl PortRanges {
    /// Whether `port` is in one of the ranges.
    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port))
    }
}

/// The parts of a Nessus `<Policy>` that say which checks ran.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NessusPolicy {
    /// `FamilySelection`: family name → status.
    pub families: BTreeMap<String, FamilyStatus>,
    /// `IndividualPluginSelection`: plugin ids listed as `enabled`.
    pub plugins: BTreeSet<u32>,
    /// TCP ports of an explicit `port_range`; `None` when unknown (absent,
    /// `default`, or not understood).
    pub tcp_ports: Option<PortRanges>,
    /// UDP ports of an explicit `port_range` (`U:` items); `None` when none.
    pub udp_ports: Option<PortRanges>,
}

impl NessusPolicy {
    /// Whether the policy enabled plugin `plugin_id` of `family`.
    pub fn enables(&self, plugin_id: &str, family: Option<&str>) -> bool {
        let listed = plugin_id
            .parse::<u32>()
            .is_ok_and(|id| self.plugins.contains(&id));
        match family.and_then(|f| self.families.get(f)) {
            Some(FamilyStatus::Enabled) => true,
            Some(FamilyStatus::Disabled) => false,
            Some(FamilyStatus::Mixed) | None => listed,
        }
    }

    /// Whether the policy's port scan range names `port`/`protocol`.
    pub fn scans_port(&self, port: u16, protocol: &str) -> bool {
        let ranges = match protocol {
            "tcp" => &self.tcp_ports,
            "udp" => &self.udp_ports,
            _ => &None,
        };
        ranges.as_ref().is_some_and(|r| r.contains(port))
    }
}

/// Parses a Nessus `port_range` preference: `default` → `None`; `all` →
/// TCP 1–65535; otherwise comma-separated `N` or `N-M` items, each with an
/// optional `T:` (TCP, the default) or `U:` (UDP) prefix. Anything not
/// understood gives `(None, None)`: no claim about scanned ports.
pub fn parse_port_range(text: &str) -> (Option<PortRanges>, Option<PortRanges>) {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return (Some(PortRanges(vec![(1, 65535)])), None);
    }
    let (mut tcp, mut udp) = (Vec::new(), Vec::new());
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (list, range) = if let Some(r) = item.strip_prefix("U:").or(item.strip_prefix("u:")) {
            (&mut udp, r)
        } else {
            (
                &mut tcp,
                item.strip_prefix("T:")
                    .or(item.strip_prefix("t:"))
                    .unwrap_or(item),
            )
        };
        let (lo, hi) = match range.split_once('-') {
            Some((lo, hi)) => (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()),
            None => (range.trim().parse::<u16>(), range.trim().parse::<u16>()),
        };
        match (lo, hi) {
            (Ok(lo), Ok(hi)) if lo <= hi => list.push((lo, hi)),
            _ => return (None, None),
        }
    }
    let some = |v: Vec<(u16, u16)>| (!v.is_empty()).then_some(PortRanges(v));
    (some(tcp), some(udp))
}

/// Reads the `<Policy>` of a Nessus report, stopping at the first
/// `<Report>` (the policy comes first in Nessus exports, so this reads a few
/// megabytes at most). A report without a readable policy gives an empty
/// one: no policy evidence at all, which only makes resolution more
/// cautious. The whole report was checked before this runs.
pub fn read_nessus_policy<R: BufRead>(input: R) -> NessusPolicy {
    read_policy(input).unwrap_or_default()
}

fn read_policy<R: BufRead>(input: R) -> Option<NessusPolicy> {
    let mut xml = Reader::from_reader(input);
    xml.config_mut().expand_empty_elements = true;
    let mut policy = NessusPolicy::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    // The fields of the element being read.
    let (mut name, mut value, mut family, mut status, mut plugin) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Xml::Start(e) => {
                let name = e.name();
                let tag: String = AsRef::<str>::as_ref(&name).to_owned();
                if path.len() == 1 && tag == "Report" {
                    return Some(policy);
                }
                path.push(tag);
                text.clear();
            }
            Xml::Text(t) if text.len() < 4096 => text.push_str(&t.xml10_content()),
            Xml::GeneralRef(r) => {
                if let Some(s) = quick_xml::escape::resolve_xml_entity(&r) {
                    text.push_str(s);
                }
            }
            Xml::End(_) => {
                let tag = path.pop()?;
                let in_policy = path.get(1).is_some_and(|p| p == "Policy");
                if !in_policy {
                    continue;
                }
                let parent = path.last().map(String::as_str).unwrap_or_default();
                let t = text.trim().to_owned();
                match (parent, tag.as_str()) {
                    ("preference", "name") => name = t,
                    ("preference", "value") => value = t,
                    ("FamilyItem", "FamilyName") | ("PluginItem", "Family") => family = t,
                    ("FamilyItem" | "PluginItem", "Status") => status = t.to_ascii_lowercase(),
                    ("PluginItem", "PluginId") => plugin = t,
                    (_, "preference") => {
                        if name == "port_range" {
                            (policy.tcp_ports, policy.udp_ports) = parse_port_range(&value);
                        }
                        name.clear();
                        value.clear();
                    }
                    (_, "FamilyItem") => {
                        let s = match status.as_str() {
                            "enabled" => FamilyStatus::Enabled,
                            "disabled" => FamilyStatus::Disabled,
                            _ => FamilyStatus::Mixed,
                        };
                        if !family.is_empty() {
                            policy.families.insert(std::mem::take(&mut family), s);
                        }
                        status.clear();
                    }
                    (_, "PluginItem") => {
                        if let (true, Ok(id)) = (status == "enabled", plugin.parse::<u32>()) {
                            policy.plugins.insert(id);
                        }
                        (family, status, plugin) = (String::new(), String::new(), String::new());
                    }
                    _ => {}
                }
                text.clear();
            }
            Xml::Eof => return Some(policy),
            _ => {}
        }
    }
}

/// Tenable plugins whose presence says local checks ran with working
/// credentials: 117887 "OS Security Patch Assessment Available", 141118
/// "Target Credential Status by Authentication Protocol - Valid Credentials
/// Provided".
pub const CREDENTIALED_PLUGINS: [&str; 2] = ["117887", "141118"];

/// Tenable plugins whose presence says local checks did not run: 21745 "OS
/// Security Patch Assessment Failed", 104410 "Target Credential Status by
/// Authentication Protocol - Failure for Provided Credentials".
pub const CREDENTIAL_FAILURE_PLUGINS: [&str; 2] = ["21745", "104410"];

/// The Nessus-specific evidence of one host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NessusHost {
    /// The report's policy.
    pub policy: Arc<NessusPolicy>,
    /// Local checks ran with working credentials: the host tag
    /// `Credentialed_Scan` when present (`true`/`false`), else one of
    /// [`CREDENTIALED_PLUGINS`] reported and none of
    /// [`CREDENTIAL_FAILURE_PLUGINS`].
    pub credentialed: bool,
    /// A port scanner ran on the host (an item of family `Port scanners`).
    pub port_scanned: bool,
}

/// What one host of one report covered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostCoverage {
    /// Scanner families the report speaks for on this host.
    pub scanners: BTreeSet<String>,
    /// `(port, lower-case protocol)` pairs with an item on this host.
    pub ports: BTreeSet<(u16, String)>,
    /// Check families with an item (finding or informational) on this host.
    pub families: BTreeSet<String>,
    /// The Nessus evidence, for a Nessus report.
    pub nessus: Option<NessusHost>,
}

/// Why a finding is not covered (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCovered {
    /// Another scanner's finding.
    Scanner,
    /// The scan reported nothing on the finding's port.
    Port,
    /// No evidence that the check ran on the host.
    Check,
}

impl HostCoverage {
    /// The coverage of a host of a format without a description of what ran
    /// (see the module docs): its format's name (and that name up to its
    /// first `-`: `qualys-csv` speaks for `qualys`) and its findings' scanners,
    /// the ports of its findings and informational items, its findings'
    /// families.
    pub fn observed(format: Format, host: &NormalizedHost) -> HostCoverage {
        let mut c = HostCoverage::default();
        let name = format.as_str();
        c.scanners.insert(name.to_owned());
        // `qualys-csv`, `openvas-csv`, `qualys-scan` speak for `qualys`, `openvas`.
        c.scanners
            .insert(name.split('-').next().unwrap_or(name).to_owned());
        for f in &host.findings {
            c.scanners.insert(f.check.scanner.clone());
            c.ports.insert((f.port, f.protocol.to_lowercase()));
            if let Some(family) = &f.check.family {
                c.families.insert(family.clone());
            }
        }
        for fact in &host.facts {
            c.ports.insert((fact.port, fact.protocol.to_lowercase()));
        }
        c
    }

    /// The coverage of a Nessus host, from every item of it (informational
    /// ones included) and the report's policy.
    pub fn nessus(host: &ReportHost, policy: Arc<NessusPolicy>) -> HostCoverage {
        let mut c = HostCoverage::default();
        c.scanners.insert(normalize::SCANNER.to_owned());
        let mut ids = BTreeSet::new();
        for item in &host.items {
            c.ports.insert((item.port, item.protocol.to_lowercase()));
            if let Some(f) = &item.plugin_family {
                c.families.insert(f.clone());
            }
            ids.insert(item.plugin_id.to_string());
        }
        let tag = host
            .properties
            .other
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Credentialed_Scan"))
            .map(|(_, v)| v.trim().eq_ignore_ascii_case("true"));
        let credentialed = tag.unwrap_or_else(|| {
            CREDENTIALED_PLUGINS.iter().any(|p| ids.contains(*p))
                && !CREDENTIAL_FAILURE_PLUGINS.iter().any(|p| ids.contains(*p))
        });
        c.nessus = Some(NessusHost {
            policy,
            credentialed,
            port_scanned: c.families.contains("Port scanners"),
        });
        c
    }

    /// Whether this host's scan covers a finding at `site` (the rules of the
    /// module docs, except scope, host and time, which
    /// [`crate::resolve`] checks).
    ///
    /// # Errors
    /// [`NotCovered`] with the first rule that fails.
    pub fn covers(&self, site: &CheckSite) -> Result<(), NotCovered> {
        if !self.scanners.contains(&site.scanner) {
            return Err(NotCovered::Scanner);
        }
        let protocol = site.protocol.to_lowercase();
        let port_seen = site.port == 0 || self.ports.contains(&(site.port, protocol.clone()));
        let Some(nessus) = &self.nessus else {
            return if port_seen {
                Ok(())
            } else {
                Err(NotCovered::Port)
            };
        };
        let port_scanned = nessus.port_scanned && nessus.policy.scans_port(site.port, &protocol);
        if !(port_seen || port_scanned) {
            return Err(NotCovered::Port);
        }
        let family_ran = site
            .family
            .as_ref()
            .is_some_and(|f| self.families.contains(f));
        let policy_ran = nessus
            .policy
            .enables(&site.check_id, site.family.as_deref())
            && (site.port != 0 || nessus.credentialed);
        if family_ran || policy_ran {
            Ok(())
        } else {
            Err(NotCovered::Check)
        }
    }
}

/// Reads what the whole report says about coverage before its hosts: the
/// Nessus policy for a Nessus report (see [`read_nessus_policy`]), nothing
/// for the other formats.
pub fn read_policy_of<R: BufRead>(format: Format, input: R) -> Arc<NessusPolicy> {
    Arc::new(match format {
        Format::Nessus => read_nessus_policy(input),
        _ => NessusPolicy::default(),
    })
}

/// The report's hosts, normalized exactly as [`format::hosts`] does, each
/// with its [`HostCoverage`]. `policy` is what [`read_policy_of`] read of the
/// same report. `fallback_time` as for [`format::hosts`] (UTC).
pub fn hosts<'a, R: BufRead + 'a>(
    format: Format,
    input: R,
    fallback_time: DateTime<Utc>,
    policy: Arc<NessusPolicy>,
) -> Box<dyn Iterator<Item = Result<(NormalizedHost, HostCoverage), FormatError>> + 'a> {
    match format {
        Format::Nessus => Box::new(NessusReader::new(input).map(move |h| {
            h.map(|h| {
                let coverage = HostCoverage::nessus(&h, policy.clone());
                (normalize::normalize_report_host(h, fallback_time), coverage)
            })
            .map_err(|e| FormatError::Invalid(e.to_string()))
        })),
        other => Box::new(format::hosts(other, input, fallback_time).map(move |h| {
            h.map(|h| {
                let coverage = HostCoverage::observed(other, &h);
                (h, coverage)
            })
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"<?xml version="1.0" ?>
<NessusClientData_v2><Policy><policyName>p</policyName>
<Preferences><ServerPreferences>
<preference><name>port_range</name><value>1-1024,T:8443,U:161</value></preference>
<preference><name>max_hosts</name><value>40</value></preference>
</ServerPreferences><PluginsPreferences><item><preferenceName>port_range</preferenceName><selectedValue>9</selectedValue></item></PluginsPreferences></Preferences>
<FamilySelection>
<FamilyItem><FamilyName>Ubuntu Local Security Checks</FamilyName><Status>enabled</Status></FamilyItem>
<FamilyItem><FamilyName>Web Servers</FamilyName><Status>disabled</Status></FamilyItem>
<FamilyItem><FamilyName>Port scanners</FamilyName><Status>mixed</Status></FamilyItem>
</FamilySelection>
<IndividualPluginSelection>
<PluginItem><PluginId>11219</PluginId><PluginName>Nessus SYN scanner</PluginName><Family>Port scanners</Family><Status>enabled</Status></PluginItem>
<PluginItem><PluginId>14272</PluginId><PluginName>Netstat</PluginName><Family>Port scanners</Family><Status>disabled</Status></PluginItem>
</IndividualPluginSelection>
</Policy><Report name="r"><ReportHost name="h"></ReportHost></Report></NessusClientData_v2>"#;

    #[test]
    fn the_policy_says_which_families_plugins_and_ports_ran() {
        let p = read_nessus_policy(POLICY.as_bytes());
        assert_eq!(
            p.families.get("Ubuntu Local Security Checks"),
            Some(&FamilyStatus::Enabled)
        );
        assert_eq!(p.families.get("Web Servers"), Some(&FamilyStatus::Disabled));
        assert_eq!(p.families.get("Port scanners"), Some(&FamilyStatus::Mixed));
        assert_eq!(p.plugins.iter().copied().collect::<Vec<_>>(), [11219]);
        assert!(p.enables("11219", Some("Port scanners")));
        assert!(!p.enables("14272", Some("Port scanners")));
        assert!(p.enables("99999", Some("Ubuntu Local Security Checks")));
        assert!(!p.enables("11219", Some("Web Servers")));
        assert!(!p.enables("5", None));
        assert!(p.scans_port(1024, "tcp") && p.scans_port(8443, "tcp"));
        assert!(!p.scans_port(1025, "tcp") && !p.scans_port(80, "udp"));
        assert!(p.scans_port(161, "udp"));
        // Nothing readable: no evidence.
        assert_eq!(read_nessus_policy(&b"<x"[..]), NessusPolicy::default());
    }

    #[test]
    fn port_ranges_parse_or_claim_nothing() {
        let r = |v: &[(u16, u16)]| Some(PortRanges(v.to_vec()));
        let table = [
            ("default", (None, None)),
            ("all", (r(&[(1, 65535)]), None)),
            ("1-65535", (r(&[(1, 65535)]), None)),
            (
                "22, 80,T:443-445",
                (r(&[(22, 22), (80, 80), (443, 445)]), None),
            ),
            ("U:53,U:161-162", (None, r(&[(53, 53), (161, 162)]))),
            ("80-22", (None, None)),
            ("1-70000", (None, None)),
            ("ssh", (None, None)),
        ];
        for (text, want) in table {
            assert_eq!(parse_port_range(text), want, "{text}");
        }
    }

    fn site(check_id: &str, family: Option<&str>, port: u16) -> CheckSite {
        CheckSite {
            scanner: "nessus".into(),
            check_id: check_id.into(),
            family: family.map(str::to_owned),
            port,
            protocol: "tcp".into(),
        }
    }

    fn nessus_host(
        families: &[&str],
        ports: &[u16],
        credentialed: bool,
        port_scanned: bool,
    ) -> HostCoverage {
        HostCoverage {
            scanners: ["nessus".to_owned()].into(),
            ports: ports.iter().map(|p| (*p, "tcp".to_owned())).collect(),
            families: families.iter().map(|f| (*f).to_owned()).collect(),
            nessus: Some(NessusHost {
                policy: Arc::new(read_nessus_policy(POLICY.as_bytes())),
                credentialed,
                port_scanned,
            }),
        }
    }

    #[test]
    fn a_finding_is_covered_only_with_evidence_for_its_scanner_port_and_check() {
        use NotCovered::*;
        let local = "Ubuntu Local Security Checks";
        // (what, host, finding, want)
        let table: Vec<(&str, HostCoverage, CheckSite, Result<(), NotCovered>)> = vec![
            (
                "remote check, family seen, port seen",
                nessus_host(&["Web Servers"], &[80], false, false),
                site("10107", Some("Web Servers"), 80),
                Ok(()),
            ),
            (
                "port not seen and not in the scanned range",
                nessus_host(&["Web Servers"], &[22], false, true),
                site("10107", Some("Web Servers"), 8080),
                Err(Port),
            ),
            (
                "port closed: in the explicit range and a port scanner ran",
                nessus_host(&["Web Servers", "Port scanners"], &[22], false, true),
                site("10107", Some("Web Servers"), 80),
                Ok(()),
            ),
            (
                "range known but no port scanner ran on the host",
                nessus_host(&["Web Servers"], &[22], false, false),
                site("10107", Some("Web Servers"), 80),
                Err(Port),
            ),
            (
                "family disabled in the policy and not seen",
                nessus_host(&["General"], &[80], false, false),
                site("10107", Some("Web Servers"), 80),
                Err(Check),
            ),
            (
                "local check: family enabled and credentials worked",
                nessus_host(&["General"], &[0], true, false),
                site("150000", Some(local), 0),
                Ok(()),
            ),
            (
                "local check: family enabled but no working credentials",
                nessus_host(&["General"], &[0], false, false),
                site("150000", Some(local), 0),
                Err(Check),
            ),
            (
                "local check: another finding of the family still shows",
                nessus_host(&[local], &[0], false, false),
                site("150000", Some(local), 0),
                Ok(()),
            ),
            (
                "another scanner's finding",
                nessus_host(&[local], &[0], true, false),
                CheckSite {
                    scanner: "qualys".into(),
                    ..site("38739", None, 0)
                },
                Err(Scanner),
            ),
        ];
        for (what, host, s, want) in table {
            assert_eq!(host.covers(&s), want, "{what}");
        }
    }

    #[test]
    fn other_formats_need_scanner_and_port_only() {
        let host = HostCoverage {
            scanners: ["trivy".to_owned()].into(),
            ports: [(0, "tcp".to_owned())].into(),
            ..HostCoverage::default()
        };
        let pkg = CheckSite {
            scanner: "trivy".into(),
            check_id: "CVE-2000-99041".into(),
            family: None,
            port: 0,
            protocol: String::new(),
        };
        assert_eq!(host.covers(&pkg), Ok(()));
        let net = CheckSite {
            port: 443,
            protocol: "tcp".into(),
            ..pkg.clone()
        };
        assert_eq!(host.covers(&net), Err(NotCovered::Port));
        let other = CheckSite {
            scanner: "grype".into(),
            ..pkg
        };
        assert_eq!(host.covers(&other), Err(NotCovered::Scanner));
    }

    #[test]
    fn nessus_hosts_collect_ports_families_and_credentials() {
        let xml = br#"<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1">
<HostProperties><tag name="host-ip">10.0.0.1</tag><tag name="Credentialed_Scan">true</tag></HostProperties>
<ReportItem port="22" protocol="tcp" svc_name="ssh" severity="0" pluginID="11219" pluginName="Nessus SYN scanner" pluginFamily="Port scanners"/>
<ReportItem port="0" protocol="tcp" svc_name="general" severity="2" pluginID="150000" pluginName="USN" pluginFamily="Ubuntu Local Security Checks"/>
</ReportHost></Report></NessusClientData_v2>"#;
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let got: Vec<_> = hosts(Format::Nessus, &xml[..], t, Arc::default())
            .collect::<Result<_, _>>()
            .unwrap();
        let (host, c) = &got[0];
        assert_eq!(host.findings.len(), 1);
        assert_eq!(
            c.ports,
            [(0, "tcp".to_owned()), (22, "tcp".to_owned())].into()
        );
        assert!(c.families.contains("Port scanners"));
        let n = c.nessus.as_ref().unwrap();
        assert!(n.credentialed && n.port_scanned);
    }
}
