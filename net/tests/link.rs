//! Cell links between real libp2p hosts on 127.0.0.x (docs/spec.md §13).

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure must fail the test"
)]

use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::RelayIdentityKeypair;
use warren_net::Multiaddr;
use warren_net::host::{Host, HostConfig, IncomingLinks};
use warren_proto::cell::{Cell, CellCmd, CircId};

const DEADLINE: Duration = Duration::from_secs(30);

async fn host(seed: u64, ip: &str) -> (Host, IncomingLinks, RelayIdentityKeypair) {
    host_on(seed, &format!("/ip4/{ip}/tcp/0")).await
}

async fn host_on(seed: u64, listen: &str) -> (Host, IncomingLinks, RelayIdentityKeypair) {
    let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let config = HostConfig {
        listen: vec![listen.parse().expect("multiaddr")],
        idle_timeout: Duration::from_secs(5),
        serve_directory: false,
    };
    let (host, incoming) = Host::start(&key, &config).await.expect("host starts");
    (host, incoming.links, key)
}

fn cell(n: u32) -> Cell {
    let mut body = [0u8; 512];
    body[..4].copy_from_slice(&n.to_be_bytes());
    Cell {
        circ_id: CircId(7),
        cmd: CellCmd::RELAY,
        body,
    }
}

#[tokio::test]
async fn cells_cross_a_link_in_order_both_ways() {
    const CELLS: u32 = 20_000;
    let (a, _a_in, _) = host(1, "127.0.0.1").await;
    let (b, mut b_in, _) = host(2, "127.0.0.2").await;
    let echo = tokio::spawn(async move {
        let link = b_in.next().await.expect("incoming link");
        let peer = *link.peer();
        let (mut reader, writer) = link.split();
        while let Some(cell) = reader.recv().await.expect("recv") {
            writer.send(cell).await.expect("echo");
        }
        peer
    });
    let link = a
        .open_link(b.identity(), b.listen_addrs())
        .await
        .expect("open link");
    assert_eq!(link.peer(), b.identity());
    let (mut reader, writer) = link.split();
    let sender = tokio::spawn(async move {
        for n in 0..CELLS {
            writer.send(cell(n)).await.expect("send");
        }
    });
    let received = tokio::time::timeout(DEADLINE, async {
        for n in 0..CELLS {
            let got = reader.recv().await.expect("recv").expect("a cell");
            assert_eq!(got, cell(n), "cell {n}");
        }
    })
    .await;
    assert!(received.is_ok(), "echo did not finish in time");
    sender.await.expect("sender");
    drop(reader);
    let peer = tokio::time::timeout(DEADLINE, echo)
        .await
        .expect("echo ends")
        .expect("echo task");
    assert_eq!(&peer, a.identity(), "the link authenticated the dialler");
}

#[tokio::test]
async fn a_link_to_the_wrong_identity_fails() {
    let (a, _a_in, _) = host(3, "127.0.0.1").await;
    let (b, _b_in, _) = host(4, "127.0.0.3").await;
    let impostor = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(5)).public();
    let addrs: Vec<Multiaddr> = b.listen_addrs().to_vec();
    let result = tokio::time::timeout(DEADLINE, a.open_link(&impostor, &addrs)).await;
    assert!(
        matches!(result, Ok(Err(_))),
        "a link to {impostor:?} at b's address must fail"
    );
}

#[tokio::test]
async fn a_link_over_quic_carries_cells_and_authenticates_the_peer() {
    let (a, _a_in, _) = host_on(11, "/ip4/127.0.0.11/udp/0/quic-v1").await;
    let (b, mut b_in, _) = host_on(12, "/ip4/127.0.0.12/udp/0/quic-v1").await;
    assert!(b.listen_addrs()[0].to_string().contains("/quic-v1"));
    let echo = tokio::spawn(async move {
        let link = b_in.next().await.expect("incoming link");
        let peer = *link.peer();
        let (mut reader, writer) = link.split();
        while let Some(cell) = reader.recv().await.expect("recv") {
            writer.send(cell).await.expect("echo");
        }
        peer
    });
    let link = tokio::time::timeout(DEADLINE, a.open_link(b.identity(), b.listen_addrs()))
        .await
        .expect("in time")
        .expect("open link over QUIC");
    assert_eq!(link.peer(), b.identity());
    let (mut reader, writer) = link.split();
    for n in 0..1000 {
        writer.send(cell(n)).await.expect("send");
    }
    for n in 0..1000 {
        let got = tokio::time::timeout(DEADLINE, reader.recv())
            .await
            .expect("in time")
            .expect("recv")
            .expect("a cell");
        assert_eq!(got, cell(n), "cell {n}");
    }
    drop(writer);
    drop(reader);
    let peer = tokio::time::timeout(DEADLINE, echo)
        .await
        .expect("echo ends")
        .expect("echo task");
    assert_eq!(&peer, a.identity());
}
