//! Host identity: the rules that turn scanner and inventory host labels into
//! an [`events::Asset::asset_id`], shared by the Nessus normalizer and the
//! inventory reader so both sides of a lookup agree.
//!
//! The rule (also documented on [`events::Asset`]): the lower-case short host
//! name when a host name is known, else the IP address (canonical text form),
//! else the scanner's raw host label, lower-cased. A web-application target
//! given as a URL (`http://google.com/`, Nessus WAS) is identified by the
//! URL's whole host (`google.com`), not its first label: two sites under
//! different domains are different assets.

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
}
