//! Fuzzes the signed relay-descriptor decoder (docs/spec.md §12.2): whatever decodes must
//! re-encode to the same bytes, and verification must fail or pass cleanly
//! (`warren_directory::fuzzing::descriptor`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_directory::fuzzing::descriptor(data));
