//! Package version orders, to tell whether an installed version lies inside
//! an advisory's affected range.
//!
//! - [`Scheme::Dpkg`]: Debian and Ubuntu, per deb-version(7) and dpkg's
//!   `verrevcmp` (lib/dpkg/version.c): `[epoch:]upstream[-revision]`, epoch
//!   compared as a number, then upstream, then revision, each by alternating
//!   non-digit runs (`~` before the end of the string, the end before
//!   letters, letters before other characters) and digit runs (as numbers).
//! - [`Scheme::Rpm`]: Red Hat, AlmaLinux, Rocky, SUSE, per rpm's
//!   `rpmvercmp` (rpmio/rpmvercmp.c, rpm ≥ 4.15): `[epoch:]version[-release]`
//!   (a missing epoch is 0), alphanumeric segments with separators skipped,
//!   numbers newer than letters, `~` sorting before everything and `^` after
//!   the end; the release is compared only when both sides have one (rpm's
//!   rule for `Requires: foo >= 1.2`).
//! - [`Scheme::Semver`]: the fallback for every other ecosystem. Semantic
//!   Versioning 2.0.0 §11 (a `-pre-release` sorts before its release,
//!   dot-separated identifiers, numeric ones by value; `+build` ignored),
//!   relaxed to what ecosystems write: a leading `v`, any number of release
//!   parts (missing parts are 0: `1.2` = `1.2.0`), a letter suffix on a part
//!   (`1.0.2q`, sorting after `1.0.2`), and Alpine's `-rN` package revision
//!   (compared after the release, not as a pre-release). It is not PEP 440
//!   (`1.0rc1` sorts after `1.0` here) and not Maven's order.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// A version that cannot be read in its scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme} version {version:?}: {reason}")]
pub struct VersionError {
    /// The scheme it was read in.
    pub scheme: Scheme,
    /// The version, as written.
    pub version: String,
    /// What is wrong.
    pub reason: String,
}

/// How an ecosystem orders its versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Debian package versions (dpkg).
    Dpkg,
    /// RPM epoch:version-release.
    Rpm,
    /// Semantic versioning, relaxed (the fallback).
    Semver,
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Semver => "semver",
        })
    }
}

impl Scheme {
    /// The scheme of an OSV ecosystem name, release suffix ignored
    /// (`Debian:12`, `Ubuntu:22.04:LTS` → dpkg; `Red Hat:rhel_aus:8.6::appstream`,
    /// `AlmaLinux:9`, `Rocky Linux:8`, `SUSE:…`, `openSUSE:…`, `openEuler:…`,
    /// `Mageia:…` → rpm; everything else, `None` included → semver).
    pub fn for_ecosystem(ecosystem: Option<&str>) -> Scheme {
        let base = ecosystem
            .and_then(|e| e.split(':').next())
            .unwrap_or_default()
            .trim();
        match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "SUSE" | "openSUSE" | "openEuler"
            | "Mageia" => Scheme::Rpm,
            _ => Scheme::Semver,
        }
    }

    /// Orders `a` against `b`.
    ///
    /// # Errors
    /// [`VersionError`] when either side is not a version of this scheme
    /// (empty; for dpkg, a non-numeric epoch, an empty upstream part or a
    /// character outside `[A-Za-z0-9.+~-]`; for rpm, a non-numeric epoch or an
    /// empty version).
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        match self {
            Scheme::Dpkg => Ok(DebVersion::parse(a)?.cmp_to(&DebVersion::parse(b)?)),
            Scheme::Rpm => Ok(Evr::parse(a)?.cmp_to(&Evr::parse(b)?)),
            Scheme::Semver => Ok(SemverIsh::parse(a)?.cmp_to(&SemverIsh::parse(b)?)),
        }
    }
}

fn error(scheme: Scheme, version: &str, reason: impl Into<String>) -> VersionError {
    VersionError {
        scheme,
        version: version.to_owned(),
        reason: reason.into(),
    }
}

/// A parsed Debian version.
struct DebVersion<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

impl<'a> DebVersion<'a> {
    fn parse(s: &'a str) -> Result<Self, VersionError> {
        let v = s.trim();
        if v.is_empty() {
            return Err(error(Scheme::Dpkg, s, "empty"));
        }
        let (epoch, rest) = match v.split_once(':') {
            Some((e, rest)) => {
                let epoch = if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() {
                    e.parse::<u64>().ok()
                } else {
                    None
                };
                let epoch = epoch.ok_or_else(|| {
                    error(Scheme::Dpkg, s, format!("epoch {e:?} is not a number"))
                })?;
                (epoch, rest)
            }
            None => (0, v),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(error(Scheme::Dpkg, s, "the upstream version is empty"));
        }
        if let Some(c) = upstream
            .chars()
            .chain(revision.chars())
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':')))
        {
            return Err(error(Scheme::Dpkg, s, format!("invalid character {c:?}")));
        }
        if revision.contains(':') {
            return Err(error(
                Scheme::Dpkg,
                s,
                "invalid character ':' in the revision",
            ));
        }
        Ok(DebVersion {
            epoch,
            upstream,
            revision,
        })
    }

    fn cmp_to(&self, other: &DebVersion<'_>) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream, other.upstream))
            .then_with(|| verrevcmp(self.revision, other.revision))
    }
}

/// dpkg's character order inside a non-digit run: `~` first, then the end
/// of the string (and digits, which end the run), then letters, then the
/// rest.
fn deb_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied();
    let digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    while at(a, i).is_some() || at(b, j).is_some() {
        while (at(a, i).is_some() && !digit(at(a, i))) || (at(b, j).is_some() && !digit(at(b, j))) {
            let (ac, bc) = (deb_order(at(a, i)), deb_order(at(b, j)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == Some(b'0') {
            i += 1;
        }
        while at(b, j) == Some(b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(at(a, i)) && digit(at(b, j)) {
            if first_diff == Ordering::Equal {
                first_diff = at(a, i).cmp(&at(b, j));
            }
            i += 1;
            j += 1;
        }
        if digit(at(a, i)) {
            return Ordering::Greater;
        }
        if digit(at(b, j)) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// A parsed RPM epoch:version-release.
struct Evr<'a> {
    epoch: u64,
    version: &'a str,
    release: Option<&'a str>,
}

impl<'a> Evr<'a> {
    fn parse(s: &'a str) -> Result<Self, VersionError> {
        let v = s.trim();
        let (epoch, rest) = match v.split_once(':') {
            Some(("", rest)) => (0, rest),
            Some((e, rest)) => {
                let epoch = e
                    .parse::<u64>()
                    .ok()
                    .filter(|_| e.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| error(Scheme::Rpm, s, format!("epoch {e:?} is not a number")))?;
                (epoch, rest)
            }
            None => (0, v),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((ver, rel)) => (ver, Some(rel).filter(|r| !r.is_empty())),
            None => (rest, None),
        };
        if version.is_empty() {
            return Err(error(Scheme::Rpm, s, "the version is empty"));
        }
        Ok(Evr {
            epoch,
            version,
            release,
        })
    }

    fn cmp_to(&self, other: &Evr<'_>) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(self.version, other.version))
            .then_with(|| match (self.release, other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                _ => Ordering::Equal,
            })
    }
}

/// rpm's `rpmvercmp`, with `~` (before anything) and `^` (after the end,
/// before anything else).
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied();
    let separator =
        |c: Option<u8>| c.is_some_and(|c| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^');
    loop {
        if at(a, i).is_none() && at(b, j).is_none() {
            return Ordering::Equal;
        }
        while separator(at(a, i)) {
            i += 1;
        }
        while separator(at(b, j)) {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca.is_none() || cb.is_none() {
            break;
        }
        let numeric = ca.is_some_and(|c| c.is_ascii_digit());
        let class = |c: u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (si, sj) = (i, j);
        while at(a, i).is_some_and(class) {
            i += 1;
        }
        while at(b, j).is_some_and(class) {
            j += 1;
        }
        let (mut one, mut two) = (
            a.get(si..i).unwrap_or_default(),
            b.get(sj..j).unwrap_or_default(),
        );
        if two.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if numeric {
            one = trim_zeros(one);
            two = trim_zeros(two);
            match one.len().cmp(&two.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match one.cmp(two) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (at(a, i).is_none(), at(b, j).is_none()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| c != b'0').unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

/// A relaxed semantic version.
struct SemverIsh<'a> {
    release: Vec<&'a str>,
    pre: Option<&'a str>,
    revision: Option<u64>,
}

impl<'a> SemverIsh<'a> {
    fn parse(s: &'a str) -> Result<Self, VersionError> {
        let mut v = s.trim();
        if let Some(rest) = v.strip_prefix(['v', 'V'])
            && rest.starts_with(|c: char| c.is_ascii_digit())
        {
            v = rest;
        }
        let v = v.split_once('+').map_or(v, |(core, _build)| core);
        if v.is_empty() {
            return Err(error(Scheme::Semver, s, "empty"));
        }
        let (v, revision) = match v.rsplit_once("-r") {
            Some((core, n))
                if !core.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (core, n.parse::<u64>().ok())
            }
            _ => (v, None),
        };
        let (release, pre) = match v.split_once('-') {
            Some((r, p)) => (r, Some(p)),
            None => (v, None),
        };
        Ok(SemverIsh {
            release: release.split('.').collect(),
            pre,
            revision,
        })
    }

    fn cmp_to(&self, other: &SemverIsh<'_>) -> Ordering {
        let parts = self.release.len().max(other.release.len());
        for k in 0..parts {
            let a = self.release.get(k).copied().unwrap_or("0");
            let b = other.release.get(k).copied().unwrap_or("0");
            match cmp_part(a, b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        let pre = match (self.pre, other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => cmp_pre(a, b),
        };
        pre.then_with(|| self.revision.unwrap_or(0).cmp(&other.revision.unwrap_or(0)))
    }
}

/// A release part: its leading number by value, then the rest (a letter
/// suffix sorts after no suffix).
fn cmp_part(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (&str, &str) {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        (
            s.get(..digits).unwrap_or_default(),
            s.get(digits..).unwrap_or_default(),
        )
    }
    let ((an, ar), (bn, br)) = (split(a), split(b));
    cmp_numeric(an, bn).then_with(|| ar.cmp(br))
}

/// Two digit strings by value, whatever their length.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let (a, b) = (trim_zeros(a.as_bytes()), trim_zeros(b.as_bytes()));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// SemVer §11.4: identifiers left to right; numeric < alphanumeric; numeric
/// by value; a shorter list of equal identifiers first.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let (mut xs, mut ys) = (a.split('.'), b.split('.'));
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let num = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
                let o = match (num(x), num(y)) {
                    (true, true) => cmp_numeric(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    fn check(scheme: Scheme, table: &[(&str, &str, Ordering)]) {
        for &(a, b, want) in table {
            assert_eq!(scheme.compare(a, b), Ok(want), "{scheme}: {a} vs {b}");
            assert_eq!(
                scheme.compare(b, a),
                Ok(want.reverse()),
                "{scheme}: {b} vs {a}"
            );
        }
    }

    #[test]
    fn dpkg_order_follows_deb_version() {
        check(
            Scheme::Dpkg,
            &[
                // OC-11: a security upload sorts after the version it patches.
                ("1.11.0-1", "1.11.0-1+deb13u1", Less),
                ("3.10.6-1~22.04", "3.10.6-1~22.04.2", Less),
                ("3.10.12-1~22.04.3", "3.10.6-1~22.04.2", Greater),
                // `~` sorts before the end: pre-releases and backports.
                ("1.0~rc1-1", "1.0-1", Less),
                ("1.0~~a", "1.0~", Less),
                ("1.0~", "1.0", Less),
                ("1.0", "1.0a", Less),
                ("1.0a", "1.0+", Less),
                // Epoch wins over everything.
                ("1:0.1", "2.0", Greater),
                ("0:1.0", "1.0", Equal),
                // Numbers by value, leading zeros ignored.
                ("1.010", "1.9", Greater),
                ("1.01", "1.1", Equal),
                // A missing revision is the empty revision.
                ("1.0", "1.0-0", Equal),
                ("1.0", "1.0-1", Less),
                ("2.30-1ubuntu1", "2.30-1", Greater),
                ("7.6p1-4", "7.6p1-4ubuntu0.7", Less),
                ("1.2.3-4-5", "1.2.3-4-6", Less),
            ],
        );
    }

    #[test]
    fn rpm_order_follows_rpmvercmp() {
        check(
            Scheme::Rpm,
            &[
                ("0:2.13.3-3.el8_6", "0:2.13.3-3.el8_6.1", Less),
                ("2.13.3-3.el8_6.1", "0:2.13.3-3.el8_6.1", Equal),
                ("1:1.0-1", "0:9.9-9", Greater),
                ("1.0", "1.0.1", Less),
                ("1.0a", "1.0", Greater),
                ("1.0a", "1.0.1", Less),
                ("1.10", "1.9", Greater),
                ("1.001", "1.1", Equal),
                ("1.0~rc1", "1.0", Less),
                ("1.0^git1", "1.0", Greater),
                ("1.0^git1", "1.0.1", Less),
                ("1_0", "1.0", Equal),
                (
                    "3.1.4-142.module+el8.9.0+21471+7d1e4a35",
                    "3.1.4-141.module+el8.9.0",
                    Greater,
                ),
                // The release counts only when both sides have one.
                ("1.2", "1.2-3", Equal),
            ],
        );
    }

    #[test]
    fn semver_fallback_order() {
        check(
            Scheme::Semver,
            &[
                ("1.6.0", "v1.5.9", Greater),
                ("1.2", "1.2.0", Equal),
                ("1.0.0-alpha", "1.0.0", Less),
                ("1.0.0-alpha", "1.0.0-alpha.1", Less),
                ("1.0.0-alpha.1", "1.0.0-alpha.beta", Less),
                ("1.0.0-beta.2", "1.0.0-beta.11", Less),
                ("1.0.0-rc.1", "1.0.0", Less),
                ("1.0.0+build.5", "1.0.0", Equal),
                ("2.31.0", "2.9.2", Greater),
                ("4.1.11", "4.2.0", Less),
                // Alpine: letter suffix, then the -rN package revision.
                ("1.0.2q-r0", "1.0.2p-r3", Greater),
                ("1.0.2q-r0", "1.0.2q-r1", Less),
                ("1.0.2q", "1.0.2", Greater),
            ],
        );
    }

    #[test]
    fn bad_versions_are_errors_with_the_reason() {
        let table: &[(Scheme, &str, &str)] = &[
            (Scheme::Dpkg, "", "dpkg version \"\": empty"),
            (
                Scheme::Dpkg,
                "x:1.0",
                "dpkg version \"x:1.0\": epoch \"x\" is not a number",
            ),
            (
                Scheme::Dpkg,
                "1.0 beta",
                "dpkg version \"1.0 beta\": invalid character ' '",
            ),
            (
                Scheme::Dpkg,
                "-1",
                "dpkg version \"-1\": the upstream version is empty",
            ),
            (
                Scheme::Rpm,
                "e:1.0",
                "rpm version \"e:1.0\": epoch \"e\" is not a number",
            ),
            (
                Scheme::Rpm,
                "0:-1",
                "rpm version \"0:-1\": the version is empty",
            ),
            (Scheme::Semver, " ", "semver version \" \": empty"),
        ];
        for &(scheme, bad, want) in table {
            let err = scheme.compare(bad, "1.0").unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn ecosystems_pick_their_scheme() {
        for (eco, want) in [
            (Some("Debian:13"), Scheme::Dpkg),
            (Some("Ubuntu:22.04:LTS"), Scheme::Dpkg),
            (Some("Red Hat:rhel_aus:8.6::appstream"), Scheme::Rpm),
            (Some("Rocky Linux:8"), Scheme::Rpm),
            (Some("Alpine:v3.8"), Scheme::Semver),
            (Some("PyPI"), Scheme::Semver),
            (None, Scheme::Semver),
        ] {
            assert_eq!(Scheme::for_ecosystem(eco), want, "{eco:?}");
        }
    }
}
