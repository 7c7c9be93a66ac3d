//! The shipped small scenario runs, completes its circuits and is
//! deterministic (docs/sim.md §8).

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use warren_sim::{Outcome, Scenario, run};

fn small() -> Scenario {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/small.toml"))
            .expect("read small.toml");
    Scenario::from_toml(&text).expect("small.toml parses")
}

#[test]
fn the_small_scenario_is_deterministic_and_completes() {
    let scenario = small();
    let a = run(&scenario, 1).expect("run 1");
    let b = run(&scenario, 1).expect("run 1 again");
    assert_eq!(a.circuits_csv(), b.circuits_csv());
    assert_eq!(a.summary_json(), b.summary_json());
    let expected = scenario.clients.count * scenario.clients.classes[0].circuits;
    assert_eq!(a.results.circuits.len(), expected);
    let complete = a
        .results
        .circuits
        .iter()
        .filter(|c| c.outcome == Outcome::Complete)
        .count();
    assert_eq!(complete, expected, "{}", a.circuits_csv());
    let c = run(&scenario, 2).expect("run 2");
    assert_ne!(a.circuits_csv(), c.circuits_csv());
    assert_ne!(a.summary_json(), c.summary_json());
    eprintln!("{}", a.summary());
}

/// At the cell level each client picks its guards from its own guard set
/// (docs/sim.md §4): its circuits go through its first primary guard, or
/// its second when the first is the circuit's exit; picked afresh for each
/// circuit, 5 circuits would go through 4 or 5 of the 30 or so guards.
#[test]
fn cell_level_clients_keep_their_guards() {
    let scenario = small();
    let report = run(&scenario, 1).expect("run");
    let mut guards: Vec<std::collections::BTreeSet<usize>> =
        vec![Default::default(); scenario.clients.count];
    for c in &report.results.circuits {
        let [guard, ..] = c.path.expect("a path");
        guards[c.client].insert(guard);
    }
    assert!(
        guards.iter().all(|g| !g.is_empty() && g.len() <= 2),
        "{guards:?}"
    );
    let one = guards.iter().filter(|g| g.len() == 1).count();
    assert!(one * 10 >= scenario.clients.count * 7, "{guards:?}");
}
