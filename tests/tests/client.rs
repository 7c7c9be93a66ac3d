//! `warren client` against a real process network on 127.0.0.x (docs/spec.md
//! §14): three authorities, five relays (one an exit for loopback targets
//! only) and a client, used by real curl through SOCKS5 and the HTTP proxy,
//! and by a third-party SOCKS library (Python's PySocks); bad requests get
//! their protocol's error reply and the entries keep serving.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test: a failure must fail the test"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

use warren_tests::procs::{
    HELLO, Node, TestClient, free_port, http_get, start_authorities, start_backend, start_client,
    start_relay, wait_until,
};

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is installed")
}

fn curl_ok(args: &[&str]) -> String {
    let out = curl(args);
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Sends `bytes` (then half-closes when `close`) and reads the answer.
fn raw(addr: SocketAddr, bytes: &[u8], close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    // The entry may answer and close before it has read everything (an
    // oversized or garbled request): a failed write or half-close is then
    // expected, and the answer is what the test checks.
    let _ = s.write_all(bytes);
    if close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

struct Network {
    metrics: SocketAddr,
    root: tempfile::TempDir,
    _nodes: Vec<Node>,
    client: TestClient,
    backend: u16,
}

fn network() -> Network {
    let root = tempfile::tempdir().unwrap();
    let auths = start_authorities(root.path(), &["127.0.4.1", "127.0.4.2", "127.0.4.3"], 8, 3);
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..5u8 {
        let extra = if i == 4 {
            "exit_policy = [\"accept 127.0.0.0/8:1-65535\", \"reject *:*\"]"
        } else {
            ""
        };
        nodes.push(start_relay(
            root.path(),
            &format!("relay{i}"),
            &format!("127.0.4.{}", 10 + i),
            &auths.entries,
            8,
            extra,
        ));
    }
    let metrics: SocketAddr = format!("127.0.4.30:{}", free_port("127.0.4.30"))
        .parse()
        .unwrap();
    let mut client = start_client(
        root.path(),
        "client",
        "127.0.4.30",
        &auths.entries,
        &format!("metrics_listen = \"{metrics}\""),
    );
    client
        .node
        .wait_for_output("bootstrap 100%", Duration::from_secs(60));
    nodes.extend(auths.nodes);
    Network {
        metrics,
        root,
        _nodes: nodes,
        client,
        backend: start_backend(),
    }
}

#[test]
fn curl_and_pysocks_reach_a_backend_and_bad_requests_get_error_replies() {
    let mut net = network();
    let socks = net.client.socks.to_string();
    let http = format!("http://{}", net.client.http);
    let hello = format!("http://127.0.0.1:{}/hello", net.backend);

    // SOCKS5 with names resolved at the exit, the HTTP proxy with an
    // absolute URI, and a CONNECT tunnel through the HTTP proxy.
    assert_eq!(curl_ok(&["--socks5-hostname", &socks, &hello]), HELLO);
    assert_eq!(curl_ok(&["-x", &http, &hello]), HELLO);
    assert_eq!(curl_ok(&["-p", "-x", &http, &hello]), HELLO);
    // SOCKS4a, and SOCKS5 with a username and password.
    assert_eq!(curl_ok(&["--socks4a", &socks, &hello]), HELLO);
    assert_eq!(
        curl_ok(&[
            "--socks5-hostname",
            &socks,
            "--proxy-user",
            "alice:pw",
            &hello
        ]),
        HELLO
    );
    // A larger body, every byte checked.
    let big = curl(&[
        "--socks5-hostname",
        &socks,
        &format!("http://127.0.0.1:{}/bytes/3000000", net.backend),
    ]);
    assert!(big.status.success(), "{big:?}");
    assert_eq!(big.stdout.len(), 3_000_000);
    assert!(
        big.stdout
            .iter()
            .enumerate()
            .all(|(i, b)| *b == warren_tests::net::pattern(i))
    );

    // A third-party SOCKS library.
    let script = format!(
        "import socks\n\
         s = socks.socksocket()\n\
         s.set_proxy(socks.SOCKS5, '{}', {}, rdns=True)\n\
         s.settimeout(30)\n\
         s.connect(('127.0.0.1', {}))\n\
         s.sendall(b'GET /hello HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n\
         data = b''\n\
         while True:\n\
         \x20   chunk = s.recv(4096)\n\
         \x20   if not chunk: break\n\
         \x20   data += chunk\n\
         print(data.decode().split('\\r\\n\\r\\n', 1)[1])\n",
        net.client.socks.ip(),
        net.client.socks.port(),
        net.backend
    );
    let py = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        py.status.success(),
        "PySocks (pip install pysocks; .ci/run installs it): {py:?}"
    );
    assert_eq!(String::from_utf8(py.stdout).unwrap().trim(), HELLO);

    // Outside what the exit allows: the SOCKS not-allowed reply, HTTP 403.
    let out = curl(&["--socks5-hostname", &socks, "http://192.0.2.1/"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    // curl names the reply, or gives its code: 2, not allowed by ruleset.
    assert!(err.contains("not allowed") || err.contains("(2)"), "{err}");
    let code = curl(&[
        "-x",
        &http,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://192.0.2.1/",
    ]);
    assert_eq!(String::from_utf8_lossy(&code.stdout), "403");

    // A mistyped .warren address: host unreachable, and a 4xx with a reason.
    let out = curl(&["--socks5-hostname", &socks, "http://notanaddress.warren/"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    // Reply 4: host unreachable.
    assert!(err.contains("unreachable") || err.contains("(4)"), "{err}");
    let out = curl(&["-x", &http, "http://notanaddress.warren/"]);
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.starts_with("mistyped .warren address"), "{body}");

    // Garbage, truncated and unsupported SOCKS requests.
    let socks_addr = net.client.socks;
    assert_eq!(raw(socks_addr, b"hello there\r\n", true), [5, 0xff]);
    // CONNECT to a truncated name.
    let reply = raw(socks_addr, &[5, 1, 0, 5, 1, 0, 3, 30, b'a', b'b'], true);
    assert_eq!(&reply[..2], [5, 0]);
    assert_eq!(reply[3], 1, "general failure: {reply:?}");
    // BIND.
    let reply = raw(
        socks_addr,
        &[5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80],
        true,
    );
    assert_eq!(&reply[2..4], [5, 7]);
    // SOCKS4 with an endless user id.
    let mut long = vec![4, 1, 0, 80, 127, 0, 0, 1];
    long.extend(std::iter::repeat_n(b'x', 1000));
    assert_eq!(raw(socks_addr, &long, true)[..2], [0, 91]);

    // Garbage, truncated and oversized HTTP requests.
    let http_addr = net.client.http;
    let status = |bytes: &[u8], close| {
        let reply = raw(http_addr, bytes, close);
        String::from_utf8_lossy(&reply)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        status(b"\x16\x03\x01garbage\r\n\r\n", true),
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(
        status(b"GET http://127.0.0.1/ HT", true),
        "HTTP/1.1 400 Bad Request"
    );
    let mut oversized = b"GET http://127.0.0.1/ HTTP/1.1\r\nX-Big: ".to_vec();
    oversized.extend(std::iter::repeat_n(b'a', 40_000));
    assert_eq!(
        status(&oversized, false),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(
        status(b"GET /hello HTTP/1.1\r\n\r\n", true),
        "HTTP/1.1 400 Bad Request"
    );

    // And both entries keep serving.
    assert_eq!(curl_ok(&["--socks5-hostname", &socks, &hello]), HELLO);
    assert_eq!(curl_ok(&["-x", &http, &hello]), HELLO);
    net.client.node.assert_running();

    // The metrics port: bootstrap progress and aggregate counters only.
    let (status, body) = http_get(net.metrics, "/metrics").expect("metrics answer");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("warren_client_bootstrap_percent 100"),
        "{text}"
    );
    assert!(!text.contains("127.0.0.1"), "no address in metrics: {text}");
    let opened: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("warren_client_streams_opened_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(opened >= 8, "{text}");

    // Idle, the client waits, also once a newer consensus has come (the
    // circuit manager then has a change to wait past): over two seconds it
    // uses a small part of a core, where a busy loop would use all of it.
    let consensus = net.root.path().join("client").join("consensus");
    let modified = || {
        std::fs::metadata(&consensus)
            .and_then(|m| m.modified())
            .ok()
    };
    let first = modified();
    wait_until(
        "a newer consensus at the client",
        Duration::from_secs(40),
        || (modified() != first).then_some(()),
    );
    let before = net.client.node.cpu_ticks().expect("client running");
    std::thread::sleep(Duration::from_secs(2));
    let used = net.client.node.cpu_ticks().expect("client running") - before;
    assert!(used < 50, "an idle client used {used} ticks of CPU in 2 s");
}
