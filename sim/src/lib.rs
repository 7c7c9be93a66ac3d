//! The Warren discrete-event simulator (docs/sim.md): drives the real
//! `warren-crypto`, `warren-proto` and `warren-directory` code over a
//! modelled network with a virtual clock and a seeded RNG, so that one
//! scenario and one seed always give the same bytes of output.
//!
//! Pure: it never depends on tokio, sockets, `warren-net`, clock reads or the
//! OS RNG. Scenario text goes in ([`Scenario::from_toml`]); [`Results`] and
//! their CSV and JSON text come out ([`run`]); the caller writes files and
//! measures wall time.
//!
//! * [`clock`], [`queue`], [`rng`]: virtual time, the (time, sequence)
//!   ordered event queue, the seeded ChaCha20 RNG.
//! * [`netmodel`]: bandwidth, latency and loss between nodes.
//! * [`relays`]: relays with real keys and descriptors; path selection.
//! * `engine`: the event loop over the real circuit machines.
//! * [`invariant`]: the anonymity check on every circuit.
//! * [`report`]: per-circuit records and the summary.
//! * [`plot`]: SVG plots of the results.
#![forbid(unsafe_code)]

pub mod clock;
mod engine;
pub mod error;
pub mod invariant;
pub mod netmodel;
pub mod plot;
pub mod queue;
pub mod relays;
pub mod report;
pub mod rng;
pub mod scenario;

pub use clock::SimTime;
pub use error::SimError;
pub use plot::{Plot, PlotError, plots};
pub use report::{CircuitRecord, Outcome, Results, Summary};
pub use scenario::Scenario;

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Results, SimError> {
    run_with_progress(scenario, seed, |_, _| {})
}

/// Runs `scenario` with `seed`, calling `progress(done, total)` as circuits
/// finish (`total` is every circuit the scenario asks for).
pub fn run_with_progress(
    scenario: &Scenario,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<Results, SimError> {
    let world = engine::World::new(scenario, seed)?;
    let (circuits, events, end) = world.run(&mut progress)?;
    Ok(Results {
        seed,
        circuits,
        events,
        simulated_ns: end.as_nanos(),
    })
}
