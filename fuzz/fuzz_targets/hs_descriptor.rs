//! Fuzzes the onion-service descriptor decoder (docs/spec.md §15): decode,
//! verify and open must fail or pass cleanly
//! (`warren_directory::fuzzing::hs_descriptor`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_directory::fuzzing::hs_descriptor(data));
