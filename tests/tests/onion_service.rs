//! `warren service` on a real process network on 127.0.0.x (docs/spec.md
//! §15, §16): three authorities, eight relays, a backend behind an onion
//! service, and clients using it with real curl through SOCKS and the HTTP
//! proxy: a JSON answer and a 50 MiB body checked byte by byte; restricted
//! discovery with keys added and revoked while the service runs; an intro
//! point killed and a service restarted; and, from the relays' test-mode
//! hop records, that no relay saw both the client and the service and that
//! no stored descriptor contains the service's address.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test: a failure must fail the test"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use warren_crypto::HsAddress;
use warren_tests::net::pattern;
use warren_tests::procs::{
    HELLO, Node, TestClient, TestService, free_port, http_get, start_authorities, start_backend,
    start_client, start_relay, start_service, start_service_with, wait_until, warren_bin,
};

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "120"])
        .args(args)
        .output()
        .expect("curl is installed")
}

/// Fetches `url` through the client's SOCKS entry, with `user` as the SOCKS
/// username (a fresh name: a fresh rendezvous), until it answers, within
/// `within`.
fn fetch_when_up(client: &TestClient, user: &str, url: &str, within: Duration) -> Vec<u8> {
    let socks = client.socks.to_string();
    wait_until(url, within, || {
        let out = curl(&[
            "--socks5-hostname",
            &socks,
            "--proxy-user",
            &format!("{user}:x"),
            url,
        ]);
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

/// Three authorities and eight relays on 127.0.`net`.x; `extra` goes into
/// every relay.toml, with `{dir}` replaced by the relay's directory.
fn network(net: u8, extra: &str) -> Network {
    let root = tempfile::tempdir().unwrap();
    let ips: Vec<String> = (1..=3).map(|i| format!("127.0.{net}.{i}")).collect();
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    let auths = start_authorities(root.path(), &ips, 8, 3);
    let relays = (0..8u8)
        .map(|i| {
            let name = format!("relay{i}");
            let dir = root.path().join(&name);
            start_relay(
                root.path(),
                &name,
                &format!("127.0.{net}.{}", 10 + i),
                &auths.entries,
                8,
                &extra.replace("{dir}", dir.to_str().unwrap()),
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

fn client(net: &Network, name: &str, ip: &str, extra: &str) -> TestClient {
    let mut c = start_client(net.root.path(), name, ip, &net.entries, extra);
    c.node
        .wait_for_output("bootstrap 100%", Duration::from_secs(60));
    c
}

/// The libp2p peer id a process logged for its host.
fn peer_id(node: &Node) -> String {
    node.log_text()
        .lines()
        .find_map(|l| l.split("local_peer_id=").nth(1))
        .map(|s| {
            s.trim_matches(|c: char| !c.is_ascii_alphanumeric())
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap()
                .to_owned()
        })
        .expect("the host logged its peer id")
}

#[test]
fn curl_reaches_a_backend_behind_an_onion_service_and_no_relay_sees_both_ends() {
    let net = network(6, "record_hops = \"{dir}/hops.txt\"");
    let service = start_service(net.root.path(), "service", &net.entries, net.backend, "");
    assert!(service.address.ends_with(".warren"), "{}", service.address);
    let client = client(&net, "client", "127.0.6.40", "");
    let started = Instant::now();
    let hello = format!("http://{}/hello", service.address);
    assert_eq!(
        fetch_when_up(&client, "a", &hello, Duration::from_secs(60)),
        HELLO.as_bytes()
    );
    eprintln!("first onion response after {:?}", started.elapsed());
    // The HTTP proxy too, and a 50 MiB body, every byte checked.
    let http = format!("http://{}", client.http);
    let out = curl(&["-x", &http, &hello]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, HELLO.as_bytes());
    let size = 50 << 20;
    let started = Instant::now();
    let body = fetch_when_up(
        &client,
        "bulk",
        &format!("http://{}/bytes/{size}", service.address),
        Duration::from_secs(120),
    );
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(body.len(), size);
    assert!(body.iter().enumerate().all(|(i, b)| *b == pattern(i)));
    eprintln!(
        "50 MiB in {secs:.1} s ({:.1} MB/s)",
        size as f64 / secs / 1e6
    );
    // A port the service does not map is refused.
    let out = curl(&[
        "--socks5-hostname",
        &client.socks.to_string(),
        &format!("http://{}:81/hello", service.address),
    ]);
    assert!(!out.status.success());

    // Anonymity: every relay's record of its circuits' neighbours.
    let client_peer = peer_id(&client.node);
    let service_peer = peer_id(&service.node);
    let mut lines = Vec::new();
    for relay in &net.relays {
        let text = std::fs::read_to_string(relay.dir.join("hops.txt")).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    let circuits: Vec<&String> = lines.iter().filter(|l| l.starts_with("circuit")).collect();
    assert!(circuits.iter().any(|l| l.contains(&client_peer)));
    assert!(circuits.iter().any(|l| l.contains(&service_peer)));
    assert!(circuits.iter().any(|l| l.contains(" joined ")));
    for l in &circuits {
        assert!(
            !(l.contains(&client_peer) && l.contains(&service_peer)),
            "a relay saw both ends: {l}"
        );
    }
    // No stored descriptor names the service: neither its address nor its
    // identity key appears in one.
    let address: HsAddress = service.address.parse().unwrap();
    let identity = hex::encode(address.identity().as_bytes());
    let name = service.address.trim_end_matches(".warren");
    let descriptors: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("descriptor"))
        .collect();
    assert!(!descriptors.is_empty());
    for d in descriptors {
        assert!(!d.contains(&identity));
        let bytes = hex::decode(d.trim_start_matches("descriptor ")).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(name));
    }
}

/// Makes a client key with `warren keygen client`; returns its public hex.
fn client_key(path: &Path) -> String {
    let out = Command::new(warren_bin())
        .args(["keygen", "client", "--out"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A service counter from its metrics page.
fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (_, body) = http_get(addr, "/metrics").expect("the metrics port answers");
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn only_listed_clients_reach_a_restricted_service_and_keys_change_without_a_restart() {
    let net = network(8, "");
    let keys = net.root.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let alice = client_key(&keys.join("alice.key"));
    let bob = client_key(&keys.join("bob.key"));
    let clients = net.root.path().join("clients");
    std::fs::write(&clients, format!("# alice\n{alice}\n")).unwrap();
    let metrics: SocketAddr = format!("127.0.8.30:{}", free_port("127.0.8.30"))
        .parse()
        .unwrap();
    let service = start_service_with(
        net.root.path(),
        "service",
        &net.entries,
        net.backend,
        &format!("metrics_listen = \"{metrics}\""),
        &format!("clients_file = {clients:?}"),
    );
    let with_key = |who: &str| {
        format!(
            "[[onion_keys]]\naddress = \"{}\"\nkey_file = {:?}\n",
            service.address,
            keys.join(format!("{who}.key"))
        )
    };
    let a = client(&net, "alice", "127.0.8.41", &with_key("alice"));
    let b = client(&net, "bob", "127.0.8.42", &with_key("bob"));
    let hello = format!("http://{}/hello", service.address);
    assert_eq!(
        fetch_when_up(&a, "1", &hello, Duration::from_secs(60)),
        HELLO.as_bytes()
    );
    // Bob's key is not listed: a clear refusal at both entries.
    let out = curl(&["--socks5-hostname", &b.socks.to_string(), &hello]);
    assert!(!out.status.success());
    let http = format!("http://{}", b.http);
    let out = curl(&["-x", &http, "-w", "%{http_code}", &hello]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.ends_with("403"), "{text}");
    assert!(text.contains("not authorised for this service"), "{text}");

    // Revoke alice, list bob, without restarting the service.
    std::fs::write(&clients, format!("# bob\n{bob}\n")).unwrap();
    service_republished(&service, 2);
    let b2 = client(&net, "bob2", "127.0.8.43", &with_key("bob"));
    assert_eq!(
        fetch_when_up(&b2, "1", &hello, Duration::from_secs(30)),
        HELLO.as_bytes()
    );
    let a2 = client(&net, "alice2", "127.0.8.44", &with_key("alice"));
    let out = curl(&["-x", &format!("http://{}", a2.http), &hello]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("not authorised"));
    // Alice's first client holds the old descriptor: its introduction is
    // refused by the service before any rendezvous circuit is built.
    let joined = metric(metrics, "warren_service_rendezvous_joined");
    let out = curl(&[
        "--max-time",
        "8",
        "--socks5-hostname",
        &a.socks.to_string(),
        "--proxy-user",
        "2:x",
        &hello,
    ]);
    assert!(!out.status.success());
    wait_until("a refused introduction", Duration::from_secs(10), || {
        (metric(metrics, "warren_service_introductions_refused") > 0).then_some(())
    });
    assert_eq!(metric(metrics, "warren_service_rendezvous_joined"), joined);
    assert_eq!(address_after_restart(&service), service.address);
}

/// Waits until the service logged its `n`th descriptor publication.
fn service_republished(service: &TestService, n: usize) {
    wait_until(
        "the descriptor republished",
        Duration::from_secs(20),
        || {
            (service
                .node
                .log_text()
                .matches("descriptor published")
                .count()
                >= n)
                .then_some(())
        },
    );
}

/// The address `warren service address` prints for the same config.
fn address_after_restart(service: &TestService) -> String {
    let out = Command::new(warren_bin())
        .args(["service", "address", "--config"])
        .arg(&service.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

#[test]
fn a_service_recovers_from_a_dead_intro_point_and_from_a_restart() {
    let mut net = network(9, "");
    let mut service = start_service(net.root.path(), "service", &net.entries, net.backend, "");
    let client = client(&net, "client", "127.0.9.40", "");
    let hello = format!("http://{}/hello", service.address);
    assert_eq!(
        fetch_when_up(&client, "1", &hello, Duration::from_secs(60)),
        HELLO.as_bytes()
    );
    // Kill one intro point: within 30 s a new connection works again.
    let intro = service
        .node
        .log_text()
        .lines()
        .find_map(|l| l.split("relay=").nth(1))
        .map(|s| s.split_whitespace().next().unwrap().to_owned())
        .expect("the service logged an intro point");
    let identity: warren_crypto::RelayIdentity = intro.parse().unwrap();
    let peer = warren_net::peer::peer_id(&identity).unwrap().to_string();
    let victim = net
        .relays
        .iter()
        .position(|r| peer_id(r) == peer)
        .expect("the intro point is one of the relays");
    net.relays[victim].kill();
    let killed = Instant::now();
    assert_eq!(
        fetch_when_up(&client, "2", &hello, Duration::from_secs(30)),
        HELLO.as_bytes()
    );
    eprintln!("reachable {:?} after an intro point died", killed.elapsed());
    service_republished(&service, 2);

    // Restart the service: same address, reachable again.
    let address = service.address.clone();
    service.node.kill();
    service = start_service(net.root.path(), "service", &net.entries, net.backend, "");
    assert_eq!(service.address, address);
    let restarted = Instant::now();
    assert_eq!(
        fetch_when_up(&client, "3", &hello, Duration::from_secs(60)),
        HELLO.as_bytes()
    );
    eprintln!("reachable {:?} after a restart", restarted.elapsed());
}
