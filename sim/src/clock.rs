//! Virtual time (docs/sim.md §2): the simulator's clock never reads the
//! host's; it jumps from event to event.

use warren_proto::time::Timestamp;

/// A point in simulated time, in nanoseconds since the start of the run.
///
/// Nanoseconds rather than microseconds: the modelled per-cell relay cost
/// (0.3 µs) and a cell's serialization on a fast link (0.4 µs at 10 Gbit/s)
/// are below a microsecond. The protocol machines see microseconds
/// ([`Self::to_timestamp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: Self = Self(0);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Microseconds since the start, rounded down.
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }

    /// The instant `nanos` later, saturating at the end of time.
    #[must_use]
    pub const fn plus_nanos(self, nanos: u64) -> Self {
        Self(self.0.saturating_add(nanos))
    }

    /// How long after `earlier` this instant is (zero if it is not later).
    pub const fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The same instant as the protocol machines' clock (microseconds).
    pub const fn to_timestamp(self) -> Timestamp {
        Timestamp::from_micros(self.as_micros())
    }

    /// The first simulated instant at or after the protocol timestamp `t`.
    pub const fn from_timestamp(t: Timestamp) -> Self {
        Self(t.as_micros().saturating_mul(1_000))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn converts_to_and_from_protocol_time() {
        let t = SimTime::from_nanos(2_500_700);
        assert_eq!(t.to_timestamp(), Timestamp::from_micros(2_500));
        assert_eq!(
            SimTime::from_timestamp(Timestamp::from_micros(7)).as_nanos(),
            7_000
        );
        assert_eq!(t.since(SimTime::from_nanos(500_700)), 2_000_000);
        assert_eq!(SimTime::ZERO.since(t), 0);
    }
}
