//! Fuzzes the key-file decoder (docs/spec.md §2.5): whatever decodes
//! encodes back to the same text (`warren_crypto::fuzzing::key_file`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_crypto::fuzzing::key_file(data));
