//! The Warren discrete-event simulator (docs/sim.md): drives the real
//! `warren-crypto`, `warren-proto` and `warren-directory` code over a
//! modelled network with a virtual clock and a seeded RNG, so that one
//! scenario and one seed always give the same bytes of output.
//!
//! Pure: it never depends on tokio, sockets, `warren-net`, clock reads or the
//! OS RNG. Scenario text goes in ([`Scenario::from_toml`]); a [`Report`] and
//! its CSV and JSON text come out ([`run`]); the caller writes files and
//! measures wall time.
//!
//! * [`clock`], [`queue`], [`rng`]: virtual time, the (time, sequence)
//!   ordered event queue, the seeded ChaCha20 RNG.
//! * [`netmodel`]: bandwidth, latency and loss between nodes.
//! * [`relays`]: relays with real keys and descriptors; path selection.
//! * `engine`: the cell level's event loop over the real circuit machines.
//! * `circuit_level`, [`paths`], [`flows`]: the circuit level (docs/sim.md
//!   §10): real path selection and guard sets, modelled handshakes, traffic
//!   as flows sharing the relays' bandwidth.
//! * `authorities`: the directory authorities' votes, consensus and
//!   signatures at each consensus round (§10.6).
//! * [`adversary`]: relays run by one adversary, and what it saw (§9).
//! * onion services and an introduction flood at the circuit level
//!   ([`OnionReport`], §11).
//! * [`invariant`]: the anonymity check on every circuit.
//! * [`report`]: per-circuit records and the summary.
//! * [`plot`]: SVG plots of the results.
//! * [`fuzzing`]: the scenario check the fuzz target and the corpus test run.
#![forbid(unsafe_code)]

pub mod adversary;
mod authorities;
mod circuit_level;
pub mod clock;
mod engine;
pub mod error;
pub mod flows;
pub mod fuzzing;
pub mod invariant;
pub mod netmodel;
pub mod paths;
pub mod plot;
pub mod queue;
pub mod relays;
pub mod report;
pub mod rng;
mod run;
pub mod scenario;

pub use circuit_level::{ConnectionReport, OnionEnds, OnionReport};
pub use clock::SimTime;
pub use error::SimError;
pub use plot::{Plot, PlotError, plots};
pub use report::{CircuitRecord, ConsensusReport, Outcome, Report, Results, Summary};
pub use scenario::{Fidelity, Scenario};

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Report, SimError> {
    run_with_progress(scenario, seed, |_, _| {})
}

/// Runs `scenario` with `seed`, calling `progress(done, total)` as circuits
/// finish (`total` is every circuit the scenario asks for).
pub fn run_with_progress(
    scenario: &Scenario,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<Report, SimError> {
    let out = match scenario.fidelity {
        Fidelity::Cell => engine::World::new(scenario, seed)?.run(&mut progress)?,
        Fidelity::Circuit => circuit_level::World::new(scenario, seed)?.run(&mut progress)?,
    };
    let adversary = scenario.adversary.as_ref().map(|spec| {
        let owned = adversary::choose(spec, out.dir.statuses(), seed);
        let mut results = adversary::assess(
            owned,
            out.dir.statuses(),
            &out.circuits,
            scenario.clients.count,
        );
        if !out.onion_ends.is_empty() {
            let (exposure, seen) =
                adversary::assess_onion(&results.owned, out.dir.statuses(), &out.onion_ends);
            results.report.onion = Some(exposure);
            results.onion_connections = seen;
        }
        if spec.roles.contains(&scenario::Role::Hsdir) && !out.responsible.is_empty() {
            results.report.hsdir = Some(adversary::assess_hsdirs(
                &results.owned,
                out.dir.statuses(),
                &out.responsible,
            ));
        }
        results
    });
    let results = Results {
        seed,
        events: out.events,
        simulated_ns: out.end.as_nanos(),
        circuits: out.circuits,
    };
    Ok(Report {
        results,
        handshakes: out.handshakes,
        class_names: scenario
            .clients
            .classes
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        client_classes: out.client_classes,
        adversary,
        onion: out.onion,
        consensus: out.consensus,
    })
}
