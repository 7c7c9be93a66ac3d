//! The circuit level of fidelity (docs/sim.md §10, §8): analytic times on
//! one region, determinism of all three files, and the client classes.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use warren_sim::{Outcome, Scenario, run};

const L_MS: u64 = 7;
const L_NS: u64 = L_MS * 1_000_000;

/// One region of one-way latency L, three relays of 1 MB/s, one client
/// with one circuit and `requests` requests of `bytes`.
fn one_region(requests: usize, bytes: u64) -> Scenario {
    let text = format!(
        "fidelity = \"circuit\"\n\
         [[regions]]\nname = \"lab\"\nshare = 1\n\
         [[links]]\nbetween = [\"lab\", \"lab\"]\nlatency_ms = {L_MS}\n\
         [relays]\ncount = 3\nguard_share = 1\nexit_share = 1\n\
         [[relays.classes]]\nshare = 1\nup = 1_000_000\ndown = 1_000_000\n\
         [clients]\ncount = 1\nup = 1_000_000_000_000\ndown = 1_000_000_000_000\n\
         circuits = 1\nrequests = {requests}\nthink_time_ms = 0\nresponse_bytes = {bytes}\n\
         [costs]\ncell_us = 2\nhandshake_us = 150\n"
    );
    Scenario::from_toml(&text).expect("scenario parses")
}

#[test]
fn build_and_first_byte_are_round_trips_plus_costs_and_a_flow_moves_at_its_bottleneck() {
    let (cell, handshake) = (2_000, 150_000);
    let results = run(&one_region(2, 500_000), 9).expect("run").results;
    let [c] = results.circuits.as_slice() else {
        panic!("one circuit expected: {:?}", results.circuits);
    };
    assert_eq!(c.outcome, Outcome::Complete);
    // As at the cell level (tests/analytic.rs): 12L + 3h + 6c and 6L + 6c.
    assert_eq!(c.build_ns, Some(12 * L_NS + 3 * handshake + 6 * cell));
    let ttfb = 6 * L_NS + 6 * cell;
    assert_eq!(c.ttfb_ns, Some(ttfb));
    // Each request: the first byte, then 500 kB at 1 MB/s (0.5 s).
    let transfer = c.transfer_ns.expect("a transfer time");
    let expected = 2 * (ttfb + 500_000_000);
    assert!(transfer.abs_diff(expected) <= 2, "{transfer} vs {expected}");
    assert_eq!(c.bytes, 1_000_000);
}

fn small_circuit_level() -> String {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/small.toml"))
            .expect("read small.toml");
    let classes = "\n[[clients.classes]]\nname = \"browsing\"\nshare = 3\nrequests = 4\n\
                   [[clients.classes]]\nshare = 1\ntraffic = \"bulk\"\ncircuits = 2\n\
                   response_bytes = 2_000_000\n";
    let text = text.replacen("seed = 1\n", "seed = 1\nfidelity = \"circuit\"\n", 1);
    // The classes follow [clients]; [costs] comes after them.
    text.replacen("\n[costs]", &format!("{classes}\n[costs]"), 1)
}

#[test]
fn the_circuit_level_is_deterministic_in_every_file() {
    let scenario = Scenario::from_toml(&small_circuit_level()).expect("scenario parses");
    assert_eq!(scenario.clients.classes.len(), 2);
    let a = run(&scenario, 1).expect("run 1");
    let b = run(&scenario, 1).expect("run 1 again");
    assert_eq!(a.circuits_csv(), b.circuits_csv());
    assert_eq!(a.clients_csv(), b.clients_csv());
    assert_eq!(a.summary_json(), b.summary_json());
    let c = run(&scenario, 2).expect("run 2");
    assert_ne!(a.circuits_csv(), c.circuits_csv());
    let summary = a.summary();
    assert_eq!(summary.failed, 0, "{}", a.circuits_csv());
    // Browsing clients build 5 circuits, bulk clients 2.
    let classes = &a.client_classes;
    let expected: usize = classes.iter().map(|&k| if k == 0 { 5 } else { 2 }).sum();
    assert_eq!(summary.circuits, expected);
    assert_eq!(summary.handshakes, Some(3 * expected as u64));
    let csv = a.clients_csv();
    assert!(
        csv.starts_with(
            "client,class,circuits,completed,median_build_us,median_ttfb_us,bytes,compromised_at_us\n"
        ),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), scenario.clients.count + 1);
    assert!(csv.contains(",browsing,5,5,"), "{csv}");
    assert!(csv.contains(",bulk,2,2,"), "{csv}");
    assert!(
        csv.lines()
            .filter(|l| l.contains(",bulk,"))
            .all(|l| l.contains(",4000000,")),
        "{csv}"
    );
}

#[test]
fn a_duration_stops_new_work_and_lets_flows_finish() {
    let text = small_circuit_level().replacen("seed = 1\n", "seed = 1\nduration_s = 3\n", 1);
    let scenario = Scenario::from_toml(&text).expect("scenario parses");
    let report = run(&scenario, 1).expect("run");
    assert!(
        report
            .results
            .circuits
            .iter()
            .all(|c| c.start_ns <= 3_000_000_000)
    );
    assert!(
        report
            .results
            .circuits
            .iter()
            .all(|c| c.outcome == Outcome::Complete)
    );
    let full = run(
        &Scenario::from_toml(&small_circuit_level()).expect("parses"),
        1,
    )
    .expect("run");
    assert!(report.results.circuits.len() < full.results.circuits.len());
}
