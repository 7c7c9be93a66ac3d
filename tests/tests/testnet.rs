//! `warren testnet` the way a user runs it (docs/spec.md §13–§16): the
//! whole network comes up, real curl reaches the demo backend behind its
//! onion service through SOCKS and the HTTP proxy, the network survives
//! three relays killed during a download and one authority killed, the
//! service restarted comes back on its address, and Ctrl-C stops every
//! node.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test: a failure must fail the test"
)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use warren_tests::procs::{Node, wait_until};

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is installed")
}

fn body(args: &[&str]) -> String {
    let out = curl(args);
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
}

#[test]
fn the_testnet_comes_up_serves_curl_survives_failures_and_stops() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("net");
    let started = Instant::now();
    let mut controller = Node::spawn(
        "testnet",
        &root.path().join("controller"),
        &[
            "testnet",
            "--relays",
            "8",
            "--data-dir",
            dir.to_str().unwrap(),
        ],
    );
    let state: serde_json::Value = wait_until("testnet.json", Duration::from_secs(120), || {
        controller.assert_running();
        let text = std::fs::read_to_string(dir.join("testnet.json")).ok()?;
        serde_json::from_str(&text).ok()
    });
    assert!(
        controller.out_text().contains("ready in"),
        "{}",
        controller.out_text()
    );
    let socks = state["socks"].as_str().unwrap().to_owned();
    let http = format!("http://{}", state["http"].as_str().unwrap());
    let backend = state["backend"].as_str().unwrap().to_owned();
    let nodes = state["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.iter().filter(|n| n["role"] == "authority").count(), 3);
    assert_eq!(nodes.iter().filter(|n| n["role"] == "exit").count(), 1);
    let pid = |name: &str| {
        nodes
            .iter()
            .find(|n| n["name"] == name)
            .and_then(|n| n["pid"].as_u64())
            .unwrap()
    };

    let address = state["service_address"].as_str().unwrap().to_owned();
    assert!(address.ends_with(".warren"), "{address}");
    assert!(
        controller.out_text().contains(&address),
        "the address is printed: {}",
        controller.out_text()
    );
    assert_eq!(nodes.iter().filter(|n| n["role"] == "service").count(), 1);
    let expect = "{\"service\":\"warren-demo\",\"hello\":\"world\"}";
    // Through the onion service, by SOCKS and by the HTTP proxy.
    let hello = format!("http://{address}/api/hello");
    assert_eq!(body(&["--socks5-hostname", &socks, &hello]), expect);
    assert_eq!(body(&["-x", &http, &hello]), expect);
    let time = body(&["-x", &http, &format!("http://{address}/api/time")]);
    assert!(time.starts_with("{\"unix\":"), "{time}");
    // And the backend itself through the exit.
    let direct = format!("http://{backend}/api/hello");
    assert_eq!(body(&["--socks5-hostname", &socks, &direct]), expect);

    // Three relays die during a download, and one authority; new circuits
    // still work.
    let large = format!("http://{address}/large/200000000");
    let download = Command::new("curl")
        .args(["--silent", "--max-time", "60", "-o", "/dev/null"])
        .args(["--socks5-hostname", &socks, &large])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let consensuses = |log: &str| log.matches("accepted a new consensus").count();
    let client_log = dir.join("client").join("log.txt");
    let before = consensuses(&std::fs::read_to_string(&client_log).unwrap());
    for name in ["relay0", "relay1", "relay2", "authority3"] {
        Command::new("kill")
            .args(["-KILL", &pid(name).to_string()])
            .status()
            .unwrap();
    }
    let fresh = |url: &str| {
        let user = format!("after-{}", started.elapsed().as_millis());
        let out = curl(&[
            "--socks5-hostname",
            &socks,
            "--proxy-user",
            &format!("{user}:x"),
            url,
        ]);
        (out.status.success() && out.stdout == expect.as_bytes()).then_some(())
    };
    wait_until(
        "an onion stream after the failures",
        Duration::from_secs(60),
        || fresh(&hello),
    );
    wait_until(
        "an exit stream after the failures",
        Duration::from_secs(60),
        || fresh(&direct),
    );
    let mut download = download;
    let _ = download.kill();
    let _ = download.wait();
    // Two authorities of three still make consensuses the client takes.
    wait_until(
        "a consensus without authority3",
        Duration::from_secs(30),
        || {
            let log = std::fs::read_to_string(&client_log).unwrap();
            (consensuses(&log) > before + 1).then_some(())
        },
    );

    // The service restarted on the same data directory: same address,
    // reachable again.
    Command::new("kill")
        .args(["-KILL", &pid("service").to_string()])
        .status()
        .unwrap();
    let config = dir.join("service").join("service.toml");
    let mut service = Node::spawn(
        "service",
        &root.path().join("service-again"),
        &["service", "--config", config.to_str().unwrap()],
    );
    service.wait_for_output("service demo: ", Duration::from_secs(30));
    assert!(
        service.out_text().contains(&address),
        "{}",
        service.out_text()
    );
    wait_until("the restarted service", Duration::from_secs(60), || {
        fresh(&hello)
    });

    // Ctrl-C stops every node.
    Command::new("kill")
        .args(["-INT", &controller.pid().unwrap().to_string()])
        .status()
        .unwrap();
    wait_until("every node to stop", Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|n| !alive(n["pid"].as_u64().unwrap()))
            .then_some(())
    });
}
