//! Fuzzes the `.warren` address parser (docs/spec.md §3): whatever parses
//! prints back canonically (`warren_crypto::fuzzing::onion_addr`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_crypto::fuzzing::onion_addr(data));
