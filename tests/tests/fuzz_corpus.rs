//! Replays every seed file in `fuzz/corpus/<target>/` through the same
//! checks the fuzz targets run (docs/spec.md §7.8), so CI exercises the
//! corpus without cargo-fuzz or a nightly toolchain.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: an unreadable corpus must fail the test"
)]

use std::path::PathBuf;
use warren_tests::workspace_root;

/// The files of `fuzz/corpus/<target>/`, sorted.
///
/// # Panics
/// When the directory is missing or empty: a target without seeds is a bug.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = workspace_root().join("fuzz").join("corpus").join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no seeds", dir.display());
    files
}

/// Runs `check` on every seed of `target`, naming the file on failure.
fn replay(target: &str, check: fn(&[u8])) {
    for path in corpus(target) {
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "seed {} fails", path.display());
    }
}

#[test]
fn cell_corpus() {
    replay("cell", warren_proto::fuzzing::cell);
}

#[test]
fn relay_msg_corpus() {
    replay("relay_msg", warren_proto::fuzzing::relay_msg);
}

#[test]
fn onion_addr_corpus() {
    replay("onion_addr", warren_crypto::fuzzing::onion_addr);
}

#[test]
fn key_file_corpus() {
    replay("key_file", warren_crypto::fuzzing::key_file);
}

#[test]
fn ntor_corpus() {
    replay("ntor", warren_crypto::fuzzing::ntor);
}

#[test]
fn descriptor_corpus() {
    replay("descriptor", warren_directory::fuzzing::descriptor);
}

#[test]
fn vote_corpus() {
    replay("vote", warren_directory::fuzzing::vote);
}

#[test]
fn consensus_corpus() {
    replay("consensus", warren_directory::fuzzing::consensus);
}

#[test]
fn dir_msg_corpus() {
    replay("dir_msg", warren_directory::fuzzing::dir_msg);
}

#[test]
fn hs_descriptor_corpus() {
    replay("hs_descriptor", warren_directory::fuzzing::hs_descriptor);
}

#[test]
fn guard_state_corpus() {
    replay("guard_state", warren_directory::fuzzing::guard_state);
}

#[test]
fn introduce_payload_corpus() {
    replay(
        "introduce_payload",
        warren_proto::fuzzing::introduce_payload,
    );
}

#[test]
fn hs_introduction_corpus() {
    replay("hs_introduction", warren_crypto::fuzzing::hs_introduction);
}

/// The valid introduction seeds still decode and open, so the corpora keep
/// reaching past the first checks (docs/spec.md §16.3.7 made them).
#[test]
fn introduction_valid_seeds_decode() {
    use warren_crypto::hs_ntor::{self, IntroEncKeypair, IntroKeys};
    let seed = |target: &str, name: &str| {
        std::fs::read(workspace_root().join("fuzz/corpus").join(target).join(name)).unwrap()
    };
    for name in ["valid", "pow-solution-and-unknown"] {
        assert!(
            warren_proto::relay_msg::IntroducePayload::decode(&seed("introduce_payload", name))
                .is_ok(),
            "{name}"
        );
    }
    // A payload is exactly 384 bytes: an unpadded one is refused.
    assert!(
        warren_proto::relay_msg::IntroducePayload::decode(&seed(
            "introduce_payload",
            "unpadded-minimal"
        ))
        .is_err()
    );
    let v = warren_tests::spec_vector("hs-ntor-1");
    let enc = IntroEncKeypair::from_secret_bytes(warren_tests::field(&v, "enc_secret"));
    let keys = IntroKeys {
        auth_key: &warren_tests::field(&v, "auth_key"),
        enc_key: &enc.public(),
        subcredential: &warren_tests::field(&v, "subcredential"),
    };
    let header = warren_tests::bytes(&v, "header");
    let opened = hs_ntor::service_open(&enc, &keys, header, &seed("hs_introduction", "valid"));
    assert!(opened.is_ok());
    let flipped =
        hs_ntor::service_open(&enc, &keys, header, &seed("hs_introduction", "flipped-tag"));
    assert!(flipped.is_err());
}

#[test]
fn scenario_corpus() {
    replay("scenario", warren_sim::fuzzing::scenario);
}

/// The shipped scenarios in the corpus parse and are the files of
/// `sim/scenarios/` (docs/sim.md §3).
#[test]
fn scenario_valid_seeds_parse() {
    for name in ["small.toml", "onion-flood.toml", "authority-failure.toml"] {
        let path = workspace_root().join("fuzz/corpus/scenario").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(warren_sim::Scenario::from_toml(&text).is_ok(), "{name}");
        let shipped = workspace_root().join("sim/scenarios").join(name);
        assert_eq!(text, std::fs::read_to_string(&shipped).unwrap(), "{name}");
    }
}

/// The valid directory seeds still decode, so the corpora keep reaching
/// past the first checks (docs/spec.md §12.11 made them).
#[test]
fn directory_valid_seeds_decode() {
    let seed = |target: &str, name: &str| {
        std::fs::read(workspace_root().join("fuzz/corpus").join(target).join(name)).unwrap()
    };
    for name in ["valid-a", "valid-b"] {
        assert!(warren_directory::SignedDescriptor::decode(&seed("descriptor", name)).is_ok());
    }
    assert!(warren_directory::Vote::decode(&seed("vote", "valid")).is_ok());
    assert!(warren_directory::Consensus::decode(&seed("consensus", "valid")).is_ok());
}
