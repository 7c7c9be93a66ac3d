//! The entry point shared by the fuzz target `scenario` in `fuzz/` and the
//! corpus replay test (docs/sim.md §3): scenario text is file input, so any
//! bytes must give a scenario or an error that says what is wrong, never a
//! panic.
#![allow(
    clippy::panic,
    reason = "a fuzz entry point: a broken invariant must crash the fuzzer"
)]

use crate::Scenario;

/// Checks a scenario file (docs/sim.md §3): text that is accepted is
/// accepted the same way again; text that is refused gets a message.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Scenario::from_toml(text) {
        Ok(first) => {
            if Scenario::from_toml(text).ok().as_ref() != Some(&first) {
                panic!("a scenario parsed differently the second time");
            }
        }
        Err(e) => {
            if e.to_string().is_empty() {
                panic!("a refused scenario has no message");
            }
        }
    }
}
