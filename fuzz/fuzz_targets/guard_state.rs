//! Fuzzes the guard-state decoder (docs/spec.md §14.2): a client's stored
//! guard set must re-encode to the bytes it came from
//! (`warren_directory::fuzzing::guard_state`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_directory::fuzzing::guard_state(data));
