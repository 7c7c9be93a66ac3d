//! Directory authorities and their failure (docs/sim.md §10.6, §8): with
//! `authority-failure.toml` (3 authorities, rounds every 600 s, each
//! consensus valid for 3 rounds, 2 authorities down from 1,500 s to
//! 5,700 s), the rounds with a majority up make a consensus and the others
//! do not; circuits fail for want of a consensus exactly from the second
//! after the last consensus's `valid_until` until the next consensus, and
//! at no other time.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use warren_sim::{Outcome, Scenario, run};

const NO_CONSENSUS: &str = "no valid consensus: the last one has expired";
const NOT_RUNNING: &str = "a relay of the path is not running";
const S: u64 = 1_000_000_000;
const INTERVAL: u64 = 600;
const VALID_ROUNDS: u64 = 3;
const DOWN: (u64, u64) = (1_500, 5_700);

fn scenario(extra: &str) -> Scenario {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/authority-failure.toml"
    ))
    .expect("read authority-failure.toml");
    Scenario::from_toml(&text.replace("leave_share = 0\n", extra)).expect("scenario parses")
}

/// Authorities up at `t` seconds: 3, less the 2 down from 1,500 s to
/// 5,700 s.
fn up(t: u64) -> usize {
    if (DOWN.0..DOWN.1).contains(&t) { 1 } else { 3 }
}

#[test]
fn rounds_without_a_majority_make_no_consensus_and_circuits_fail_only_after_it_expires() {
    let report = run(&scenario("leave_share = 0\n"), 1).expect("run");
    let c = report.consensus.expect("consensus figures");
    let rounds = c.rounds_made + c.rounds_missed;
    // Round k is at 600·k s; it makes a consensus when 2 of 3 vote.
    let made = (0..rounds).filter(|k| up(k * INTERVAL) >= 2).count() as u64;
    assert_eq!(c.authorities, 3);
    assert!(rounds * INTERVAL > DOWN.1, "{rounds} rounds");
    assert_eq!((c.rounds_made, c.rounds_missed), (made, rounds - made));
    assert_eq!(c.rounds_missed, 7);
    // The last consensus before the failure is the one of 1,200 s, valid
    // until 1,200 + 3·600 s; the next comes at 6,000 s.
    let last = (DOWN.0 / INTERVAL) * INTERVAL;
    let valid_until = last + VALID_ROUNDS * INTERVAL;
    let next = DOWN.1.div_ceil(INTERVAL) * INTERVAL;
    let without = (valid_until + 1) * S..next * S;
    let mut failed = 0;
    for r in &report.results.circuits {
        let expired = without.contains(&r.start_ns);
        let outcome = &r.outcome;
        if expired {
            assert_eq!(*outcome, Outcome::Failed(NO_CONSENSUS.into()), "{r:?}");
            assert_eq!(r.path, None);
            failed += 1;
        } else {
            assert_eq!(*outcome, Outcome::Complete, "{r:?}");
        }
    }
    assert!(failed > 0);
    assert_eq!(c.circuits_without_consensus, failed);
    let summary = report.summary_json();
    assert!(summary.contains("\"rounds_missed\": 7"), "{summary}");
    assert!(report.circuits_csv().contains(",,,"));
    let again = run(&scenario("leave_share = 0\n"), 1).expect("run again");
    assert_eq!(report.circuits_csv(), again.circuits_csv());
    assert_eq!(report.summary_json(), again.summary_json());
}

/// With relays leaving too, a consensus that is not renewed still lists
/// relays that have left: circuits through them fail, and only while the
/// clients hold a consensus older than the last round.
#[test]
fn a_stale_consensus_sends_circuits_to_relays_that_left() {
    let report = run(&scenario("leave_share = 0.1\n"), 1).expect("run");
    let stale = DOWN.0.div_ceil(INTERVAL) * INTERVAL * S..DOWN.1.div_ceil(INTERVAL) * INTERVAL * S;
    let mut through_gone = 0;
    for r in &report.results.circuits {
        if r.outcome == Outcome::Failed(NOT_RUNNING.into()) {
            assert!(stale.contains(&r.start_ns), "{r:?}");
            through_gone += 1;
        }
    }
    assert!(through_gone > 0, "{}", report.summary());
}

#[test]
fn authority_keys_name_their_line_and_key() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/authority-failure.toml"
    ))
    .expect("read authority-failure.toml");
    let line_of = |needle: &str| text.lines().position(|l| l == needle).expect("the line") + 1;
    let error = |from: &str, to: &str| {
        Scenario::from_toml(&text.replace(from, to))
            .expect_err("refused")
            .to_string()
    };
    let e = error("count = 3\n", "count = 33\n");
    assert_eq!(
        e,
        format!(
            "scenario line {}, key `authorities.count`: 33 is not from 1 to 32",
            line_of("count = 3")
        )
    );
    let e = error("valid_rounds = 3", "valid_rounds = 0");
    assert!(
        e.starts_with(&format!(
            "scenario line {}, key `authorities.valid_rounds`",
            line_of("valid_rounds = 3")
        )),
        "{e}"
    );
    let e = error("count = 2\n", "count = 4\n");
    assert!(
        e.starts_with(&format!(
            "scenario line {}, key `churn.authority_failures[0].count`: 4 authorities cannot fail",
            line_of("count = 2")
        )),
        "{e}"
    );
    let e = error("at_s = 1_500", "at_s = 0");
    assert!(
        e.starts_with(&format!(
            "scenario line {}, key `churn.authority_failures[0].at_s`",
            line_of("at_s = 1_500")
        )),
        "{e}"
    );
    let e = error("recover_at_s = 5_700", "recover_at_s = 1_000");
    assert!(
        e.starts_with(&format!(
            "scenario line {}, key `churn.authority_failures[0].recover_at_s`",
            line_of("recover_at_s = 5_700")
        )),
        "{e}"
    );
    // A second failure can only take authorities that are still up.
    let e = Scenario::from_toml(&format!(
        "{text}[[churn.authority_failures]]\nat_s = 2_000\ncount = 2\n"
    ))
    .expect_err("refused")
    .to_string();
    assert!(
        e.contains(
            "key `churn.authority_failures[1].count`: 2 authorities cannot fail then: 1 of the 3"
        ),
        "{e}"
    );
    // At the cell level the authorities make the one consensus of the run.
    let cell = format!(
        "{}[authorities]\ncount = 5\n",
        include_str!("../scenarios/small.toml")
    );
    let s = Scenario::from_toml(&cell).expect("authorities at the cell level");
    assert_eq!(s.authorities.count, 5);
}
