//! Scenario errors name the line and the key (docs/sim.md §3).

use super::*;

const GOOD: &str = r#"
[[regions]]
name = "a"
share = 1
[[links]]
between = ["a", "a"]
latency_ms = 5
[relays]
count = 10
guard_share = 0.5
exit_share = 0.25
[[relays.classes]]
share = 1
up = 1000
down = 2000
[clients]
count = 2
up = 100
down = 200
circuits = 3
think_time_ms = 1.5
response_bytes = 10
"#;

fn error(text: &str) -> String {
    Scenario::from_toml(text).unwrap_err().to_string()
}

#[test]
fn a_good_scenario_gets_its_defaults() {
    let s = Scenario::from_toml(GOOD).unwrap();
    assert_eq!(s.seed, 1);
    assert_eq!(s.link(0, 0).unwrap().latency_ns, 5_000_000);
    assert_eq!(s.clients.classes.len(), 1);
    assert_eq!(s.clients.classes[0].think_time_ns, 1_500_000);
    assert_eq!(s.clients.classes[0].traffic, Traffic::Web);
    assert_eq!(s.fidelity, Fidelity::Cell);
    assert_eq!(s.clients.start_spread_ns, 0);
    assert_eq!(s.costs.cell_ns, 300);
    assert_eq!(s.costs.handshake_ns, 150_000);
    assert_eq!(s.costs.build_timeout, Duration::from_secs(10));
}

#[test]
fn the_shipped_scenario_parses() {
    let text = include_str!("../../scenarios/small.toml");
    let s = Scenario::from_toml(text).unwrap();
    assert_eq!(s.regions.len(), 3);
    assert_eq!(s.links.len(), 6);
}

#[test]
fn an_unknown_key_names_its_line() {
    let text = GOOD.replace("exit_share = 0.25", "exit_shares = 0.25");
    let e = error(&text);
    assert!(e.starts_with("scenario line 11, column 1:"), "{e}");
    assert!(e.contains("exit_shares"), "{e}");
}

#[test]
fn a_wrong_type_names_its_line() {
    let e = error(&GOOD.replace("count = 10", "count = \"ten\""));
    assert!(e.starts_with("scenario line 9,"), "{e}");
}

#[test]
fn an_out_of_range_value_names_line_and_key() {
    let e = error(&GOOD.replace("guard_share = 0.5", "guard_share = 1.5"));
    assert_eq!(
        e,
        "scenario line 10, key `relays.guard_share`: 1.5 is not a share from 0 to 1"
    );
    let e = error(&GOOD.replace("count = 10", "count = 2"));
    assert_eq!(
        e,
        "scenario line 9, key `relays.count`: 2 is not from 3 to 1000000"
    );
    let e = error(&GOOD.replace("up = 1000", "up = 0"));
    assert!(
        e.starts_with("scenario line 14, key `relays.classes[0].up`"),
        "{e}"
    );
    let e = error(&GOOD.replace("response_bytes = 10", "response_bytes = 0"));
    assert!(
        e.starts_with("scenario line 22, key `clients.response_bytes`"),
        "{e}"
    );
    let e = error(&GOOD.replace("latency_ms = 5", "latency_ms = -5"));
    assert!(
        e.starts_with("scenario line 7, key `links[0].latency_ms`"),
        "{e}"
    );
}

#[test]
fn links_must_name_listed_regions_and_cover_every_pair() {
    let e = error(&GOOD.replace(r#"["a", "a"]"#, r#"["a", "b"]"#));
    assert!(
        e.starts_with("scenario line 6, key `links[0].between`"),
        "{e}"
    );
    let two = GOOD.replacen(
        "[[links]]",
        "[[regions]]\nname = \"b\"\nshare = 1\n[[links]]",
        1,
    );
    let e = error(&two);
    assert!(e.contains("no [[links]] entry between `a` and `b`"), "{e}");
}

#[test]
fn the_other_shipped_scenarios_parse() {
    let tor = Scenario::from_toml(include_str!("../../scenarios/tor-scale.toml")).unwrap();
    assert_eq!(tor.fidelity, Fidelity::Circuit);
    assert_eq!((tor.relays.count, tor.clients.count), (7000, 100_000));
    assert_eq!(tor.duration_ns, Some(3_600_000_000_000));
    assert_eq!(tor.clients.classes[1].traffic, Traffic::Bulk);
    assert_eq!(tor.clients.classes[1].think_time_ns, 0);
    let adv = Scenario::from_toml(include_str!("../../scenarios/adversary.toml")).unwrap();
    let spec = adv.adversary.unwrap();
    assert_eq!(spec.amount, Amount::Bandwidth(0.1));
    assert_eq!(spec.roles, [Role::Guard, Role::Exit]);
    let onion = Scenario::from_toml(include_str!("../../scenarios/onion-flood.toml")).unwrap();
    assert_eq!(onion.clients.classes[0].traffic, Traffic::Onion);
    assert_eq!(onion.services[0].count, 5);
    assert!(onion.intro_flood.unwrap().puzzle);
    let auth = Scenario::from_toml(include_str!("../../scenarios/authority-failure.toml")).unwrap();
    assert_eq!(auth.authorities.count, 3);
    let churn = auth.churn.unwrap();
    assert_eq!(churn.leave_share, 0.0);
    let down: Vec<usize> = churn.outages.iter().map(|o| o.authority).collect();
    assert_eq!(down, [0, 1]);
    assert_eq!(churn.outages[0].until_ns, Some(5_700_000_000_000));
    assert_eq!(tor.authorities, AuthoritySpec::default());
}

#[test]
fn client_classes_take_the_defaults_of_clients() {
    let text = format!(
        "fidelity = \"circuit\"\n{GOOD}[[clients.classes]]\nshare = 2\nrequests = 4\n\
         [[clients.classes]]\nname = \"dl\"\nshare = 1\ntraffic = \"bulk\"\n\
         response_bytes = 5000\n"
    );
    let s = Scenario::from_toml(&text).unwrap();
    let [web, bulk] = s.clients.classes.as_slice() else {
        panic!("two classes: {:?}", s.clients.classes);
    };
    assert_eq!((web.name.as_str(), web.traffic), ("web", Traffic::Web));
    assert_eq!((web.circuits, web.requests), (3, 4));
    assert_eq!((web.think_time_ns, web.response_bytes), (1_500_000, 10));
    assert_eq!((bulk.name.as_str(), bulk.traffic), ("dl", Traffic::Bulk));
    assert_eq!((bulk.think_time_ns, bulk.response_bytes), (0, 5000));
}

#[test]
fn new_keys_name_their_line_and_key() {
    let e = error(&format!("fidelity = \"packet\"\n{GOOD}"));
    assert!(e.starts_with("scenario line 1, column 12:"), "{e}");
    assert!(e.contains("expected `cell` or `circuit`"), "{e}");
    let e = error(&format!("duration_s = -1\n{GOOD}"));
    assert!(e.starts_with("scenario line 1, key `duration_s`"), "{e}");
    // More than one request per circuit needs the circuit level.
    let e = error(&GOOD.replace("circuits = 3", "circuits = 3\nrequests = 2"));
    assert!(
        e.starts_with("scenario line 21, key `clients.requests`"),
        "{e}"
    );
    assert!(e.contains("fidelity = \"circuit\""), "{e}");
    let e = error(&GOOD.replace(
        "think_time_ms = 1.5",
        "think_time_ms = 1.5\ntraffic = \"bulk\"",
    ));
    assert!(
        e.starts_with("scenario line 21, key `clients.think_time_ms`"),
        "{e}"
    );
    let e = error(&GOOD.replace("think_time_ms = 1.5", "traffic = \"video\""));
    assert!(e.starts_with("scenario line 21, column 11:"), "{e}");
    let classes =
        format!("{GOOD}[[clients.classes]]\nshare = 1\ntraffic = \"bulk\"\nthink_time_ms = 3\n");
    let e = error(&classes);
    assert!(
        e.starts_with("scenario line 26, key `clients.classes[0].think_time_ms`"),
        "{e}"
    );
    let classes = GOOD.replace("response_bytes = 10\n", "") + "[[clients.classes]]\nshare = 1\n";
    let e = error(&classes);
    assert!(
        e.starts_with("scenario line 23, key `clients.classes[0].response_bytes`"),
        "{e}"
    );
    let e = error(&format!(
        "{GOOD}[[clients.classes]]\nshare = -1\nresponse_bytes = 1\n"
    ));
    assert!(
        e.starts_with("scenario line 24, key `clients.classes[0].share`"),
        "{e}"
    );
}

#[test]
fn adversary_keys_name_their_line_and_key() {
    let adversary = |body: &str| error(&format!("{GOOD}[adversary]\n{body}"));
    let e = adversary("share = 1.5\nas = [\"guard\"]\n");
    assert_eq!(
        e,
        "scenario line 24, key `adversary.share`: 1.5 is not a share from 0 to 1"
    );
    let e = adversary("share = 0\nas = [\"guard\"]\n");
    assert!(
        e.starts_with("scenario line 24, key `adversary.share`"),
        "{e}"
    );
    let e = adversary("share = 0.1\nbandwidth_share = 0.1\nas = [\"exit\"]\n");
    assert!(
        e.starts_with("scenario line 25, key `adversary.bandwidth_share`: give share"),
        "{e}"
    );
    let e = adversary("as = [\"exit\"]\n");
    assert!(
        e.starts_with("scenario line 24, key `adversary`: give share"),
        "{e}"
    );
    let e = adversary("share = 0.1\nas = [\"exit\", \"exit\"]\n");
    assert!(e.starts_with("scenario line 25, key `adversary.as`"), "{e}");
    let e = adversary("share = 0.1\nas = []\n");
    assert!(e.starts_with("scenario line 25, key `adversary.as`"), "{e}");
    let e = adversary("share = 0.1\nas = [\"intro\"]\n");
    assert!(e.starts_with("scenario line 25, column"), "{e}");
    assert!(e.contains("`guard`, `middle`, `exit`, `hsdir`"), "{e}");
}

#[test]
fn service_and_attack_keys_name_their_line_and_key() {
    let circuit = format!("fidelity = \"circuit\"\n{GOOD}");
    let e = error(&format!(
        "{circuit}[[services]]\ncount = 1\nintro_points = 11\nbandwidth = 1\n"
    ));
    assert!(
        e.starts_with("scenario line 26, key `services[0].intro_points`: 11 is not from 1 to 10"),
        "{e}"
    );
    let e = error(&format!(
        "{circuit}[[services]]\ncount = 1\nbandwidth = 0\n"
    ));
    assert!(
        e.starts_with("scenario line 26, key `services[0].bandwidth`"),
        "{e}"
    );
    let e = error(&format!("{GOOD}[[services]]\ncount = 1\nbandwidth = 1\n"));
    assert!(
        e.starts_with("scenario line 24, key `services[0].count`: onion services need"),
        "{e}"
    );
    let e = error(&format!(
        "{circuit}[attack]\nintro_flood = {{ rate_per_s = 1, start_s = 0, duration_s = 1, puzzle = true }}\n"
    ));
    assert!(
        e.starts_with("scenario line 25, key `attack.intro_flood`: an introduction flood needs"),
        "{e}"
    );
    let services = format!("{circuit}[[services]]\ncount = 1\nbandwidth = 1\n");
    let flood = |body: &str| error(&format!("{services}[attack]\nintro_flood = {{ {body} }}\n"));
    let e = flood("rate_per_s = 0, start_s = 0, duration_s = 1, puzzle = true");
    assert!(
        e.starts_with("scenario line 28, key `attack.intro_flood.rate_per_s`"),
        "{e}"
    );
    let e = flood("rate_per_s = 1, start_s = 0, duration_s = 1, puzzle = true, effort = 501");
    assert!(
        e.starts_with("scenario line 28, key `attack.intro_flood.effort`"),
        "{e}"
    );
    let e = flood("rate_per_s = 1, start_s = -1, duration_s = 1, puzzle = true");
    assert!(
        e.starts_with("scenario line 28, key `attack.intro_flood.start_s`"),
        "{e}"
    );
    let e = flood("rate_per_s = 1, start_s = 0, duration_s = 1");
    assert!(e.starts_with("scenario line 28, column"), "{e}");
    assert!(e.contains("puzzle"), "{e}");
    let e = error(&circuit.replace("circuits = 3", "circuits = 3\ntraffic = \"onion\""));
    assert!(
        e.starts_with("scenario line 22, key `clients.traffic`: onion clients need services"),
        "{e}"
    );
    let e = error(&format!(
        "{services}[churn]\ninterval_s = 5\nleave_share = 0.1\n"
    ));
    assert!(
        e.starts_with("scenario line 28, key `churn.interval_s`: churn with onion services"),
        "{e}"
    );
    let e = error(&format!("{services}[costs]\nintro_us = -1\n"));
    assert!(
        e.starts_with("scenario line 28, key `costs.intro_us`"),
        "{e}"
    );
    let s = Scenario::from_toml(&format!("{services}[attack]\nintro_flood = {{ rate_per_s = 2, start_s = 1, duration_s = 3, puzzle = false }}\n")).unwrap();
    let f = s.intro_flood.unwrap();
    assert_eq!(
        (f.start_ns, f.duration_ns, f.puzzle, f.effort),
        (1_000_000_000, 3_000_000_000, false, 0)
    );
    assert_eq!(s.services[0].intro_points, 3);
    assert_eq!(s.costs.intro_ns, 40_000_000);
    assert_eq!(s.costs.pow_attempt_ns, 10_500_000);
}
