//! Real relays over real libp2p sockets on 127.0.0.x, driven by the origin
//! state machine (docs/spec.md §9, §13), with the harness of
//! `warren_tests::net`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure must fail the test"
)]

use std::time::{Duration, Instant};

use warren_proto::cell::{Cell, CellCmd, CircId, DestroyReason};
use warren_proto::circuit::CircEvent;
use warren_tests::net::{
    DEADLINE, Origin, client_host, echo_server, expect_exit_refusal, start_relay, start_relay_with,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_hop_circuit_through_real_relays() {
    let relays = [
        start_relay("127.0.0.2", 100).await,
        start_relay("127.0.0.3", 100).await,
        start_relay("127.0.0.4", 100).await,
    ];
    let host = client_host(1).await;
    let mut origin = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
    assert_eq!(origin.circuit.hop_count(), 3);
    expect_exit_refusal(&mut origin, 80).await;
    for r in &relays {
        assert_eq!(r.relay.as_ref().unwrap().open_circuits(), 1);
    }
    origin.circuit.destroy(DestroyReason::REQUESTED);
    origin.flush().await;
    let all_closed = async {
        while relays
            .iter()
            .any(|r| r.relay.as_ref().unwrap().open_circuits() > 0)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, all_closed)
        .await
        .expect("every relay forgot the circuit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_circuit_tears_the_circuit_down_promptly() {
    let mut relays = [
        start_relay("127.0.0.5", 100).await,
        start_relay("127.0.0.6", 100).await,
        start_relay("127.0.0.7", 100).await,
    ];
    let host = client_host(2).await;
    let mut origin = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
    let killed = Instant::now();
    relays[1].relay = None;
    origin
        .until("the teardown", |e| {
            e.iter().any(|e| matches!(e, CircEvent::Closed(_)))
        })
        .await;
    assert_eq!(origin.closed(), Some(DestroyReason::CHANNEL_CLOSED));
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "teardown took {:?}",
        killed.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_for_1000_circuits_refuses_the_1001st_cleanly() {
    const MAX: usize = 1000;
    let relay = start_relay("127.0.0.8", MAX).await;
    let host = client_host(3).await;
    let mut open = Vec::with_capacity(MAX);
    for _ in 0..MAX {
        let mut origin = Origin::create(&host, &relay).await;
        origin
            .until("CREATED", |e| e.contains(&CircEvent::Extended { hops: 1 }))
            .await;
        open.push(origin);
    }
    assert_eq!(relay.relay.as_ref().unwrap().open_circuits(), MAX);
    let mut refused = Origin::create(&host, &relay).await;
    refused
        .until("DESTROY", |e| {
            e.iter().any(|e| matches!(e, CircEvent::Closed(_)))
        })
        .await;
    assert_eq!(refused.closed(), Some(DestroyReason::RESOURCELIMIT));
    // The circuits already open still work, and a freed slot is reused.
    expect_exit_refusal(&mut open[0], 80).await;
    let mut gone = open.pop().unwrap();
    gone.circuit.destroy(DestroyReason::REQUESTED);
    gone.flush().await;
    let freed = async {
        while relay.relay.as_ref().unwrap().open_circuits() >= MAX {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, freed)
        .await
        .expect("the slot is freed");
    let mut again = Origin::create(&host, &relay).await;
    again
        .until("CREATED", |e| e.contains(&CircEvent::Extended { hops: 1 }))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_cells_close_only_their_circuits() {
    let relays = [
        start_relay("127.0.0.9", 2000).await,
        start_relay("127.0.0.10", 2000).await,
    ];
    let host = client_host(4).await;
    let mut healthy = Origin::build(&host, &[&relays[0], &relays[1]]).await;
    // 100 circuits, each sent 10 malformed cells: 1,000 in all.
    let mut victims = Vec::new();
    for v in 0..100u32 {
        let mut origin = Origin::create(&host, &relays[0]).await;
        origin
            .until("CREATED", |e| e.contains(&CircEvent::Extended { hops: 1 }))
            .await;
        for k in 0..10u32 {
            let mut body = [0u8; 512];
            body[..8].copy_from_slice(&(u64::from(v) << 32 | u64::from(k)).to_be_bytes());
            let cmd = [
                CellCmd::RELAY,
                CellCmd(200),
                CellCmd::CREATED,
                CellCmd::PADDING,
            ][(k % 4) as usize];
            let _ = origin
                .tx
                .send(Cell {
                    circ_id: CircId(1),
                    cmd,
                    body,
                })
                .await;
        }
        victims.push(origin);
    }
    for origin in &mut victims {
        // Each victim circuit is destroyed (or its link dropped) by the relay.
        let wait = async {
            loop {
                match origin.rx.recv().await {
                    Ok(Some(cell)) if cell.cmd == CellCmd::DESTROY => return,
                    Ok(Some(_)) => {}
                    _ => return,
                }
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("the relay closed the bad circuit");
    }
    expect_exit_refusal(&mut healthy, 80).await;
    assert!(healthy.closed().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_100_mib_through_three_real_relays_to_an_exit_target() {
    const TOTAL: usize = 100 * 1024 * 1024;
    let relays = [
        start_relay("127.0.0.12", 100).await,
        start_relay("127.0.0.13", 100).await,
        start_relay_with("127.0.0.14", 100, Some("accept 127.0.0.0/8:1-65535")).await,
    ];
    let port = echo_server().await;
    let host = client_host(5).await;
    let mut origin = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
    let id = origin.connect(port).await;
    let started = Instant::now();
    origin.echo(id, TOTAL).await;
    eprintln!(
        "100 MiB up and back through three relays in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_refuses_what_its_policy_does_not_allow() {
    let relay = start_relay_with("127.0.0.15", 100, Some("accept 127.0.0.1/32:1-1000")).await;
    let host = client_host(6).await;
    let mut origin = Origin::build(&host, &[&relay]).await;
    expect_exit_refusal(&mut origin, 8080).await;
}
