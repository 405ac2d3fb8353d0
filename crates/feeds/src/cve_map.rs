//! [`CveMap`]: an intel table keyed by CVE id (the KEV catalog's entries,
//! the EPSS scores) with a packed-integer index for the decision's lookups.
//!
//! A CVE id `CVE-YYYY-NNNN…` (MITRE CVE ID syntax: a four-digit year and a
//! sequence number of four or more digits) packs into a `u64`
//! ([`cve_code`]), so a lookup hashes 8 bytes and compares integers instead
//! of hashing the text and comparing it with a key stored elsewhere on the
//! heap. The map keeps the ids as text too (what the rest of the code reads
//! through [`Deref`] to [`HashMap`]); the index is derived from it and every
//! change goes through [`CveMap::insert`], which updates both, so they never
//! disagree. Ids that do not pack (a number of 14 or more digits, anything
//! not upper case) are found through the text map, as before.

use std::collections::HashMap;
use std::ops::Deref;

/// The packed form of an upper-case CVE id, `None` when `id` is not
/// `CVE-` + four ASCII digits + `-` + 1 to 13 ASCII digits. With
/// `any_case`, `cve-` in any case is accepted too (the code of
/// `id.to_ascii_uppercase()`, digits having no case).
///
/// Distinct ids get distinct codes: the code holds the year, the number and
/// the count of its digits (so `CVE-2024-0001` and `CVE-2024-00001` stay
/// apart), and bit 63 is always set. Layout: bit 63 set, bits 58–61 the
/// digit count, bits 44–57 the year, bits 0–43 the number (10¹³ < 2⁴⁴).
#[inline]
pub fn cve_code(id: &str, any_case: bool) -> Option<u64> {
    let b = id.as_bytes();
    let (prefix, rest) = b.split_at_checked(4)?;
    let prefix_ok = if any_case {
        prefix.eq_ignore_ascii_case(b"CVE-")
    } else {
        prefix == b"CVE-"
    };
    if !prefix_ok {
        return None;
    }
    let (year, rest) = rest.split_at_checked(4)?;
    let number = rest.strip_prefix(b"-")?;
    if number.is_empty() || number.len() > 13 {
        return None;
    }
    let digits = |s: &[u8]| {
        s.iter().try_fold(0u64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
        })
    };
    let year = digits(year)?;
    let value = digits(number)?;
    Some(1 << 63 | (number.len() as u64) << 58 | year << 44 | value)
}

/// The hasher of the packed index: foldhash, a few multiplications for a
/// `u64`, where the standard SipHash costs tens of nanoseconds. It is
/// seeded per process ([`foldhash::fast::RandomState`]), so colliding keys
/// cannot be chosen in advance; the keys come from the CISA and FIRST
/// feeds, and a scanner report only ever looks keys up. The seed changes
/// no output (the index is only looked up, never iterated), so the crate
/// stays deterministic. The index costs about 32 bytes per EPSS row (a
/// copy of the value beside its code) and a copy of each KEV entry.
type CodeHasher = foldhash::fast::RandomState;

/// A table keyed by upper-case CVE id, read like a [`HashMap`] (through
/// [`Deref`]) and looked up case-insensitively through [`CveMap::get_cve`],
/// which uses the packed index ([`cve_code`]). Change it with
/// [`CveMap::insert`]; build it with `collect()` or `From<HashMap>`.
#[derive(Clone)]
pub struct CveMap<V> {
    /// Upper-case CVE id → value: the table itself.
    map: HashMap<String, V>,
    /// [`cve_code`] of each key that packs → a copy of its value.
    by_code: HashMap<u64, V, CodeHasher>,
}

impl<V> Default for CveMap<V> {
    fn default() -> Self {
        CveMap {
            map: HashMap::new(),
            by_code: HashMap::default(),
        }
    }
}

impl<V: Clone> CveMap<V> {
    /// Sets `cve`'s value (the key as given: upper-case ids are the
    /// convention), returning the value it replaces, like
    /// [`HashMap::insert`].
    pub fn insert(&mut self, cve: String, value: V) -> Option<V> {
        if let Some(code) = cve_code(&cve, false) {
            self.by_code.insert(code, value.clone());
        }
        self.map.insert(cve, value)
    }

    /// The value of `cve`, case-insensitively: what
    /// `self.get(&cve.to_ascii_uppercase())` gives, without allocating and,
    /// for an id that packs, without reading any key text.
    #[inline]
    pub fn get_cve(&self, cve: &str) -> Option<&V> {
        self.get_key(&CveKey::new(cve))
    }

    /// [`CveMap::get_cve`] for an id already packed (to look one id up in
    /// several tables while parsing it once).
    #[inline]
    pub fn get_key(&self, key: &CveKey<'_>) -> Option<&V> {
        match key.code {
            // An id that packs equals (upper-cased) only keys that pack.
            Some(code) => self.by_code.get(&code),
            None if key.id.bytes().any(|b| b.is_ascii_lowercase()) => {
                self.map.get(&key.id.to_ascii_uppercase())
            }
            None => self.map.get(key.id),
        }
    }
}

/// A CVE id to look up in [`CveMap`]s: the id as given and its
/// [`cve_code`] (any case), computed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CveKey<'a> {
    /// The id as given (any case).
    pub id: &'a str,
    /// `cve_code(id, true)`.
    code: Option<u64>,
}

impl<'a> CveKey<'a> {
    /// Packs `id` ([`cve_code`], any case).
    #[inline]
    pub fn new(id: &'a str) -> CveKey<'a> {
        CveKey {
            id,
            code: cve_code(id, true),
        }
    }
}

impl<V> Deref for CveMap<V> {
    type Target = HashMap<String, V>;

    fn deref(&self) -> &HashMap<String, V> {
        &self.map
    }
}

impl<V: Clone> From<HashMap<String, V>> for CveMap<V> {
    fn from(map: HashMap<String, V>) -> Self {
        let mut by_code = HashMap::with_capacity_and_hasher(map.len(), CodeHasher::default());
        for (cve, value) in &map {
            if let Some(code) = cve_code(cve, false) {
                by_code.insert(code, value.clone());
            }
        }
        CveMap { map, by_code }
    }
}

impl<V: Clone> FromIterator<(String, V)> for CveMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        CveMap::from(iter.into_iter().collect::<HashMap<_, _>>())
    }
}

impl<V: PartialEq> PartialEq for CveMap<V> {
    /// Equal when the tables are (the index is derived from them).
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for CveMap<V> {
    /// The table, as a [`HashMap`] prints (the index is derived from it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map.fmt(f)
    }
}

impl<'a, V> IntoIterator for &'a CveMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = std::collections::hash_map::Iter<'a, String, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_strict() {
        let ids = [
            "CVE-2024-0001",
            "CVE-2024-00001",
            "CVE-2024-1",
            "CVE-2024-10001",
            "CVE-2025-0001",
            "CVE-0000-0000",
            "CVE-9999-9999999999999",
        ];
        let codes: Vec<_> = ids.iter().map(|i| cve_code(i, false)).collect();
        assert!(codes.iter().all(Option::is_some), "{codes:?}");
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), ids.len());
        for odd in [
            "CVE-2024-",
            "CVE-24-0001",
            "CVE-2024-00000000000001",
            "CVE-2024-12a4",
            "CVE-2024_0001",
            "GHSA-2024-0001",
            "CVE-2024-0001 ",
            "",
        ] {
            assert_eq!(cve_code(odd, true), None, "{odd}");
        }
        assert_eq!(cve_code("cve-2024-0001", false), None);
        assert_eq!(
            cve_code("cVe-2024-0001", true),
            cve_code("CVE-2024-0001", false)
        );
    }

    #[test]
    fn get_cve_is_get_of_the_upper_case_id() {
        let mut m: CveMap<u32> = [
            ("CVE-2024-0001".to_owned(), 1),
            ("CVE-2024-00000000000001".to_owned(), 2),
            ("cve-2024-0003".to_owned(), 3),
            ("ODD".to_owned(), 4),
        ]
        .into_iter()
        .collect();
        m.insert("CVE-2024-0005".to_owned(), 5);
        assert_eq!(m.insert("CVE-2024-0001".to_owned(), 6), Some(1));
        for q in [
            "CVE-2024-0001",
            "cve-2024-0001",
            "CVE-2024-001",
            "CVE-2024-00000000000001",
            "cve-2024-00000000000001",
            "cve-2024-0003",
            "CVE-2024-0003",
            "odd",
            "ODD",
            "CVE-2024-0005",
            "CVE-2024-0006",
        ] {
            assert_eq!(m.get_cve(q), m.get(&q.to_ascii_uppercase()), "{q}");
        }
        assert_eq!(m.get_cve("cve-2024-0001"), Some(&6));
        assert_eq!(m.get_cve("CVE-2024-0003"), None);
        assert_eq!(m.len(), 5);
    }
}
