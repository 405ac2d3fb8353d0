//! Exposures: the correlation of findings across checks and scanners.
//!
//! Two scanners (or two checks of one scanner) often report the same
//! vulnerability on the same host: a Nessus remote banner check and a Nessus
//! local check, Qualys and Nessus, a Trivy result in two jars. Each keeps its
//! own finding (its own fingerprint, id and history), but together they are
//! **one exposure**, so the report counts it once and the scheduler plans one
//! remediation for it.
//!
//! # Rule
//!
//! On one asset, two findings belong to the same exposure when they share a
//! CVE id (compared case-insensitively), and the relation is transitive
//! (finding A shares CVE-1 with B, B shares CVE-2 with C: A, B and C are one
//! exposure). A finding without any CVE is an exposure of its own. Findings on
//! different assets are never one exposure.

use std::collections::HashMap;

/// The exposure of each finding: `findings` gives `(asset_id, cves)` per
/// finding; the result has one group number per finding, in input order.
/// Groups are numbered 0, 1, 2, … in the order of their first finding, so
/// the numbering depends only on the input order.
///
/// ```
/// let cves = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// let (a, b, c, d) = (cves(&["CVE-1"]), cves(&["cve-1", "CVE-2"]), cves(&["CVE-2"]), cves(&[]));
/// let groups = events::exposure::groups(&[
///     ("web", &a[..]), ("web", &b[..]), ("db", &a[..]), ("web", &c[..]), ("web", &d[..]),
/// ]);
/// assert_eq!(groups, vec![0, 0, 1, 0, 2]);
/// ```
pub fn groups(findings: &[(&str, &[String])]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..findings.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while let Some(&p) = parent.get(i) {
            if p == i {
                break;
            }
            // Path halving keeps the trees flat.
            let grand = parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(i) {
                *slot = grand;
            }
            i = grand;
        }
        i
    }
    let mut first_with: HashMap<(&str, String), usize> = HashMap::new();
    for (i, (asset, cves)) in findings.iter().enumerate() {
        for cve in cves.iter() {
            let cve = cve.trim().to_ascii_uppercase();
            if cve.is_empty() {
                continue;
            }
            match first_with.get(&(*asset, cve.clone())) {
                Some(&j) => {
                    let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                    if ri != rj {
                        // The smaller index stays the root: deterministic.
                        let (keep, join) = if ri < rj { (ri, rj) } else { (rj, ri) };
                        if let Some(slot) = parent.get_mut(join) {
                            *slot = keep;
                        }
                    }
                }
                None => {
                    first_with.insert((*asset, cve), i);
                }
            }
        }
    }
    let mut numbers: HashMap<usize, usize> = HashMap::new();
    (0..findings.len())
        .map(|i| {
            let r = root(&mut parent, i);
            let next = numbers.len();
            *numbers.entry(r).or_insert(next)
        })
        .collect()
}

/// The number of exposures among `findings` (see [`groups`]).
pub fn count(findings: &[(&str, &[String])]) -> usize {
    groups(findings).into_iter().max().map_or(0, |m| m + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[(&str, &[&str])], want: &[usize]) {
        let owned: Vec<(&str, Vec<String>)> = input
            .iter()
            .map(|(a, c)| (*a, c.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        let view: Vec<(&str, &[String])> = owned.iter().map(|(a, c)| (*a, &c[..])).collect();
        assert_eq!(groups(&view), want, "{input:?}");
        assert_eq!(
            count(&view),
            want.iter().max().map_or(0, |m| m + 1),
            "{input:?}"
        );
    }

    #[test]
    fn findings_sharing_a_cve_on_one_asset_are_one_exposure() {
        // (input, groups)
        check(&[], &[]);
        check(&[("h", &["CVE-1"]), ("h", &["CVE-1"])], &[0, 0]);
        // Different assets never merge.
        check(&[("h", &["CVE-1"]), ("g", &["CVE-1"])], &[0, 1]);
        // No CVE: its own exposure, even next to an identical one.
        check(&[("h", &[]), ("h", &[])], &[0, 1]);
        // Transitive: A-B share CVE-1, B-C share CVE-2.
        check(
            &[
                ("h", &["CVE-1"]),
                ("h", &["CVE-3"]),
                ("h", &["CVE-2"]),
                ("h", &["cve-1", "CVE-2"]),
            ],
            &[0, 1, 0, 0],
        );
        // Case and surrounding space do not matter; empty ids are ignored.
        check(
            &[("h", &[" cve-9 ", ""]), ("h", &["CVE-9"]), ("h", &[""])],
            &[0, 0, 1],
        );
    }
}
