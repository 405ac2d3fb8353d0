//! The failure budget: when a ring's rollout halts.
//!
//! Checked after every wave of a ring (the canary counts like any wave), with
//! two rules from the ring's [`RolloutPolicy`]:
//!
//! 1. **Rate**: halt when `ring_failed × 100 > max_failed_percent ×
//!    ring_attempted`, i.e. when strictly MORE than `max_failed_percent` of
//!    the hosts *attempted so far in the ring* (this wave included) have
//!    failed. The denominator is the hosts attempted, never the hosts still
//!    active (ansible/ansible#32255: a rate over the surviving hosts rises as
//!    hosts fail and halts too early), and the rate is cumulative over the
//!    ring, never per batch.
//! 2. **Whole wave**: with `halt_on_full_batch_failure`, halt when every host
//!    of this wave failed, whatever the rate (ansible/ansible#82267: an
//!    operator who sets the rate to 100 % to try every host may still want
//!    this switch off, so it is a separate setting).
//!
//! A `Failed` and a `TimedOut` host both count as failed
//! ([`events::HostStatus::is_failure`]).

use events::RolloutPolicy;

/// Counts the budget is checked against, after a wave completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Hosts attempted in the ring so far, this wave included.
    pub ring_attempted: u32,
    /// Hosts failed (failed or timed out) in the ring so far, this wave included.
    pub ring_failed: u32,
    /// Hosts of this wave.
    pub wave_attempted: u32,
    /// Hosts of this wave that failed or timed out.
    pub wave_failed: u32,
}

/// The budget's verdict after a wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rollout may go on.
    Holds,
    /// The ring halts: no further wave starts.
    Halt {
        /// The rules that fired, with their numbers, joined by `"; "`:
        /// `"failed 3 of 6 attempted hosts (50.0%) > 10%; batch 2 failed entirely"`.
        reason: String,
    },
}

/// `max_failed_percent` is compared exactly at this resolution: a millionth
/// of a percent, so decimal settings such as `10`, `12.5` or `10.0001` are
/// taken exactly as written (no binary floating-point rounding at the boundary).
const PERCENT_SCALE: f64 = 1_000_000.0;

/// Whether `failed` of `attempted` hosts is strictly more than
/// `max_failed_percent` percent.
///
/// Exact integer arithmetic on `max_failed_percent` rounded to a millionth of
/// a percent. A NaN or negative maximum counts as 0 (any failure exceeds it);
/// an infinite one is never exceeded. No host attempted never exceeds.
///
/// ```
/// use deploy::budget::rate_exceeded;
/// assert!(!rate_exceeded(1, 10, 10.0)); // exactly 10 % is not MORE than 10 %
/// assert!(rate_exceeded(1, 10, 9.9999));
/// assert!(rate_exceeded(100_001, 1_000_000, 10.0)); // 10.0001 %
/// assert!(!rate_exceeded(12, 12, 100.0)); // everything failed, 100 % allowed
/// ```
pub fn rate_exceeded(failed: u32, attempted: u32, max_failed_percent: f64) -> bool {
    if attempted == 0 {
        return false;
    }
    // `as` saturates: NaN and negatives give 0, +inf gives u128::MAX.
    let max_scaled = (max_failed_percent * PERCENT_SCALE).round() as u128;
    let lhs = u128::from(failed) * 100 * PERCENT_SCALE as u128;
    let rhs = max_scaled.saturating_mul(u128::from(attempted));
    lhs > rhs
}

/// Checks the failure budget of `policy` after wave `wave_label` (the
/// operator's name of the wave, `canary` or `batch 2`, see
/// [`crate::waves::wave_label`]).
///
/// Returns [`Verdict::Halt`] when rule 1 (rate, see [`rate_exceeded`]) or
/// rule 2 (whole wave, when `policy.halt_on_full_batch_failure`) fires, with
/// every rule that fired named in the reason; [`Verdict::Holds`] otherwise.
///
/// # Worked examples (the OC-14 case, and the DESIGN.md defaults)
///
/// ```
/// use deploy::budget::{Tally, Verdict, check};
/// use events::RolloutPolicy;
/// let defaults = RolloutPolicy { canary_hosts: 0, ..RolloutPolicy::default() };
///
/// // OC-14 A: 20 hosts, batches of 5, host-08 of batch 2 fails. After batch
/// // 2: 1 of 10 attempted = 10 %, not MORE than 10 %: the ring goes on
/// // (1/9 over the still-active hosts, or 1/5 per batch, would halt wrongly).
/// let a = Tally { ring_attempted: 10, ring_failed: 1, wave_attempted: 5, wave_failed: 1 };
/// assert_eq!(check(&defaults, "batch 2", a), Verdict::Holds);
///
/// // OC-14 B2: 12 hosts, batches of 3, all of batch 2 fails. After batch 2:
/// // 3 of 6 = 50 % > 10 %, and the whole batch failed.
/// let b2 = Tally { ring_attempted: 6, ring_failed: 3, wave_attempted: 3, wave_failed: 3 };
/// assert_eq!(
///     check(&defaults, "batch 2", b2),
///     Verdict::Halt {
///         reason: "failed 3 of 6 attempted hosts (50.0%) > 10%; batch 2 failed entirely".into()
///     }
/// );
///
/// // OC-14 B: the same failures with max_failed_percent = 100 and the
/// // whole-batch rule off: 3 of 6 = 50 % is within 100 %, the ring goes on.
/// let best_effort = RolloutPolicy {
///     max_failed_percent: 100.0,
///     halt_on_full_batch_failure: false,
///     ..defaults.clone()
/// };
/// assert_eq!(check(&best_effort, "batch 2", b2), Verdict::Holds);
///
/// // A failed canary of 1: 1 of 1 = 100 % > 10 %, and the canary failed entirely.
/// let canary = Tally { ring_attempted: 1, ring_failed: 1, wave_attempted: 1, wave_failed: 1 };
/// assert!(matches!(check(&RolloutPolicy::default(), "canary", canary), Verdict::Halt { .. }));
/// ```
pub fn check(policy: &RolloutPolicy, wave_label: &str, tally: Tally) -> Verdict {
    let mut rules = Vec::new();
    if rate_exceeded(
        tally.ring_failed,
        tally.ring_attempted,
        policy.max_failed_percent,
    ) {
        let rate = f64::from(tally.ring_failed) * 100.0 / f64::from(tally.ring_attempted);
        rules.push(format!(
            "failed {} of {} attempted hosts ({}%) > {}%",
            tally.ring_failed,
            tally.ring_attempted,
            percent_above(rate, policy.max_failed_percent),
            policy.max_failed_percent
        ));
    }
    if policy.halt_on_full_batch_failure
        && tally.wave_attempted > 0
        && tally.wave_failed >= tally.wave_attempted
    {
        rules.push(format!("{wave_label} failed entirely"));
    }
    if rules.is_empty() {
        Verdict::Holds
    } else {
        Verdict::Halt {
            reason: rules.join("; "),
        }
    }
}

/// `rate` with one decimal, or more (up to six) when one decimal would not
/// show that it is above `max` (10.0001 % against 10 % reads `10.0001`, not
/// `10.0`).
fn percent_above(rate: f64, max: f64) -> String {
    let mut shown = format!("{rate:.1}");
    for precision in 1..=6 {
        shown = format!("{rate:.precision$}");
        if shown.parse::<f64>().is_ok_and(|v| v > max) {
            break;
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: f64, whole: bool) -> RolloutPolicy {
        RolloutPolicy {
            max_failed_percent: max,
            halt_on_full_batch_failure: whole,
            ..RolloutPolicy::default()
        }
    }

    /// `(max %, whole-wave rule, ring attempted, ring failed, wave attempted,
    /// wave failed) → expected halt reason (None = holds)`.
    fn check_case(
        max: f64,
        whole: bool,
        (ra, rf, wa, wf): (u32, u32, u32, u32),
        label: &str,
        want: Option<&str>,
    ) {
        let tally = Tally {
            ring_attempted: ra,
            ring_failed: rf,
            wave_attempted: wa,
            wave_failed: wf,
        };
        let got = check(&policy(max, whole), label, tally);
        let want = match want {
            None => Verdict::Holds,
            Some(r) => Verdict::Halt {
                reason: r.to_owned(),
            },
        };
        assert_eq!(got, want, "max={max} whole={whole} tally={tally:?}");
    }

    #[test]
    fn budget_table() {
        // OC-14 A after batch 2: 1 of 10 is exactly 10 %: holds.
        check_case(10.0, true, (10, 1, 5, 1), "batch 2", None);
        // OC-14 A after batches 3 and 4: the rate only falls.
        check_case(10.0, true, (15, 1, 5, 0), "batch 3", None);
        check_case(10.0, true, (20, 1, 5, 0), "batch 4", None);
        // OC-14 A after batch 1 had host-08 been in it: 1 of 5 = 20 %.
        check_case(
            10.0,
            true,
            (5, 1, 5, 1),
            "batch 1",
            Some("failed 1 of 5 attempted hosts (20.0%) > 10%"),
        );
        // The boundary, both ways.
        check_case(
            9.9999,
            true,
            (10, 1, 5, 1),
            "batch 2",
            Some("failed 1 of 10 attempted hosts (10.0%) > 9.9999%"),
        );
        check_case(10.0001, true, (10, 1, 5, 1), "batch 2", None);
        check_case(
            10.0,
            false,
            (1_000_000, 100_001, 10, 1),
            "batch 9",
            Some("failed 100001 of 1000000 attempted hosts (10.0001%) > 10%"),
        );
        check_case(10.0, false, (1_000_000, 100_000, 10, 1), "batch 9", None);
        // A decimal maximum that binary floating point cannot hold exactly.
        check_case(0.1, false, (3000, 3, 10, 1), "batch 3", None);
        check_case(
            0.1,
            false,
            (3000, 4, 10, 1),
            "batch 3",
            Some("failed 4 of 3000 attempted hosts (0.13%) > 0.1%"),
        );
        // OC-14 B: whole batch 2 failed, rate allowed up to 100 %, rule off.
        check_case(100.0, false, (6, 3, 3, 3), "batch 2", None);
        check_case(100.0, false, (12, 3, 3, 0), "batch 4", None);
        // Same with the whole-batch rule on: only that rule fires.
        check_case(
            100.0,
            true,
            (6, 3, 3, 3),
            "batch 2",
            Some("batch 2 failed entirely"),
        );
        // 101 % (ansible/ansible#82267): never halts on rate, even at 100 % failed.
        check_case(101.0, false, (12, 12, 3, 3), "batch 4", None);
        // OC-14 B2: both rules, both named.
        check_case(
            10.0,
            true,
            (6, 3, 3, 3),
            "batch 2",
            Some("failed 3 of 6 attempted hosts (50.0%) > 10%; batch 2 failed entirely"),
        );
        // A failed canary of 1.
        check_case(
            10.0,
            true,
            (1, 1, 1, 1),
            "canary",
            Some("failed 1 of 1 attempted hosts (100.0%) > 10%; canary failed entirely"),
        );
        // Timed-out hosts are counted by the caller; 0 % tolerates nothing.
        check_case(
            0.0,
            false,
            (4, 1, 3, 1),
            "batch 1",
            Some("failed 1 of 4 attempted hosts (25.0%) > 0%"),
        );
        check_case(0.0, false, (4, 0, 3, 0), "batch 1", None);
        // Nothing attempted never halts.
        check_case(0.0, true, (0, 0, 0, 0), "batch 1", None);
    }

    #[test]
    fn rate_rule_is_safe_on_odd_settings() {
        assert!(rate_exceeded(1, 10, f64::NAN));
        assert!(rate_exceeded(1, 10, -5.0));
        assert!(!rate_exceeded(u32::MAX, u32::MAX, f64::INFINITY));
        assert!(!rate_exceeded(0, u32::MAX, 0.0));
        assert!(rate_exceeded(u32::MAX, u32::MAX, 99.9999));
    }
}
