//! The onion-service roles of real relays over real sockets (docs/spec.md
//! §16.1, §16.2): an introduction point relays INTRODUCE1 to the circuit
//! that established it, within the service's rate limit, and refuses a
//! forged ESTABLISH_INTRO; a rendezvous point joins a client's circuit to a
//! service's, and the two ends, keyed end to end, carry a stream across
//! six relays that the rendezvous point cannot read.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure must fail the test"
)]

use warren_crypto::{HopKeys, RelayIdentityKeypair, Signature};
use warren_proto::cell::DestroyReason;
use warren_proto::circuit::{CircEvent, HopNum};
use warren_proto::relay_msg::{
    EstablishIntro, EstablishRendezvous, Extension, HANDSHAKE_AUTH_LABEL, Introduce1,
    IntroduceAckStatus, RelayMsg, Rendezvous1,
};
use warren_proto::stream::{StreamEvent, StreamRead, StreamRole};
use warren_tests::net::{Origin, client_host, start_relay};

/// Sends `msg` to the circuit's last hop.
async fn send(origin: &mut Origin, msg: RelayMsg) {
    let last = HopNum(u8::try_from(origin.circuit.hop_count() - 1).unwrap());
    origin.circuit.send_msg(last, msg).unwrap();
    origin.flush().await;
}

/// Waits for an onion-service message matching `pick`.
async fn message<T>(origin: &mut Origin, what: &str, pick: impl Fn(&RelayMsg) -> Option<T>) -> T {
    origin
        .until(what, |e| {
            e.iter()
                .any(|e| matches!(e, CircEvent::Message { msg, .. } if pick(msg).is_some()))
        })
        .await;
    let found = origin.events.iter().find_map(|e| match e {
        CircEvent::Message { msg, .. } => pick(msg),
        _ => None,
    });
    origin.events.clear();
    found.unwrap()
}

fn establish_intro(
    origin: &Origin,
    key: &RelayIdentityKeypair,
    dos: Option<(u32, u32)>,
) -> EstablishIntro {
    let auth_key = *key.public().as_bytes();
    let last = HopNum(u8::try_from(origin.circuit.hop_count() - 1).unwrap());
    let handshake_auth = origin
        .circuit
        .hop_binding(last)
        .unwrap()
        .authenticate(HANDSHAKE_AUTH_LABEL, &auth_key)
        .unwrap();
    let mut ei = EstablishIntro {
        auth_key,
        extensions: dos
            .map(|(rate_per_sec, burst)| Extension::DosParams {
                rate_per_sec,
                burst,
            })
            .into_iter()
            .collect(),
        handshake_auth,
        signature: [0; 64],
    };
    let Signature(sig) = key.sign(&ei.signed_part().unwrap());
    ei.signature = sig;
    ei
}

async fn introduce(client: &mut Origin, auth_key: [u8; 32], payload: u8) -> IntroduceAckStatus {
    let i1 = Introduce1 {
        auth_key,
        extensions: Vec::new(),
        encrypted: vec![payload; 120],
    };
    send(client, RelayMsg::Introduce1(i1)).await;
    message(client, "INTRODUCE_ACK", |m| match m {
        RelayMsg::IntroduceAck(a) => Some(a.status),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intro_point_relays_introductions_within_the_services_rate() {
    let relays = [
        start_relay("127.0.0.81", 100).await,
        start_relay("127.0.0.82", 100).await,
        start_relay("127.0.0.83", 100).await,
    ];
    let host = client_host(81).await;
    let auth = RelayIdentityKeypair::from_secret_bytes([0x51; 32]);

    // The service establishes the intro point, asking for 1/s, burst 2.
    let mut service =
        Origin::build_as(&host, &[&relays[0], &relays[2]], StreamRole::Acceptor).await;
    let ei = establish_intro(&service, &auth, Some((1, 2)));
    send(&mut service, RelayMsg::EstablishIntro(ei)).await;
    message(&mut service, "INTRO_ESTABLISHED", |m| {
        matches!(m, RelayMsg::IntroEstablished(_)).then_some(())
    })
    .await;

    // A client introduces itself: ACK, and the service gets INTRODUCE2.
    let mut client = Origin::build(&host, &[&relays[1], &relays[2]]).await;
    let key = *auth.public().as_bytes();
    assert_eq!(
        introduce(&mut client, key, 7).await,
        IntroduceAckStatus::SUCCESS
    );
    let got = message(&mut service, "INTRODUCE2", |m| match m {
        RelayMsg::Introduce2(i2) => Some(i2.encrypted.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, vec![7u8; 120]);

    // The burst is 2: one more passes, then the rate limit answers.
    assert_eq!(
        introduce(&mut client, key, 8).await,
        IntroduceAckStatus::SUCCESS
    );
    assert_eq!(
        introduce(&mut client, key, 9).await,
        IntroduceAckStatus::RATE_LIMITED
    );
    // An unknown service.
    assert_eq!(
        introduce(&mut client, [0x77; 32], 1).await,
        IntroduceAckStatus::UNKNOWN_SERVICE
    );

    // ESTABLISH_INTRO bound to another circuit's handshake is refused.
    let other = Origin::build(&host, &[&relays[1], &relays[2]]).await;
    let forged = establish_intro(&other, &auth, None);
    let mut thief = Origin::build(&host, &[&relays[0], &relays[2]]).await;
    send(&mut thief, RelayMsg::EstablishIntro(forged)).await;
    thief
        .until("DESTROY", |e| {
            e.iter().any(|e| matches!(e, CircEvent::Closed(_)))
        })
        .await;
    assert_eq!(thief.closed(), Some(DestroyReason::PROTOCOL));
    // And the real service still gets introductions after a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        introduce(&mut client, key, 10).await,
        IntroduceAckStatus::SUCCESS
    );
}

/// Reads what stream `id` has, waiting for cells until `n` bytes came.
async fn read(origin: &mut Origin, id: warren_proto::relay_msg::StreamId, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while out.len() < n {
        match origin.circuit.streams().read(id, &mut buf).unwrap() {
            StreamRead::Bytes(k) => out.extend_from_slice(&buf[..k]),
            StreamRead::WouldBlock => origin.next_cell().await,
            StreamRead::Finished(r) => panic!("the stream ended: {r:?}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendezvous_point_joins_two_circuits_for_an_end_to_end_stream() {
    let relays = [
        start_relay("127.0.0.84", 100).await,
        start_relay("127.0.0.85", 100).await,
        start_relay("127.0.0.86", 100).await,
        start_relay("127.0.0.87", 100).await,
        start_relay("127.0.0.88", 100).await,
    ];
    let host = client_host(84).await;
    let cookie = [0x42; 20];

    // The client's circuit to its rendezvous point (relay 4).
    let mut client = Origin::build(&host, &[&relays[0], &relays[1], &relays[4]]).await;
    send(
        &mut client,
        RelayMsg::EstablishRendezvous(EstablishRendezvous { cookie }),
    )
    .await;
    message(&mut client, "RENDEZVOUS_ESTABLISHED", |m| {
        matches!(m, RelayMsg::RendezvousEstablished(_)).then_some(())
    })
    .await;

    // The service's circuit to the same point answers with RENDEZVOUS1.
    let mut service = Origin::build_as(
        &host,
        &[&relays[2], &relays[3], &relays[4]],
        StreamRole::Acceptor,
    )
    .await;
    let r1 = Rendezvous1 {
        cookie,
        handshake: vec![5; 64],
    };
    send(&mut service, RelayMsg::Rendezvous1(r1)).await;
    let handshake = message(&mut client, "RENDEZVOUS2", |m| match m {
        RelayMsg::Rendezvous2(r2) => Some(r2.handshake.clone()),
        _ => None,
    })
    .await;
    assert_eq!(handshake, vec![5; 64]);

    // Both ends add the end-to-end hop (its keys stand in for the
    // onion-service handshake's) and carry a stream across six relays.
    let okm = [0x33; 96];
    client
        .circuit
        .add_virtual_hop(HopKeys::from_key_material(&okm))
        .unwrap();
    service
        .circuit
        .add_virtual_hop(HopKeys::from_key_material_reversed(&okm))
        .unwrap();
    let now = client.now();
    let id = client.circuit.begin_stream(now, "", 80).unwrap();
    client.flush().await;
    service
        .until("the client's BEGIN", |e| {
            e.iter()
                .any(|e| matches!(e, CircEvent::Stream(StreamEvent::Incoming { port: 80, .. })))
        })
        .await;
    let sid = service
        .events
        .iter()
        .find_map(|e| match e {
            CircEvent::Stream(StreamEvent::Incoming { id, .. }) => Some(*id),
            _ => None,
        })
        .unwrap();
    service.circuit.streams().accept(sid).unwrap();
    service.flush().await;
    let opened = CircEvent::Stream(StreamEvent::Opened(id));
    client.until("CONNECTED", |e| e.contains(&opened)).await;
    client
        .circuit
        .streams()
        .write(id, b"ping across six relays")
        .unwrap();
    client.flush().await;
    assert_eq!(read(&mut service, sid, 22).await, b"ping across six relays");
    service.circuit.streams().write(sid, b"pong").unwrap();
    service.flush().await;
    assert_eq!(read(&mut client, id, 4).await, b"pong");

    // The cookie joined once: a second RENDEZVOUS1 for it is refused.
    let mut late = Origin::build_as(&host, &[&relays[3], &relays[4]], StreamRole::Acceptor).await;
    send(
        &mut late,
        RelayMsg::Rendezvous1(Rendezvous1 {
            cookie,
            handshake: vec![1],
        }),
    )
    .await;
    late.until("DESTROY", |e| {
        e.iter().any(|e| matches!(e, CircEvent::Closed(_)))
    })
    .await;
}
