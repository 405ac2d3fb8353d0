//! Wave sizing: how a ring's hosts are cut into a canary wave and batches.
//!
//! DESIGN.md, "The risk policy": inside every ring a canary goes first, then
//! batches of `batch_percent` of the ring's hosts (default 25 %). The batch
//! size is a share of the ring's *total* host count, fixed for the whole ring,
//! so the last batch may be smaller.

use events::RolloutPolicy;
use events::deployment::WaveKind;

/// The sizes of a ring's waves, in rollout order.
///
/// - `hosts`: the ring's host count n.
/// - `canary_hosts`: hosts in the canary wave c; 0 means no canary wave.
/// - `batch_percent`: batch size p as a percentage of n.
///
/// The canary wave holds the first `min(c, n)` hosts; every following wave
/// holds `max(1, ceil(p × n / 100))` hosts (of the ring's total n, never of
/// the hosts left), the last one whatever remains. The sizes always add up to
/// n; a ring of 0 hosts has no waves. A `batch_percent` of 0 gives batches of
/// one host, of 100 or more a single batch.
///
/// ```
/// use deploy::waves::wave_sizes;
/// // Canary of 1, then ceil(25 % × 10) = 3 hosts a batch.
/// assert_eq!(wave_sizes(10, 1, 25), vec![1, 3, 3, 3]);
/// // ceil(25 % × 101) = 26; the last batch takes the 22 hosts left.
/// assert_eq!(wave_sizes(101, 1, 25), vec![1, 26, 26, 26, 22]);
/// // No canary: four batches of 5.
/// assert_eq!(wave_sizes(20, 0, 25), vec![5, 5, 5, 5]);
/// ```
pub fn wave_sizes(hosts: usize, canary_hosts: u32, batch_percent: u32) -> Vec<usize> {
    let n = hosts as u128;
    let batch = (u128::from(batch_percent) * n).div_ceil(100).max(1);
    let canary = u128::from(canary_hosts).min(n);
    let mut sizes = Vec::new();
    if canary > 0 {
        sizes.push(canary);
    }
    let mut left = n - canary;
    while left > 0 {
        let size = batch.min(left);
        sizes.push(size);
        left -= size;
    }
    // Every size is at most n, which came from a usize.
    sizes
        .into_iter()
        .map(|s| usize::try_from(s).unwrap_or(usize::MAX))
        .collect()
}

/// Cuts `hosts` (in rollout order) into waves by [`wave_sizes`] under
/// `policy`; the waves keep the hosts' order and together hold each host once.
pub fn plan_waves<T: Clone>(hosts: &[T], policy: &RolloutPolicy) -> Vec<Vec<T>> {
    let mut rest = hosts;
    let mut waves = Vec::new();
    for size in wave_sizes(hosts.len(), policy.canary_hosts, policy.batch_percent) {
        let (wave, tail) = rest.split_at(size.min(rest.len()));
        waves.push(wave.to_vec());
        rest = tail;
    }
    waves
}

/// The kind of wave number `wave` (0-based) in a ring whose policy asks for
/// `canary_hosts`: wave 0 is the canary when `canary_hosts > 0`, every other
/// wave a batch.
pub fn wave_kind(wave: u32, canary_hosts: u32) -> WaveKind {
    if wave == 0 && canary_hosts > 0 {
        WaveKind::Canary
    } else {
        WaveKind::Batch
    }
}

/// The operator's name of wave number `wave` (0-based): `canary`, else
/// `batch <k>` with batches counted from 1 (`batch 2` is the second batch,
/// wave 1 without a canary, wave 2 with one).
pub fn wave_label(wave: u32, canary_hosts: u32) -> String {
    match wave_kind(wave, canary_hosts) {
        WaveKind::Canary => "canary".to_owned(),
        WaveKind::Batch if canary_hosts > 0 => format!("batch {wave}"),
        WaveKind::Batch => format!("batch {}", u64::from(wave) + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hosts: usize, canary: u32, percent: u32, want: &[usize]) {
        let got = wave_sizes(hosts, canary, percent);
        assert_eq!(
            got, want,
            "n={hosts} canary={canary} batch_percent={percent}"
        );
        assert_eq!(
            got.iter().sum::<usize>(),
            hosts,
            "sizes must cover the ring"
        );
    }

    #[test]
    fn wave_sizes_table() {
        check(0, 1, 25, &[]);
        check(1, 1, 25, &[1]);
        check(3, 1, 25, &[1, 1, 1]);
        check(4, 1, 25, &[1, 1, 1, 1]);
        check(10, 1, 25, &[1, 3, 3, 3]);
        check(101, 1, 25, &[1, 26, 26, 26, 22]);
        check(20, 0, 25, &[5, 5, 5, 5]);
        check(12, 0, 25, &[3, 3, 3, 3]);
        // The canary never exceeds the ring.
        check(2, 5, 25, &[2]);
        // Percentages at the edges.
        check(3, 0, 0, &[1, 1, 1]);
        check(7, 1, 100, &[1, 6]);
        check(7, 0, 250, &[7]);
        check(5, 2, 50, &[2, 3]);
    }

    #[test]
    fn plan_keeps_order_and_covers_each_host_once() {
        let hosts: Vec<String> = (1..=10).map(|i| format!("h{i:02}")).collect();
        let waves = plan_waves(&hosts, &RolloutPolicy::default());
        assert_eq!(
            waves,
            vec![
                vec!["h01"],
                vec!["h02", "h03", "h04"],
                vec!["h05", "h06", "h07"],
                vec!["h08", "h09", "h10"],
            ]
        );
    }

    #[test]
    fn labels_count_batches_from_one() {
        assert_eq!(wave_label(0, 1), "canary");
        assert_eq!(wave_label(1, 1), "batch 1");
        assert_eq!(wave_label(0, 0), "batch 1");
        assert_eq!(wave_label(1, 0), "batch 2");
        assert_eq!(wave_kind(0, 0), WaveKind::Batch);
        assert_eq!(wave_kind(0, 2), WaveKind::Canary);
    }
}
