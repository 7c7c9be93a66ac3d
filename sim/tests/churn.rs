//! Churn at the circuit level (docs/sim.md §10.5, §8): relays leave and
//! come back at consensus rounds; circuits through a relay that left fail,
//! new ones are picked from the new consensus; runs stay deterministic.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use warren_sim::{Outcome, Scenario, run};

const LEFT: &str = "a relay of the path left the network";

fn small(churn: &str) -> Scenario {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/small.toml"))
            .expect("read small.toml");
    let text = text.replacen("seed = 1\n", "seed = 1\nfidelity = \"circuit\"\n", 1) + churn;
    Scenario::from_toml(&text).expect("scenario parses")
}

#[test]
fn circuits_through_a_relay_that_left_fail_and_runs_stay_deterministic() {
    let churn = small("[churn]\ninterval_s = 2\nleave_share = 0.3\nreturn_share = 0.5\n");
    let a = run(&churn, 1).expect("run");
    let b = run(&churn, 1).expect("run again");
    assert_eq!(a.circuits_csv(), b.circuits_csv());
    assert_eq!(a.clients_csv(), b.clients_csv());
    assert_eq!(a.summary_json(), b.summary_json());
    let left = |c: &&warren_sim::CircuitRecord| c.outcome == Outcome::Failed(LEFT.into());
    let failed = a.results.circuits.iter().filter(left).count();
    assert!(failed > 0, "{}", a.circuits_csv());
    // Every other circuit completes, and every client still builds all
    // of its circuits.
    let summary = a.summary();
    assert_eq!(summary.completed + failed, summary.circuits);
    assert_eq!(summary.circuits, churn.clients.count * 5);
    let calm = run(&small(""), 1).expect("run without churn");
    assert_eq!(calm.results.circuits.iter().filter(left).count(), 0);
}

#[test]
fn churn_needs_the_circuit_level() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/small.toml"))
            .expect("read small.toml");
    let lines = text.lines().count();
    let text = text + "[churn]\ninterval_s = 60\nleave_share = 0.1\n";
    let e = Scenario::from_toml(&text)
        .expect_err("cell level")
        .to_string();
    assert!(
        e.starts_with(&format!(
            "scenario line {}, key `churn.interval_s`",
            lines + 2
        )),
        "{e}"
    );
    let circuit = text.replacen("seed = 1\n", "seed = 1\nfidelity = \"circuit\"\n", 1);
    let e = Scenario::from_toml(&circuit.replace("interval_s = 60", "interval_s = 0.5"))
        .expect_err("too short")
        .to_string();
    assert!(
        e.contains("key `churn.interval_s`: consensus rounds"),
        "{e}"
    );
    let e = Scenario::from_toml(&circuit.replace("leave_share = 0.1", "leave_share = 2"))
        .expect_err("not a share")
        .to_string();
    assert!(e.contains("key `churn.leave_share`"), "{e}");
}
