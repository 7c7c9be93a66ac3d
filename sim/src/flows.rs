//! Traffic as flows (docs/sim.md §10.3): at the circuit level a response is
//! one flow of bytes along its path. Each relay's bandwidth is shared
//! equally between the flows it carries; a flow moves at the smallest
//! share along its path, or at the client's download bandwidth if that is
//! smaller. Shares are recomputed when a flow starts or ends, for the flows
//! of the relays it crosses. A flow that speeds up gets an earlier finish
//! time; one that slows down keeps its pending one, which, when it comes,
//! finds bytes left and sets the next (so a slowdown costs no event).

use crate::clock::SimTime;

/// A flow's index; reused once the flow has ended.
pub type FlowId = usize;

/// One flow in progress.
struct Flow {
    path: [usize; 3],
    /// The client's download bandwidth, bytes per nanosecond.
    client_rate: f64,
    /// Bytes still to move at `since`.
    remaining: f64,
    /// Bytes per nanosecond since `since`.
    rate: f64,
    since: SimTime,
    /// Bumped each time a new finish time is set: a due time with an older
    /// version is stale.
    version: u32,
    /// The time of the pending due event of this version.
    due_at: SimTime,
    /// The caller's tag (the client).
    owner: usize,
}

/// When flow `flow` finishes at its current rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The flow.
    pub flow: FlowId,
    /// Its version when this was computed.
    pub version: u32,
    /// When its last byte arrives.
    pub at: SimTime,
}

/// The flows in progress and the relays' shares.
pub struct Flows {
    /// Each relay's bandwidth, bytes per nanosecond.
    capacity: Vec<f64>,
    /// The flows each relay carries.
    carried: Vec<Vec<FlowId>>,
    flows: Vec<Option<Flow>>,
    /// Free slots, and the last version of the flow that held each, so
    /// that the next flow there starts above it and no due time of the old
    /// flow can pass for one of the new flow's.
    free: Vec<(FlowId, u32)>,
}

/// Bytes per second as bytes per nanosecond.
pub fn per_ns(bytes_per_s: u64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "a rate, not an amount")]
    let b = bytes_per_s as f64;
    b / 1e9
}

impl Flows {
    /// No flows, over relays of `capacity` bytes per second each.
    pub fn new(capacity: impl IntoIterator<Item = u64>) -> Self {
        let capacity: Vec<f64> = capacity.into_iter().map(per_ns).collect();
        Self {
            carried: vec![Vec::new(); capacity.len()],
            capacity,
            flows: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Starts a flow of `bytes` along `path` to a client that downloads at
    /// `client_down` bytes per second, tagged `owner`. Pushes onto `due`
    /// the finish time of the new flow and of every flow whose rate changed.
    pub fn start(
        &mut self,
        now: SimTime,
        path: [usize; 3],
        client_down: u64,
        bytes: u64,
        owner: usize,
        due: &mut Vec<Due>,
    ) -> FlowId {
        #[expect(clippy::cast_precision_loss, reason = "bytes of a response")]
        let remaining = bytes as f64;
        let flow = Flow {
            path,
            client_rate: per_ns(client_down),
            remaining,
            rate: 0.0,
            since: now,
            version: 0,
            due_at: SimTime::from_nanos(u64::MAX),
            owner,
        };
        let id = match self.free.pop() {
            Some((id, version)) => {
                if let Some(slot) = self.flows.get_mut(id) {
                    *slot = Some(Flow { version, ..flow });
                }
                id
            }
            None => {
                self.flows.push(Some(flow));
                self.flows.len() - 1
            }
        };
        for r in path {
            if let Some(list) = self.carried.get_mut(r) {
                list.push(id);
            }
        }
        self.reshare(now, path, due);
        id
    }

    /// A due time has come: returns the flow's owner if it is its current
    /// one and every byte has arrived (the flow then ends, and the flows
    /// that speed up get their new finish times). A flow that slowed down
    /// since has bytes left: its next finish time goes onto `due`.
    pub fn arrive(&mut self, now: SimTime, at: Due, due: &mut Vec<Due>) -> Option<usize> {
        let flow = match self.flows.get_mut(at.flow) {
            Some(Some(f)) if f.version == at.version => f,
            _ => return None,
        };
        advance(flow, now);
        if flow.remaining > DONE_BYTES {
            flow.version = flow.version.wrapping_add(1);
            flow.due_at = now.plus_nanos(finish_ns(flow.remaining, flow.rate));
            due.push(Due {
                flow: at.flow,
                version: flow.version,
                at: flow.due_at,
            });
            return None;
        }
        self.finish(now, at.flow, due)
    }

    /// Ends flow `id` before its last byte (a relay of its path left) and
    /// returns its owner; pushes the new finish times of the flows that
    /// speed up.
    pub fn abort(&mut self, now: SimTime, id: FlowId, due: &mut Vec<Due>) -> Option<usize> {
        self.finish(now, id, due)
    }

    /// Ends flow `id` and returns its owner; pushes the new finish times
    /// of the flows that speed up.
    fn finish(&mut self, now: SimTime, id: FlowId, due: &mut Vec<Due>) -> Option<usize> {
        let flow = self.flows.get_mut(id)?.take()?;
        self.free.push((id, flow.version));
        for r in flow.path {
            if let Some(list) = self.carried.get_mut(r) {
                list.retain(|&f| f != id);
            }
        }
        self.reshare(now, flow.path, due);
        Some(flow.owner)
    }

    /// Flows in progress.
    pub fn len(&self) -> usize {
        self.flows.len() - self.free.len()
    }

    /// Whether no flow is in progress.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Relay `r`'s share for each of its flows, bytes per nanosecond.
    fn share(&self, r: usize) -> f64 {
        let n = self.carried.get(r).map_or(0, Vec::len).max(1);
        #[expect(clippy::cast_precision_loss, reason = "a count of flows")]
        let n = n as f64;
        self.capacity.get(r).copied().unwrap_or(0.0) / n
    }

    /// Recomputes the rate of every flow through `relays`.
    fn reshare(&mut self, now: SimTime, relays: [usize; 3], due: &mut Vec<Due>) {
        for r in relays {
            let Some(list) = self.carried.get(r) else {
                continue;
            };
            for &id in list {
                let Some(Some(flow)) = self.flows.get(id) else {
                    continue;
                };
                let rate = flow
                    .path
                    .iter()
                    .map(|&p| self.share(p))
                    .fold(flow.client_rate, f64::min);
                // Exact comparison on purpose: an unchanged rate keeps its
                // due time, a changed one gets a new one.
                #[expect(clippy::float_cmp, reason = "identical inputs give identical rates")]
                let same = rate == flow.rate;
                if same {
                    continue;
                }
                let Some(Some(flow)) = self.flows.get_mut(id) else {
                    continue;
                };
                advance(flow, now);
                flow.rate = rate;
                let finish = now.plus_nanos(finish_ns(flow.remaining, rate));
                if finish < flow.due_at {
                    flow.version = flow.version.wrapping_add(1);
                    flow.due_at = finish;
                    due.push(Due {
                        flow: id,
                        version: flow.version,
                        at: finish,
                    });
                }
            }
        }
    }
}

/// Bytes left below which a flow is done (float rounding leaves crumbs).
const DONE_BYTES: f64 = 1e-3;

/// Moves `flow`'s bytes at its rate from its last change until `now`.
fn advance(flow: &mut Flow, now: SimTime) {
    #[expect(clippy::cast_precision_loss, reason = "nanoseconds of a run")]
    let elapsed = now.since(flow.since) as f64;
    flow.remaining = (flow.remaining - flow.rate * elapsed).max(0.0);
    flow.since = now;
}

/// Nanoseconds to move `bytes` at `rate` bytes per nanosecond, rounded up.
fn finish_ns(bytes: f64, rate: f64) -> u64 {
    if rate <= 0.0 {
        return u64::MAX;
    }
    // Finite and non-negative; `as` saturates above u64::MAX.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "finite, non-negative; saturating"
    )]
    let ns = (bytes / rate).ceil() as u64;
    ns
}

#[cfg(test)]
mod test {
    use super::*;

    const MB: u64 = 1_000_000;

    fn t(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn a_flow_moves_at_its_bottleneck() {
        // Relays of 10, 2 and 5 MB/s; a client at 100 MB/s.
        let mut flows = Flows::new([10 * MB, 2 * MB, 5 * MB]);
        let mut due = Vec::new();
        let id = flows.start(t(0), [0, 1, 2], 100 * MB, MB, 7, &mut due);
        assert_eq!(
            due,
            [Due {
                flow: id,
                version: 1,
                at: t(500)
            }]
        );
        assert_eq!(flows.finish(t(500), id, &mut due), Some(7));
        assert!(flows.is_empty());
    }

    #[test]
    fn flows_share_a_relay_and_speed_up_when_one_ends() {
        let mut flows = Flows::new([2 * MB, 100 * MB, 100 * MB, 100 * MB, 100 * MB]);
        let mut due = Vec::new();
        // Alone on relay 0: 1 MB at 2 MB/s, due at 500 ms.
        let a = flows.start(t(0), [0, 1, 2], 100 * MB, MB, 0, &mut due);
        due.clear();
        // At 250 ms a second flow joins: both at 1 MB/s. `b` has 1 MB to
        // move (due at 1250 ms); `a`, slowed down, keeps its due time.
        let b = flows.start(t(250), [0, 3, 4], 100 * MB, MB, 1, &mut due);
        assert_eq!(
            due,
            [Due {
                flow: b,
                version: 1,
                at: t(1250)
            }]
        );
        due.clear();
        // At 500 ms `a` has 0.25 MB left: due again at 750 ms.
        let at = Due {
            flow: a,
            version: 1,
            at: t(500),
        };
        assert_eq!(flows.arrive(t(500), at, &mut due), None);
        assert_eq!(
            due,
            [Due {
                flow: a,
                version: 2,
                at: t(750)
            }]
        );
        let at = due.remove(0);
        // `a` ends at 750 ms; `b` has 0.5 MB left, alone again: 250 ms.
        assert_eq!(flows.arrive(t(750), at, &mut due), Some(0));
        assert_eq!(
            due,
            [Due {
                flow: b,
                version: 2,
                at: t(1000)
            }]
        );
        assert_eq!(flows.len(), 1);
    }

    #[test]
    fn a_slow_client_is_its_own_bottleneck() {
        let mut flows = Flows::new([100 * MB, 100 * MB, 100 * MB]);
        let mut due = Vec::new();
        flows.start(t(0), [0, 1, 2], MB, MB, 0, &mut due);
        assert_eq!(due.first().map(|d| d.at), Some(t(1000)));
    }
}
