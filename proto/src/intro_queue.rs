//! The service's introduction queue and its puzzle-effort controller
//! (docs/spec.md §16.4), pure so that the service daemon and the
//! simulator run the same policy: introductions are served the highest
//! effort first, the oldest first among equals; a full queue drops its
//! lowest effort (the newest among equals); and the suggested effort
//! rises under load and falls when calm.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

/// Introductions waiting for a rendezvous at most; the lowest effort goes
/// first when more arrive (§16.4).
pub const QUEUE_CAPACITY: usize = 256;
/// An introduction older than this when its turn comes is dropped: its
/// client gave up (§16.4).
pub const QUEUE_MAX_AGE: Duration = Duration::from_secs(25);
/// How often the service reconsiders its suggested effort (§16.4).
pub const EFFORT_PERIOD: Duration = Duration::from_secs(5);
/// The highest effort a service suggests: about 2.5 s of solving for a
/// client on one core of the reference machine (§16.4), within the
/// client's patience.
pub const MAX_EFFORT: u32 = 500;

/// One queued introduction.
struct Queued<T, I> {
    item: T,
    effort: u32,
    seq: u64,
    arrived: I,
}

impl<T, I> PartialEq for Queued<T, I> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T, I> Eq for Queued<T, I> {}
impl<T, I> PartialOrd for Queued<T, I> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T, I> Ord for Queued<T, I> {
    /// Higher effort first; among equals, the older first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.effort
            .cmp(&other.effort)
            .then(other.seq.cmp(&self.seq))
    }
}

/// The introductions waiting for a rendezvous, by effort (§16.4), and the
/// figures the effort controller reads. `T` is what the caller queues,
/// `I` its clock's instants.
pub struct IntroQueue<T, I> {
    heap: BinaryHeap<Queued<T, I>>,
    seq: u64,
    /// Introductions dropped (queue full or too old) since the last look.
    pub dropped: u64,
    /// The highest depth seen since the last look.
    pub peak: usize,
}

impl<T, I> Default for IntroQueue<T, I> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
            dropped: 0,
            peak: 0,
        }
    }
}

impl<T, I: Copy> IntroQueue<T, I> {
    /// Queues `item`, whose solution proves `effort`, arrived at `now`;
    /// when full, the lowest-effort one (maybe this one) is dropped and
    /// returned.
    pub fn push(&mut self, item: T, effort: u32, now: I) -> Option<T> {
        self.seq += 1;
        self.heap.push(Queued {
            item,
            effort,
            seq: self.seq,
            arrived: now,
        });
        let mut gone = None;
        if self.heap.len() > QUEUE_CAPACITY {
            // Drop the minimum: rebuild without it (rare, bounded).
            let mut items = std::mem::take(&mut self.heap).into_sorted_vec();
            if !items.is_empty() {
                gone = Some(items.remove(0).item);
            }
            self.heap = items.into();
            self.dropped += 1;
        }
        self.peak = self.peak.max(self.heap.len());
        gone
    }

    /// The next introduction to serve: the highest effort for which
    /// `too_old(arrived)` is false. Those too old are dropped and given to
    /// `dropped_one`.
    pub fn pop(
        &mut self,
        too_old: impl Fn(I) -> bool,
        mut dropped_one: impl FnMut(T),
    ) -> Option<T> {
        while let Some(q) = self.heap.pop() {
            if !too_old(q.arrived) {
                return Some(q.item);
            }
            self.dropped += 1;
            dropped_one(q.item);
        }
        None
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The effort the service suggests next (§16.4), from `current`, the
/// introductions `dropped` and the `peak` depth since the last look, and
/// the depth `now_len`: doubled (at least 1) when introductions were
/// dropped or the queue stood above a quarter of its capacity, two thirds
/// of it when nothing was dropped and the queue stayed below a sixteenth
/// of its capacity, else kept.
pub fn next_effort(current: u32, dropped: u64, peak: usize, now_len: usize) -> u32 {
    if dropped > 0 || peak > QUEUE_CAPACITY / 4 {
        current.saturating_mul(2).clamp(1, MAX_EFFORT)
    } else if peak <= QUEUE_CAPACITY / 16 && now_len <= QUEUE_CAPACITY / 16 {
        current.saturating_mul(2) / 3
    } else {
        current
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_queue_serves_by_effort_and_drops_the_lowest() {
        let mut q: IntroQueue<u32, u64> = IntroQueue::default();
        for _ in 0..QUEUE_CAPACITY {
            assert_eq!(q.push(0, 0, 0), None);
        }
        assert_eq!(q.push(50, 50, 0), Some(0));
        assert_eq!(q.push(10, 10, 0), Some(0));
        assert_eq!(q.len(), QUEUE_CAPACITY);
        assert_eq!(q.dropped, 2);
        let fresh = |_| false;
        assert_eq!(q.pop(fresh, drop), Some(50));
        assert_eq!(q.pop(fresh, drop), Some(10));
        assert_eq!(q.pop(fresh, drop), Some(0));
        // Too old: dropped, not served.
        let mut old = 0;
        assert_eq!(q.pop(|_| true, |_| old += 1), None);
        assert_eq!(old, QUEUE_CAPACITY - 3);
        assert!(q.is_empty());
    }

    #[test]
    fn equal_efforts_are_served_oldest_first_and_the_newest_dropped() {
        let mut q: IntroQueue<usize, u64> = IntroQueue::default();
        for i in 0..=QUEUE_CAPACITY {
            let gone = q.push(i, 0, 0);
            assert_eq!(gone, (i == QUEUE_CAPACITY).then_some(i));
        }
        assert_eq!(q.pop(|_| false, drop), Some(0));
        assert_eq!(q.pop(|_| false, drop), Some(1));
    }

    #[test]
    fn the_effort_rises_under_load_and_falls_when_calm() {
        assert_eq!(next_effort(0, 3, 0, 0), 1);
        assert_eq!(next_effort(8, 0, QUEUE_CAPACITY, 10), 16);
        assert_eq!(next_effort(400, 1, 0, 0), MAX_EFFORT);
        assert_eq!(next_effort(9, 0, 0, 0), 6);
        assert_eq!(next_effort(1, 0, 0, 0), 0);
        assert_eq!(next_effort(6, 0, 3, 1), 4);
        assert_eq!(next_effort(5, 0, QUEUE_CAPACITY / 8, 1), 5);
    }
}
