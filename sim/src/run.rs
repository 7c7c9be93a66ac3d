//! The part of an event loop both levels of fidelity share (docs/sim.md
//! §2), and what an engine hands back when its queue is empty (§7), before
//! the results are put together.

use crate::clock::SimTime;
use crate::error::SimError;
use crate::relays::Directory;
use crate::report::{CircuitRecord, ConsensusReport};
use crate::scenario::Scenario;

/// One level's world, as [`drive`] runs it.
pub(crate) trait Engine {
    /// Handles the next event in (time, sequence) order, at its time;
    /// `None` when no event is left.
    fn step(&mut self) -> Option<Result<(), SimError>>;
    /// Circuits finished so far.
    fn finished(&self) -> usize;
}

/// Runs `engine` until no event is left, calling `progress(done, total)`
/// as circuits finish; returns the events handled.
pub(crate) fn drive(
    engine: &mut impl Engine,
    total: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<u64, SimError> {
    let (mut events, mut done) = (0, 0);
    while let Some(handled) = engine.step() {
        handled?;
        events += 1;
        let finished = engine.finished();
        if finished > done {
            done = finished;
            progress(done, total);
        }
    }
    Ok(events)
}

/// The circuits `scenario` asks of clients of `classes` (indices into
/// `scenario.clients.classes`).
pub(crate) fn circuits_asked(scenario: &Scenario, classes: impl Iterator<Item = usize>) -> usize {
    classes
        .filter_map(|c| scenario.clients.classes.get(c))
        .map(|c| c.circuits)
        .sum()
}

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
