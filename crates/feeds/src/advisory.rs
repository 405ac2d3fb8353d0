//! What CSAF and OSV advisories share: their error type and the pieces of
//! the mapping to [`events::AdvisoryPublished`] (severity words, CVSS vector
//! versions, merging affected statements per package).

use std::collections::HashMap;

use events::{AffectedPackage, AffectedRange, CvssVector, CvssVersion, Severity};

/// Why an advisory document (CSAF or OSV) could not be used. The message
/// names the problem; nothing of a document that fails is published.
#[derive(Debug, thiserror::Error)]
pub enum AdvisoryError {
    /// Reading the input failed.
    #[error("read {format} document: {source}")]
    Io {
        /// `CSAF` or `OSV`.
        format: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A 0-byte (or blank) file. Policy: refused. A feed, or a scanner such
    /// as osv-scanner, that finds nothing still writes a JSON document
    /// (`{"results": []}`), so an empty file is a failed run or a cut-off
    /// download, and accepting it as "no advisories" would hide that.
    #[error(
        "{format} document is empty (0 bytes): a feed or scanner that found nothing still writes \
         a JSON document, so an empty file is a failed run or a cut-off download"
    )]
    Empty {
        /// `CSAF` or `OSV`.
        format: &'static str,
    },
    /// Not JSON at all (an HTML error page, a truncated file).
    #[error("{format} document is not JSON: {reason}")]
    NotJson {
        /// `CSAF` or `OSV`.
        format: &'static str,
        /// Why (an HTML page is named by its title).
        reason: String,
    },
    /// JSON that breaks the format's schema or rules; the reason names the
    /// field (`vulnerabilities[0].product_status.fixed: product id "X" is not
    /// defined in the product tree`).
    #[error("{format} document is not valid: {reason}")]
    Invalid {
        /// `CSAF` or `OSV`.
        format: &'static str,
        /// What is wrong, and where.
        reason: String,
    },
    /// A CSAF document of another version than 2.0.
    #[error(
        "CSAF version {0:?} is not supported: only CSAF 2.0 is read (1.x documents are \
         CVRF-era; convert them to CSAF 2.0 first)"
    )]
    CsafVersion(String),
}

/// Reads a JSON document after the checks every advisory format shares: not
/// empty, not markup.
pub(crate) fn json_text<'a>(
    format: &'static str,
    bytes: &'a [u8],
) -> Result<std::borrow::Cow<'a, str>, AdvisoryError> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = String::from_utf8_lossy(body);
    match text.trim_start().chars().next() {
        None => Err(AdvisoryError::Empty { format }),
        Some('<') => Err(AdvisoryError::NotJson {
            format,
            reason: crate::intel::describe_markup(&text),
        }),
        Some('{' | '[') => Ok(text),
        Some(c) => Err(AdvisoryError::NotJson {
            format,
            reason: format!("it starts with {c:?}"),
        }),
    }
}

/// Maps a serde error to [`AdvisoryError`]: syntax errors mean "not JSON",
/// shape errors "not valid".
pub(crate) fn serde_error(format: &'static str, e: &serde_json::Error) -> AdvisoryError {
    if e.is_syntax() || e.is_eof() {
        AdvisoryError::NotJson {
            format,
            reason: e.to_string(),
        }
    } else {
        AdvisoryError::Invalid {
            format,
            reason: e.to_string(),
        }
    }
}

/// A vendor's severity word, normalized: Red Hat's `Critical`,
/// `Important`, `Moderate`, `Low`; CVSS qualitative ratings (`CRITICAL`,
/// `HIGH`, `MEDIUM`, `LOW`, `NONE`); GHSA's `MODERATE`; Ubuntu's
/// `negligible`. Unknown words give `None` (never a guess).
pub fn severity_word(word: &str) -> Option<Severity> {
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "important" | "high" => Some(Severity::High),
        "moderate" | "medium" => Some(Severity::Medium),
        "low" | "negligible" => Some(Severity::Low),
        "none" | "info" | "informational" => Some(Severity::Info),
        _ => None,
    }
}

/// A CVSS vector with its version read from its prefix (`CVSS:3.1/`,
/// `CVSS:3.0/`, `CVSS:4.0/`; a bare `AV:…` vector is v2), or `None` when it
/// is none of these.
pub(crate) fn cvss_vector(vector: &str, score: Option<f64>, source: &str) -> Option<CvssVector> {
    let v = vector.trim();
    let version = if v.starts_with("CVSS:3.1/") {
        CvssVersion::V3_1
    } else if v.starts_with("CVSS:3.0/") {
        CvssVersion::V3_0
    } else if v.starts_with("CVSS:4.0/") {
        CvssVersion::V4_0
    } else if v.starts_with("AV:") {
        CvssVersion::V2
    } else {
        return None;
    };
    Some(CvssVector {
        version,
        vector: v.to_owned(),
        reported_score: score,
        source: source.to_owned(),
    })
}

/// Collects affected statements, one [`AffectedPackage`] per (ecosystem,
/// name, affected or not, versioned or whole-product), ranges and fixed
/// versions de-duplicated in first-seen order.
#[derive(Default)]
pub(crate) struct AffectedSet {
    entries: Vec<AffectedPackage>,
    index: HashMap<(Option<String>, String, bool, bool), usize>,
}

impl AffectedSet {
    /// Adds a statement: `range: None` speaks about every version.
    pub(crate) fn add(
        &mut self,
        ecosystem: Option<&str>,
        name: &str,
        not_affected: bool,
        range: Option<AffectedRange>,
    ) {
        let key = (
            ecosystem.map(str::to_owned),
            name.to_owned(),
            not_affected,
            range.is_some(),
        );
        let at = *self.index.entry(key).or_insert_with(|| {
            self.entries.push(AffectedPackage {
                ecosystem: ecosystem.map(str::to_owned),
                name: name.to_owned(),
                fixed_versions: Vec::new(),
                not_affected,
                ranges: Vec::new(),
            });
            self.entries.len() - 1
        });
        let Some(entry) = self.entries.get_mut(at) else {
            return;
        };
        if let Some(range) = range {
            if let Some(fixed) = &range.fixed
                && !entry.fixed_versions.contains(fixed)
            {
                entry.fixed_versions.push(fixed.clone());
            }
            if !entry.ranges.contains(&range) {
                entry.ranges.push(range);
            }
        }
    }

    /// The entries, sorted by ecosystem, name, then affected before not.
    pub(crate) fn finish(mut self) -> Vec<AffectedPackage> {
        self.entries.sort_by(|a, b| {
            (&a.ecosystem, &a.name, a.not_affected, !a.ranges.is_empty()).cmp(&(
                &b.ecosystem,
                &b.name,
                b.not_affected,
                !b.ranges.is_empty(),
            ))
        });
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_words() {
        for (word, want) in [
            ("Important", Some(Severity::High)),
            ("MODERATE", Some(Severity::Medium)),
            ("CRITICAL", Some(Severity::Critical)),
            ("Low", Some(Severity::Low)),
            ("NONE", Some(Severity::Info)),
            ("urgent?", None),
        ] {
            assert_eq!(severity_word(word), want, "{word}");
        }
    }

    #[test]
    fn vector_versions_come_from_the_prefix() {
        let v = |s: &str| cvss_vector(s, None, "t").map(|c| c.version);
        assert_eq!(
            v("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(CvssVersion::V3_1)
        );
        assert_eq!(v("CVSS:3.0/AV:N"), Some(CvssVersion::V3_0));
        assert_eq!(v("CVSS:4.0/AV:N"), Some(CvssVersion::V4_0));
        assert_eq!(v("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some(CvssVersion::V2));
        assert_eq!(v("9.8"), None);
    }
}
