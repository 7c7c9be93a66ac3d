//! What an operator sets and the relay keeps to (docs/spec.md §13.5): a
//! bandwidth rate with a burst, and a cap on the memory of its link queues,
//! kept by refusing new circuits and closing the heaviest ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use warren_net::link::LinkWriter;
use warren_proto::cell::CELL_LEN;

use crate::metrics::RelayMetrics;

/// A token bucket: `rate` bytes per second, up to `burst` saved.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub(crate) fn new(rate: u64, burst: u64) -> Self {
        let burst = burst.max(1) as f64;
        Self {
            rate: rate.max(1) as f64,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes `n` tokens if the bucket holds them; otherwise takes nothing
    /// and returns false (introduction rate limits, §16.1).
    pub(crate) fn try_take(&self, n: u64) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *tokens >= n as f64 {
            *tokens -= n as f64;
            true
        } else {
            false
        }
    }

    /// Takes `bytes`; returns how long the caller must wait before it takes
    /// more (zero while the bucket holds tokens). The bucket may go into
    /// debt by one call's worth, which the wait pays back.
    pub(crate) fn take(&self, bytes: usize) -> Duration {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        *tokens -= bytes as f64;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / self.rate)
        }
    }
}

/// One circuit's link queues, and how to tell it to close.
struct Queues {
    writers: Vec<LinkWriter>,
    shed: Arc<Notify>,
}

/// Every circuit's queues, watched against the memory cap.
pub(crate) struct QueueWatch {
    cap_bytes: usize,
    next_id: AtomicU64,
    circuits: Mutex<HashMap<u64, Queues>>,
    /// Set while the queues hold more than half the cap: new circuits are
    /// refused.
    pressure: AtomicBool,
}

/// A circuit's registration; it leaves the watch when dropped.
pub(crate) struct Registration {
    id: u64,
    watch: Arc<QueueWatch>,
    /// Notified when the circuit must close.
    pub(crate) shed: Arc<Notify>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.watch.lock().remove(&self.id);
    }
}

impl Registration {
    /// The circuit's queues are now `writers`.
    pub(crate) fn set_writers(&self, writers: Vec<LinkWriter>) {
        if let Some(q) = self.watch.lock().get_mut(&self.id) {
            q.writers = writers;
        }
    }
}

impl QueueWatch {
    pub(crate) fn new(cap_bytes: usize) -> Self {
        Self {
            cap_bytes,
            next_id: AtomicU64::new(0),
            circuits: Mutex::new(HashMap::new()),
            pressure: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Queues>> {
        self.circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a circuit whose queues are `writers`.
    pub(crate) fn register(self: &Arc<Self>, writers: Vec<LinkWriter>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shed = Arc::new(Notify::new());
        self.lock().insert(
            id,
            Queues {
                writers,
                shed: shed.clone(),
            },
        );
        Registration {
            id,
            watch: self.clone(),
            shed,
        }
    }

    /// Whether new circuits are refused now.
    pub(crate) fn under_pressure(&self) -> bool {
        self.pressure.load(Ordering::Relaxed)
    }

    /// Sums the queues; while they hold more than the cap, closes the
    /// circuit with the most queued. Returns how many were closed.
    pub(crate) fn check(&self) -> usize {
        let circuits = self.lock();
        let mut loads: Vec<(usize, &Queues)> = circuits
            .values()
            .map(|q| {
                (
                    q.writers.iter().map(LinkWriter::queued).sum::<usize>() * CELL_LEN,
                    q,
                )
            })
            .collect();
        let mut total: usize = loads.iter().map(|(b, _)| b).sum();
        self.pressure
            .store(total > self.cap_bytes / 2, Ordering::Relaxed);
        let mut shed = 0;
        if total > self.cap_bytes {
            loads.sort_unstable_by_key(|(bytes, _)| std::cmp::Reverse(*bytes));
            for (bytes, q) in loads {
                if total <= self.cap_bytes {
                    break;
                }
                q.shed.notify_one();
                total = total.saturating_sub(bytes);
                shed += 1;
            }
        }
        shed
    }
}

/// Checks the queues every 50 ms, forever.
pub(crate) async fn watch_queues(watch: Arc<QueueWatch>, metrics: RelayMetrics) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let shed = watch.check();
        if shed > 0 {
            tracing::info!(
                circuits = shed,
                "queued memory over the cap: closed the heaviest circuits"
            );
            metrics.circuits_shed.inc_by(shed as u64);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_bucket_lets_a_burst_through_then_paces() {
        let bucket = TokenBucket::new(1_000_000, 100_000);
        let mut waited = Duration::ZERO;
        for _ in 0..100_000 / CELL_LEN {
            waited += bucket.take(CELL_LEN);
        }
        assert_eq!(waited, Duration::ZERO, "the burst passes at once");
        // Beyond the burst, a megabyte waits about a second.
        let wait = bucket.take(1_000_000);
        assert!(
            wait > Duration::from_millis(900) && wait < Duration::from_millis(1100),
            "{wait:?}"
        );
    }
}
