//! Flag assignment (docs/spec.md §12.5): the pure function by which an
//! authority turns its own observations of the relays into the flags of its
//! vote, with rules modelled on Tor's dir-spec §3.4.2.
//!
//! Every flag but Running requires Running: an authority that could not
//! reach a relay in the last interval vouches for nothing else about it.

use crate::descriptor::RelayDescriptor;
use crate::roles::Roles;
use crate::status::Flags;

/// What one authority has seen of one relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The relay passed the authority's reachability test in the last
    /// voting interval.
    pub reachable: bool,
    /// How long the relay has been continuously up, in seconds.
    pub uptime: u64,
    /// How long the authority has known the relay, in seconds.
    pub known_for: u64,
    /// The bandwidth the authority credits the relay with, in bytes per
    /// second (its advertised bandwidth, capped by any measurement).
    pub bandwidth: u64,
    /// The roles the relay's descriptor offers.
    pub roles: Roles,
    /// The relay's exit policy opens at least one port (§12.3 summary).
    pub exits: bool,
}

impl Observation {
    /// An observation of the relay of `descriptor`, crediting it with its
    /// advertised bandwidth.
    pub fn new(descriptor: &RelayDescriptor, reachable: bool, uptime: u64, known_for: u64) -> Self {
        Self {
            reachable,
            uptime,
            known_for,
            bandwidth: descriptor.bandwidth,
            roles: descriptor.roles,
            exits: descriptor.exit_policy.summary().allows_any(),
        }
    }
}

/// The thresholds of the flag rules, in seconds and bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagThresholds {
    /// Stable: continuous uptime at least this.
    pub stable_uptime: u64,
    /// Fast: bandwidth at least this, whatever the other relays have.
    pub fast_min_bandwidth: u64,
    /// Guard: known to the authority for at least this.
    pub guard_min_known: u64,
    /// HSDir: continuous uptime at least this.
    pub hsdir_min_uptime: u64,
}

impl FlagThresholds {
    /// The public network's thresholds: Stable after 24 hours up, Fast from
    /// 100 kB/s, Guard after 8 days known, HSDir after 96 hours up (the
    /// last three as Tor's defaults).
    pub const PRODUCTION: Self = Self {
        stable_uptime: 24 * 3600,
        fast_min_bandwidth: 100_000,
        guard_min_known: 8 * 24 * 3600,
        hsdir_min_uptime: 96 * 3600,
    };

    /// A test network's thresholds: every flag in the first consensus.
    pub const TESTNET: Self = Self {
        stable_uptime: 0,
        fast_min_bandwidth: 1,
        guard_min_known: 0,
        hsdir_min_uptime: 0,
    };
}

/// The low median of `values`: the element at `(n - 1) / 2` once sorted;
/// `None` when empty (§12.5, §12.7).
pub(crate) fn low_median(values: &mut [u64]) -> Option<u64> {
    values.sort_unstable();
    let mid = values.len().checked_sub(1)? / 2;
    values.get(mid).copied()
}

/// The flags of each relay, in the order of `observations` (§12.5):
///
/// * Running: `reachable`.
/// * Stable: Running, and `uptime >= stable_uptime`.
/// * Fast: Running, and `bandwidth >= fast_min_bandwidth` or in the top 7/8
///   of the Running relays by bandwidth (at least the bandwidth at rank
///   `floor(n / 8)` in increasing order).
/// * Guard: Stable, Fast, the guard role offered, `known_for >=
///   guard_min_known`, and bandwidth at least the low median of the Fast
///   relays' bandwidths.
/// * HSDir: Stable, the hsdir role offered, `uptime >= hsdir_min_uptime`.
/// * Exit: Running, the exit role offered, and the policy opens a port.
pub fn assign_flags(observations: &[Observation], thresholds: &FlagThresholds) -> Vec<Flags> {
    let t = thresholds;
    let mut running: Vec<u64> = observations
        .iter()
        .filter(|o| o.reachable)
        .map(|o| o.bandwidth)
        .collect();
    running.sort_unstable();
    let top_7_8 = running.get(running.len() / 8).copied();
    let is_fast = |o: &Observation| {
        o.reachable
            && (o.bandwidth >= t.fast_min_bandwidth || top_7_8.is_some_and(|c| o.bandwidth >= c))
    };
    let mut fast: Vec<u64> = observations
        .iter()
        .filter(|o| is_fast(o))
        .map(|o| o.bandwidth)
        .collect();
    let guard_bandwidth = low_median(&mut fast);
    observations
        .iter()
        .map(|o| {
            let mut flags = Flags::NONE;
            let running = o.reachable;
            let stable = running && o.uptime >= t.stable_uptime;
            let fast = is_fast(o);
            flags.set(Flags::RUNNING, running);
            flags.set(Flags::STABLE, stable);
            flags.set(Flags::FAST, fast);
            let guard = stable
                && fast
                && o.roles.contains(Roles::GUARD)
                && o.known_for >= t.guard_min_known
                && guard_bandwidth.is_some_and(|m| o.bandwidth >= m);
            flags.set(Flags::GUARD, guard);
            let hsdir = stable && o.roles.contains(Roles::HSDIR) && o.uptime >= t.hsdir_min_uptime;
            flags.set(Flags::HSDIR, hsdir);
            flags.set(
                Flags::EXIT,
                running && o.roles.contains(Roles::EXIT) && o.exits,
            );
            flags
        })
        .collect()
}

#[cfg(test)]
mod test {
    use super::*;

    const T: FlagThresholds = FlagThresholds {
        stable_uptime: 100,
        fast_min_bandwidth: 1_000_000,
        guard_min_known: 1_000,
        hsdir_min_uptime: 200,
    };

    fn obs(bandwidth: u64) -> Observation {
        Observation {
            reachable: true,
            uptime: 10_000,
            known_for: 10_000,
            bandwidth,
            roles: Roles::ALL,
            exits: true,
        }
    }

    #[test]
    fn everything_requires_running() {
        let mut o = obs(5_000_000);
        assert_eq!(assign_flags(&[o.clone()], &T)[0], Flags::ALL);
        o.reachable = false;
        assert_eq!(assign_flags(&[o], &T)[0], Flags::NONE);
    }

    #[test]
    fn stable_and_hsdir_by_uptime() {
        let mut o = obs(5_000_000);
        o.uptime = 150;
        let f = assign_flags(&[o.clone()], &T)[0];
        assert!(f.contains(Flags::STABLE) && !f.contains(Flags::HSDIR));
        o.uptime = 99;
        let f = assign_flags(&[o.clone()], &T)[0];
        assert!(!f.contains(Flags::STABLE) && !f.contains(Flags::GUARD));
        o.uptime = 10_000;
        o.roles = Roles::MIDDLE;
        let f = assign_flags(&[o], &T)[0];
        assert!(f.contains(Flags::STABLE) && !f.contains(Flags::HSDIR));
    }

    #[test]
    fn fast_is_guaranteed_or_top_seven_eighths() {
        // 16 relays of 1..=16 bytes/s, all below the guarantee: the lowest
        // 2 (16 / 8) are not Fast.
        let all: Vec<_> = (1..=16).map(obs).collect();
        let flags = assign_flags(&all, &T);
        let fast: Vec<bool> = flags.iter().map(|f| f.contains(Flags::FAST)).collect();
        assert_eq!(fast.iter().filter(|f| !**f).count(), 2);
        assert!(!fast[0] && !fast[1] && fast[2]);
        // The guarantee makes any relay Fast.
        let mut two = vec![obs(1); 15];
        two.push(obs(2_000_000));
        let flags = assign_flags(&two, &T);
        assert!(flags[15].contains(Flags::FAST));
    }

    #[test]
    fn guard_needs_median_bandwidth_known_time_and_role() {
        let all: Vec<_> = [10, 20, 30, 40, 50].into_iter().map(obs).collect();
        let flags = assign_flags(&all, &T);
        // n = 5: all Fast (rank 0 cutoff); median of Fast is 30.
        let guards: Vec<bool> = flags.iter().map(|f| f.contains(Flags::GUARD)).collect();
        assert_eq!(guards, [false, false, true, true, true]);
        let mut new = all.clone();
        new[4].known_for = 999;
        new[3].roles = Roles::MIDDLE | Roles::EXIT;
        let guards: Vec<bool> = assign_flags(&new, &T)
            .iter()
            .map(|f| f.contains(Flags::GUARD))
            .collect();
        assert_eq!(guards, [false, false, true, false, false]);
    }

    #[test]
    fn exit_needs_role_and_an_open_port() {
        let mut o = obs(5_000_000);
        o.exits = false;
        assert!(!assign_flags(&[o.clone()], &T)[0].contains(Flags::EXIT));
        o.exits = true;
        o.roles = Roles::GUARD;
        assert!(!assign_flags(&[o], &T)[0].contains(Flags::EXIT));
    }

    #[test]
    fn medians() {
        assert_eq!(low_median(&mut []), None);
        assert_eq!(low_median(&mut [7]), Some(7));
        assert_eq!(low_median(&mut [9, 1]), Some(1));
        assert_eq!(low_median(&mut [3, 1, 2]), Some(2));
        assert_eq!(low_median(&mut [4, 3, 1, 2]), Some(2));
    }
}
