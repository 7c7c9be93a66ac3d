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
fn sim_runs_the_small_scenario_and_writes_its_results() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../sim/scenarios/small.toml");
    let out_dir = dir.path().join("out");
    let out = warren(&[
        "sim",
        scenario,
        "--seed",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(
        summary.contains("circuits: 200 (200 complete, 0 failed)"),
        "{summary}"
    );
    assert!(summary.contains("build time: median"), "{summary}");
    assert!(summary.contains("events/s"), "{summary}");
    let csv = std::fs::read_to_string(out_dir.join("circuits.csv")).unwrap();
    assert_eq!(csv.lines().count(), 201, "a header and 200 circuits");
    let clients = std::fs::read_to_string(out_dir.join("clients.csv")).unwrap();
    assert_eq!(clients.lines().count(), 41, "a header and 40 clients");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["seed"], 1);
    assert_eq!(json["completed"], 200);
    for plot in [
        "build_time_cdf.svg",
        "ttfb_cdf.svg",
        "throughput_cdf.svg",
        "relay_load.svg",
    ] {
        let svg = std::fs::read_to_string(out_dir.join(plot)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("small, seed 1"),
            "{plot}"
        );
        assert!(summary.contains(plot), "{summary}");
    }
    assert!(!out_dir.join("adversary_circuit_share.svg").exists());
}

#[test]
fn sim_names_the_line_of_a_scenario_error() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.toml");
    std::fs::write(&scenario, "seed = 1\nregion = []\n").unwrap();
    let out_dir = dir.path().join("out");
    let out = warren(&[
        "sim",
        scenario.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.toml: scenario line 2"), "{err}");
}

#[test]
fn a_service_without_its_config_file_says_which_file_in_one_line() {
    let out = warren(&["service", "--config", "missing-service.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing-service.toml"), "{err}");
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

/// Starts `warren relay` on 127.0.0.x, waits for its info file, stops it by
/// PID, and returns the info file's text.
fn run_relay_once(data_dir: &std::path::Path, ip: &str) -> String {
    let info = data_dir.with_extension("info");
    let _ = std::fs::remove_file(&info);
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(["relay", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", &format!("/ip4/{ip}/tcp/0"), "--info-file"])
        .arg(&info)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start warren relay");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&info) {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay wrote no info file"
        );
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the relay exited early"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().expect("stop the relay");
    let out = child.wait_with_output().expect("reap the relay");
    let log = String::from_utf8_lossy(&out.stderr);
    // Safe logging (docs/spec.md §1.4): no address and no key at info.
    assert!(
        !log.contains(ip) && !log.contains("12D3Koo"),
        "unsafe log:\n{log}"
    );
    text
}

#[test]
fn relay_keeps_its_identity_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let first = run_relay_once(&data, "127.0.0.11");
    assert!(
        first
            .lines()
            .any(|l| l.starts_with("listen /ip4/127.0.0.11/tcp/")),
        "{first}"
    );
    let identity = first.lines().next().unwrap().to_string();
    assert!(identity.starts_with("identity ") && identity.len() == "identity ".len() + 64);
    for key in ["identity.key", "onion.key"] {
        let mode = std::fs::metadata(data.join(key))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    let second = run_relay_once(&data, "127.0.0.11");
    assert_eq!(second.lines().next().unwrap(), identity);
}

#[test]
fn relay_reports_a_bad_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = warren(&[
        "relay",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:9000",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("127.0.0.1:9000") && err.contains("multiaddr"),
        "{err}"
    );
}

#[test]
fn authority_init_makes_0600_keys_and_prints_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("auth");
    let out = warren(&[
        "authority",
        "init",
        "--data-dir",
        data.to_str().unwrap(),
        "--address",
        "/ip4/127.0.0.1/tcp/9200",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[[authorities]]"), "{text}");
    assert!(
        text.contains("addresses = [\"/ip4/127.0.0.1/tcp/9200\"]"),
        "{text}"
    );
    for key in ["identity.key", "signing.key", "host.key"] {
        let mode = std::fs::metadata(data.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    let bad = warren(&[
        "authority",
        "init",
        "--data-dir",
        data.to_str().unwrap(),
        "--address",
        "not-an-address",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("not a multiaddr")
    );
}

#[test]
fn an_authority_without_keys_says_how_to_make_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("authority.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n",
            dir.path().join("none")
        ),
    )
    .unwrap();
    let out = warren(&["authority", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("warren authority init"), "{err}");
}
