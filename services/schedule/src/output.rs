//! What schedule publishes, and the deterministic ids it publishes it under.
//!
//! An output's event id depends only on the logical output (the bundle and
//! what happened to it), never on the input that triggered it: the clock
//! ticks again and again, and a validation verdict may be redelivered, yet a
//! ring is released once, so its `bundle.scheduled` must always carry the
//! same id (JetStream's duplicate window and the consumers' id checks then
//! drop the repeats). Ids are [`events::derive_id`]`(bundle_id, "schedule",
//! key)` with the key:
//!
//! | output | key |
//! |---|---|
//! | `patch.bundle.planned` | `planned` |
//! | `patch.bundle.scheduled` | `<ring>/scheduled` |
//! | `patch.bundle.completed` | `completed` |
//! | `patch.bundle.halted` | `<ring>/halted` |

use chrono::{DateTime, Utc};
use events::{
    BundleCompleted, BundleHalted, BundlePlanned, BundleScheduled, Event, Payload, Service,
    derive_id,
};
use uuid::Uuid;

/// One event schedule publishes about a bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `patch.bundle.planned`
    Planned(BundlePlanned),
    /// `patch.bundle.scheduled`
    Scheduled(BundleScheduled),
    /// `patch.bundle.completed`
    Completed(BundleCompleted),
    /// `patch.bundle.halted`
    Halted(BundleHalted),
}

impl Output {
    /// The bundle the output is about.
    pub fn bundle_id(&self) -> Uuid {
        match self {
            Output::Planned(p) => p.bundle_id,
            Output::Scheduled(p) => p.bundle_id,
            Output::Completed(p) => p.bundle_id,
            Output::Halted(p) => p.bundle_id,
        }
    }

    /// The child key of the event id (see the module docs): `planned`,
    /// `<ring>/scheduled`, `completed` or `<ring>/halted`.
    pub fn child_key(&self) -> String {
        match self {
            Output::Planned(_) => "planned".to_owned(),
            Output::Scheduled(p) => format!("{}/scheduled", p.ring),
            Output::Completed(_) => "completed".to_owned(),
            Output::Halted(p) => format!("{}/halted", p.ring),
        }
    }

    /// The event id: [`events::derive_id`]`(bundle_id, "schedule", child_key)`.
    pub fn event_id(&self) -> Uuid {
        derive_id(
            self.bundle_id(),
            Service::Schedule.as_str(),
            &self.child_key(),
        )
    }

    /// The output as an event from `patchflow/schedule`, with
    /// [`Output::event_id`] and `time` = `now` (UTC, the decision time).
    pub fn into_event(self, now: DateTime<Utc>) -> Event {
        let id = self.event_id();
        Event::new(id, Service::Schedule, now, Payload::from(self))
    }
}

impl From<Output> for Payload {
    fn from(o: Output) -> Payload {
        match o {
            Output::Planned(p) => Payload::BundlePlanned(p),
            Output::Scheduled(p) => Payload::BundleScheduled(p),
            Output::Completed(p) => Payload::BundleCompleted(p),
            Output::Halted(p) => Payload::BundleHalted(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_logical_output_only() {
        let b = Uuid::from_u128(9);
        let halted = |reason: &str| {
            Output::Halted(BundleHalted {
                bundle_id: b,
                ring: "test".into(),
                reason: reason.into(),
            })
        };
        let t1: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let t2: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
        let e1 = halted("validation failed").into_event(t1);
        let e2 = halted("wave 1 halted").into_event(t2);
        assert_eq!(
            e1.id, e2.id,
            "same ring halted = same id, whatever the cause"
        );
        assert_eq!(e1.id, derive_id(b, "schedule", "test/halted"));
        assert_eq!(e1.source, "patchflow/schedule");
        assert_eq!(e1.subject, b.to_string());
        assert_eq!(e1.time, t1);
        assert_eq!(e1.event_type(), "patch.bundle.halted.v1");
        let completed = Output::Completed(BundleCompleted {
            bundle_id: b,
            rings: vec![],
        });
        assert_eq!(completed.event_id(), derive_id(b, "schedule", "completed"));
        assert_ne!(completed.event_id(), e1.id);
    }
}
