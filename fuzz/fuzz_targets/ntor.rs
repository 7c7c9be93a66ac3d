//! Fuzzes both sides of the circuit handshake on arbitrary messages
//! (docs/spec.md §4): they fail cleanly (`warren_crypto::fuzzing::ntor`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_crypto::fuzzing::ntor(data));
