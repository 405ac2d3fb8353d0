//! Builders shared by the unit tests: instants, pending items and the
//! Europe/Berlin ring configuration of the projection examples.

use chrono::{DateTime, Utc};
use events::window::Day;
use events::{Priority, Remediation, WeeklyWindow};
use uuid::Uuid;

use crate::config::{Config, RingConfig};
use crate::plan::PendingItem;

/// Parses an RFC 3339 instant; panics (failing the test) when malformed.
pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    match s.parse() {
        Ok(t) => t,
        Err(e) => panic!("bad instant {s:?} in a test: {e}"),
    }
}

/// A package remediation.
pub(crate) fn pkg(name: &str, fixed_version: &str) -> Remediation {
    Remediation::Package {
        name: name.into(),
        fixed_version: fixed_version.into(),
    }
}

/// A pending item with finding id `Uuid::from_u128(finding)`.
pub(crate) fn item(
    finding: u128,
    asset_id: &str,
    ring: Option<&str>,
    remediation: Remediation,
    priority: Priority,
    due_at: &str,
) -> PendingItem {
    PendingItem {
        finding_id: Uuid::from_u128(finding),
        asset_id: asset_id.into(),
        ring: ring.map(str::to_owned),
        remediation,
        priority,
        due_at: utc(due_at),
        exception_id: None,
        cves: Vec::new(),
    }
}

/// Rings in Europe/Berlin, each open on Mondays for 120 minutes: dev 02:00,
/// test 04:00, staging 06:00, prod 08:00 (local). Every ring soaks
/// `soak_hours`, except staging which soaks `staging_soak_hours`.
pub(crate) fn berlin(soak_hours: u32, staging_soak_hours: u32) -> Config {
    let ring = |name: &str, start: &str, soak_hours: u32| RingConfig {
        name: name.into(),
        soak_hours,
        windows: vec![WeeklyWindow {
            days: vec![Day::Mon],
            start: start.into(),
            duration_minutes: 120,
        }],
        recurring: Vec::new(),
        cutoff_minutes: 0,
        timezone: None,
    };
    Config {
        timezone: "Europe/Berlin".into(),
        rings: vec![
            ring("dev", "02:00", soak_hours),
            ring("test", "04:00", soak_hours),
            ring("staging", "06:00", staging_soak_hours),
            ring("prod", "08:00", soak_hours),
        ],
        ..Config::default()
    }
}
