//! Shared by the corpus tests of every report format: run a file through
//! the same calls `patchflow parse` and the adapter make (`format::open`,
//! `format::check`, `format::hosts`) and hand back everything they produce,
//! and cut and corrupt files to prove no input panics.

#![allow(dead_code)]

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ingest::format::{self, Format, Summary};
use ingest::normalize::{NormalizedHost, Observation};

/// The corpus file `dir/name`, or `None` (test skipped) without a corpus.
pub fn corpus_file(dir: &str, name: &str) -> Option<PathBuf> {
    Some(testkit::corpus()?.join(dir).join(name))
}

/// The case file `case/name`, or `None` (test skipped) without the cases.
pub fn case_file(case: &str, name: &str) -> Option<PathBuf> {
    Some(testkit::cases()?.join(case).join(name))
}

/// The (CVE, package, installed, fixed) tuples of Trivy's alpine-310 scan,
/// which its JSON and its SARIF golden must both normalize to.
pub const ALPINE_310: [(&str, &str, &str, &str); 4] = [
    ("CVE-2019-1549", "libcrypto1.1", "1.1.1c-r0", "1.1.1d-r0"),
    ("CVE-2019-1551", "libcrypto1.1", "1.1.1c-r0", "1.1.1d-r2"),
    ("CVE-2019-1549", "libssl1.1", "1.1.1c-r0", "1.1.1d-r0"),
    ("CVE-2019-1551", "libssl1.1", "1.1.1c-r0", "1.1.1d-r2"),
];

/// The fallback observation time: far from every corpus date, so a wrong
/// fallback shows.
pub fn fallback() -> DateTime<Utc> {
    utc("2030-01-01T00:00:00Z")
}

/// An RFC 3339 instant.
pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Opens `path` buffered; panics naming the file when it cannot.
pub fn open(path: &Path) -> BufReader<File> {
    BufReader::new(File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())))
}

/// What one report gives.
#[derive(Debug)]
pub struct Parsed {
    /// The detected format.
    pub format: Format,
    /// The whole-report check's counts.
    pub summary: Summary,
    /// The hosts, normalized.
    pub hosts: Vec<NormalizedHost>,
}

impl Parsed {
    /// Every finding of every host, in report order.
    pub fn findings(&self) -> Vec<&Observation> {
        self.hosts.iter().flat_map(|h| &h.findings).collect()
    }

    /// The count skipped for `reason` (0 when none).
    pub fn skipped(&self, reason: &str) -> u64 {
        self.summary
            .skipped
            .iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// The first finding of this check id.
    pub fn finding_by_check(&self, id: &str) -> &Observation {
        self.findings()
            .into_iter()
            .find(|f| f.check.id == id)
            .unwrap_or_else(|| panic!("no finding {id}"))
    }

    /// The finding with this check id and package name.
    pub fn finding(&self, id: &str, package: &str) -> &Observation {
        self.findings()
            .into_iter()
            .find(|f| f.check.id == id && f.package.as_ref().is_some_and(|p| p.name == package))
            .unwrap_or_else(|| panic!("no finding {id} in {package}"))
    }
}

/// Detects, checks and normalizes `path` like `patchflow parse`; panics
/// with the reason when the report is rejected.
pub fn parse(path: &Path) -> Parsed {
    let (format, reader) =
        format::open(open(path), None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let summary = format::check(format, reader)
        .unwrap_or_else(|e| panic!("{} rejected: {e}", path.display()));
    let (again, reader) = format::open(open(path), Some(format)).unwrap();
    assert_eq!(again, format);
    let hosts = format::hosts(format, reader, fallback())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        summary.hosts,
        hosts.len() as u64,
        "{}: hosts",
        path.display()
    );
    Parsed {
        format,
        summary,
        hosts,
    }
}

/// Parses the file twice and checks that re-importing it gives the same
/// findings, ids and fingerprints, with no two findings sharing an id.
pub fn assert_reimport_stable(path: &Path) -> Parsed {
    let first = parse(path);
    let second = parse(path);
    let ids = |p: &Parsed| -> Vec<(String, uuid::Uuid)> {
        p.findings()
            .iter()
            .map(|f| (f.fingerprint.clone(), f.finding_id))
            .collect()
    };
    assert_eq!(ids(&first), ids(&second), "{}", path.display());
    let mut unique: Vec<uuid::Uuid> = ids(&first).into_iter().map(|(_, id)| id).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        first.findings().len(),
        "{}: duplicate ids",
        path.display()
    );
    first
}

/// Cuts every file of corpus folder `dir` at several points and corrupts
/// bytes in it: the check and the host stream must return (never panic),
/// and a document cut before its last byte of content must be rejected.
pub fn assert_damage_is_rejected(dir: &str) {
    let Some(folder) = corpus_file(dir, "") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let content_end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let run = |data: &[u8]| -> Result<(), String> {
            let (fmt, reader) = format::open(data, None).map_err(|e| e.to_string())?;
            format::check(fmt, reader).map_err(|e| e.to_string())?;
            let (fmt, reader) = format::open(data, Some(fmt)).map_err(|e| e.to_string())?;
            for h in format::hosts(fmt, reader, fallback()) {
                h.map_err(|e| e.to_string())?;
            }
            Ok(())
        };
        for k in 1..8 {
            let cut = content_end * k / 8;
            if cut == 0 {
                continue;
            }
            let result = run(&bytes[..cut]);
            assert!(result.is_err(), "{} cut at {cut} accepted", path.display());
        }
        for k in 1..16 {
            let mut damaged = bytes.clone();
            let at = damaged.len() * k / 16;
            if let Some(b) = damaged.get_mut(at) {
                *b = [b'{', b'"', b'\xff', b']', b'\\', 0][k % 6];
            }
            // Any outcome but a panic is fine: a damaged byte inside a
            // string can leave a valid document.
            let _ = run(&damaged);
        }
    }
}

/// Detects, checks and normalizes corpus file `dir/name` (`None`: no
/// corpus, test skipped), asserts it is detected as `want`, and that a
/// second import gives the same hosts; returns the check's summary and the
/// hosts.
pub fn run(dir: &str, name: &str, want: Format) -> Option<(Summary, Vec<NormalizedHost>)> {
    let path = corpus_file(dir, name)?;
    let first = parse(&path);
    assert_eq!(first.format, want, "{name} detected as {}", first.format);
    let again = parse(&path);
    assert_eq!(first.hosts, again.hosts, "{name}: a re-import differs");
    Some((first.summary, first.hosts))
}

/// Cuts and corrupts corpus file `dir/name` at many places: every variant
/// is either read or rejected with a reason, never a panic; with `xml`, a
/// report cut inside its root element is always rejected.
pub fn survives_damage(dir: &str, name: &str, xml: bool) {
    let Some(path) = corpus_file(dir, name) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let read = |data: &[u8]| -> Result<usize, String> {
        let (f, r) = format::open(data, None).map_err(|e| e.to_string())?;
        format::check(f, r).map_err(|e| e.to_string())?;
        let (f, r) = format::open(data, Some(f)).map_err(|e| e.to_string())?;
        let hosts: Vec<NormalizedHost> = format::hosts(f, r, fallback())
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        Ok(hosts.len())
    };
    let step = (bytes.len() / 40).max(1);
    for cut in (0..bytes.len()).step_by(step) {
        let got = read(bytes.get(..cut).unwrap_or_default());
        if xml && cut > bytes.len() / 10 && cut < bytes.len() * 9 / 10 {
            let reason = got.expect_err("a cut report was accepted");
            assert!(!reason.is_empty());
        }
    }
    for at in (0..bytes.len()).step_by(step) {
        for byte in [b'<', 0xff, b'&', b'"'] {
            let mut damaged = bytes.clone();
            if let Some(b) = damaged.get_mut(at) {
                *b = byte;
            }
            let _ = read(&damaged);
        }
    }
}
