//! The `warren` command line, run as a real process.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn warren(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(args)
        .output()
        .expect("run warren")
}

#[test]
fn help_lists_every_subcommand() {
    let out = warren(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "authority",
        "relay",
        "client",
        "service",
        "keygen",
        "sim",
        "testnet",
    ] {
        assert!(text.contains(sub), "--help does not mention {sub}:\n{text}");
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = warren(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim(), format!("warren {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn unbuilt_subcommands_say_so_in_one_line_and_fail() {
    for sub in ["authority", "relay", "client", "service", "sim", "testnet"] {
        let out = warren(&[sub, "--config", "x.toml"]);
        assert!(!out.status.success(), "warren {sub} exited 0");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "warren {sub}: {err}");
        assert!(err.contains("not built yet"), "warren {sub}: {err}");
    }
}

#[test]
fn keygen_service_writes_a_0600_key_and_prints_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service.key");
    let out = warren(&["keygen", "service", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let addr = String::from_utf8(out.stdout).unwrap();
    let addr = addr.trim();
    assert!(addr.ends_with(".warren"), "{addr}");
    assert_eq!(addr.len(), 56 + ".warren".len());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second run refuses to overwrite the key.
    let again = warren(&["keygen", "service", "--out", path.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8(again.stderr)
            .unwrap()
            .contains("already exists")
    );
}

#[test]
fn keygen_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["relay", "onion", "client"] {
        let path = dir.path().join(format!("{kind}.key"));
        let out = warren(&["keygen", kind, "--out", path.to_str().unwrap()]);
        assert!(out.status.success(), "{kind}: {out:?}");
        let public = String::from_utf8(out.stdout).unwrap();
        assert_eq!(public.trim().len(), 64, "{kind}: {public}");
    }
}
