//! The rollout state machine of one bundle: released ring by ring, each ring
//! in its maintenance window, the next ring only after the previous one
//! validated and soaked.
//!
//! ```text
//!            tick: now ≥ not_before and the ring's window is open
//! WaitingForWindow ───────────────────────────────────────────▶ RolloutInProgress
//!   ▲   (emits bundle.scheduled)                                 │      │
//!   │                                                            │      │ validation.failed /
//!   └─ validation.passed (last wave of the ring, a ring follows) ┘      │ deployment.wave.halted
//!      not_before = now + soak_hours of the ring just validated         ▼   (emits bundle.halted)
//!                                                                     Halted
//!   validation.passed (last wave of the last ring) ─▶ Completed (emits bundle.completed)
//!
//!  WaitingForWindow ──tick: the next ring needs an approval, none yet──▶ AwaitingApproval
//!  AwaitingApproval ──bundle.approved──▶ WaitingForWindow (same ring, same not_before)
//!  any active status ──bundle.rejected──▶ Halted (emits bundle.halted)
//! ```
//!
//! # Change approval
//!
//! A bundle planned with an approval requirement starts with
//! [`ApprovalState::Pending`]. The tick holds every ring that
//! [`Config::needs_approval`] (by default the last, production) in
//! [`BundleStatus::AwaitingApproval`] until a `patch.bundle.approved`
//! ([`on_approved`]) arrives; an approval that arrives earlier is recorded
//! and the ring is released without the stop. A `patch.bundle.rejected`
//! ([`on_rejected`]) halts the bundle: no further ring is released (a ring
//! already rolling out finishes in deploy).
//!
//! # Freezes
//!
//! A ring is released only inside a start interval of its window set, which
//! carries the configured freezes ([`Config::windows_of`]); no new host
//! starts inside a freeze. An approval with `emergency_override` lifts the
//! freezes for this bundle's releases: the released `windows` hold none, and
//! `bundle.scheduled` names the approval and the freezes lifted.
//!
//! # Invariants
//!
//! - `rings` lists every configured ring at planning time, in rollout order,
//!   with the bundle's hosts in it (possibly none); `ring_index` in a status
//!   and in `bundle.scheduled` is a position in that list, the same as in
//!   `bundle.planned`'s `rings`. Rings without hosts are never released.
//! - Windows, soak times and the rollout policy are read from the current
//!   [`Config`] when a decision is made, so an operator's change of a window
//!   applies to bundles already planned. A ring that is no longer configured
//!   halts the bundle with a reason saying so (never a silent stall).
//! - `Completed` and `Halted` are final: every later input is skipped.
//! - Every function is pure and total over its input: a verdict for another
//!   bundle, another ring or a stale status is a [`Decision::Skip`] with the
//!   reason, never an error. A redelivered input either finds the state it
//!   already moved (and is skipped) or the same state as the first time (and
//!   yields the same outputs, whose ids depend only on the output, see
//!   [`crate::output`]).

use std::fmt;

use calendar::Windows as _;
use chrono::{DateTime, Utc};
use events::{
    BundleApproved, BundleCompleted, BundleHalted, BundleRejected, BundleScheduled,
    EmergencyOverride, HostJobSpec, Priority, ValidationFailed, ValidationPassed, WaveHalted,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{Config, ConfigError};
use crate::output::Output;

/// One ring of a bundle and the bundle's hosts in it, in rollout order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingHosts {
    /// Ring name.
    pub ring: String,
    /// Hosts of the bundle in this ring, sorted by asset id, each with the
    /// remediations it must apply (sorted by key). Empty = skipped.
    pub hosts: Vec<HostJobSpec>,
}

/// Where a bundle's rollout stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BundleStatus {
    /// Ring `ring_index` is next; it is released by the first tick at or
    /// after `not_before` (UTC) that falls inside one of its windows.
    WaitingForWindow {
        /// Position in [`BundleState::rings`].
        ring_index: usize,
        /// Earliest release instant (UTC): the planning instant for the
        /// first ring, else the end of the previous ring's soak.
        not_before: DateTime<Utc>,
    },
    /// Ring `ring_index` was released (`bundle.scheduled`) and deploy is
    /// rolling it out; waiting for the validation of its last wave.
    RolloutInProgress {
        /// Position in [`BundleState::rings`].
        ring_index: usize,
    },
    /// Ring `ring_index` needs a change approval that has not arrived; the
    /// next `bundle.approved` moves the bundle back to `WaitingForWindow`.
    AwaitingApproval {
        /// Position in [`BundleState::rings`].
        ring_index: usize,
        /// Earliest release instant (UTC), kept for after the approval.
        not_before: DateTime<Utc>,
    },
    /// Every ring with hosts validated (`bundle.completed`). Final.
    Completed,
    /// The rollout stopped in `ring` (`bundle.halted`). Final.
    Halted {
        /// The ring it stopped in.
        ring: String,
        /// Why (the failed gate or the budget rule).
        reason: String,
    },
}

/// A bundle's change approval.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "approval", rename_all = "snake_case")]
pub enum ApprovalState {
    /// A standard change (or no ring that needs an approval): none needed.
    /// States stored before approvals existed read as this.
    #[default]
    NotRequired,
    /// Needed and not given yet.
    Pending,
    /// Given (`patch.bundle.approved`).
    Approved {
        /// Who approved it.
        approved_by: String,
        /// The change ticket.
        ticket: String,
        /// The approval event.
        event_id: Uuid,
        /// Whether the release may cross change freezes.
        emergency_override: bool,
    },
}

/// A bundle's rollout state, stored by the adapter under
/// [`crate::keys::bundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleState {
    /// The bundle.
    pub bundle_id: Uuid,
    /// Its priority class.
    pub priority: Priority,
    /// Every configured ring at planning time, in rollout order, with the
    /// bundle's hosts in it.
    pub rings: Vec<RingHosts>,
    /// Where the rollout stands.
    pub status: BundleStatus,
    /// Its change approval.
    #[serde(default)]
    pub approval: ApprovalState,
}

impl BundleState {
    /// The initial state of a planned bundle: waiting for the first ring with
    /// hosts (ring 0 when none has), not before `planned_at` (UTC).
    pub fn new(
        bundle_id: Uuid,
        priority: Priority,
        rings: Vec<RingHosts>,
        planned_at: DateTime<Utc>,
    ) -> BundleState {
        let mut state = BundleState {
            bundle_id,
            priority,
            rings,
            status: BundleStatus::Completed,
            approval: ApprovalState::NotRequired,
        };
        state.status = BundleStatus::WaitingForWindow {
            ring_index: state.next_ring_with_hosts(0).unwrap_or(0),
            not_before: planned_at,
        };
        state
    }

    /// Whether the rollout can still move (not completed, not halted): the
    /// bundles the tick must visit.
    pub fn is_active(&self) -> bool {
        matches!(
            self.status,
            BundleStatus::WaitingForWindow { .. }
                | BundleStatus::AwaitingApproval { .. }
                | BundleStatus::RolloutInProgress { .. }
        )
    }

    /// The names of the rings with hosts, in rollout order.
    pub fn rings_with_hosts(&self) -> Vec<String> {
        self.rings
            .iter()
            .filter(|r| !r.hosts.is_empty())
            .map(|r| r.ring.clone())
            .collect()
    }

    /// The first ring with hosts at position `from` or later.
    fn next_ring_with_hosts(&self, from: usize) -> Option<usize> {
        self.rings
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, r)| !r.hosts.is_empty())
            .map(|(i, _)| i)
    }

    fn with_status(&self, status: BundleStatus) -> BundleState {
        BundleState {
            status,
            ..self.clone()
        }
    }

    fn complete(&self) -> Decision {
        Decision::Apply {
            state: self.with_status(BundleStatus::Completed),
            outputs: vec![Output::Completed(BundleCompleted {
                bundle_id: self.bundle_id,
                rings: self.rings_with_hosts(),
            })],
        }
    }

    fn halt(&self, ring: &str, reason: String) -> Decision {
        Decision::Apply {
            state: self.with_status(BundleStatus::Halted {
                ring: ring.to_owned(),
                reason: reason.clone(),
            }),
            outputs: vec![Output::Halted(BundleHalted {
                bundle_id: self.bundle_id,
                ring: ring.to_owned(),
                reason,
            })],
        }
    }

    /// The ring being rolled out, when a verdict about it may apply: checks
    /// bundle id, status and ring name, in that order.
    fn in_progress_ring(&self, bundle_id: Uuid, ring: &str) -> Result<usize, Skip> {
        if bundle_id != self.bundle_id {
            return Err(Skip::OtherBundle {
                state: self.bundle_id,
                input: bundle_id,
            });
        }
        let ring_index = match &self.status {
            BundleStatus::RolloutInProgress { ring_index } => *ring_index,
            BundleStatus::WaitingForWindow { ring_index, .. }
            | BundleStatus::AwaitingApproval { ring_index, .. } => {
                return Err(Skip::NotInProgress {
                    waiting_for: self.ring_name(*ring_index),
                    input_ring: ring.to_owned(),
                });
            }
            BundleStatus::Completed | BundleStatus::Halted { .. } => {
                return Err(Skip::Finished);
            }
        };
        let current = self.ring_name(ring_index);
        if current != ring {
            return Err(Skip::OtherRing {
                current,
                input_ring: ring.to_owned(),
            });
        }
        Ok(ring_index)
    }

    /// The name of ring `i`, or `#<i>` when the stored state has no such ring.
    fn ring_name(&self, i: usize) -> String {
        self.rings
            .get(i)
            .map_or_else(|| format!("#{i}"), |r| r.ring.clone())
    }
}

/// What an input does to a bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Publish `outputs` (possibly none), then store `state` with
    /// compare-and-set, then ack.
    Apply {
        /// The new state.
        state: BundleState,
        /// Events to publish, in order.
        outputs: Vec<Output>,
    },
    /// Nothing to do: ack (and count) without storing.
    Skip {
        /// Why.
        reason: Skip,
    },
}

impl Decision {
    /// The outputs to publish (none for a skip).
    pub fn outputs(&self) -> &[Output] {
        match self {
            Decision::Apply { outputs, .. } => outputs,
            Decision::Skip { .. } => &[],
        }
    }

    /// The new state, if the decision changes it.
    pub fn state(&self) -> Option<&BundleState> {
        match self {
            Decision::Apply { state, .. } => Some(state),
            Decision::Skip { .. } => None,
        }
    }
}

/// Why an input leaves a bundle as it is (a business "no", not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The input is about another bundle than the state handed in.
    OtherBundle {
        /// The state's bundle.
        state: Uuid,
        /// The input's bundle.
        input: Uuid,
    },
    /// The bundle is completed or halted.
    Finished,
    /// The next ring's soak has not ended yet.
    Soaking {
        /// The next ring.
        ring: String,
        /// When the soak ends (UTC).
        not_before: DateTime<Utc>,
    },
    /// The next ring's window is not open.
    WindowClosed {
        /// The next ring.
        ring: String,
        /// When its next window opens (UTC).
        opens_at: DateTime<Utc>,
    },
    /// The next ring's window is open but a change freeze holds it.
    Frozen {
        /// The next ring.
        ring: String,
        /// The freeze in force.
        freeze: String,
        /// When the ring may next start (UTC).
        opens_at: DateTime<Utc>,
    },
    /// The next ring needs a change approval that has not arrived.
    AwaitingApproval {
        /// The ring held.
        ring: String,
    },
    /// An approval for a bundle that is already approved the same way.
    AlreadyApproved,
    /// A tick while a ring is being rolled out.
    InProgress {
        /// The ring being rolled out.
        ring: String,
    },
    /// A verdict while no ring is being rolled out (late or replayed).
    NotInProgress {
        /// The ring the bundle waits for.
        waiting_for: String,
        /// The ring the verdict is about.
        input_ring: String,
    },
    /// A verdict about another ring than the one being rolled out.
    OtherRing {
        /// The ring being rolled out.
        current: String,
        /// The ring the verdict is about.
        input_ring: String,
    },
    /// A passed wave that is not the last of its ring.
    NotLastWave {
        /// The ring.
        ring: String,
        /// The wave number.
        wave: u32,
    },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::OtherBundle { state, input } => {
                write!(f, "input is for bundle {input}, state is bundle {state}")
            }
            Skip::Finished => f.write_str("bundle is completed or halted"),
            Skip::Soaking { ring, not_before } => {
                write!(f, "ring {ring} waits for the soak to end at {not_before}")
            }
            Skip::WindowClosed { ring, opens_at } => {
                write!(f, "ring {ring} window is closed until {opens_at}")
            }
            Skip::Frozen {
                ring,
                freeze,
                opens_at,
            } => write!(
                f,
                "ring {ring} is held by change freeze {freeze} until {opens_at}"
            ),
            Skip::AwaitingApproval { ring } => {
                write!(f, "ring {ring} waits for a change approval")
            }
            Skip::AlreadyApproved => f.write_str("the bundle is already approved"),
            Skip::InProgress { ring } => write!(f, "ring {ring} is being rolled out"),
            Skip::NotInProgress {
                waiting_for,
                input_ring,
            } => write!(
                f,
                "verdict for ring {input_ring} while waiting to release ring {waiting_for}"
            ),
            Skip::OtherRing {
                current,
                input_ring,
            } => write!(
                f,
                "verdict for ring {input_ring} while ring {current} is being rolled out"
            ),
            Skip::NotLastWave { ring, wave } => {
                write!(f, "wave {wave} is not the last wave of ring {ring}")
            }
        }
    }
}

fn skip(reason: Skip) -> Decision {
    Decision::Skip { reason }
}

fn ring_gone(ring: &str) -> String {
    format!("ring {ring} is no longer in the schedule configuration")
}

/// The scheduler's clock tick at `now` (UTC).
///
/// A bundle waiting for ring `i` looks at the first ring with hosts at `i`
/// or later. When that ring needs a change approval ([`Config::needs_approval`])
/// and the bundle's approval is [`ApprovalState::Pending`], it moves to
/// `AwaitingApproval` (no output) and stays there until [`on_approved`].
/// Otherwise it releases the ring when `now ≥ not_before` and a start
/// interval of the ring's window set (windows, cutoff, freezes:
/// [`Config::windows_of`]) contains `now`
/// ([`calendar::Windows::current_or_next`]): it emits one `bundle.scheduled`
/// (that interval, the window set, its hosts in rollout order,
/// `cfg.rollout`, and the emergency override when the approval carries one:
/// then the set holds no freezes) and moves to `RolloutInProgress`. When no
/// ring with hosts remains it completes (`bundle.completed`). Otherwise,
/// and in every other status, it skips, naming a freeze that holds the ring.
///
/// # Errors
/// [`ConfigError::Window`] or [`ConfigError::Freeze`] when the ring's
/// window set in `cfg` is invalid (a configuration that passed
/// [`Config::validate`] never is).
pub fn on_tick(
    state: &BundleState,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Decision, ConfigError> {
    let (from, not_before) = match &state.status {
        BundleStatus::WaitingForWindow {
            ring_index,
            not_before,
        } => (*ring_index, *not_before),
        BundleStatus::AwaitingApproval { ring_index, .. } => {
            return Ok(skip(Skip::AwaitingApproval {
                ring: state.ring_name(*ring_index),
            }));
        }
        BundleStatus::RolloutInProgress { ring_index } => {
            return Ok(skip(Skip::InProgress {
                ring: state.ring_name(*ring_index),
            }));
        }
        BundleStatus::Completed | BundleStatus::Halted { .. } => return Ok(skip(Skip::Finished)),
    };
    let Some((ring_index, ring)) = state
        .next_ring_with_hosts(from)
        .and_then(|i| state.rings.get(i).map(|r| (i, r)))
    else {
        return Ok(state.complete());
    };
    let Some(rc) = cfg.ring(&ring.ring) else {
        return Ok(state.halt(&ring.ring, ring_gone(&ring.ring)));
    };
    if state.approval == ApprovalState::Pending && cfg.needs_approval(&ring.ring) {
        return Ok(Decision::Apply {
            state: state.with_status(BundleStatus::AwaitingApproval {
                ring_index,
                not_before,
            }),
            outputs: Vec::new(),
        });
    }
    if now < not_before {
        return Ok(skip(Skip::Soaking {
            ring: ring.ring.clone(),
            not_before,
        }));
    }
    let mut windows = cfg.windows_of(rc)?;
    let emergency_override = match &state.approval {
        ApprovalState::Approved {
            approved_by,
            ticket,
            event_id,
            emergency_override: true,
        } => {
            let lifted = std::mem::take(&mut windows.freezes);
            Some(EmergencyOverride {
                approved_by: approved_by.clone(),
                ticket: ticket.clone(),
                approval_event_id: *event_id,
                freezes: lifted.into_iter().map(|f| f.name).collect(),
            })
        }
        _ => None,
    };
    let window = windows
        .current_or_next(now)
        .map_err(|source| ConfigError::Window {
            ring: ring.ring.clone(),
            source,
        })?;
    if !window.contains(now) {
        if let Some(freeze) = windows.freeze_at(now) {
            return Ok(skip(Skip::Frozen {
                ring: ring.ring.clone(),
                freeze: freeze.name.clone(),
                opens_at: window.opens_at,
            }));
        }
        return Ok(skip(Skip::WindowClosed {
            ring: ring.ring.clone(),
            opens_at: window.opens_at,
        }));
    }
    let scheduled = BundleScheduled {
        bundle_id: state.bundle_id,
        ring: ring.ring.clone(),
        ring_index: u32::try_from(ring_index).unwrap_or(u32::MAX),
        last_ring: state.next_ring_with_hosts(ring_index + 1).is_none(),
        window,
        windows,
        hosts: ring.hosts.clone(),
        rollout: cfg.rollout.clone(),
        emergency_override,
    };
    Ok(Decision::Apply {
        state: state.with_status(BundleStatus::RolloutInProgress { ring_index }),
        outputs: vec![Output::Scheduled(scheduled)],
    })
}

/// An operator approved the bundle (`patch.bundle.approved`, event
/// `event_id`).
///
/// The approval is recorded (a later one replaces an earlier one, so an
/// emergency override can be added); a bundle in `AwaitingApproval` goes
/// back to `WaitingForWindow` for the same ring and `not_before`, and the
/// next tick releases it in its window. A bundle that is completed or
/// halted (a rejection is final) skips, as does the same approval again.
/// An approval of a bundle that needs none is recorded all the same: its
/// emergency override applies.
pub fn on_approved(state: &BundleState, approved: &BundleApproved, event_id: Uuid) -> Decision {
    if approved.bundle_id != state.bundle_id {
        return skip(Skip::OtherBundle {
            state: state.bundle_id,
            input: approved.bundle_id,
        });
    }
    if !state.is_active() {
        return skip(Skip::Finished);
    }
    let approval = ApprovalState::Approved {
        approved_by: approved.approved_by.clone(),
        ticket: approved.ticket.clone(),
        event_id,
        emergency_override: approved.emergency_override,
    };
    let status = match &state.status {
        BundleStatus::AwaitingApproval {
            ring_index,
            not_before,
        } => BundleStatus::WaitingForWindow {
            ring_index: *ring_index,
            not_before: *not_before,
        },
        other => other.clone(),
    };
    if state.approval == approval && status == state.status {
        return skip(Skip::AlreadyApproved);
    }
    Decision::Apply {
        state: BundleState {
            status,
            approval,
            ..state.clone()
        },
        outputs: Vec::new(),
    }
}

/// An operator rejected the bundle (`patch.bundle.rejected`): while it is
/// active it halts (`bundle.halted` in the ring it waits for or rolls out,
/// reason `change rejected by <who>: <reason>`); completed or halted
/// bundles skip.
pub fn on_rejected(state: &BundleState, rejected: &BundleRejected) -> Decision {
    if rejected.bundle_id != state.bundle_id {
        return skip(Skip::OtherBundle {
            state: state.bundle_id,
            input: rejected.bundle_id,
        });
    }
    let ring_index = match &state.status {
        BundleStatus::WaitingForWindow { ring_index, .. }
        | BundleStatus::AwaitingApproval { ring_index, .. } => state
            .next_ring_with_hosts(*ring_index)
            .unwrap_or(*ring_index),
        BundleStatus::RolloutInProgress { ring_index } => *ring_index,
        BundleStatus::Completed | BundleStatus::Halted { .. } => return skip(Skip::Finished),
    };
    state.halt(
        &state.ring_name(ring_index),
        format!(
            "change rejected by {}: {}",
            rejected.rejected_by, rejected.reason
        ),
    )
}

/// A wave of the bundle passed its gate at `now` (UTC).
///
/// Only the last wave of the ring being rolled out counts
/// (`last_wave_in_ring`); every other verdict is skipped. The ring is then
/// promoted: the bundle waits for the next ring with hosts, not before `now +
/// soak_hours` of the ring just validated (from `cfg`), or, when it was the
/// last ring with hosts, completes (`bundle.completed` with the rings rolled
/// out). A validated ring that is no longer configured halts the bundle
/// (its soak time is unknown).
pub fn on_validation_passed(
    state: &BundleState,
    passed: &ValidationPassed,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Decision {
    let ring_index = match state.in_progress_ring(passed.bundle_id, &passed.ring) {
        Ok(i) => i,
        Err(reason) => return skip(reason),
    };
    if !passed.last_wave_in_ring {
        return skip(Skip::NotLastWave {
            ring: passed.ring.clone(),
            wave: passed.wave,
        });
    }
    let Some(next) = state.next_ring_with_hosts(ring_index + 1) else {
        return state.complete();
    };
    let Some(rc) = cfg.ring(&passed.ring) else {
        return state.halt(&passed.ring, ring_gone(&passed.ring));
    };
    Decision::Apply {
        state: state.with_status(BundleStatus::WaitingForWindow {
            ring_index: next,
            not_before: rc.soak_end(now),
        }),
        outputs: Vec::new(),
    }
}

/// A wave of the bundle failed its gate: when it is about the ring being
/// rolled out, the bundle halts (`bundle.halted`), with the reason
/// `validation failed at wave <n>: <reasons joined by "; ">` (the failed
/// checks and read-backs when the verdict lists no reasons).
pub fn on_validation_failed(state: &BundleState, failed: &ValidationFailed) -> Decision {
    match state.in_progress_ring(failed.bundle_id, &failed.ring) {
        Ok(_) => state.halt(&failed.ring, validation_failure_reason(failed)),
        Err(reason) => skip(reason),
    }
}

/// Deploy halted a wave (failure budget exceeded): when it is about the ring
/// being rolled out, the bundle halts (`bundle.halted`), with the reason
/// `wave <n> halted: <deploy's rule and numbers>`.
pub fn on_wave_halted(state: &BundleState, halted: &WaveHalted) -> Decision {
    match state.in_progress_ring(halted.bundle_id, &halted.ring) {
        Ok(_) => state.halt(
            &halted.ring,
            format!("wave {} halted: {}", halted.wave, halted.reason),
        ),
        Err(reason) => skip(reason),
    }
}

fn validation_failure_reason(failed: &ValidationFailed) -> String {
    let mut parts: Vec<String> = failed.reasons.clone();
    if parts.is_empty() {
        parts.extend(failed.checks.iter().filter(|c| !c.ok).map(|c| {
            format!(
                "check {} ({} {}) failed: {}",
                c.name, c.kind, c.target, c.detail
            )
        }));
        parts.extend(
            failed
                .readback
                .iter()
                .filter(|h| !h.ok)
                .map(|h| format!("host {} is missing {}", h.host, h.missing.join(", "))),
        );
    }
    if parts.is_empty() {
        format!("validation failed at wave {}", failed.wave)
    } else {
        format!(
            "validation failed at wave {}: {}",
            failed.wave,
            parts.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{BundlePlan, plan};
    use crate::test_support::{berlin, item, pkg, utc};
    use events::{CheckResult, HostReadback, WaveKind, WindowInstance, derive_id};

    /// Plans one low-priority bundle (a standard change: no approval) of an
    /// openssl upgrade on `hosts` (asset, ring).
    fn plan_one(cfg: &Config, hosts: &[(&str, &str)], now: &str) -> BundlePlan {
        plan_one_of(cfg, hosts, now, Priority::Low)
    }

    fn plan_one_of(
        cfg: &Config,
        hosts: &[(&str, &str)],
        now: &str,
        priority: Priority,
    ) -> BundlePlan {
        let items: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(n, (asset, ring))| {
                item(
                    n as u128 + 1,
                    asset,
                    Some(ring),
                    pkg("openssl", "3.0.13"),
                    priority,
                    "2027-01-01T00:00:00Z",
                )
            })
            .collect();
        match plan(Uuid::from_u128(0x5ca9), &items, cfg, utc(now)) {
            Ok(mut p) if p.len() == 1 => p.remove(0),
            other => panic!("expected one bundle, got {other:?}"),
        }
    }

    /// One input to the state machine.
    enum In<'a> {
        Tick,
        Passed {
            ring: &'a str,
            wave: u32,
            last: bool,
        },
        Failed {
            ring: &'a str,
            reasons: &'a [&'a str],
        },
        WaveHalted {
            ring: &'a str,
            wave: u32,
            reason: &'a str,
        },
        PassedOther,
        Approved {
            by: &'a str,
            emergency_override: bool,
        },
        Rejected {
            by: &'a str,
            reason: &'a str,
        },
    }

    /// A step: the input, its instant, the outputs it must emit (summarised)
    /// and the status after it.
    struct Step<'a> {
        input: In<'a>,
        at: &'a str,
        emits: &'a [&'a str],
        then: BundleStatus,
    }

    fn summary(o: &Output) -> String {
        match o {
            Output::Planned(p) => format!("planned {}", p.bundle_id),
            Output::Scheduled(s) => {
                let mut line = format!(
                    "scheduled {}#{} last={} {}..{} [{}]",
                    s.ring,
                    s.ring_index,
                    s.last_ring,
                    s.window.opens_at.to_rfc3339(),
                    s.window.closes_at.to_rfc3339(),
                    s.hosts
                        .iter()
                        .map(|h| h.asset_id.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                );
                let freezes: Vec<&str> =
                    s.windows.freezes.iter().map(|f| f.name.as_str()).collect();
                if !freezes.is_empty() {
                    line.push_str(&format!(" freezes={}", freezes.join(",")));
                }
                if let Some(o) = &s.emergency_override {
                    line.push_str(&format!(
                        " override by {} lifts {}",
                        o.approved_by,
                        o.freezes.join(",")
                    ));
                }
                line
            }
            Output::Completed(c) => format!("completed [{}]", c.rings.join(",")),
            Output::Halted(h) => format!("halted {}: {}", h.ring, h.reason),
        }
    }

    fn decide(state: &BundleState, cfg: &Config, input: &In<'_>, now: DateTime<Utc>) -> Decision {
        let b = state.bundle_id;
        match input {
            In::Tick => match on_tick(state, cfg, now) {
                Ok(d) => d,
                Err(e) => panic!("tick failed: {e}"),
            },
            In::Passed { ring, wave, last } => {
                on_validation_passed(state, &passed(b, ring, *wave, *last), cfg, now)
            }
            In::PassedOther => on_validation_passed(
                state,
                &passed(Uuid::from_u128(42), "dev", 0, true),
                cfg,
                now,
            ),
            In::Failed { ring, reasons } => on_validation_failed(
                state,
                &ValidationFailed {
                    bundle_id: b,
                    ring: (*ring).into(),
                    wave: 1,
                    checks: vec![],
                    readback: vec![],
                    reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
                },
            ),
            In::WaveHalted { ring, wave, reason } => on_wave_halted(
                state,
                &WaveHalted {
                    bundle_id: b,
                    ring: (*ring).into(),
                    wave: *wave,
                    kind: WaveKind::Batch,
                    hosts: vec![],
                    ring_attempted: 20,
                    ring_failed: 3,
                    never_started: vec![],
                    reason: (*reason).into(),
                },
            ),
            In::Approved {
                by,
                emergency_override,
            } => on_approved(
                state,
                &BundleApproved {
                    bundle_id: b,
                    approved_by: (*by).into(),
                    ticket: "CHG-1".into(),
                    emergency_override: *emergency_override,
                },
                Uuid::from_u128(0xa99),
            ),
            In::Rejected { by, reason } => on_rejected(
                state,
                &BundleRejected {
                    bundle_id: b,
                    rejected_by: (*by).into(),
                    reason: (*reason).into(),
                },
            ),
        }
    }

    fn passed(bundle_id: Uuid, ring: &str, wave: u32, last: bool) -> ValidationPassed {
        ValidationPassed {
            bundle_id,
            ring: ring.into(),
            wave,
            last_wave_in_ring: last,
            checks: vec![],
            readback: vec![],
        }
    }

    /// Runs `steps` from `state`, checking every step's outputs and status,
    /// and that every emitted event id is the documented derived id.
    fn check(name: &str, cfg: &Config, mut state: BundleState, steps: &[Step<'_>]) -> BundleState {
        for (n, step) in steps.iter().enumerate() {
            let now = utc(step.at);
            let d = decide(&state, cfg, &step.input, now);
            let got: Vec<String> = d.outputs().iter().map(summary).collect();
            assert_eq!(got, step.emits, "{name}: step {n} outputs");
            for o in d.outputs() {
                assert_eq!(
                    o.event_id(),
                    derive_id(state.bundle_id, "schedule", &o.child_key()),
                    "{name}: step {n} id"
                );
            }
            if let Decision::Apply { state: next, .. } = d {
                state = next;
            }
            assert_eq!(state.status, step.then, "{name}: step {n} status");
        }
        state
    }

    fn waiting(ring_index: usize, not_before: &str) -> BundleStatus {
        BundleStatus::WaitingForWindow {
            ring_index,
            not_before: utc(not_before),
        }
    }

    fn rolling(ring_index: usize) -> BundleStatus {
        BundleStatus::RolloutInProgress { ring_index }
    }

    #[test]
    fn ring_by_ring_in_berlin_windows_with_soak() {
        let cfg = berlin(1, 1);
        let p = plan_one(
            &cfg,
            &[
                ("dev-1", "dev"),
                ("dev-2", "dev"),
                ("st-1", "staging"),
                ("pr-1", "prod"),
            ],
            "2026-11-29T12:00:00Z",
        );
        let plan_time = "2026-11-29T12:00:00Z";
        check(
            "full rollout, test ring without hosts skipped",
            &cfg,
            p.state,
            &[
                Step {
                    input: In::Tick,
                    at: "2026-11-30T00:59:59Z",
                    emits: &[],
                    then: waiting(0, plan_time),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T01:00:00Z",
                    emits: &[
                        "scheduled dev#0 last=false 2026-11-30T01:00:00+00:00..2026-11-30T03:00:00+00:00 [dev-1,dev-2]",
                    ],
                    then: rolling(0),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T01:00:01Z",
                    emits: &[],
                    then: rolling(0),
                },
                Step {
                    input: In::Passed {
                        ring: "dev",
                        wave: 0,
                        last: false,
                    },
                    at: "2026-11-30T01:10:00Z",
                    emits: &[],
                    then: rolling(0),
                },
                Step {
                    input: In::Passed {
                        ring: "staging",
                        wave: 1,
                        last: true,
                    },
                    at: "2026-11-30T01:15:00Z",
                    emits: &[],
                    then: rolling(0),
                },
                Step {
                    input: In::PassedOther,
                    at: "2026-11-30T01:16:00Z",
                    emits: &[],
                    then: rolling(0),
                },
                Step {
                    input: In::Passed {
                        ring: "dev",
                        wave: 1,
                        last: true,
                    },
                    at: "2026-11-30T01:30:00Z",
                    emits: &[],
                    then: waiting(2, "2026-11-30T02:30:00Z"),
                },
                // redelivered verdict after the promotion is stored: nothing
                Step {
                    input: In::Passed {
                        ring: "dev",
                        wave: 1,
                        last: true,
                    },
                    at: "2026-11-30T01:31:00Z",
                    emits: &[],
                    then: waiting(2, "2026-11-30T02:30:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T02:29:59Z",
                    emits: &[],
                    then: waiting(2, "2026-11-30T02:30:00Z"),
                },
                // soak over, staging's window (06:00 Berlin = 05:00Z) not open yet
                Step {
                    input: In::Tick,
                    at: "2026-11-30T02:30:00Z",
                    emits: &[],
                    then: waiting(2, "2026-11-30T02:30:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T05:00:00Z",
                    emits: &[
                        "scheduled staging#2 last=false 2026-11-30T05:00:00+00:00..2026-11-30T07:00:00+00:00 [st-1]",
                    ],
                    then: rolling(2),
                },
                Step {
                    input: In::Passed {
                        ring: "staging",
                        wave: 0,
                        last: true,
                    },
                    at: "2026-11-30T05:20:00Z",
                    emits: &[],
                    then: waiting(3, "2026-11-30T06:20:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T07:00:00Z",
                    emits: &[
                        "scheduled prod#3 last=true 2026-11-30T07:00:00+00:00..2026-11-30T09:00:00+00:00 [pr-1]",
                    ],
                    then: rolling(3),
                },
                Step {
                    input: In::Passed {
                        ring: "prod",
                        wave: 0,
                        last: true,
                    },
                    at: "2026-11-30T07:40:00Z",
                    emits: &["completed [dev,staging,prod]"],
                    then: BundleStatus::Completed,
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T08:00:00Z",
                    emits: &[],
                    then: BundleStatus::Completed,
                },
                Step {
                    input: In::Passed {
                        ring: "prod",
                        wave: 0,
                        last: true,
                    },
                    at: "2026-11-30T08:00:00Z",
                    emits: &[],
                    then: BundleStatus::Completed,
                },
                Step {
                    input: In::Failed {
                        ring: "prod",
                        reasons: &["late"],
                    },
                    at: "2026-11-30T08:00:00Z",
                    emits: &[],
                    then: BundleStatus::Completed,
                },
            ],
        );
    }

    #[test]
    fn soak_that_misses_the_window_waits_a_week() {
        let cfg = berlin(1, 1);
        let p = plan_one(&cfg, &[("d", "dev"), ("t", "test")], "2026-11-29T12:00:00Z");
        check(
            "test released the next Monday",
            &cfg,
            p.state,
            &[
                Step {
                    input: In::Tick,
                    at: "2026-11-30T01:00:00Z",
                    emits: &[
                        "scheduled dev#0 last=false 2026-11-30T01:00:00+00:00..2026-11-30T03:00:00+00:00 [d]",
                    ],
                    then: rolling(0),
                },
                Step {
                    input: In::Passed {
                        ring: "dev",
                        wave: 0,
                        last: true,
                    },
                    at: "2026-11-30T04:30:00Z",
                    emits: &[],
                    then: waiting(1, "2026-11-30T05:30:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T05:30:00Z",
                    emits: &[],
                    then: waiting(1, "2026-11-30T05:30:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-12-07T03:00:00Z",
                    emits: &[
                        "scheduled test#1 last=true 2026-12-07T03:00:00+00:00..2026-12-07T05:00:00+00:00 [t]",
                    ],
                    then: rolling(1),
                },
            ],
        );
    }

    #[test]
    fn failures_halt_and_halted_bundles_ignore_everything() {
        let cfg = Config::default();
        let p = plan_one(&cfg, &[("d", "dev"), ("p", "prod")], "2026-11-29T12:00:00Z");
        let halted = BundleStatus::Halted {
            ring: "dev".into(),
            reason:
                "validation failed at wave 1: http api: 503; host d is missing pkg:openssl@3.0.13"
                    .into(),
        };
        check(
            "validation failed",
            &cfg,
            p.state.clone(),
            &[
                Step {
                    input: In::Failed {
                        ring: "dev",
                        reasons: &["http api: 503"],
                    },
                    at: "2026-11-29T12:00:00Z",
                    emits: &[],
                    then: waiting(0, "2026-11-29T12:00:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-29T12:00:00Z",
                    emits: &[
                        "scheduled dev#0 last=false 2026-11-29T12:00:00+00:00..2126-11-05T12:00:00+00:00 [d]",
                    ],
                    then: rolling(0),
                },
                Step {
                    input: In::Failed {
                        ring: "prod",
                        reasons: &["other ring"],
                    },
                    at: "2026-11-29T12:30:00Z",
                    emits: &[],
                    then: rolling(0),
                },
                Step {
                    input: In::Failed {
                        ring: "dev",
                        reasons: &["http api: 503", "host d is missing pkg:openssl@3.0.13"],
                    },
                    at: "2026-11-29T12:30:00Z",
                    emits: &[
                        "halted dev: validation failed at wave 1: http api: 503; host d is missing pkg:openssl@3.0.13",
                    ],
                    then: halted.clone(),
                },
                Step {
                    input: In::Failed {
                        ring: "dev",
                        reasons: &["again"],
                    },
                    at: "2026-11-29T12:31:00Z",
                    emits: &[],
                    then: halted.clone(),
                },
                Step {
                    input: In::Passed {
                        ring: "dev",
                        wave: 1,
                        last: true,
                    },
                    at: "2026-11-29T12:32:00Z",
                    emits: &[],
                    then: halted.clone(),
                },
                Step {
                    input: In::WaveHalted {
                        ring: "dev",
                        wave: 2,
                        reason: "x",
                    },
                    at: "2026-11-29T12:33:00Z",
                    emits: &[],
                    then: halted.clone(),
                },
                Step {
                    input: In::Tick,
                    at: "2026-12-30T00:00:00Z",
                    emits: &[],
                    then: halted,
                },
            ],
        );
        let budget = "3 of 20 attempted hosts failed (15.0% > 10%)";
        check(
            "wave halted in the second ring",
            &cfg,
            p.state,
            &[
                Step {
                    input: In::Tick,
                    at: "2026-11-29T12:00:00Z",
                    emits: &[
                        "scheduled dev#0 last=false 2026-11-29T12:00:00+00:00..2126-11-05T12:00:00+00:00 [d]",
                    ],
                    then: rolling(0),
                },
                Step {
                    input: In::Passed {
                        ring: "dev",
                        wave: 0,
                        last: true,
                    },
                    at: "2026-11-29T13:00:00Z",
                    emits: &[],
                    then: waiting(3, "2026-11-30T13:00:00Z"),
                },
                Step {
                    input: In::WaveHalted {
                        ring: "dev",
                        wave: 2,
                        reason: budget,
                    },
                    at: "2026-11-29T14:00:00Z",
                    emits: &[],
                    then: waiting(3, "2026-11-30T13:00:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T13:00:00Z",
                    emits: &[
                        "scheduled prod#3 last=true 2026-11-30T13:00:00+00:00..2126-11-06T13:00:00+00:00 [p]",
                    ],
                    then: rolling(3),
                },
                Step {
                    input: In::WaveHalted {
                        ring: "prod",
                        wave: 2,
                        reason: budget,
                    },
                    at: "2026-11-30T14:00:00Z",
                    emits: &[
                        "halted prod: wave 2 halted: 3 of 20 attempted hosts failed (15.0% > 10%)",
                    ],
                    then: BundleStatus::Halted {
                        ring: "prod".into(),
                        reason: format!("wave 2 halted: {budget}"),
                    },
                },
            ],
        );
    }

    #[test]
    fn failure_reason_falls_back_to_failed_checks_and_readbacks() {
        let cases: [(Vec<CheckResult>, Vec<HostReadback>, &str); 2] = [
            (
                vec![
                    CheckResult {
                        name: "api".into(),
                        kind: "http".into(),
                        target: "https://api/health".into(),
                        ok: false,
                        detail: "status 503".into(),
                        duration_ms: 12,
                    },
                    CheckResult {
                        name: "db".into(),
                        kind: "tcp".into(),
                        target: "db:5432".into(),
                        ok: true,
                        detail: "ok".into(),
                        duration_ms: 1,
                    },
                ],
                vec![HostReadback {
                    host: "d".into(),
                    ok: false,
                    missing: vec!["pkg:openssl@3.0.13".into()],
                    result_event_id: None,
                }],
                "validation failed at wave 4: check api (http https://api/health) failed: status 503; host d is missing pkg:openssl@3.0.13",
            ),
            (vec![], vec![], "validation failed at wave 4"),
        ];
        for (checks, readback, want) in cases {
            let f = ValidationFailed {
                bundle_id: Uuid::nil(),
                ring: "dev".into(),
                wave: 4,
                checks,
                readback,
                reasons: vec![],
            };
            assert_eq!(validation_failure_reason(&f), want);
        }
    }

    #[test]
    fn released_event_carries_window_set_jobs_and_policy() {
        let cfg = berlin(1, 1);
        let p = plan_one(&cfg, &[("b", "dev"), ("a", "dev")], "2026-11-29T12:00:00Z");
        let d = match on_tick(&p.state, &cfg, utc("2026-11-30T02:00:00Z")) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let want = Output::Scheduled(BundleScheduled {
            bundle_id: p.bundle_id(),
            ring: "dev".into(),
            ring_index: 0,
            last_ring: true,
            window: WindowInstance {
                opens_at: utc("2026-11-30T01:00:00Z"),
                closes_at: utc("2026-11-30T03:00:00Z"),
            },
            windows: cfg
                .window_set("dev")
                .unwrap_or_else(events::WindowSet::always),
            hosts: vec![
                HostJobSpec {
                    asset_id: "a".into(),
                    remediations: vec![pkg("openssl", "3.0.13")],
                },
                HostJobSpec {
                    asset_id: "b".into(),
                    remediations: vec![pkg("openssl", "3.0.13")],
                },
            ],
            rollout: cfg.rollout.clone(),
            emergency_override: None,
        });
        assert_eq!(d.outputs(), &[want]);
        assert_eq!(
            cfg.window_set("dev").map(|w| w.timezone).as_deref(),
            Some("Europe/Berlin")
        );
    }

    #[test]
    fn repeated_inputs_on_the_same_state_give_the_same_event_ids() {
        let cfg = Config::default();
        let p = plan_one(&cfg, &[("d", "dev")], "2026-11-29T12:00:00Z");
        // The adapter crashed before storing: the tick runs again on the old state.
        let ids = |at: &str| -> Vec<(Uuid, String)> {
            match on_tick(&p.state, &cfg, utc(at)) {
                Ok(d) => d
                    .outputs()
                    .iter()
                    .map(|o| {
                        let e = o.clone().into_event(utc(at));
                        (e.id, e.event_type().to_owned())
                    })
                    .collect(),
                Err(e) => panic!("{e}"),
            }
        };
        let first = ids("2026-11-29T12:00:00Z");
        assert_eq!(first, ids("2026-11-29T12:00:05Z"));
        assert_eq!(
            first,
            vec![(
                derive_id(p.bundle_id(), "schedule", "dev/scheduled"),
                "patch.bundle.scheduled.v1".to_owned()
            )]
        );
        assert_eq!(
            p.output().into_event(utc("2026-11-29T12:00:00Z")).id,
            derive_id(p.bundle_id(), "schedule", "planned")
        );
    }

    #[test]
    fn no_ring_with_hosts_completes_and_a_removed_ring_halts() {
        let cfg = Config::default();
        let empty = BundleState::new(
            Uuid::from_u128(7),
            Priority::Low,
            vec![RingHosts {
                ring: "dev".into(),
                hosts: vec![],
            }],
            utc("2026-11-29T12:00:00Z"),
        );
        check(
            "nothing to roll out",
            &cfg,
            empty,
            &[Step {
                input: In::Tick,
                at: "2026-11-29T12:00:00Z",
                emits: &["completed []"],
                then: BundleStatus::Completed,
            }],
        );

        let p = plan_one(&cfg, &[("d", "dev"), ("t", "test")], "2026-11-29T12:00:00Z");
        let mut shrunk = cfg.clone();
        shrunk.rings.retain(|r| r.name != "test");
        check(
            "test ring removed from the configuration",
            &shrunk,
            p.state,
            &[
                Step {
                    input: In::Tick,
                    at: "2026-11-29T12:00:00Z",
                    emits: &[
                        "scheduled dev#0 last=false 2026-11-29T12:00:00+00:00..2126-11-05T12:00:00+00:00 [d]",
                    ],
                    then: rolling(0),
                },
                Step {
                    input: In::Passed {
                        ring: "dev",
                        wave: 0,
                        last: true,
                    },
                    at: "2026-11-29T13:00:00Z",
                    emits: &[],
                    then: waiting(1, "2026-11-30T13:00:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-29T13:00:01Z",
                    emits: &["halted test: ring test is no longer in the schedule configuration"],
                    then: BundleStatus::Halted {
                        ring: "test".into(),
                        reason: "ring test is no longer in the schedule configuration".into(),
                    },
                },
            ],
        );
    }

    #[test]
    fn state_round_trips_as_json() {
        let p = plan_one(&Config::default(), &[("d", "dev")], "2026-11-29T12:00:00Z");
        let json = serde_json::to_string(&p.state).map_err(|e| e.to_string());
        let back: Result<BundleState, String> = json
            .as_deref()
            .map_err(Clone::clone)
            .and_then(|j| serde_json::from_str(j).map_err(|e| e.to_string()));
        assert_eq!(back, Ok(p.state.clone()));
        assert!(json.is_ok_and(|j| j.contains(r#""status":"waiting_for_window""#)));
        assert!(p.state.is_active());
    }

    fn awaiting(ring_index: usize, not_before: &str) -> BundleStatus {
        BundleStatus::AwaitingApproval {
            ring_index,
            not_before: utc(not_before),
        }
    }

    #[test]
    fn production_waits_for_an_approval_and_a_rejection_halts() {
        let cfg = Config::default();
        let p = plan_one_of(
            &cfg,
            &[("d", "dev"), ("p", "prod")],
            "2026-11-29T12:00:00Z",
            Priority::High,
        );
        assert_eq!(p.state.approval, ApprovalState::Pending);
        assert_eq!(
            p.planned.approval.as_ref().map(|a| a.rings.clone()),
            Some(vec!["prod".to_owned()])
        );
        let dev_done = [
            Step {
                input: In::Tick,
                at: "2026-11-29T12:00:00Z",
                emits: &[
                    "scheduled dev#0 last=false 2026-11-29T12:00:00+00:00..2126-11-05T12:00:00+00:00 [d]",
                ],
                then: rolling(0),
            },
            Step {
                input: In::Passed {
                    ring: "dev",
                    wave: 0,
                    last: true,
                },
                at: "2026-11-29T13:00:00Z",
                emits: &[],
                then: waiting(3, "2026-11-30T13:00:00Z"),
            },
            Step {
                input: In::Tick,
                at: "2026-11-29T13:00:01Z",
                emits: &[],
                then: awaiting(3, "2026-11-30T13:00:00Z"),
            },
            Step {
                input: In::Tick,
                at: "2026-12-01T00:00:00Z",
                emits: &[],
                then: awaiting(3, "2026-11-30T13:00:00Z"),
            },
        ];
        let held = check("held for approval", &cfg, p.state.clone(), &dev_done);
        check(
            "approved: released on the next tick",
            &cfg,
            held.clone(),
            &[
                Step {
                    input: In::Approved {
                        by: "alice",
                        emergency_override: false,
                    },
                    at: "2026-12-01T09:00:00Z",
                    emits: &[],
                    then: waiting(3, "2026-11-30T13:00:00Z"),
                },
                Step {
                    input: In::Approved {
                        by: "alice",
                        emergency_override: false,
                    },
                    at: "2026-12-01T09:00:01Z",
                    emits: &[],
                    then: waiting(3, "2026-11-30T13:00:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-12-01T09:00:02Z",
                    emits: &[
                        "scheduled prod#3 last=true 2026-12-01T09:00:02+00:00..2126-11-07T09:00:02+00:00 [p]",
                    ],
                    then: rolling(3),
                },
            ],
        );
        let rejected = BundleStatus::Halted {
            ring: "prod".into(),
            reason: "change rejected by carol: quarter close".into(),
        };
        check(
            "rejected: halted, final",
            &cfg,
            held,
            &[
                Step {
                    input: In::Rejected {
                        by: "carol",
                        reason: "quarter close",
                    },
                    at: "2026-12-01T09:00:00Z",
                    emits: &["halted prod: change rejected by carol: quarter close"],
                    then: rejected.clone(),
                },
                Step {
                    input: In::Approved {
                        by: "alice",
                        emergency_override: false,
                    },
                    at: "2026-12-01T09:00:01Z",
                    emits: &[],
                    then: rejected.clone(),
                },
                Step {
                    input: In::Tick,
                    at: "2026-12-02T00:00:00Z",
                    emits: &[],
                    then: rejected,
                },
            ],
        );
        // An approval given at planning time: production never stops.
        check(
            "approved early",
            &cfg,
            p.state,
            &[
                Step {
                    input: In::Approved {
                        by: "alice",
                        emergency_override: false,
                    },
                    at: "2026-11-29T12:00:00Z",
                    emits: &[],
                    then: waiting(0, "2026-11-29T12:00:00Z"),
                },
                dev_done[0].clone_step(),
                dev_done[1].clone_step(),
                Step {
                    input: In::Tick,
                    at: "2026-11-30T13:00:00Z",
                    emits: &[
                        "scheduled prod#3 last=true 2026-11-30T13:00:00+00:00..2126-11-06T13:00:00+00:00 [p]",
                    ],
                    then: rolling(3),
                },
            ],
        );
    }

    #[test]
    fn standard_changes_and_other_rings_need_no_approval() {
        let cfg = Config::default();
        // Low priority, no reboot: a standard change.
        let low = plan_one(&cfg, &[("p", "prod")], "2026-11-29T12:00:00Z");
        assert_eq!(low.state.approval, ApprovalState::NotRequired);
        assert_eq!(low.planned.approval, None);
        // High priority without production hosts: nothing to hold.
        let dev = plan_one_of(
            &cfg,
            &[("d", "dev")],
            "2026-11-29T12:00:00Z",
            Priority::High,
        );
        assert_eq!(dev.state.approval, ApprovalState::NotRequired);
        // Approvals turned off.
        let mut off = cfg.clone();
        off.approval.rings = Some(Vec::new());
        let high = plan_one_of(
            &off,
            &[("p", "prod")],
            "2026-11-29T12:00:00Z",
            Priority::High,
        );
        assert_eq!(high.state.approval, ApprovalState::NotRequired);
    }

    #[test]
    fn freezes_hold_a_release_unless_an_emergency_approval_lifts_them() {
        let mut cfg = berlin(1, 1);
        cfg.freezes = vec![crate::config::FreezeConfig {
            name: "cab-freeze".into(),
            starts: "2026-11-30T02:00".into(),
            ends: "2026-11-30T03:00".into(),
            timezone: None,
            rings: vec!["dev".into()],
        }];
        assert_eq!(cfg.validate(), Ok(()));
        let p = plan_one(&cfg, &[("d", "dev")], "2026-11-29T12:00:00Z");
        // The dev window is 01:00Z-03:00Z; the freeze 01:00Z-02:00Z.
        match on_tick(&p.state, &cfg, utc("2026-11-30T01:30:00Z")) {
            Ok(Decision::Skip { reason }) => assert_eq!(
                reason.to_string(),
                "ring dev is held by change freeze cab-freeze until 2026-11-30 02:00:00 UTC"
            ),
            other => panic!("expected a skip, got {other:?}"),
        }
        check(
            "released when the freeze ends",
            &cfg,
            p.state.clone(),
            &[Step {
                input: In::Tick,
                at: "2026-11-30T02:00:00Z",
                emits: &[
                    "scheduled dev#0 last=true 2026-11-30T02:00:00+00:00..2026-11-30T03:00:00+00:00 [d] freezes=cab-freeze",
                ],
                then: rolling(0),
            }],
        );
        check(
            "an emergency approval lifts it",
            &cfg,
            p.state,
            &[
                Step {
                    input: In::Approved {
                        by: "bob",
                        emergency_override: true,
                    },
                    at: "2026-11-30T01:29:00Z",
                    emits: &[],
                    then: waiting(0, "2026-11-29T12:00:00Z"),
                },
                Step {
                    input: In::Tick,
                    at: "2026-11-30T01:30:00Z",
                    emits: &[
                        "scheduled dev#0 last=true 2026-11-30T01:00:00+00:00..2026-11-30T03:00:00+00:00 [d] override by bob lifts cab-freeze",
                    ],
                    then: rolling(0),
                },
            ],
        );
    }

    impl Step<'_> {
        fn clone_step(&self) -> Step<'_> {
            Step {
                input: match &self.input {
                    In::Tick => In::Tick,
                    In::Passed { ring, wave, last } => In::Passed {
                        ring,
                        wave: *wave,
                        last: *last,
                    },
                    _ => In::PassedOther,
                },
                at: self.at,
                emits: self.emits,
                then: self.then.clone(),
            }
        }
    }
}
