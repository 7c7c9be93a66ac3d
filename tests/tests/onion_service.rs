//! `warren service` on a real process network on 127.0.0.x (docs/spec.md
//! §15, §16): three authorities, eight relays, a backend behind an onion
//! service and clients using it with real curl through SOCKS and the HTTP
//! proxy.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test: a failure must fail the test"
)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use warren_tests::procs::{
    HELLO, Node, TestClient, start_authorities, start_backend, start_client, start_relay,
    start_service, wait_until,
};

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "60"])
        .args(args)
        .output()
        .expect("curl is installed")
}

/// Fetches `url` through the client's SOCKS entry until it answers (the
/// descriptor may not be published yet), within `within`.
fn fetch_when_up(client: &TestClient, url: &str, within: Duration) -> Vec<u8> {
    let socks = client.socks.to_string();
    wait_until(url, within, || {
        let out = curl(&["--socks5-hostname", &socks, url]);
        out.status.success().then_some(out.stdout)
    })
}

struct Network {
    root: tempfile::TempDir,
    entries: String,
    relays: Vec<Node>,
    _authorities: Vec<Node>,
    backend: u16,
}

fn network() -> Network {
    let root = tempfile::tempdir().unwrap();
    let auths = start_authorities(root.path(), &["127.0.6.1", "127.0.6.2", "127.0.6.3"], 8, 3);
    let relays = (0..8u8)
        .map(|i| {
            start_relay(
                root.path(),
                &format!("relay{i}"),
                &format!("127.0.6.{}", 10 + i),
                &auths.entries,
                8,
                "",
            )
        })
        .collect();
    Network {
        root,
        entries: auths.entries,
        relays,
        _authorities: auths.nodes,
        backend: start_backend(),
    }
}

#[test]
fn curl_reaches_a_backend_behind_an_onion_service() {
    let net = network();
    let service = start_service(net.root.path(), "service", &net.entries, net.backend, "");
    assert!(service.address.ends_with(".warren"), "{}", service.address);
    let mut client = start_client(net.root.path(), "client", "127.0.6.40", &net.entries, "");
    client
        .node
        .wait_for_output("bootstrap 100%", Duration::from_secs(60));
    let started = Instant::now();
    let hello = format!("http://{}/hello", service.address);
    assert_eq!(
        fetch_when_up(&client, &hello, Duration::from_secs(60)),
        HELLO.as_bytes()
    );
    eprintln!("first onion response after {:?}", started.elapsed());
    // The HTTP proxy too.
    let http = format!("http://{}", client.http);
    let out = curl(&["-x", &http, &hello]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, HELLO.as_bytes());
    drop(net.relays);
}
