//! Package URLs (`pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=x86_64`), the
//! package identity CSAF and OSV carry (purl specification,
//! <https://github.com/package-url/purl-spec>).

use std::collections::BTreeMap;

/// A parsed package URL; every part percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// Package type, lower case (`rpm`, `deb`, `apk`, `pypi`, `npm`, …).
    pub ty: String,
    /// Namespace (`redhat`, `debian`), `/`-joined when it has several segments.
    pub namespace: Option<String>,
    /// Package name.
    pub name: String,
    /// Version, as written after `@`.
    pub version: Option<String>,
    /// Qualifiers (`arch`, `epoch`, `distro`, `rpmmod`), keys lower case.
    pub qualifiers: BTreeMap<String, String>,
}

impl Purl {
    /// Parses `pkg:type/namespace/name@version?qualifiers#subpath` (the
    /// subpath is dropped).
    ///
    /// # Errors
    /// A one-line reason when the scheme is not `pkg:` or the type or name
    /// is missing.
    pub fn parse(s: &str) -> Result<Purl, String> {
        let rest = s
            .trim()
            .strip_prefix("pkg:")
            .ok_or_else(|| format!("purl {s:?} does not start with pkg:"))?;
        let rest = rest.split_once('#').map_or(rest, |(r, _subpath)| r);
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (path, version) = match rest.rsplit_once('@') {
            Some((p, v)) => (p, Some(decode(v)).filter(|v| !v.is_empty())),
            None => (rest, None),
        };
        let mut segments: Vec<&str> = path
            .trim_start_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        if segments.len() < 2 {
            return Err(format!("purl {s:?} has no type/name"));
        }
        let ty = segments.remove(0).to_ascii_lowercase();
        let name = segments
            .pop()
            .map(decode)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("purl {s:?} has no name"))?;
        let namespace = if segments.is_empty() {
            None
        } else {
            Some(
                segments
                    .into_iter()
                    .map(decode)
                    .collect::<Vec<_>>()
                    .join("/"),
            )
        };
        let mut qualifiers = BTreeMap::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if let Some((k, v)) = pair.split_once('=') {
                qualifiers.insert(k.to_ascii_lowercase(), decode(v));
            }
        }
        Ok(Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers,
        })
    }

    /// The qualifier `key`, if present.
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.get(key).map(String::as_str)
    }
}

/// Percent-decoding (`%2B` → `+`); malformed escapes are kept as written.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Some(v) = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_hat_module_purl() {
        let p = Purl::parse(
            "pkg:rpm/redhat/ruby@3.1.4-142.module%2Bel8.9.0%2B21471%2B7d1e4a35?arch=aarch64&rpmmod=ruby:3.1:8090020240311122605:a75119d5",
        )
        .unwrap();
        assert_eq!(p.ty, "rpm");
        assert_eq!(p.namespace.as_deref(), Some("redhat"));
        assert_eq!(p.name, "ruby");
        assert_eq!(
            p.version.as_deref(),
            Some("3.1.4-142.module+el8.9.0+21471+7d1e4a35")
        );
        assert_eq!(p.qualifier("arch"), Some("aarch64"));
        assert_eq!(
            p.qualifier("rpmmod"),
            Some("ruby:3.1:8090020240311122605:a75119d5")
        );
    }

    #[test]
    fn shapes_and_errors() {
        let p = Purl::parse("pkg:pypi/requests").unwrap();
        assert_eq!((p.ty.as_str(), p.name.as_str()), ("pypi", "requests"));
        assert_eq!((p.namespace, p.version), (None, None));
        let p = Purl::parse("pkg:deb/ubuntu/python3.10@3.10.6-1~22.04.2?arch=source&distro=jammy")
            .unwrap();
        assert_eq!(p.version.as_deref(), Some("3.10.6-1~22.04.2"));
        assert_eq!(p.qualifier("distro"), Some("jammy"));
        let p = Purl::parse("pkg:npm/%40angular/core@1.0.0#sub/path").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("@angular"));
        assert_eq!(p.name, "core");
        assert_eq!(
            Purl::parse("rpm/redhat/x").unwrap_err(),
            "purl \"rpm/redhat/x\" does not start with pkg:"
        );
        assert_eq!(
            Purl::parse("pkg:rpm").unwrap_err(),
            "purl \"pkg:rpm\" has no type/name"
        );
    }
}
