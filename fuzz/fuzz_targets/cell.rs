//! Fuzzes the link-cell decoder (docs/spec.md §7): whatever decodes must
//! re-encode to the same bytes (`warren_proto::fuzzing::cell`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_proto::fuzzing::cell(data));
