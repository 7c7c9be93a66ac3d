//! Fuzzes the relay-message decoder (docs/spec.md §8, §11): whatever decodes
//! must re-encode to the same bytes (`warren_proto::fuzzing::relay_msg`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_proto::fuzzing::relay_msg(data));
