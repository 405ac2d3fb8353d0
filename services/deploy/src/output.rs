//! What a ring run emits, and the ids it emits it under.
//!
//! An emitted event's id is derived from the *logical output*, never from the
//! input that triggered it: a tick and a late result can both finish a wave,
//! a validation verdict and a tick can both start the next one, and each must
//! produce the same `wave.completed` / `wave.started` id so that JetStream's
//! duplicate window and the consumers' id checks keep exactly one. Every id
//! is [`events::derive_id`]`(bundle_id, "deploy", key)` with `key` one of:
//!
//! | output | key |
//! |---|---|
//! | `patch.deployment.wave.started` | `<ring>/<wave>/started` |
//! | `patch.agent.job.<host>` (apply) | `<ring>/<wave>/job/<host>` |
//! | `patch.agent.job.<host>` (reboot) | `<ring>/<wave>/reboot/<host>` |
//! | `patch.deployment.step.started.<host>` | `<ring>/<wave>/step/<host>/<step>/started` |
//! | `patch.deployment.step.finished.<host>` | `<ring>/<wave>/step/<host>/<step>/finished` |
//! | `patch.deployment.wave.completed` | `<ring>/<wave>/completed` |
//! | `patch.deployment.wave.halted` | `<ring>/<wave>/halted` |
//! | `patch.rollback.requested` | `<ring>/<wave>/rollback-requested` |
//! | `patch.agent.job.<host>` (rollback) | `<ring>/rollback/job/<host>` |
//! | `patch.rollback.completed` | `<ring>/rollback/completed` (first rollback of the ring), `<ring>/rollback/<round>/completed` (a later one) |
//!
//! `<wave>` is the 0-based wave number; a job's `job_id` is its event's id.

use chrono::{DateTime, Utc};
use events::{Event, Payload, Service, derive_id};
use uuid::Uuid;

/// The `stage` argument of [`derive_id`] for every deploy output: `deploy`.
pub const STAGE: &str = "deploy";

/// One event a ring run decided to emit: its derived id, the logical key the
/// id comes from, and the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// `derive_id(bundle_id, "deploy", key)`; for an agent job also its `job_id`.
    pub id: Uuid,
    /// The logical key (see the module table), e.g. `prod/1/job/web-01`.
    pub key: String,
    /// The payload.
    pub payload: Payload,
}

impl Output {
    /// An output of bundle `bundle_id` under logical key `key`.
    pub fn new(bundle_id: Uuid, key: String, payload: impl Into<Payload>) -> Output {
        Output {
            id: output_id(bundle_id, &key),
            key,
            payload: payload.into(),
        }
    }

    /// The event to publish: id [`Output::id`], source `patchflow/deploy`,
    /// time `now` (UTC, the instant deploy decided it), no trace context (the
    /// adapter sets `traceparent` from the handled message's span).
    pub fn into_event(self, now: DateTime<Utc>) -> Event {
        Event::new(self.id, Service::Deploy, now, self.payload)
    }
}

/// Turns a decision's outputs into events, in order (see [`Output::into_event`]).
pub fn to_events(outputs: Vec<Output>, now: DateTime<Utc>) -> Vec<Event> {
    outputs.into_iter().map(|o| o.into_event(now)).collect()
}

/// The id of the output with logical key `key` in bundle `bundle_id`.
pub fn output_id(bundle_id: Uuid, key: &str) -> Uuid {
    derive_id(bundle_id, STAGE, key)
}

/// The logical keys of deploy's outputs (see the module table).
pub mod key {
    /// `<ring>/<wave>/started`
    pub fn wave_started(ring: &str, wave: u32) -> String {
        format!("{ring}/{wave}/started")
    }

    /// `<ring>/<wave>/job/<host>`: the apply job of `host`.
    pub fn apply_job(ring: &str, wave: u32, host: &str) -> String {
        format!("{ring}/{wave}/job/{host}")
    }

    /// `<ring>/<wave>/reboot/<host>`: the reboot job of `host`.
    pub fn reboot_job(ring: &str, wave: u32, host: &str) -> String {
        format!("{ring}/{wave}/reboot/{host}")
    }

    /// `<ring>/<wave>/step/<host>/<step>/started`
    pub fn step_started(ring: &str, wave: u32, host: &str, step: events::SagaStep) -> String {
        format!("{ring}/{wave}/step/{host}/{step}/started")
    }

    /// `<ring>/<wave>/step/<host>/<step>/finished` (deploy's own record of a
    /// step's end; the step runner's record of a webhook step has the id
    /// `derive_id(<started id>, "deploy", "finished")`).
    pub fn step_finished(ring: &str, wave: u32, host: &str, step: events::SagaStep) -> String {
        format!("{ring}/{wave}/step/{host}/{step}/finished")
    }

    /// `<ring>/<wave>/completed`
    pub fn wave_completed(ring: &str, wave: u32) -> String {
        format!("{ring}/{wave}/completed")
    }

    /// `<ring>/<wave>/halted`
    pub fn wave_halted(ring: &str, wave: u32) -> String {
        format!("{ring}/{wave}/halted")
    }

    /// `<ring>/<wave>/rollback-requested`: the rollback a halt asks for.
    pub fn rollback_requested(ring: &str, wave: u32) -> String {
        format!("{ring}/{wave}/rollback-requested")
    }

    /// `<ring>/rollback/job/<host>`: the rollback job of `host` (a host is
    /// rolled back at most once per ring).
    pub fn rollback_job(ring: &str, host: &str) -> String {
        format!("{ring}/rollback/job/{host}")
    }

    /// `<ring>/rollback/completed` for round 0, `<ring>/rollback/<round>/completed`
    /// for a later round (hosts first named by a request that came after an
    /// earlier rollback of the ring had completed).
    pub fn rollback_completed(ring: &str, round: u32) -> String {
        if round == 0 {
            format!("{ring}/rollback/completed")
        } else {
            format!("{ring}/rollback/{round}/completed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::RollbackCompleted;

    #[test]
    fn ids_follow_the_key_and_events_carry_them() {
        let bundle = Uuid::from_u128(42);
        let a = Output::new(
            bundle,
            key::rollback_completed("prod", 0),
            RollbackCompleted {
                bundle_id: bundle,
                ring: "prod".into(),
                hosts: vec![],
            },
        );
        assert_eq!(a.key, "prod/rollback/completed");
        assert_eq!(a.id, derive_id(bundle, "deploy", "prod/rollback/completed"));
        assert_eq!(
            key::rollback_completed("prod", 2),
            "prod/rollback/2/completed"
        );
        let now: DateTime<Utc> = "2026-11-30T01:00:00Z".parse().unwrap();
        let e = a.clone().into_event(now);
        assert_eq!(e.id, a.id);
        assert_eq!(e.source, "patchflow/deploy");
        assert_eq!(e.time, now);
        assert_eq!(e.subject, bundle.to_string());
        assert_eq!(e.data, a.payload);
    }
}
