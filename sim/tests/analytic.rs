//! Small scenarios against analytic expectations (docs/sim.md §8): one
//! region of one-way latency L, bandwidth so high that serialization takes
//! no time, one client, one circuit.
//!
//! Building takes three round trips: CREATE to hop 1 (2L), EXTEND through
//! hop 1 to hop 2 (4L), EXTEND through hops 1 and 2 to hop 3 (6L): 12L. The
//! first response byte comes back one round trip through three links after
//! BEGIN: 6L. Each relay adds its modelled cost for every cell it receives.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use warren_sim::{Outcome, Scenario, run};

const L_MS: u64 = 7;
const L_NS: u64 = L_MS * 1_000_000;

fn one_region(cell_us: u64, handshake_us: u64) -> Scenario {
    Scenario::from_toml(&one_region_text(cell_us, handshake_us)).expect("scenario parses")
}

fn one_region_text(cell_us: u64, handshake_us: u64) -> String {
    format!(
        "seed = 9\n\
         [[regions]]\nname = \"lab\"\nshare = 1\n\
         [[links]]\nbetween = [\"lab\", \"lab\"]\nlatency_ms = {L_MS}\n\
         [relays]\ncount = 3\nguard_share = 1\nexit_share = 1\n\
         [[relays.classes]]\nshare = 1\nup = 1_000_000_000_000\ndown = 1_000_000_000_000\n\
         [clients]\ncount = 1\nup = 1_000_000_000_000\ndown = 1_000_000_000_000\n\
         circuits = 1\nthink_time_ms = 0\nresponse_bytes = 100\n\
         [costs]\ncell_us = {cell_us}\nhandshake_us = {handshake_us}\n"
    )
}

#[test]
fn with_no_costs_times_are_sums_of_link_latencies() {
    let results = run(&one_region(0, 0), 9).expect("run").results;
    let [c] = results.circuits.as_slice() else {
        panic!("one circuit expected: {:?}", results.circuits);
    };
    assert_eq!(c.outcome, Outcome::Complete);
    assert_eq!(c.build_ns, Some(12 * L_NS));
    assert_eq!(c.ttfb_ns, Some(6 * L_NS));
    // 100 bytes fit one DATA cell: the last byte is the first.
    assert_eq!(c.transfer_ns, Some(6 * L_NS));
    assert_eq!(c.bytes, 100);
}

#[test]
fn relay_costs_add_per_cell_and_per_handshake() {
    let (cell, handshake) = (2_000, 150_000);
    let results = run(&one_region(2, 150), 9).expect("run").results;
    let [c] = results.circuits.as_slice() else {
        panic!("one circuit expected: {:?}", results.circuits);
    };
    // Three CREATEs; EXTEND and CREATED cross hop 1 for hop 2 (2 cells),
    // EXTEND and CREATED cross hops 1 and 2 for hop 3 (4 cells).
    assert_eq!(c.build_ns, Some(12 * L_NS + 3 * handshake + 6 * cell));
    // BEGIN crosses three relays; on the way back the first DATA waits
    // behind CONNECTED at hop 2 (2 cells) and crosses hop 1 (1 cell).
    assert_eq!(c.ttfb_ns, Some(6 * L_NS + 6 * cell));
}

#[test]
fn a_hop_slower_than_the_build_timeout_fails_the_circuit() {
    let text = one_region_text(0, 0).replace("latency_ms = 7", "latency_ms = 600")
        + "build_timeout_ms = 1000\n";
    let scenario = Scenario::from_toml(&text).expect("scenario parses");
    let results = run(&scenario, 9).expect("run").results;
    let [c] = results.circuits.as_slice() else {
        panic!("one circuit expected: {:?}", results.circuits);
    };
    // CREATE's round trip (1.2 s) outlasts the 1 s timeout.
    assert_eq!(c.outcome, Outcome::Failed("circuit timed out".into()));
    assert_eq!(c.build_ns, None);
    assert_eq!(results.simulated_ns, 1_000_000_000);
    assert_eq!(results.summary().failed, 1);
}
