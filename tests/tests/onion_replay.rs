//! A replayed introduction on a real process network (docs/spec.md §16.1,
//! §16.3): a raw client introduces itself to a `warren service` once and
//! reaches its backend through the joined circuit; the very same INTRODUCE1
//! bytes, sent again on another circuit to the same intro point, are
//! relayed (the intro point cannot tell) but the service refuses them:
//! nothing comes to a fresh rendezvous circuit holding the same cookie at
//! the same rendezvous point, and the service counts a replay.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test: a failure must fail the test"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use warren_crypto::HsAddress;
use warren_proto::relay_msg::IntroduceAckStatus;
use warren_tests::onion::{
    RawClient, make_introduction, read_metric, wait_for_consensus, wait_for_descriptor,
};
use warren_tests::procs::{
    HELLO, free_port, start_authorities, start_backend, start_relay, start_service_with, wait_until,
};

const REPLAYED: &str = "reason=\"replayed\"";

fn metric(addr: SocketAddr, name: &str, labels: &str) -> f64 {
    read_metric(addr, &format!("warren_service_{name}"), labels)
        .expect("the service's metrics port answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_introduction_is_relayed_but_not_answered() {
    let started = Instant::now();
    let root = tempfile::tempdir().unwrap();
    let auths = start_authorities(root.path(), &["127.0.7.1", "127.0.7.2", "127.0.7.3"], 8, 3);
    let _relays: Vec<_> = (0..8u8)
        .map(|i| {
            start_relay(
                root.path(),
                &format!("relay{i}"),
                &format!("127.0.7.{}", 10 + i),
                &auths.entries,
                8,
                "",
            )
        })
        .collect();
    let backend = start_backend();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let service = start_service_with(
        root.path(),
        "service",
        &auths.entries,
        backend,
        &format!("metrics_listen = \"{metrics}\""),
        "",
    );
    let address: HsAddress = service.address.parse().unwrap();

    let consensus = wait_for_consensus(&auths.http, &auths.entries, 8, Duration::from_secs(40));
    let mut client = RawClient::new(7, consensus).await;
    // The descriptor appears once the service's intro points are up.
    let descriptor = wait_for_descriptor(
        &mut client,
        &auths.http,
        &auths.entries,
        &address,
        Duration::from_secs(40),
    )
    .await
    .unwrap();
    let intro = descriptor.content.intro_points[0].clone();
    let intro_relays: Vec<_> = descriptor
        .content
        .intro_points
        .iter()
        .map(|i| i.relay)
        .collect();

    // The first introduction: RENDEZVOUS2 comes, the backend answers.
    let mut rend = client.rendezvous(&intro_relays).await.unwrap();
    let introduction =
        make_introduction(&descriptor, &intro, &rend.point, rend.cookie, Vec::new()).unwrap();
    let mut intro_circuit = client.intro_circuit(&intro).await.unwrap();
    assert_eq!(
        intro_circuit
            .introduce(&introduction.message)
            .await
            .unwrap(),
        IntroduceAckStatus::SUCCESS
    );
    let handshake = rend
        .circuit
        .rendezvous2(Duration::from_secs(30))
        .await
        .unwrap();
    rend.circuit.join(introduction.state, &handshake).unwrap();
    let (status, body) = rend.circuit.http_get("/hello").await.unwrap();
    assert_eq!((status, body.as_slice()), (200, HELLO.as_bytes()));
    wait_until(
        "the rendezvous to be counted",
        Duration::from_secs(5),
        || (metric(metrics, "rendezvous_joined", "") == 1.0).then_some(()),
    );

    // The cookie joined once, so it is free again at the rendezvous point:
    // a fresh circuit holds it there, where an answer to the replay would
    // come.
    let mut fresh = client
        .rendezvous_at(&rend.point, rend.cookie)
        .await
        .unwrap();
    // The same bytes on another circuit to the same intro point: relayed.
    let mut second = client.intro_circuit(&intro).await.unwrap();
    assert_eq!(
        second.introduce(&introduction.message).await.unwrap(),
        IntroduceAckStatus::SUCCESS
    );
    let answer = fresh.circuit.rendezvous2(Duration::from_secs(10)).await;
    assert!(
        answer.is_err(),
        "the service answered a replayed introduction"
    );
    assert_eq!(metric(metrics, "introductions_refused", REPLAYED), 1.0);
    assert_eq!(metric(metrics, "introductions", ""), 1.0);
    assert_eq!(metric(metrics, "rendezvous_joined", ""), 1.0);

    // The control: a fresh introduction naming the same cookie is answered
    // on that very circuit.
    let again =
        make_introduction(&descriptor, &intro, &fresh.point, fresh.cookie, Vec::new()).unwrap();
    assert_eq!(
        second.introduce(&again.message).await.unwrap(),
        IntroduceAckStatus::SUCCESS
    );
    let handshake = fresh
        .circuit
        .rendezvous2(Duration::from_secs(30))
        .await
        .unwrap();
    fresh.circuit.join(again.state, &handshake).unwrap();
    let (status, body) = fresh.circuit.http_get("/hello").await.unwrap();
    assert_eq!((status, body.as_slice()), (200, HELLO.as_bytes()));
    assert_eq!(metric(metrics, "introductions_refused", REPLAYED), 1.0);
    eprintln!("onion_replay took {:?}", started.elapsed());
}
