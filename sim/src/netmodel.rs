//! The modelled network (docs/sim.md §4): every node has an upload and a
//! download bandwidth and sits in a region; a cell crosses a link in the
//! sender's upload serialization time, the one-way latency between the two
//! regions (plus one round trip per loss), and the receiver's download
//! serialization time. Cells on one link arrive in the order sent.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;

use crate::clock::SimTime;
use crate::rng::uniform;
use crate::scenario::{LinkModel, Scenario};

/// The size of one cell on the wire (docs/spec.md §5).
pub const CELL_BYTES: u64 = warren_proto::cell::CELL_LEN as u64;

/// A node's index in the network: relays first, then clients.
pub type NodeId = usize;

/// Losses of one cell after which the model stops drawing (a loss below 1
/// makes this many in a row vanishingly rare; the cell then goes through).
const MAX_RETRANSMITS: u32 = 64;

/// One node's interfaces.
struct Interfaces {
    region: usize,
    /// Nanoseconds to send one cell.
    up_cell_ns: u64,
    /// Nanoseconds to receive one cell.
    down_cell_ns: u64,
    up_free: SimTime,
    down_free: SimTime,
}

/// The nodes' interfaces and the links between them.
pub struct Network {
    nodes: Vec<Interfaces>,
    /// Paths between regions, `(a, b)` with `a <= b`.
    paths: BTreeMap<(usize, usize), LinkModel>,
    /// When the last cell sent on each directed link reaches the receiver.
    last_arrival: BTreeMap<(NodeId, NodeId), SimTime>,
}

/// Nanoseconds to move one cell at `bytes_per_s` (rounded down).
fn cell_ns(bytes_per_s: u64) -> u64 {
    let ns = u128::from(CELL_BYTES) * 1_000_000_000 / u128::from(bytes_per_s.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

impl Network {
    /// A network with no nodes, with the scenario's paths between regions.
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            nodes: Vec::new(),
            paths: scenario.links.clone(),
            last_arrival: BTreeMap::new(),
        }
    }

    /// Adds a node in `region` with `up` and `down` bytes per second.
    pub fn add_node(&mut self, region: usize, up: u64, down: u64) -> NodeId {
        self.nodes.push(Interfaces {
            region,
            up_cell_ns: cell_ns(up),
            down_cell_ns: cell_ns(down),
            up_free: SimTime::ZERO,
            down_free: SimTime::ZERO,
        });
        self.nodes.len() - 1
    }

    /// The path model between two nodes' regions.
    fn path(&self, from: NodeId, to: NodeId) -> LinkModel {
        let region = |n: NodeId| self.nodes.get(n).map_or(0, |i| i.region);
        let (a, b) = (region(from), region(to));
        self.paths
            .get(&(a.min(b), a.max(b)))
            .copied()
            .unwrap_or(LinkModel {
                latency_ns: 0,
                loss: 0.0,
            })
    }

    /// One-way latency between two nodes, in nanoseconds.
    pub fn latency_ns(&self, from: NodeId, to: NodeId) -> u64 {
        self.path(from, to).latency_ns
    }

    /// Sends one cell from `from` to `to` at `now`: takes the sender's
    /// upload queue, then the path. Returns when it reaches the receiver's
    /// download queue (hand it to [`Self::receive`] then).
    pub fn send(
        &mut self,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        rng: &mut ChaCha20Rng,
    ) -> SimTime {
        let path = self.path(from, to);
        let sent = match self.nodes.get_mut(from) {
            Some(node) => {
                let done = now.max(node.up_free).plus_nanos(node.up_cell_ns);
                node.up_free = done;
                done
            }
            None => now,
        };
        let mut arrival = sent.plus_nanos(path.latency_ns);
        if path.loss > 0.0 {
            // A lost cell is resent after one round trip, as a reliable
            // link's retransmission timer would.
            for _ in 0..MAX_RETRANSMITS {
                if uniform(rng) >= path.loss {
                    break;
                }
                arrival = arrival.plus_nanos(path.latency_ns.saturating_mul(2));
            }
        }
        let last = self.last_arrival.entry((from, to)).or_default();
        // FIFO per link: a retransmitted cell holds back the ones behind it.
        arrival = arrival.max(*last);
        *last = arrival;
        arrival
    }

    /// A cell reached `to`'s download queue at `now`: returns when it has
    /// been received in full.
    pub fn receive(&mut self, now: SimTime, to: NodeId) -> SimTime {
        match self.nodes.get_mut(to) {
            Some(node) => {
                let done = now.max(node.down_free).plus_nanos(node.down_cell_ns);
                node.down_free = done;
                done
            }
            None => now,
        }
    }
}

#[cfg(test)]
mod test {
    use rand_core::SeedableRng;

    use super::*;
    use crate::scenario::Scenario;

    fn two_regions(loss: f64) -> Scenario {
        let text = format!(
            "[[regions]]\nname = \"a\"\nshare = 1\n[[regions]]\nname = \"b\"\nshare = 1\n\
             [[links]]\nbetween = [\"a\", \"a\"]\nlatency_ms = 1\n\
             [[links]]\nbetween = [\"b\", \"b\"]\nlatency_ms = 1\n\
             [[links]]\nbetween = [\"a\", \"b\"]\nlatency_ms = 10\nloss = {loss}\n\
             [relays]\ncount = 3\nguard_share = 1\nexit_share = 1\n\
             [[relays.classes]]\nshare = 1\nup = 1000\ndown = 1000\n\
             [clients]\ncount = 1\nup = 1000\ndown = 1000\ncircuits = 1\n\
             think_time_ms = 0\nresponse_bytes = 1\n"
        );
        Scenario::from_toml(&text).unwrap()
    }

    #[test]
    fn a_cell_takes_serialization_at_both_ends_plus_latency() {
        let mut net = Network::new(&two_regions(0.0));
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let a = net.add_node(0, 517_000, 1_000_000_000);
        let b = net.add_node(1, 1_000_000_000, 51_700);
        // 1 ms up, 10 ms path, 10 ms down.
        let at = net.send(SimTime::ZERO, a, b, &mut rng);
        assert_eq!(at.as_nanos(), 11_000_000);
        assert_eq!(net.receive(at, b).as_nanos(), 21_000_000);
        // The second cell queues behind the first at both ends.
        let at2 = net.send(SimTime::ZERO, a, b, &mut rng);
        assert_eq!(at2.as_nanos(), 12_000_000);
        assert_eq!(net.receive(at2, b).as_nanos(), 31_000_000);
    }

    #[test]
    fn losses_add_round_trips_and_keep_the_link_in_order() {
        let mut net = Network::new(&two_regions(0.5));
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let a = net.add_node(0, u64::MAX, u64::MAX);
        let b = net.add_node(1, u64::MAX, u64::MAX);
        let mut last = SimTime::ZERO;
        let mut delayed = 0;
        for _ in 0..100 {
            let at = net.send(SimTime::ZERO, a, b, &mut rng);
            assert!(at >= last, "cells on one link stay in order");
            assert_eq!((at.as_nanos() - 10_000_000) % 20_000_000, 0);
            delayed += usize::from(at.as_nanos() > 10_000_000);
            last = at;
        }
        assert!(delayed > 0);
    }
}
