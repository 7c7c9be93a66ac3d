//! Circuit-build timeouts learned from observed build times (docs/spec.md
//! §14.3): until enough builds are seen, a generous initial timeout; then a
//! multiple of a high quantile of the recent build times, so that a circuit
//! slower than nearly all recent ones is abandoned and built again on
//! another path.
//!
//! Pure: durations are given in milliseconds.

use std::collections::VecDeque;

/// The estimator's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutParams {
    /// The timeout before [`TimeoutParams::min_samples`] builds are seen.
    pub initial_ms: u64,
    /// Builds needed before the learned timeout is used.
    pub min_samples: usize,
    /// Recent builds kept.
    pub window: usize,
    /// The quantile of the recent builds, in percent.
    pub quantile_pct: u64,
    /// The learned timeout is this multiple (in percent) of the quantile.
    pub factor_pct: u64,
    /// The learned timeout never goes below this.
    pub floor_ms: u64,
}

impl Default for TimeoutParams {
    fn default() -> Self {
        Self {
            initial_ms: 60_000,
            min_samples: 20,
            window: 100,
            quantile_pct: 80,
            factor_pct: 150,
            floor_ms: 1_500,
        }
    }
}

/// Recent build times and the timeout they give.
#[derive(Debug, Clone)]
pub struct BuildTimeouts {
    params: TimeoutParams,
    recent: VecDeque<u64>,
}

impl BuildTimeouts {
    /// An estimator that has seen no build.
    pub fn new(params: TimeoutParams) -> Self {
        Self {
            params,
            recent: VecDeque::with_capacity(params.window),
        }
    }

    /// A circuit was built in `ms` milliseconds.
    pub fn record(&mut self, ms: u64) {
        if self.recent.len() == self.params.window {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
    }

    /// Builds seen (at most the window).
    pub fn samples(&self) -> usize {
        self.recent.len()
    }

    /// The timeout for the next build, in milliseconds, never above the
    /// initial timeout.
    pub fn timeout_ms(&self) -> u64 {
        let p = &self.params;
        if self.recent.len() < p.min_samples {
            return p.initial_ms;
        }
        let mut sorted: Vec<u64> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        let rank = (sorted.len() * usize::try_from(p.quantile_pct).unwrap_or(100)).div_ceil(100);
        let q = sorted
            .get(rank.saturating_sub(1))
            .copied()
            .unwrap_or(p.initial_ms);
        (q.saturating_mul(p.factor_pct) / 100).clamp(p.floor_ms, p.initial_ms)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn learns_from_builds() {
        let mut t = BuildTimeouts::new(TimeoutParams::default());
        assert_eq!(t.timeout_ms(), 60_000);
        for ms in 1..=19 {
            t.record(ms * 100);
        }
        assert_eq!(t.timeout_ms(), 60_000, "not enough builds yet");
        t.record(2000);
        // 20 builds: 100..1900 and 2000; the 80th percentile is the 16th,
        // 1600 ms; times 1.5 gives 2400 ms.
        assert_eq!(t.timeout_ms(), 2400);
        // Fast builds: the floor.
        for _ in 0..100 {
            t.record(5);
        }
        assert_eq!(t.timeout_ms(), 1500);
        assert_eq!(t.samples(), 100);
    }

    proptest! {
        #[test]
        fn always_within_floor_and_initial(times in proptest::collection::vec(0u64..200_000, 0..300)) {
            let mut t = BuildTimeouts::new(TimeoutParams::default());
            for ms in times {
                t.record(ms);
                let timeout = t.timeout_ms();
                prop_assert!((1500..=60_000).contains(&timeout));
            }
        }
    }
}
