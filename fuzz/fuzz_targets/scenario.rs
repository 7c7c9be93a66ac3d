//! Fuzzes the simulator's scenario parser (docs/sim.md §3): any bytes give a
//! scenario or an error with a message, never a panic
//! (`warren_sim::fuzzing::scenario`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_sim::fuzzing::scenario(data));
