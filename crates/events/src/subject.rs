//! Subjects and resource names.
//!
//! Subjects are `<ns>.<entity>.<event>[.<key>]`, lower case, where `<ns>` is
//! the [`Namespace`] (`patch` in production, a unique one per test). Keys that
//! come from data (host ids) are escaped with [`token`] so that a dot in a host
//! name never splits a subject token.

use std::fmt;

use crate::Service;
use crate::finding::Priority;

/// The root token of every subject and the prefix of every stream, bucket and
/// object store: `patch` by default.
///
/// A namespace is 1–32 characters of `[a-z0-9_]`, starting with a letter, so
/// it is valid both as a subject token and inside JetStream resource names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace(String);

/// A namespace string that is not `[a-z][a-z0-9_]{0,31}`.
#[derive(Debug, thiserror::Error)]
#[error("namespace {0:?} must be 1-32 characters of [a-z0-9_] starting with a letter")]
pub struct NamespaceError(pub String);

impl Default for Namespace {
    fn default() -> Self {
        Namespace("patch".to_owned())
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Namespace {
    type Err = NamespaceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Namespace::new(s)
    }
}

impl Namespace {
    /// Validates and wraps a namespace.
    ///
    /// # Errors
    /// [`NamespaceError`] when `s` is empty, longer than 32 characters, does
    /// not start with a lower-case letter or holds anything but `[a-z0-9_]`.
    pub fn new(s: &str) -> Result<Self, NamespaceError> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Namespace(s.to_owned()))
        } else {
            Err(NamespaceError(s.to_owned()))
        }
    }

    /// The namespace as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<ns>.<tail>`.
    pub fn subject(&self, tail: &str) -> String {
        format!("{}.{tail}", self.0)
    }

    /// `<NS>_<NAME>`: the JetStream stream name for a stream family.
    pub fn stream_name(&self, name: &str) -> String {
        format!("{}_{}", self.0.to_ascii_uppercase(), name)
    }

    /// `<ns>_<name>`: a KV bucket or object-store name.
    pub fn bucket_name(&self, name: &str) -> String {
        format!("{}_{}", self.0, name)
    }

    /// Strips the namespace from a full subject: `patch.scan.submitted` →
    /// `scan.submitted`. `None` when the subject is outside this namespace.
    pub fn strip<'a>(&self, subject: &'a str) -> Option<&'a str> {
        subject
            .strip_prefix(self.0.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
    }
}

/// The longest token [`token`] gives, in bytes. A NATS client refuses a
/// protocol line over 4,096 bytes (the subject, reply subject and sizes of
/// a message), and a too-long subject drops the whole connection, so one
/// data value (a 5,000-character host name from a scan report) must not be
/// able to make one.
pub const MAX_TOKEN: usize = 200;

/// Escapes a data value (a host id, a service name) into one subject token.
///
/// NATS tokens may not contain `.`, `*`, `>` or white space; those, `%` and
/// non-printable or non-ASCII characters become `%XX` (per UTF-8 byte). The
/// mapping is injective, so two distinct hosts never share a subject.
///
/// An escaped value longer than [`MAX_TOKEN`] bytes keeps its first 166
/// bytes, then `%%` and the first 32 hex digits of the SHA-256 of the
/// value: exactly [`MAX_TOKEN`] bytes. `%%` never occurs in a short token
/// (every `%` there is followed by two hex digits), so a long value never
/// shares a token with a short one, and two long ones share one only if
/// their hashes' first 128 bits collide. [`untoken`] cannot restore such a
/// value: events carry the full value in their payload.
pub fn token(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let keep = b.is_ascii_graphic() && !matches!(b, b'.' | b'*' | b'>' | b'%');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        // A lone `%` never comes out of a non-empty value (`%` is escaped).
        out.push('%');
    }
    bound_escaped(&mut out, 0, MAX_TOKEN, "%%", value);
    out
}

/// Bounds the escaped form of `value`, which fills `out` from byte `start`
/// on, to `max` bytes: when longer, it keeps its first `max - 34` bytes,
/// then the two-character `marker` and [`value_digest`] of `value`. The
/// shared cut of [`token`] (`%%`) and `bus::kv_key` (`==`); the marker must
/// never occur in an escaped text, so a cut value shares its form with no
/// short one.
pub fn bound_escaped(out: &mut String, start: usize, max: usize, marker: &str, value: &str) {
    if out.len() - start > max {
        // The escaped text is ASCII: any byte index is a char boundary.
        out.truncate(start + max - marker.len() - 32);
        out.push_str(marker);
        out.push_str(&value_digest(value));
    }
}

/// The first 128 bits of the SHA-256 of `value`, as 32 lower-case hex
/// digits: what stands for the tail of a value cut to fit a NATS subject
/// token ([`token`]) or a KV key part (`bus::kv_key`).
pub fn value_digest(value: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(value.as_bytes());
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// Reverses [`token`]. Invalid escapes are kept literally.
pub fn untoken(token: &str) -> String {
    if token == "%" {
        return String::new();
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = token
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Subject tails (without the namespace) of every event type.
pub mod tail {
    use super::*;

    /// `scan.submitted`
    pub const SCAN_SUBMITTED: &str = "scan.submitted";
    /// `scan.rejected`
    pub const SCAN_REJECTED: &str = "scan.rejected";
    /// `scan.completed`
    pub const SCAN_COMPLETED: &str = "scan.completed";
    /// `asset.upserted`
    pub const ASSET_UPSERTED: &str = "asset.upserted";
    /// `finding.observed`
    pub const FINDING_OBSERVED: &str = "finding.observed";
    /// `finding.resolved`
    pub const FINDING_RESOLVED: &str = "finding.resolved";
    /// `finding.prioritized.*` (keyed by priority)
    pub const FINDING_PRIORITIZED_ALL: &str = "finding.prioritized.*";
    /// `bulletin.catalog_loaded`
    pub const CATALOG_LOADED: &str = "bulletin.catalog_loaded";
    /// `bulletin.kev_added`
    pub const KEV_ADDED: &str = "bulletin.kev_added";
    /// `bulletin.advisory`
    pub const ADVISORY: &str = "bulletin.advisory";
    /// `emergency.declared`
    pub const EMERGENCY_DECLARED: &str = "emergency.declared";
    /// `emergency.progressed`
    pub const EMERGENCY_PROGRESSED: &str = "emergency.progressed";
    /// `emergency.escalated`
    pub const EMERGENCY_ESCALATED: &str = "emergency.escalated";
    /// `exception.granted`
    pub const EXCEPTION_GRANTED: &str = "exception.granted";
    /// `exception.expired`
    pub const EXCEPTION_EXPIRED: &str = "exception.expired";
    /// `exception.revoked`
    pub const EXCEPTION_REVOKED: &str = "exception.revoked";
    /// `bundle.planned`
    pub const BUNDLE_PLANNED: &str = "bundle.planned";
    /// `bundle.scheduled`
    pub const BUNDLE_SCHEDULED: &str = "bundle.scheduled";
    /// `bundle.completed`
    pub const BUNDLE_COMPLETED: &str = "bundle.completed";
    /// `bundle.halted`
    pub const BUNDLE_HALTED: &str = "bundle.halted";
    /// `bundle.approved`
    pub const BUNDLE_APPROVED: &str = "bundle.approved";
    /// `bundle.rejected`
    pub const BUNDLE_REJECTED: &str = "bundle.rejected";
    /// `deployment.wave.started`
    pub const WAVE_STARTED: &str = "deployment.wave.started";
    /// `deployment.wave.completed`
    pub const WAVE_COMPLETED: &str = "deployment.wave.completed";
    /// `deployment.wave.halted`
    pub const WAVE_HALTED: &str = "deployment.wave.halted";
    /// `agent.job.*` (keyed by host)
    pub const AGENT_JOB_ALL: &str = "agent.job.*";
    /// `agent.result.*` (keyed by host)
    pub const AGENT_RESULT_ALL: &str = "agent.result.*";
    /// `agent.online.*` (keyed by host)
    pub const AGENT_ONLINE_ALL: &str = "agent.online.*";
    /// Every host's saga step starts.
    pub const STEP_STARTED_ALL: &str = "deployment.step.started.*";
    /// Every host's saga step ends.
    pub const STEP_FINISHED_ALL: &str = "deployment.step.finished.*";
    /// `validation.passed`
    pub const VALIDATION_PASSED: &str = "validation.passed";
    /// `validation.failed`
    pub const VALIDATION_FAILED: &str = "validation.failed";
    /// `rollback.requested`
    pub const ROLLBACK_REQUESTED: &str = "rollback.requested";
    /// `rollback.completed`
    pub const ROLLBACK_COMPLETED: &str = "rollback.completed";
    /// `deadletter.*` (keyed by service)
    pub const DEADLETTER_ALL: &str = "deadletter.*";

    /// `finding.prioritized.<priority>`
    pub fn finding_prioritized(priority: Priority) -> String {
        format!("finding.prioritized.{}", priority.as_str())
    }

    /// `agent.job.<host>`
    pub fn agent_job(host: &str) -> String {
        format!("agent.job.{}", token(host))
    }

    /// `agent.result.<host>`
    pub fn agent_result(host: &str) -> String {
        format!("agent.result.{}", token(host))
    }

    /// `agent.online.<host>`
    pub fn agent_online(host: &str) -> String {
        format!("agent.online.{}", token(host))
    }

    /// `deployment.step.started.<host>`
    pub fn step_started(host: &str) -> String {
        format!("deployment.step.started.{}", token(host))
    }

    /// `deployment.step.finished.<host>`
    pub fn step_finished(host: &str) -> String {
        format!("deployment.step.finished.{}", token(host))
    }

    /// `deadletter.<service>`
    pub fn deadletter(service: Service) -> String {
        format!("deadletter.{}", service.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_accepts_only_subject_and_bucket_safe_names() {
        assert!(Namespace::new("patch").is_ok());
        assert!(Namespace::new("t_12ab").is_ok());
        for bad in ["", "Patch", "1abc", "a.b", "a-b", "a*", &"x".repeat(33)] {
            assert!(Namespace::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn resource_names_follow_the_namespace() {
        let ns = Namespace::new("t1").unwrap();
        assert_eq!(ns.subject(tail::SCAN_SUBMITTED), "t1.scan.submitted");
        assert_eq!(ns.stream_name("FINDINGS"), "T1_FINDINGS");
        assert_eq!(ns.bucket_name("reports"), "t1_reports");
        assert_eq!(ns.strip("t1.scan.submitted"), Some("scan.submitted"));
        assert_eq!(ns.strip("t10.scan.submitted"), None);
    }

    #[test]
    fn host_tokens_round_trip_and_never_split_a_subject() {
        for host in [
            "qa3app09",
            "10.31.112.29",
            "web 1",
            "a%2Eb",
            "http://google.com/",
            "ünï",
            "",
        ] {
            let t = token(host);
            assert!(!t.contains(['.', '*', '>', ' ']), "{t}");
            assert_eq!(untoken(&t), host);
        }
        assert_ne!(token("a.b"), token("a%2Eb"));
    }

    #[test]
    fn long_values_make_bounded_distinct_tokens() {
        let long = "h".repeat(5000);
        let t = token(&long);
        assert_eq!(t.len(), MAX_TOKEN);
        assert!(t.starts_with(&"h".repeat(166)), "{t}");
        assert!(t.get(166..168) == Some("%%"), "{t}");
        // Same prefix, different tail: different tokens.
        assert_ne!(token(&format!("{long}x")), t);
        // Escapes count towards the bound too.
        let dotted = ".".repeat(100);
        assert_eq!(token(&dotted).len(), MAX_TOKEN);
        assert!(!token(&dotted).contains(['.', '*', '>', ' ']));
        // At the bound, a value is kept whole and round-trips.
        let edge = "e".repeat(MAX_TOKEN);
        assert_eq!(token(&edge), edge);
        assert_eq!(untoken(&token(&edge)), edge);
        assert_eq!(token(&"e".repeat(MAX_TOKEN + 1)).len(), MAX_TOKEN);
    }
}
