//! What an engine hands back when its queue is empty (docs/sim.md §7),
//! before the results are put together.

use crate::clock::SimTime;
use crate::relays::Directory;
use crate::report::{CircuitRecord, ConsensusReport};

/// The raw output of one run of either level of fidelity.
pub(crate) struct RunOutput {
    /// One record per circuit, in the order they finished.
    pub circuits: Vec<CircuitRecord>,
    /// Each client's class (an index into `scenario.clients.classes`).
    pub client_classes: Vec<usize>,
    /// Events handled.
    pub events: u64,
    /// When the last circuit finished.
    pub end: SimTime,
    /// Circuit handshakes done by relays.
    pub handshakes: u64,
    /// The relays and their directory entries.
    pub dir: Directory,
    /// What the onion services saw (docs/sim.md §11), if there are any.
    pub onion: Option<crate::circuit_level::OnionReport>,
    /// Per onion service, the HSDirs (relay indices) responsible for its
    /// descriptor in the current period and the next.
    pub responsible: Vec<[Vec<usize>; 2]>,
    /// The guards at both ends of each onion connection the service
    /// answered (docs/sim.md §9).
    pub onion_ends: Vec<crate::circuit_level::OnionEnds>,
    /// The consensus rounds (docs/sim.md §10.6), at the circuit level.
    pub consensus: Option<ConsensusReport>,
}
