//! Shared fixtures of the prioritize benchmarks: a deterministic pool of
//! varied findings (every CVSS v3.1 base vector, some v4.0 and v2 ones,
//! tiers, exposure, CVEs) and intel tables for them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::{
    Asset, Check, CvssVector, CvssVersion, FindingObserved, KevInput, Remediation, Severity,
};
use prioritize::intel::{EpssTable, Intel, KevCatalog};
use uuid::Uuid;

/// Distinct CVEs the pool's findings refer to.
pub const CVES: u64 = 5000;

/// A small deterministic generator (SplitMix64), so runs compare.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Every CVSS v3.1 base vector (4·2·3·2·2·3·3·3 = 2,592).
pub fn v31_vectors() -> Vec<String> {
    let mut out = Vec::new();
    for av in ["N", "A", "L", "P"] {
        for ac in ["L", "H"] {
            for pr in ["N", "L", "H"] {
                for ui in ["N", "R"] {
                    for s in ["U", "C"] {
                        for c in ["H", "L", "N"] {
                            for i in ["H", "L", "N"] {
                                for a in ["H", "L", "N"] {
                                    out.push(format!(
                                        "CVSS:3.1/AV:{av}/AC:{ac}/PR:{pr}/UI:{ui}/S:{s}/C:{c}/I:{i}/A:{a}"
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

const V4: &[&str] = &[
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N",
    "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:A/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N",
    "CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P",
];
const V2: &[&str] = &[
    "AV:N/AC:L/Au:N/C:P/I:P/A:P",
    "AV:N/AC:M/Au:N/C:N/I:P/A:N",
    "AV:L/AC:L/Au:N/C:C/I:C/A:C",
];

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_default()
}

/// `n` findings on `n / 8` hosts: 80 % carry one v3.1 vector, 10 % v4.0 and
/// v3.1, 10 % v2 only; one or two CVEs each; tiers 1–4 or unknown; a third
/// internet-facing.
pub fn findings(n: usize, rng: &mut Rng) -> Vec<FindingObserved> {
    let v31 = v31_vectors();
    let t0 = utc("2026-03-01T10:00:00Z");
    (0..n)
        .map(|i| {
            let host = i / 8;
            let mut cvss = Vec::new();
            let kind = rng.below(10);
            let v3 = &v31[rng.below(v31.len() as u64) as usize];
            if kind < 9 {
                cvss.push(CvssVector {
                    version: CvssVersion::V3_1,
                    vector: v3.clone(),
                    reported_score: Some(5.0),
                    source: "nvd".to_owned(),
                });
            }
            if kind == 8 {
                cvss.push(CvssVector {
                    version: CvssVersion::V4_0,
                    vector: V4[rng.below(V4.len() as u64) as usize].to_owned(),
                    reported_score: None,
                    source: "nvd".to_owned(),
                });
            }
            if kind == 9 {
                cvss.push(CvssVector {
                    version: CvssVersion::V2,
                    vector: V2[rng.below(V2.len() as u64) as usize].to_owned(),
                    reported_score: None,
                    source: "nessus".to_owned(),
                });
            }
            let cves: Vec<String> = (0..1 + rng.below(2))
                .map(|_| format!("CVE-2025-{:05}", 10_000 + rng.below(CVES)))
                .collect();
            let first = t0 + TimeDelta::minutes(rng.below(60 * 24 * 30) as i64);
            FindingObserved {
                finding_id: Uuid::from_u128(i as u128 + 1),
                fingerprint: format!("nessus:v1:host-{host}:{}:443/tcp", 10_000 + i % 500),
                scan_id: Uuid::from_u128(1),
                asset: Asset {
                    asset_id: format!("host-{host}"),
                    ring: Some(["dev", "test", "staging", "prod"][host % 4].to_owned()),
                    tier: [None, Some(1), Some(2), Some(3), Some(4)][rng.below(5) as usize],
                    internet_facing: Some(rng.below(3) == 0),
                    ..Asset::default()
                },
                check: Check {
                    scanner: "nessus".to_owned(),
                    id: (10_000 + i % 500).to_string(),
                    name: "Example plugin".to_owned(),
                    family: None,
                },
                port: 443,
                protocol: "tcp".to_owned(),
                service: Some("www".to_owned()),
                severity: [
                    Severity::Low,
                    Severity::Medium,
                    Severity::High,
                    Severity::Critical,
                ][rng.below(4) as usize],
                cves,
                cwes: vec![],
                cvss,
                remediation: Remediation::Advisory {
                    id: format!("RHSA-2026:{:04}", i % 700),
                },
                observed_at: first,
                first_observed_at: first,
                package: None,
                fix_state: None,
                reopened: false,
            }
        })
        .collect()
}

/// KEV lists 2 % of the CVEs; EPSS scores all of them.
pub fn intel(rng: &mut Rng) -> Intel {
    let mut kev = HashMap::new();
    let mut epss = HashMap::new();
    for n in 0..CVES {
        let cve = format!("CVE-2025-{:05}", 10_000 + n);
        if rng.below(50) == 0 {
            kev.insert(
                cve.clone(),
                KevInput {
                    cve: cve.clone(),
                    date_added: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap_or_default(),
                    due_date: NaiveDate::from_ymd_opt(2026, 3, 1 + rng.below(28) as u32)
                        .unwrap_or_default(),
                    known_ransomware: Some(rng.below(4) == 0),
                    catalog_version: "2026.02.01".to_owned(),
                },
            );
        }
        let p = rng.unit().powi(4);
        epss.insert(cve, (p, Some(rng.unit())));
    }
    Intel {
        kev: Some(KevCatalog {
            catalog_version: "2026.02.01".to_owned(),
            released: utc("2026-02-01T00:00:00Z"),
            entries: kev.into(),
            warnings: vec![],
        }),
        epss: Some(EpssTable {
            model_version: Some("v2025.03.14".to_owned()),
            score_date: utc("2026-02-28T12:55:00Z"),
            scores: epss.into(),
            warnings: vec![],
        }),
        ..Intel::default()
    }
}
