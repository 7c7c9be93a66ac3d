//! The voting schedule (docs/spec.md §12.14): when authorities vote, sign
//! and publish, and the validity times of the consensus they make.
//!
//! Periods start at multiples of the interval in Unix time, so every
//! authority with a correct clock agrees on them without talking.

use crate::DirectoryError;

/// The schedule of one network: an interval and how many intervals a
/// consensus stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VotingSchedule {
    interval: u64,
    valid_intervals: u64,
}

/// The times of one period (§12.14), in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// When authorities send their votes.
    pub vote_at: u64,
    /// When they compute the consensus and send their signatures.
    pub sign_at: u64,
    /// When they publish it: the consensus's `valid_after`.
    pub valid_after: u64,
    /// When clients should fetch the next one.
    pub fresh_until: u64,
    /// When it stops being valid.
    pub valid_until: u64,
}

impl VotingSchedule {
    /// The public network's schedule: an hour, valid for three.
    pub const PRODUCTION: Self = Self {
        interval: 3600,
        valid_intervals: 3,
    };

    /// A schedule voting every `interval` seconds (at least 4, so that the
    /// vote, sign and publish steps fall on distinct seconds), each
    /// consensus valid for `valid_intervals` intervals (at least 1).
    pub fn new(interval: u64, valid_intervals: u64) -> Result<Self, DirectoryError> {
        if interval < 4 || valid_intervals == 0 || interval.checked_mul(valid_intervals).is_none() {
            return Err(DirectoryError::BadSchedule {
                reason: "the voting interval must be at least 4 seconds and a consensus valid \
                         for at least one interval",
            });
        }
        Ok(Self {
            interval,
            valid_intervals,
        })
    }

    /// The interval in seconds.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The period starting at `valid_after` (a multiple of the interval).
    pub fn period(&self, valid_after: u64) -> Period {
        let half = self.interval / 2;
        Period {
            vote_at: valid_after.saturating_sub(half),
            sign_at: valid_after.saturating_sub(self.interval / 4),
            valid_after,
            fresh_until: valid_after.saturating_add(self.interval),
            valid_until: valid_after.saturating_add(self.interval * self.valid_intervals),
        }
    }

    /// The first period whose vote is not yet past at `now`.
    pub fn next_period(&self, now: u64) -> Period {
        let mut valid_after = (now / self.interval).saturating_add(1) * self.interval;
        while self.period(valid_after).vote_at < now {
            valid_after = valid_after.saturating_add(self.interval);
        }
        self.period(valid_after)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_ten_second_testnet() {
        let s = VotingSchedule::new(10, 3).unwrap();
        assert_eq!(
            s.next_period(1_000_003),
            Period {
                vote_at: 1_000_005,
                sign_at: 1_000_008,
                valid_after: 1_000_010,
                fresh_until: 1_000_020,
                valid_until: 1_000_040,
            }
        );
        // Past the vote time of the coming period: the one after.
        assert_eq!(s.next_period(1_000_006).valid_after, 1_000_020);
        assert!(VotingSchedule::new(3, 3).is_err());
        assert!(VotingSchedule::new(10, 0).is_err());
    }

    proptest! {
        #[test]
        fn steps_are_ordered_and_ahead(now in 0u64..1 << 40, interval in 4u64..100_000, k in 1u64..10) {
            let s = VotingSchedule::new(interval, k).unwrap();
            let p = s.next_period(now);
            prop_assert!(now <= p.vote_at);
            prop_assert!(p.vote_at < p.sign_at && p.sign_at < p.valid_after);
            prop_assert!(p.valid_after < p.fresh_until && p.fresh_until <= p.valid_until);
            prop_assert_eq!(p.valid_after % interval, 0);
            prop_assert!(p.valid_after - now <= 2 * interval);
        }
    }
}
