//! The adversary against analytic expectations (docs/sim.md §9, §8): with
//! one circuit per client, a circuit has the adversary at both ends with
//! the probability that path selection picks one of its exits and then one
//! of its guards, computed here from the very weights path selection uses.
//!
//! The exit is drawn by weight among the exits; the guard is the client's
//! first sampled guard unless that is the exit, then its second: a guard
//! drawn by weight among the guards other than the exit. When no relay is
//! both, this is the product of the two positions' shares; here many are,
//! and the product overstates the share by about a tenth.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use warren_directory::RelayStatus;
use warren_directory::path::{Position, suitable};
use warren_sim::netmodel::Network;
use warren_sim::relays::{Directory, STREAM_PORT};
use warren_sim::{Scenario, rng, run};

const SEED: u64 = 5;
const CLIENTS: usize = 20_000;

/// The lab network both tests run on: 100 relays in one region, a quarter
/// of them 20 times as fast as the rest.
const LAB: &str = "fidelity = \"circuit\"\n\
     [[regions]]\nname = \"lab\"\nshare = 1\n\
     [[links]]\nbetween = [\"lab\", \"lab\"]\nlatency_ms = 5\n\
     [relays]\ncount = 100\nguard_share = 0.5\nexit_share = 0.4\n\
     [[relays.classes]]\nshare = 3\nup = 1_000_000\ndown = 1_000_000\n\
     [[relays.classes]]\nshare = 1\nup = 20_000_000\ndown = 20_000_000\n";

fn scenario() -> Scenario {
    let text = format!(
        "{LAB}\
         [clients]\ncount = {CLIENTS}\nup = 10_000_000\ndown = 10_000_000\n\
         circuits = 1\nresponse_bytes = 1000\nstart_spread_ms = 60_000\n\
         [adversary]\nbandwidth_share = 0.2\nas = [\"guard\", \"exit\"]\n"
    );
    Scenario::from_toml(&text).expect("scenario parses")
}

/// The weight path selection gives a relay.
fn w(s: &RelayStatus) -> f64 {
    s.bandwidth.max(1) as f64
}

/// The probability that the exit is the adversary's (when `exit_too`) and
/// the guard is the adversary's: the sum over exits `e` of
/// P(e) × (the adversary's guard weight other than `e`) / (the guard
/// weight other than `e`).
fn exact(statuses: &[RelayStatus], owned: &[bool], exit_too: bool) -> f64 {
    let is_exit = |s: &RelayStatus| {
        suitable(s, Position::Exit) && s.info.exit_summary.allows_port(STREAM_PORT)
    };
    let is_guard = |s: &RelayStatus| suitable(s, Position::Guard);
    let all = |f: &dyn Fn(&RelayStatus, bool) -> bool| -> f64 {
        statuses
            .iter()
            .zip(owned)
            .filter(|(s, o)| f(s, **o))
            .map(|(s, _)| w(s))
            .sum()
    };
    let exits = all(&|s, _| is_exit(s));
    let guards = all(&|s, _| is_guard(s));
    let mine = all(&|s, o| is_guard(s) && o);
    statuses
        .iter()
        .zip(owned)
        .filter(|(s, o)| is_exit(s) && (**o || !exit_too))
        .map(|(e, o)| {
            let (own_e, guard_e) = if is_guard(e) {
                (w(e), w(e))
            } else {
                (0.0, 0.0)
            };
            let mine_other = if *o { mine - own_e } else { mine };
            w(e) / exits * mine_other / (guards - guard_e)
        })
        .sum()
}

/// The share of the weight of the relays `keep` selects that `owned` holds.
fn share(statuses: &[RelayStatus], owned: &[bool], keep: impl Fn(&RelayStatus) -> bool) -> f64 {
    let (mut mine, mut all) = (0u64, 0u64);
    for (s, o) in statuses.iter().zip(owned) {
        if keep(s) {
            all += s.bandwidth.max(1);
            if *o {
                mine += s.bandwidth.max(1);
            }
        }
    }
    mine as f64 / all as f64
}

#[test]
fn compromised_circuits_match_the_product_of_the_selection_probabilities() {
    let scenario = scenario();
    let report = run(&scenario, SEED).expect("run");
    let adversary = report.adversary.as_ref().expect("an adversary");
    // The relays of the run, as the engine draws them first from the seed.
    let dir = Directory::build(
        &scenario,
        &mut Network::new(&scenario),
        &mut rng::seeded(SEED),
    )
    .expect("relays");
    let statuses = dir.statuses();
    let p_guard = share(statuses, &adversary.owned, |s| suitable(s, Position::Guard));
    let p_exit = share(statuses, &adversary.owned, |s| {
        suitable(s, Position::Exit) && s.info.exit_summary.allows_port(STREAM_PORT)
    });
    // The adversary reached its bandwidth share (overshooting by at most
    // one relay).
    assert!(p_guard >= 0.2 && p_exit >= 0.2, "{p_guard} {p_exit}");
    let r = &adversary.report;
    assert_eq!(r.circuits, CLIENTS);
    // The report's expectation is TorPS's product of the two shares.
    assert!((r.expected_circuit_share - p_guard * p_exit).abs() < 1e-12);
    let p = exact(statuses, &adversary.owned, true);
    let p_guard = exact(statuses, &adversary.owned, false);
    // Each client's one circuit is an independent draw: the count of
    // compromised circuits is binomial. Four standard deviations.
    let n = CLIENTS as f64;
    let sigma = (p * (1.0 - p) / n).sqrt();
    eprintln!(
        "compromised circuits: observed {:.5}, expected {p:.5} ± {:.5} (4σ), product {:.5}",
        r.circuit_share,
        4.0 * sigma,
        r.expected_circuit_share
    );
    assert!(
        (r.circuit_share - p).abs() < 4.0 * sigma,
        "observed {} expected {p} ± {}",
        r.circuit_share,
        4.0 * sigma
    );
    // Each position alone, too.
    let guards = r.guard_circuits as f64 / n;
    let exits = r.exit_circuits as f64 / n;
    let tolerance = |q: f64| 4.0 * (q * (1.0 - q) / n).sqrt();
    assert!(
        (guards - p_guard).abs() < tolerance(p_guard),
        "{guards} {p_guard}"
    );
    assert!(
        (exits - p_exit).abs() < tolerance(p_exit),
        "{exits} {p_exit}"
    );
    // One circuit per client: compromised clients are compromised circuits,
    // and each was compromised when its circuit started.
    assert_eq!(r.compromised_clients, r.compromised_circuits);
    let first = r.first_compromise_s.expect("some client compromised");
    assert!(first.median <= 60.0 && first.p90 <= 60.0, "{first:?}");
    let csv = report.clients_csv();
    let marked = csv.lines().skip(1).filter(|l| !l.ends_with(',')).count();
    assert_eq!(marked, r.compromised_clients);
}

#[test]
fn the_adversary_changes_no_other_draw() {
    let scenario = scenario();
    let mut without = scenario.clone();
    without.adversary = None;
    without.clients.count = 500;
    let mut with = scenario;
    with.clients.count = 500;
    let a = run(&with, SEED).expect("run");
    let b = run(&without, SEED).expect("run");
    assert_eq!(a.circuits_csv(), b.circuits_csv());
    assert!(b.adversary.is_none());
}

const ONION_CLIENTS: usize = 4_000;
const SERVICES: usize = 8_000;

/// The probability that the guard chosen for a circuit to rendezvous
/// point `r` is the adversary's: the first sampled guard, or the second
/// when the first is `r`, which is a guard drawn by weight among the
/// guards other than `r`.
fn guard_share_without(statuses: &[RelayStatus], owned: &[bool], r: &RelayStatus) -> f64 {
    let is_guard = |s: &RelayStatus| suitable(s, Position::Guard);
    let (mut mine, mut all) = (0.0, 0.0);
    for (s, o) in statuses.iter().zip(owned) {
        if is_guard(s) && s.identity != r.identity {
            all += w(s);
            if *o {
                mine += w(s);
            }
        }
    }
    mine / all
}

/// An onion connection has the adversary's guards at both ends (docs/sim.md
/// §9) with the probability, summed over rendezvous points `r` drawn by
/// weight among all relays, of `r`'s weight share times the square of the
/// chance that a guard other than `r` is the adversary's: the client's
/// rendezvous circuit and the service's circuit to `r` each take the
/// first guard of their own sample that is not `r`, before the middles
/// (one on the client's circuit, two on the service's: docs/spec.md
/// §14.1), which therefore do not enter. With one connection per
/// client and twice as many services as connections, the connections are
/// nearly independent: the count is binomial (a service answering two
/// connections adds under a tenth to the variance). The exclusion of the
/// service's intro point from the rendezvous points is left out (it moves
/// the probability by about one relay's weight share of itself).
#[test]
fn compromised_onion_connections_match_the_guard_weights() {
    let text = format!(
        "{LAB}\
         [[services]]\ncount = {SERVICES}\nintro_points = 1\nbandwidth = 10_000_000\n\
         [clients]\ncount = {ONION_CLIENTS}\nup = 10_000_000\ndown = 10_000_000\n\
         traffic = \"onion\"\ncircuits = 1\nresponse_bytes = 1000\nstart_spread_ms = 60_000\n\
         [adversary]\nbandwidth_share = 0.2\nas = [\"guard\"]\n"
    );
    let scenario = Scenario::from_toml(&text).expect("scenario parses");
    let report = run(&scenario, SEED).expect("run");
    let adversary = report.adversary.as_ref().expect("an adversary");
    let onion = adversary.report.onion.expect("onion figures");
    let dir = Directory::build(
        &scenario,
        &mut Network::new(&scenario),
        &mut rng::seeded(SEED),
    )
    .expect("relays");
    let statuses = dir.statuses();
    let total: f64 = statuses.iter().map(w).sum();
    let (mut p, mut p_client) = (0.0, 0.0);
    for r in statuses {
        let g = guard_share_without(statuses, &adversary.owned, r);
        p += w(r) / total * g * g;
        p_client += w(r) / total * g;
    }
    let n = onion.connections as f64;
    assert!(n > 0.95 * ONION_CLIENTS as f64, "{onion:?}");
    let tolerance = |q: f64| 4.0 * (q * (1.0 - q) / n).sqrt();
    let observed = onion.connection_share;
    eprintln!(
        "onion connections with both guards: observed {observed:.5}, expected {p:.5} ± {:.5}, \
         guard share squared {:.5}",
        tolerance(p),
        onion.expected_connection_share
    );
    assert!((observed - p).abs() < tolerance(p), "{observed} {p}");
    let client = onion.client_guard_connections as f64 / n;
    assert!(
        (client - p_client).abs() < tolerance(p_client),
        "{client} {p_client}"
    );
    assert!(onion.compromised_connections <= onion.service_guard_connections);
    assert!(
        report
            .summary_json()
            .contains("\"compromised_connections\"")
    );
    let plots = warren_sim::plots(&report, "onion").expect("plots");
    assert!(plots.iter().any(|p| p.file == "adversary_onion_share.svg"));
}
