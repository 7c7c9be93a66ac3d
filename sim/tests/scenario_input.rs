//! Property tests of the scenario parser (docs/sim.md §3): scenario files
//! are user input, so arbitrary text, and the shipped scenarios cut or
//! changed anywhere, give a scenario or an error with a message, never a
//! panic (the same check as the `scenario` fuzz target).

#![allow(
    clippy::indexing_slicing,
    reason = "test inputs: the indices are drawn within the text"
)]

use proptest::prelude::*;

const SMALL: &str = include_str!("../scenarios/small.toml");
const AUTHORITIES: &str = include_str!("../scenarios/authority-failure.toml");

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        warren_sim::fuzzing::scenario(text.as_bytes());
    }

    #[test]
    fn a_cut_scenario_never_panics(cut in 0..SMALL.len()) {
        let end = (0..=cut).rev().find(|&i| SMALL.is_char_boundary(i)).unwrap_or(0);
        warren_sim::fuzzing::scenario(&SMALL.as_bytes()[..end]);
    }

    #[test]
    fn a_changed_scenario_never_panics(at in 0..SMALL.len(), byte in any::<u8>()) {
        let mut bytes = SMALL.as_bytes().to_vec();
        bytes[at] = byte;
        warren_sim::fuzzing::scenario(&bytes);
    }

    #[test]
    fn a_changed_authority_scenario_never_panics(at in 0..AUTHORITIES.len(), byte in any::<u8>()) {
        let mut bytes = AUTHORITIES.as_bytes().to_vec();
        bytes[at] = byte;
        warren_sim::fuzzing::scenario(&bytes);
    }
}
