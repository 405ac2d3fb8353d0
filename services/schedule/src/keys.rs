//! Keys of the schedule service's KV state bucket
//! ([`events::spec::state_bucket`]`(ns, Service::Schedule)`), one key per
//! entity so the adapter can update each with compare-and-set on its
//! revision.
//!
//! | key | value (JSON) | written |
//! |---|---|---|
//! | `scan.<scan_id>` | [`crate::ScanProgress`] | CAS on every scan input |
//! | `pending.<scan_id>.<finding_id>` | [`crate::PendingItem`] | *create* (a taken key = redelivery) |
//! | `bundle.<bundle_id>` | [`crate::BundleState`] | *create* when planned, then CAS |
//!
//! Ids are UUIDs in their hyphenated lower-case form, so every key is made of
//! KV-safe characters (`[-.a-z0-9]`).

use uuid::Uuid;

/// `scan.<scan_id>`: the scan's [`crate::ScanProgress`].
pub fn scan(scan_id: Uuid) -> String {
    format!("scan.{scan_id}")
}

/// `pending.<scan_id>.<finding_id>`: one prioritized finding waiting for its
/// scan to be planned ([`crate::PendingItem`]).
pub fn pending(scan_id: Uuid, finding_id: Uuid) -> String {
    format!("pending.{scan_id}.{finding_id}")
}

/// `pending.<scan_id>.*`: the key filter listing every pending item of a scan.
pub fn pending_filter(scan_id: Uuid) -> String {
    format!("pending.{scan_id}.*")
}

/// `bundle.<bundle_id>`: a bundle's [`crate::BundleState`].
pub fn bundle(bundle_id: Uuid) -> String {
    format!("bundle.{bundle_id}")
}

/// `bundle.*`: the key filter listing every bundle (the tick walks the
/// active ones, [`crate::BundleState::is_active`]).
pub const BUNDLE_FILTER: &str = "bundle.*";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let s = Uuid::from_u128(1);
        let f = Uuid::from_u128(2);
        assert_eq!(scan(s), "scan.00000000-0000-0000-0000-000000000001");
        assert_eq!(
            pending(s, f),
            "pending.00000000-0000-0000-0000-000000000001.00000000-0000-0000-0000-000000000002"
        );
        assert_eq!(
            pending_filter(s),
            "pending.00000000-0000-0000-0000-000000000001.*"
        );
        assert_eq!(bundle(f), "bundle.00000000-0000-0000-0000-000000000002");
    }
}
