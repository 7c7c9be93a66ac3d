//! Fuzzes the introduction payload decoder (docs/spec.md §16.3.2): whatever
//! decodes re-encodes to 384 bytes that decode to the same value
//! (`warren_proto::fuzzing::introduce_payload`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_proto::fuzzing::introduce_payload(data));
