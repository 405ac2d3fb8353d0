//! Identity: how a scanned host becomes an asset id, and how a finding gets
//! the fingerprint its id is derived from. Shared by every format's
//! normalizer, the inventory reader and the adapter, so all of them agree.
//!
//! # Asset id (of a host as one report or inventory row describes it)
//!
//! The lower-case short host name when a host name is known, else the IP
//! address (canonical text form), else the scanner's raw host label,
//! lower-cased (also documented on [`events::Asset`]). A web-application
//! target given as a URL (`http://google.com/`, Nessus WAS) is identified by
//! the URL's whole host (`google.com`), not its first label: two sites under
//! different domains are different assets.
//!
//! That id is only a proposal: the adapter reconciles every scanned host with
//! the assets it already knows ([`crate::reconcile`]: agent id, FQDN, host
//! name, IP, MAC, in that order of trust), so a host whose DNS name changed
//! but kept its IP or MAC keeps its asset id.
//!
//! # Finding fingerprint (version 1)
//!
//! A finding's identity is a fingerprint string and its id is
//! `UUIDv5(FINDING_NAMESPACE, fingerprint)`
//! ([`crate::normalize::FINDING_NAMESPACE`]). Every format builds it the same
//! way:
//!
//! ```text
//! <source>:v<N>:<asset_id>:<locator>
//! ```
//!
//! - `source`: the format's lower-case scanner family (`nessus`, `qualys`,
//!   `openvas`, `nexpose`, `trivy`, `grype`, `sarif`, …);
//! - `v<N>`: the version of that source's rule. A change of the locator's
//!   meaning is a new version (and gives every finding of that source a new
//!   id), never a silent edit;
//! - `asset_id`: exactly the host's `NormalizedHost::asset.asset_id` as the
//!   normalizer proposed it. The adapter replaces it by the reconciled asset
//!   id ([`rebind_fingerprint`]) before anything is published, so this
//!   segment is always the stable, reconciled id;
//! - `locator`: only fields that stay the same for the same weakness on the
//!   same asset; each format module documents its own:
//!   - network scanners, `<check id>:<port>/<protocol>`: Nessus
//!     `nessus:v1:<asset>:<pluginID>:<port>/<protocol lower-case>`
//!     ([`crate::normalize::fingerprint`]); Qualys (QID), OpenVAS (NVT OID)
//!     and Nexpose (vulnerability id) through [`crate::scanner::fingerprint`];
//!   - software scanners, the vulnerability and the package as installed:
//!     Trivy `<VulnerabilityID>:<PkgName>@<InstalledVersion>:<location>` (the
//!     location keeps one library in two jars two findings, case OC-04),
//!     Grype `<vulnerability id>:<artifact name>@<artifact version>`;
//!   - code scanners (SARIF): `<rule id>:<path>:<content key>`, the content
//!     key being the tool's own fingerprints when it gives them — never a
//!     line or column number (case OC-06: inserting lines above a finding
//!     keeps its id);
//!   - the generic CSV/JSON: `<scanner>:<check id>:<port>/<protocol>` and
//!     the package, when given.
//!
//!   The software, code and generic formats percent-escape `%` and `:` in
//!   every component, the asset id included ([`crate::software::escape`]);
//!   the network scanners write the asset id as is (an IPv6 address keeps
//!   its colons). [`rebind_fingerprint`] understands both.
//!
//! Never part of a fingerprint: scan or observation times, scanner or plugin
//! feed versions, plugin output and descriptions, severities and scores,
//! DNS names and IPs other than through the reconciled asset id, line and
//! column numbers, the order of results. Hence re-importing a report, a
//! scanner upgrade, a renamed check or a changed DNS name keep every id.
//!
//! `docs/finding-identity.md` is the operator-facing version of these rules,
//! with the resolution rules that build on them.

use std::net::IpAddr;

/// Whether `s` (trimmed) is an IPv4 or IPv6 address literal.
pub fn is_ip(s: &str) -> bool {
    s.trim().parse::<IpAddr>().is_ok()
}

/// The canonical text of an IP address literal (IPv6 compressed per RFC 5952,
/// as `std` prints it), or `None` when `s` is not an IP address.
pub fn canonical_ip(s: &str) -> Option<String> {
    s.trim().parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// The host part of a URL-like label (`http://user@Google.com:8080/x` →
/// `Google.com`, `https://[2001:db8::1]/` → `2001:db8::1`), case kept.
///
/// Returns `None` when `s` has no `://` or the host part is empty.
pub fn url_host(s: &str) -> Option<&str> {
    let (_, rest) = s.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        match host_port.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host_port,
        }
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then_some(host)
}

/// The first DNS label of a host name (`Web01.Example.com.` → `Web01`), case
/// kept. Returns `None` for an empty name or an IP address literal (whose
/// "first label" would be an octet).
pub fn short_name(s: &str) -> Option<&str> {
    let s = s.trim();
    if s.is_empty() || is_ip(s) {
        return None;
    }
    let first = s.split('.').next().unwrap_or_default().trim();
    (!first.is_empty()).then_some(first)
}

/// A host name candidate reduced to its identity form, with the text it came
/// from (case kept) for the asset's `hostname` field.
///
/// - URL (`http://google.com/`): the URL's whole host;
/// - IP address literal: `None` (not a name);
/// - otherwise: the first DNS label.
pub fn host_name_of(label: &str) -> Option<String> {
    if let Some(host) = url_host(label) {
        return (!is_ip(host)).then(|| host.to_owned());
    }
    short_name(label).map(str::to_owned)
}

/// The asset id of a host with an optional known name and an optional IP
/// address: the lower-cased name, else the canonical IP, else the raw IP
/// text. `None` when neither is given.
pub fn asset_id(name: Option<&str>, ip: Option<&str>) -> Option<String> {
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        return Some(n.to_lowercase());
    }
    let ip = ip.map(str::trim).filter(|i| !i.is_empty())?;
    Some(canonical_ip(ip).unwrap_or_else(|| ip.to_lowercase()))
}

/// Replaces the asset segment of a fingerprint: `fingerprint` must start
/// with `<source>:<version>:<from>:`, with `from` written as is (Nessus,
/// Qualys, OpenVAS, Nexpose) or with `%` and `:` percent-escaped (the
/// software and code scanners, [`crate::software::escape`]); the result is
/// the same fingerprint with `to`, written the same way, in that segment.
/// Returns `None` when the fingerprint does not have that shape (it is then
/// kept as it is, and its finding is not rebound).
///
/// ```
/// use ingest::identity::rebind_fingerprint;
/// assert_eq!(
///     rebind_fingerprint("nessus:v1:web01-new:22964:443/tcp", "web01-new", "web01").as_deref(),
///     Some("nessus:v1:web01:22964:443/tcp")
/// );
/// assert_eq!(rebind_fingerprint("nessus:v1:db:1:0/tcp", "web", "x"), None);
/// ```
pub fn rebind_fingerprint(fingerprint: &str, from: &str, to: &str) -> Option<String> {
    let escape = |s: &str| s.replace('%', "%25").replace(':', "%3A");
    let mut parts = fingerprint.splitn(3, ':');
    let (source, version, rest) = (parts.next()?, parts.next()?, parts.next()?);
    if let Some(locator) = rest.strip_prefix(from).and_then(|l| l.strip_prefix(':')) {
        return Some(format!("{source}:{version}:{to}:{locator}"));
    }
    let locator = rest.strip_prefix(&escape(from))?.strip_prefix(':')?;
    Some(format!("{source}:{version}:{}:{locator}", escape(to)))
}

/// A MAC address in canonical form (`aa:bb:cc:dd:ee:ff`, lower case) from
/// the usual spellings (`AA:BB:…`, `aa-bb-…`, `aabb.ccdd.eeff`,
/// `aabbccddeeff`). `None` for anything else, and for the all-zero and
/// broadcast addresses, which name no single machine.
pub fn canonical_mac(s: &str) -> Option<String> {
    let hex: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    if hex == "000000000000" || hex == "ffffffffffff" {
        return None;
    }
    let pairs: Vec<&str> = (0..6).filter_map(|i| hex.get(i * 2..i * 2 + 2)).collect();
    Some(pairs.join(":"))
}

/// Every MAC address in a scanner's field (Nessus `mac-address` holds one
/// per line), canonical ([`canonical_mac`]), de-duplicated, in order.
pub fn macs(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in s
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter_map(canonical_mac)
    {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// A fully qualified name in canonical form: trimmed, lower case, without
/// the trailing dot. `None` for an IP literal or a name without a dot.
pub fn canonical_fqdn(s: &str) -> Option<String> {
    let name = url_host(s).unwrap_or(s).trim().trim_end_matches('.');
    (name.contains('.') && !is_ip(name) && !name.contains(char::is_whitespace))
        .then(|| name.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts_drop_scheme_userinfo_port_path_and_brackets() {
        let table = [
            ("http://google.com/", Some("google.com")),
            (
                "https://user:pw@Example.ORG:8443/a?b#c",
                Some("Example.ORG"),
            ),
            ("http://[2001:db8::1]:80/", Some("2001:db8::1")),
            ("http://10.0.0.1", Some("10.0.0.1")),
            ("google.com", None),
            ("http:///x", None),
        ];
        for (input, want) in table {
            assert_eq!(url_host(input), want, "{input}");
        }
    }

    #[test]
    fn names_reduce_to_their_identity_form() {
        let table = [
            ("qa3app09", Some("qa3app09")),
            ("Host-A.example", Some("Host-A")),
            ("http://google.com/", Some("google.com")),
            ("http://10.1.2.3/", None),
            ("10.31.112.29", None),
            ("2001:db8::1", None),
            ("", None),
            (".example", None),
        ];
        for (input, want) in table {
            assert_eq!(host_name_of(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn asset_id_prefers_the_name_then_the_canonical_ip() {
        assert_eq!(
            asset_id(Some("QA3APP09"), Some("10.0.0.1")).as_deref(),
            Some("qa3app09")
        );
        assert_eq!(
            asset_id(None, Some("2001:DB8:0:0::1")).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(asset_id(Some(" "), None), None);
    }

    #[test]
    fn fingerprints_rebind_only_their_asset_segment() {
        let table = [
            (
                "nessus:v1:web01-new:22964:443/tcp",
                "web01-new",
                "web01",
                Some("nessus:v1:web01:22964:443/tcp"),
            ),
            // IPv6 ids contain colons: only the prefix is matched.
            (
                "nessus:v1:2001:db8::1:10114:0/icmp",
                "2001:db8::1",
                "db1",
                Some("nessus:v1:db1:10114:0/icmp"),
            ),
            (
                "trivy:v1:/opt:CVE-1:lib@1.0:a/b.jar",
                "/opt",
                "build-7",
                Some("trivy:v1:build-7:CVE-1:lib@1.0:a/b.jar"),
            ),
            // Escaped asset segments stay escaped.
            (
                "grype:v1:img%3A1.0:CVE-1:a",
                "img:1.0",
                "reg/img:1.0",
                Some("grype:v1:reg/img%3A1.0:CVE-1:a"),
            ),
            // A prefix of another asset id is not that asset.
            ("nessus:v1:web011:1:0/tcp", "web01", "x", None),
            ("not-a-fingerprint", "a", "b", None),
        ];
        for (fp, from, to, want) in table {
            assert_eq!(rebind_fingerprint(fp, from, to).as_deref(), want, "{fp}");
        }
    }

    #[test]
    fn macs_and_fqdns_have_one_spelling() {
        let table = [
            ("00:50:56:A1:B2:C3", Some("00:50:56:a1:b2:c3")),
            ("00-50-56-a1-b2-c3", Some("00:50:56:a1:b2:c3")),
            ("0050.56a1.b2c3", Some("00:50:56:a1:b2:c3")),
            ("00:00:00:00:00:00", None),
            ("ff:ff:ff:ff:ff:ff", None),
            ("00:50:56:a1:b2", None),
            ("zz:50:56:a1:b2:c3", None),
        ];
        for (input, want) in table {
            assert_eq!(canonical_mac(input).as_deref(), want, "{input}");
        }
        assert_eq!(
            macs("00:50:56:A1:B2:C3\n00:00:00:00:00:00\n00-50-56-a1-b2-c3 02:42:ac:11:00:02"),
            ["00:50:56:a1:b2:c3", "02:42:ac:11:00:02"]
        );
        assert_eq!(
            canonical_fqdn("Web01.Example.COM.").as_deref(),
            Some("web01.example.com")
        );
        assert_eq!(
            canonical_fqdn("http://App.example/x").as_deref(),
            Some("app.example")
        );
        assert_eq!(canonical_fqdn("web01"), None);
        assert_eq!(canonical_fqdn("10.0.0.1"), None);
    }
}
