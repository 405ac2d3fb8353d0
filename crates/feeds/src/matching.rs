//! Matching advisories against the packages installed on hosts: which hosts
//! does a `patch.bulletin.advisory` affect, and which version fixes them.
//!
//! Rules:
//! - An advisory's package applies to a host when its ecosystem names the
//!   host's distribution and release ([`ecosystem_applies`]): `Debian:13` ↔
//!   `ID=debian VERSION_ID=13`, `Ubuntu:22.04:LTS` ↔ `ubuntu 22.04`,
//!   `Alpine:v3.8` ↔ `alpine 3.8.x`, `Red Hat:rhel_aus:8.6::appstream` ↔
//!   `rhel 8.6` (a bare major, `Red Hat:enterprise_linux:8::appstream`, covers
//!   every 8.x), `AlmaLinux:9`, `Rocky Linux:8` by major. Other ecosystems
//!   (language registries) never match an OS package.
//! - Debian, Ubuntu and Alpine advisories name the **source** package: a
//!   binary package matches through its source name (`libexample16` built
//!   from `example`), or its own name when the inventory gives no source.
//!   RPM advisories name binary packages.
//! - Versions compare in the ecosystem's order ([`crate::version::Scheme`]),
//!   using the installed binary version.
//! - A withdrawn advisory affects nothing. A `not_affected` statement that
//!   covers the installed version wins over any affected statement (VEX:
//!   never open work for it).

use std::cmp::Ordering;

use events::{AdvisoryPublished, AffectedPackage, AffectedRange};
use serde::{Deserialize, Serialize};

use crate::version::{Scheme, VersionError};

/// A host's distribution, as `/etc/os-release` states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID` (`debian`, `ubuntu`, `rhel`, `alpine`, `rocky`, `almalinux`).
    pub id: String,
    /// `VERSION_ID` (`13`, `22.04`, `8.6`, `3.8.5`).
    pub version_id: String,
}

/// One installed binary package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPackage {
    /// Binary package name (`libexample16`, `python3.10-minimal`).
    pub name: String,
    /// Source package name (`example`), when the package manager states it
    /// (dpkg `${source:Package}`, apk origin).
    #[serde(default)]
    pub source: Option<String>,
    /// Installed version (`1.11.0-1`, `0:2.13.3-3.el8_6.1`).
    pub version: String,
    /// Architecture (`amd64`, `x86_64`).
    #[serde(default)]
    pub arch: Option<String>,
}

/// The packages installed on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPackages {
    /// Host name (the asset id).
    pub host: String,
    /// An address, informational.
    #[serde(default)]
    pub ip: Option<String>,
    /// Its distribution.
    pub os: OsRelease,
    /// Its packages.
    pub packages: Vec<InstalledPackage>,
}

/// An installed-packages document: `{"hosts": [HostPackages…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInventory {
    /// Every host.
    pub hosts: Vec<HostPackages>,
}

/// One installed package an advisory affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMatch {
    /// The host.
    pub host: String,
    /// The binary package installed.
    pub package: String,
    /// The advisory's package name it matched (the source name for Debian).
    pub advisory_package: String,
    /// The advisory's ecosystem.
    pub ecosystem: String,
    /// The installed version.
    pub installed: String,
    /// The lowest fixed version above the installed one, if the advisory
    /// names one: the version to upgrade to.
    pub fixed: Option<String>,
}

/// The outcome of matching one advisory against one host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostMatch {
    /// Affected packages.
    pub matches: Vec<PackageMatch>,
    /// Packages that could not be compared, with the reason (an unreadable
    /// version): neither affected nor cleared.
    pub skipped: Vec<(String, String)>,
}

/// Whether `ecosystem` (OSV naming, see the module docs) is the host's
/// distribution and release.
pub fn ecosystem_applies(ecosystem: &str, os: &OsRelease) -> bool {
    let parts: Vec<&str> = ecosystem.split(':').map(str::trim).collect();
    let id = os.id.trim().to_ascii_lowercase();
    let version = os.version_id.trim().trim_matches('"');
    let major = |v: &str| v.split('.').next().unwrap_or_default().to_owned();
    let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    match parts.first().copied().unwrap_or_default() {
        "Debian" => id == "debian" && parts.get(1).is_some_and(|r| *r == major(version)),
        "Ubuntu" => {
            id == "ubuntu"
                && parts
                    .iter()
                    .skip(1)
                    .find(|p| p.contains('.'))
                    .is_some_and(|r| *r == major_minor(version))
        }
        "Alpine" => {
            id == "alpine"
                && parts
                    .get(1)
                    .is_some_and(|r| r.trim_start_matches('v') == major_minor(version))
        }
        "Red Hat" => {
            id == "rhel"
                && parts.get(2).is_some_and(|r| {
                    if r.contains('.') {
                        *r == major_minor(version)
                    } else {
                        *r == major(version)
                    }
                })
        }
        "AlmaLinux" => {
            id == "almalinux" && parts.get(1).is_some_and(|r| major(r) == major(version))
        }
        "Rocky Linux" => id == "rocky" && parts.get(1).is_some_and(|r| major(r) == major(version)),
        _ => false,
    }
}

/// Whether the advisory names source packages (Debian, Ubuntu, Alpine).
fn names_source_packages(ecosystem: &str) -> bool {
    matches!(
        ecosystem.split(':').next().unwrap_or_default(),
        "Debian" | "Ubuntu" | "Alpine"
    )
}

/// Whether `version` lies inside `range`, in `scheme`'s order (`introduced
/// "0"` is unbounded below).
///
/// # Errors
/// [`VersionError`] when a version cannot be read in `scheme`.
pub fn range_contains(
    scheme: Scheme,
    range: &AffectedRange,
    version: &str,
) -> Result<bool, VersionError> {
    if range.introduced != "0" && scheme.compare(version, &range.introduced)? == Ordering::Less {
        return Ok(false);
    }
    if let Some(fixed) = &range.fixed
        && scheme.compare(version, fixed)? != Ordering::Less
    {
        return Ok(false);
    }
    if let Some(last) = &range.last_affected
        && scheme.compare(version, last)? == Ordering::Greater
    {
        return Ok(false);
    }
    Ok(true)
}

/// Whether one affected statement covers `version`: inside one of its
/// ranges; with no ranges, below every fixed version (none: every version).
///
/// # Errors
/// [`VersionError`] when a version cannot be read in the ecosystem's order.
pub fn covers(pkg: &AffectedPackage, version: &str) -> Result<bool, VersionError> {
    let scheme = Scheme::for_ecosystem(pkg.ecosystem.as_deref());
    if pkg.ranges.is_empty() {
        for fixed in &pkg.fixed_versions {
            if scheme.compare(version, fixed)? != Ordering::Less {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    for r in &pkg.ranges {
        if range_contains(scheme, r, version)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The installed packages of `host` that `advisory` affects (see the module
/// docs for the rules).
pub fn match_host(advisory: &AdvisoryPublished, host: &HostPackages) -> HostMatch {
    let mut out = HostMatch::default();
    if advisory.withdrawn {
        return out;
    }
    for installed in &host.packages {
        let mut hit: Option<PackageMatch> = None;
        let mut cleared = false;
        for pkg in &advisory.affected {
            let Some(ecosystem) = pkg.ecosystem.as_deref() else {
                continue;
            };
            if !ecosystem_applies(ecosystem, &host.os) {
                continue;
            }
            let name = if names_source_packages(ecosystem) {
                installed
                    .source
                    .as_deref()
                    .map(|s| s.split_once(" (").map_or(s, |(n, _)| n).trim())
                    .filter(|s| !s.is_empty())
                    .unwrap_or(&installed.name)
            } else {
                installed.name.as_str()
            };
            if name != pkg.name {
                continue;
            }
            let scheme = Scheme::for_ecosystem(Some(ecosystem));
            match covers(pkg, &installed.version) {
                Err(e) => {
                    out.skipped.push((installed.name.clone(), e.to_string()));
                    cleared = true;
                    break;
                }
                Ok(false) => {}
                Ok(true) if pkg.not_affected => cleared = true,
                Ok(true) => {
                    let fixed = lowest_fix_above(scheme, pkg, &installed.version);
                    let better = match (&hit, &fixed) {
                        (None, _) => true,
                        (Some(h), Some(f)) => h
                            .fixed
                            .as_ref()
                            .is_none_or(|old| scheme.compare(f, old) == Ok(Ordering::Less)),
                        (Some(_), None) => false,
                    };
                    if better {
                        hit = Some(PackageMatch {
                            host: host.host.clone(),
                            package: installed.name.clone(),
                            advisory_package: pkg.name.clone(),
                            ecosystem: ecosystem.to_owned(),
                            installed: installed.version.clone(),
                            fixed,
                        });
                    }
                }
            }
        }
        if !cleared && let Some(m) = hit {
            out.matches.push(m);
        }
    }
    out
}

fn lowest_fix_above(scheme: Scheme, pkg: &AffectedPackage, installed: &str) -> Option<String> {
    pkg.fixed_versions
        .iter()
        .filter(|f| scheme.compare(f, installed) == Ok(Ordering::Greater))
        .min_by(|a, b| scheme.compare(a, b).unwrap_or(Ordering::Equal))
        .cloned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::osv::parse_osv;

    fn os(id: &str, version_id: &str) -> OsRelease {
        OsRelease {
            id: id.to_owned(),
            version_id: version_id.to_owned(),
        }
    }

    #[test]
    fn ecosystems_and_releases() {
        let table = [
            ("Debian:13", os("debian", "13"), true),
            ("Debian:12", os("debian", "13"), false),
            ("Debian:13", os("ubuntu", "13"), false),
            ("Ubuntu:22.04:LTS", os("ubuntu", "22.04"), true),
            ("Ubuntu:Pro:18.04:LTS", os("ubuntu", "18.04"), true),
            ("Ubuntu:24.04:LTS", os("ubuntu", "22.04"), false),
            ("Alpine:v3.8", os("alpine", "3.8.5"), true),
            ("Alpine:v3.8", os("alpine", "3.18.0"), false),
            ("Red Hat:rhel_aus:8.6::appstream", os("rhel", "8.6"), true),
            ("Red Hat:rhel_aus:8.6::appstream", os("rhel", "8.8"), false),
            (
                "Red Hat:enterprise_linux:8::appstream",
                os("rhel", "8.9"),
                true,
            ),
            ("Rocky Linux:8", os("rocky", "8.9"), true),
            ("AlmaLinux:9", os("almalinux", "8.9"), false),
            ("PyPI", os("debian", "13"), false),
        ];
        for (eco, os, want) in table {
            assert_eq!(ecosystem_applies(eco, &os), want, "{eco} on {os:?}");
        }
    }

    #[test]
    fn not_affected_wins_and_withdrawn_affects_nothing() {
        let statement = |not_affected: bool, range: AffectedRange| AffectedPackage {
            ecosystem: Some("Debian:13".to_owned()),
            name: "example".to_owned(),
            fixed_versions: range.fixed.iter().cloned().collect(),
            not_affected,
            ranges: vec![range],
        };
        let mut adv = AdvisoryPublished {
            format: events::AdvisoryFormat::Csaf,
            id: "X".to_owned(),
            revision: None,
            title: None,
            aliases: vec![],
            published: None,
            modified: None,
            withdrawn: false,
            exploited: false,
            severity: None,
            cvss: vec![],
            affected: vec![
                statement(
                    false,
                    AffectedRange {
                        introduced: "0".to_owned(),
                        fixed: Some("2.0-1".to_owned()),
                        last_affected: None,
                    },
                ),
                statement(
                    true,
                    AffectedRange {
                        introduced: "1.5-1".to_owned(),
                        fixed: None,
                        last_affected: Some("1.5-1".to_owned()),
                    },
                ),
            ],
        };
        let host = |version: &str| HostPackages {
            host: "h".to_owned(),
            ip: None,
            os: os("debian", "13"),
            packages: vec![InstalledPackage {
                name: "libexample1".to_owned(),
                source: Some("example (1.0-1)".to_owned()),
                version: version.to_owned(),
                arch: None,
            }],
        };
        let hit = match_host(&adv, &host("1.4-1"));
        assert_eq!(hit.matches.len(), 1);
        assert_eq!(hit.matches[0].fixed.as_deref(), Some("2.0-1"));
        assert!(match_host(&adv, &host("1.5-1")).matches.is_empty());
        assert!(match_host(&adv, &host("2.0-1")).matches.is_empty());
        let bad = match_host(&adv, &host("1.4 beta"));
        assert!(bad.matches.is_empty());
        assert_eq!(
            bad.skipped,
            [(
                "libexample1".to_owned(),
                "dpkg version \"1.4 beta\": invalid character ' '".to_owned()
            )]
        );
        adv.withdrawn = true;
        assert!(match_host(&adv, &host("1.4-1")).matches.is_empty());
    }

    #[test]
    fn multi_branch_ranges_pick_the_branch_fix() {
        let Some(dir) = testkit::corpus() else {
            return;
        };
        let bytes = std::fs::read(dir.join("osv/osv-schema__ghsa_withdrawn.osv.json")).unwrap();
        let adv = parse_osv(&bytes).unwrap().records[0].to_advisory();
        let pkg = &adv.affected[0];
        for (v, want) in [
            ("3.1.9", false),
            ("3.2.0", true),
            ("3.2.22", false),
            ("4.1.10", true),
            ("4.1.11", false),
            ("4.2.1", true),
            ("4.2.2", false),
        ] {
            assert_eq!(covers(pkg, v), Ok(want), "{v}");
        }
        assert_eq!(
            lowest_fix_above(Scheme::Semver, pkg, "4.1.10").as_deref(),
            Some("4.1.11")
        );
    }

    /// cases/OC-11: two OSV advisories against four hosts; binary packages
    /// match through their source names, versions compare with dpkg rules.
    #[test]
    fn case_oc_11_exactly_two_affected_hosts() {
        let Some(case) = testkit::cases().map(|c| c.join("OC-11")) else {
            return;
        };
        let expect = std::fs::read_to_string(case.join("expect.txt")).unwrap();
        assert!(expect.contains("exactly 2 affected hosts"), "{expect}");
        let inventory: PackageInventory =
            serde_json::from_slice(&std::fs::read(case.join("installed-packages.json")).unwrap())
                .unwrap();
        assert_eq!(inventory.hosts.len(), 4);
        let advisories: Vec<AdvisoryPublished> = ["DSA-9911-1.osv.json", "USN-9911-1.osv.json"]
            .iter()
            .flat_map(|f| {
                let bytes = std::fs::read(case.join(f)).unwrap();
                parse_osv(&bytes).unwrap().records
            })
            .map(|r| r.to_advisory())
            .collect();
        assert_eq!(advisories[0].aliases, ["CVE-2000-99111"]);

        let run = |hosts: &[HostPackages]| {
            let mut found = Vec::new();
            for adv in &advisories {
                for h in hosts {
                    let m = match_host(adv, h);
                    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
                    found.extend(m.matches.into_iter().map(|m| (adv.id.clone(), m)));
                }
            }
            found
        };
        let found = run(&inventory.hosts);
        let hosts: BTreeSet<_> = found.iter().map(|(_, m)| m.host.as_str()).collect();
        assert_eq!(hosts, BTreeSet::from(["host-b.example", "host-d.example"]));
        assert_eq!(
            found,
            vec![
                (
                    "DSA-9911-1".to_owned(),
                    PackageMatch {
                        host: "host-b.example".to_owned(),
                        package: "libexample16".to_owned(),
                        advisory_package: "example".to_owned(),
                        ecosystem: "Debian:13".to_owned(),
                        installed: "1.11.0-1".to_owned(),
                        fixed: Some("1.11.0-1+deb13u1".to_owned()),
                    }
                ),
                (
                    "USN-9911-1".to_owned(),
                    PackageMatch {
                        host: "host-d.example".to_owned(),
                        package: "python3.10-minimal".to_owned(),
                        advisory_package: "python3.10".to_owned(),
                        ecosystem: "Ubuntu:22.04:LTS".to_owned(),
                        installed: "3.10.6-1~22.04".to_owned(),
                        fixed: Some("3.10.6-1~22.04.2".to_owned()),
                    }
                ),
            ]
        );

        // After a patch raises host-b to the Debian fixed version, its
        // finding resolves: nothing matches it any more.
        let mut patched = inventory.hosts.clone();
        for h in &mut patched {
            if h.host == "host-b.example" {
                h.packages[0].version = "1.11.0-1+deb13u1".to_owned();
            }
        }
        let after: BTreeSet<_> = run(&patched).into_iter().map(|(_, m)| m.host).collect();
        assert_eq!(after, BTreeSet::from(["host-d.example".to_owned()]));
    }
}
