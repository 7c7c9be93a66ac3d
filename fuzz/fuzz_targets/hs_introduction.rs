//! Fuzzes the service's side of an introduction on arbitrary `encrypted`
//! bytes (docs/spec.md §16.3.1): it fails cleanly or opens only what was
//! sealed to its key (`warren_crypto::fuzzing::hs_introduction`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_crypto::fuzzing::hs_introduction(data));
