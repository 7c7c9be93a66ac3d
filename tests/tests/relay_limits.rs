//! What a relay operator sets and the relay keeps to (docs/spec.md §13.5),
//! on real relays over real sockets: the bandwidth rate, the cap on queued
//! memory (the heaviest circuit is closed, the others keep working), and
//! the loopback metrics port.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure must fail the test"
)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_proto::cell::DestroyReason;
use warren_tests::net::{
    DEADLINE, Origin, client_host, echo_server, source_server, start_relay_configured,
};

const LOOPBACK_EXIT: &str = "accept 127.0.0.0/8:1-65535";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bandwidth_rate_paces_a_download() {
    // 1 MB/s with a 1 MB burst: 3 MB cannot take much less than 2 s.
    let relay = start_relay_configured("127.0.0.51", |c| {
        c.exit_policy = Some(std::sync::Arc::new(LOOPBACK_EXIT.parse().unwrap()));
        c.bandwidth_rate = Some(1_000_000);
        c.bandwidth_burst = Some(1_000_000);
    })
    .await;
    let total = 3_000_000;
    let port = source_server(total).await;
    let host = client_host(51).await;
    let mut origin = Origin::build(&host, &[&relay]).await;
    let started = Instant::now();
    let id = origin.connect(port).await;
    assert_eq!(origin.download(id).await, total);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1800),
        "3 MB at 1 MB/s took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_memory_cap_the_heaviest_circuit_is_closed_and_the_rest_served() {
    // 64 KiB of queues: one stalled download fills far more.
    let relay = start_relay_configured("127.0.0.52", |c| {
        c.exit_policy = Some(std::sync::Arc::new(LOOPBACK_EXIT.parse().unwrap()));
        c.max_queue_bytes = 64 * 1024;
        c.metrics_listen = Some("127.0.0.52:0".parse().unwrap());
    })
    .await;
    let host = client_host(52).await;
    let mut idle = Origin::build(&host, &[&relay]).await;
    let mut heavy = Origin::build(&host, &[&relay]).await;
    let port = source_server(64 << 20).await;
    // Two streams, then stop reading the link: the relay's queue towards
    // this origin grows to what the windows allow.
    let now = heavy.now();
    heavy.circuit.begin_stream(now, "127.0.0.1", port).unwrap();
    let now = heavy.now();
    heavy.circuit.begin_stream(now, "127.0.0.1", port).unwrap();
    heavy.flush().await;
    let shed = async {
        loop {
            let m = metrics(&relay).await;
            if m.contains("warren_relay_circuits_shed_total 1") {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let m = tokio::time::timeout(DEADLINE, shed)
        .await
        .expect("the heavy circuit is shed");
    assert!(m.contains("warren_relay_circuits_open 1"), "{m}");
    // The stalled origin, reading again, finds its circuit closed for
    // lack of resources.
    heavy
        .until("DESTROY", |e| {
            e.iter()
                .any(|e| matches!(e, warren_proto::circuit::CircEvent::Closed(_)))
        })
        .await;
    assert_eq!(heavy.closed(), Some(DestroyReason::RESOURCELIMIT));
    // The idle circuit still carries a stream.
    let echo = echo_server().await;
    let id = idle.connect(echo).await;
    idle.echo(id, 100_000).await;
}

/// The relay's metrics page.
async fn metrics(relay: &warren_tests::net::TestRelay) -> String {
    let addr = relay
        .relay
        .as_ref()
        .unwrap()
        .metrics_addr()
        .expect("metrics on");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    out
}
