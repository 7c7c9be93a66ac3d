//! Fuzzes the directory-protocol decoders (docs/spec.md §12.13): requests
//! and responses must re-encode to the bytes they came from
//! (`warren_directory::fuzzing::dir_msg`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warren_directory::fuzzing::dir_msg(data));
