//! Onion services at the circuit level (docs/sim.md §11, §8): the shipped
//! flood scenario is deterministic and shows the puzzle letting more
//! legitimate connections through; an adversary's HSDirs hold the share of
//! descriptors that the ring's responsible sets give.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use warren_sim::{Scenario, run};

fn flood(puzzle: bool) -> Scenario {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/onion-flood.toml"
    ))
    .expect("read onion-flood.toml");
    assert!(text.contains("puzzle = true"));
    let text = text.replace("puzzle = true", &format!("puzzle = {puzzle}"));
    Scenario::from_toml(&text).expect("onion-flood.toml parses")
}

#[test]
fn the_flood_scenario_is_deterministic() {
    let scenario = flood(true);
    let a = run(&scenario, 1).expect("run 1");
    let b = run(&scenario, 1).expect("run 1 again");
    assert_eq!(a.circuits_csv(), b.circuits_csv());
    assert_eq!(a.clients_csv(), b.clients_csv());
    assert_eq!(a.summary_json(), b.summary_json());
    let c = run(&scenario, 2).expect("run 2");
    assert_ne!(a.summary_json(), c.summary_json());
    let onion = a.onion.as_ref().expect("onion figures");
    assert_eq!(onion.services, 5);
    assert_eq!(onion.all.connections, a.results.circuits.len());
    assert!(a.summary_json().contains("\"target_during_flood\""));
}

#[test]
fn the_puzzle_lets_more_legitimate_connections_through() {
    let on = run(&flood(true), 1).expect("puzzle on");
    let off = run(&flood(false), 1).expect("puzzle off");
    let during = |r: &warren_sim::Report| {
        r.onion
            .as_ref()
            .and_then(|o| o.target_during_flood.clone())
            .expect("flood figures")
    };
    let (on_share, off_share) = (during(&on).success_share, during(&off).success_share);
    eprintln!("{}\n{}", on.summary(), off.summary());
    assert!(during(&on).connections > 50 && during(&off).connections > 50);
    assert!(
        on_share > off_share + 0.3,
        "puzzle on {on_share}, off {off_share}"
    );
    // The services the flood does not reach are served either way.
    let others = |r: &warren_sim::Report| {
        let o = r.onion.as_ref().expect("onion figures");
        (o.all.succeeded - o.target.succeeded) as f64
            / (o.all.connections - o.target.connections) as f64
    };
    assert!(others(&on) > 0.95 && others(&off) > 0.95);
    let o = on.onion.as_ref().expect("onion figures");
    assert!(o.peak_suggested_effort > 20, "{}", o.peak_suggested_effort);
    assert!(o.attacker_cores > 10.0);
}

/// One region of one-way latency L, one service with one intro point, one
/// client with one connection of one request: every step is a sum of
/// round trips and costs (docs/sim.md §11.2). A circuit with n hops builds
/// in `n(n + 1)L + nh + n(n − 1)c` and carries a cell one way in `nL + nc`;
/// the client's circuits to the HSDir and the intro point have four hops,
/// to its rendezvous point three, the service's to the rendezvous point
/// four and to its intro point three (docs/spec.md §14.1).
#[test]
fn an_onion_connection_takes_the_round_trips_of_its_circuits() {
    const L_MS: u64 = 10;
    let (l, c, h, i) = (L_MS * 1_000_000, 2_000, 150_000, 40_000_000);
    let text = format!(
        "fidelity = \"circuit\"\n\
         [[regions]]\nname = \"lab\"\nshare = 1\n\
         [[links]]\nbetween = [\"lab\", \"lab\"]\nlatency_ms = {L_MS}\n\
         [relays]\ncount = 20\nguard_share = 1\nexit_share = 0.2\n\
         [[relays.classes]]\nshare = 1\nup = 1_000_000_000\ndown = 1_000_000_000\n\
         [[services]]\ncount = 1\nintro_points = 1\nbandwidth = 1_000_000_000\n\
         [clients]\ncount = 1\nup = 1_000_000_000\ndown = 1_000_000_000\n\
         traffic = \"onion\"\ncircuits = 1\nthink_time_ms = 0\nresponse_bytes = 1000\n\
         [costs]\ncell_us = 2\nhandshake_us = 150\nintro_us = 40_000\n"
    );
    let scenario = Scenario::from_toml(&text).expect("scenario parses");
    let report = run(&scenario, 4).expect("run");
    let [record] = report.results.circuits.as_slice() else {
        panic!("one connection expected: {:?}", report.results.circuits);
    };
    assert_eq!(record.outcome, warren_sim::Outcome::Complete);
    let build = |n: u64| n * (n + 1) * l + n * h + n * (n - 1) * c;
    let one_way = |n: u64| n * l + n * c;
    // The descriptor (two round trips on a four-hop circuit), the
    // rendezvous circuit and its answer, the intro circuit, INTRODUCE1 to
    // the intro point, on to the service over its three hops, one cell.
    let arrives = build(4)
        + 4 * one_way(4)
        + build(3)
        + 2 * one_way(3)
        + build(4)
        + one_way(4)
        + one_way(3)
        + c;
    // The service answers, builds four hops to the rendezvous point;
    // RENDEZVOUS1 and RENDEZVOUS2 cross the six relays of the joined
    // circuit, each costing one cell.
    let across = one_way(4) + one_way(3) - c;
    assert_eq!(record.build_ns, Some(arrives + i + build(4) + across));
    assert_eq!(record.ttfb_ns, Some(2 * across));
    assert_eq!(across, 7 * l + 6 * c);
    assert_eq!(report.handshakes, 4 + 3 + 4 + 4);
}

/// 200 relays (all HSDirs), 400 services with the adversary running a
/// fifth of the HSDirs by count: the share of services with one of its
/// HSDirs among the 6 responsible, pooled over 8 seeds and both periods
/// (16 rings), is compared with 1 − C(n − k, 6) / C(n, 6). Services that
/// fall near each other on one ring share HSDirs, so one ring's share
/// varies about three times more than a binomial share over the services:
/// the tolerance is four standard errors of the mean of the 16 rings'
/// shares, estimated from those shares.
#[test]
fn adversary_hsdirs_hold_the_expected_share_of_descriptors() {
    let text = "fidelity = \"circuit\"\n\
         [[regions]]\nname = \"lab\"\nshare = 1\n\
         [[links]]\nbetween = [\"lab\", \"lab\"]\nlatency_ms = 5\n\
         [relays]\ncount = 200\nguard_share = 0.5\nexit_share = 0.4\n\
         [[relays.classes]]\nshare = 1\nup = 1_000_000\ndown = 1_000_000\n\
         [[services]]\ncount = 400\nintro_points = 1\nbandwidth = 1_000_000\n\
         [clients]\ncount = 1\nup = 10_000_000\ndown = 10_000_000\n\
         response_bytes = 1000\n\
         [adversary]\nshare = 0.2\nas = [\"hsdir\"]\n";
    let scenario = Scenario::from_toml(text).expect("scenario parses");
    let mut shares = Vec::new();
    let mut expected = 0.0;
    for seed in 1..=8 {
        let report = run(&scenario, seed).expect("run");
        let h = report
            .adversary
            .as_ref()
            .and_then(|a| a.report.hsdir.clone())
            .expect("hsdir figures");
        assert_eq!((h.hsdirs, h.adversary_hsdirs), (200, 40));
        assert_eq!(h.responsible_per_service, 6);
        expected = h.expected_share;
        shares.extend(h.period_shares);
    }
    let n = shares.len() as f64;
    let mean = shares.iter().sum::<f64>() / n;
    let variance = shares.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let tolerance = 4.0 * (variance / n).sqrt();
    eprintln!("{shares:?}: mean {mean} vs {expected} ± {tolerance}");
    assert!(
        (mean - expected).abs() < tolerance,
        "{mean} vs {expected} ± {tolerance}"
    );
    // One ring's spread is wider than a binomial one's, not narrower.
    let binomial = expected * (1.0 - expected) / 400.0;
    assert!(variance > binomial, "{variance} {binomial}");
}
