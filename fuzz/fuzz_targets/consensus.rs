//! Fuzzes the consensus decoder (docs/spec.md §12.8): whatever decodes must
//! re-encode to the same bytes, and verification must fail or pass cleanly
//! (`warren_directory::fuzzing::consensus`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_directory::fuzzing::consensus(data));
