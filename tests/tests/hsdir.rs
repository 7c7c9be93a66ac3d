//! The HSDir role on real relays over real sockets (docs/spec.md §15.6): a
//! descriptor published on a directory stream through a three-hop circuit
//! is served to another circuit; stale, altered and unknown ones are not.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure must fail the test"
)]

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::{OnionKeypair, RelayIdentityKeypair, ServiceIdentityKeypair, TimePeriod};
use warren_directory::hs_descriptor::{
    HsDescriptorContent, HsDescriptorTimes, IntroPointInfo, SignedHsDescriptor,
};
use warren_directory::{DirRequest, DirResponse, Roles};
use warren_net::dir_client::unix_now;
use warren_proto::circuit::CircEvent;
use warren_proto::relay_msg::StreamId;
use warren_proto::stream::{StreamEvent, StreamRead};
use warren_tests::net::{Origin, client_host, start_relay, start_relay_configured};

/// Opens a directory stream to the circuit's last hop.
async fn dir_stream(origin: &mut Origin) -> StreamId {
    let now = origin.now();
    let id = origin.circuit.begin_stream(now, "", 1).unwrap();
    origin.flush().await;
    let opened = CircEvent::Stream(StreamEvent::Opened(id));
    origin.until("CONNECTED", |e| e.contains(&opened)).await;
    id
}

/// Sends one framed request on the stream and reads the framed answer.
async fn ask(origin: &mut Origin, id: StreamId, request: &DirRequest) -> DirResponse {
    let bytes = request.encode().unwrap();
    let mut frame = u32::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    frame.extend(bytes);
    let mut sent = 0;
    let mut got = Vec::new();
    loop {
        if sent < frame.len() {
            sent += origin.circuit.streams().write(id, &frame[sent..]).unwrap();
        }
        origin.flush().await;
        let mut buf = vec![0u8; 65536];
        while let Ok(StreamRead::Bytes(n)) = origin.circuit.streams().read(id, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() >= 4 {
            let len = u32::from_be_bytes(got[..4].try_into().unwrap()) as usize;
            if got.len() >= 4 + len {
                return DirResponse::decode(&got[4..4 + len]).unwrap();
            }
        }
        origin.next_cell().await;
    }
}

fn descriptor(revision: u64) -> (SignedHsDescriptor, ServiceIdentityKeypair, TimePeriod) {
    let service = ServiceIdentityKeypair::from_secret_bytes([0x41; 32]);
    let now = unix_now();
    let period = TimePeriod::containing(now, 1440).unwrap();
    let content = HsDescriptorContent {
        intro_points: vec![IntroPointInfo {
            relay: RelayIdentityKeypair::from_secret_bytes([1; 32]).public(),
            onion_key: OnionKeypair::from_secret_bytes([2; 32]).public(),
            addresses: vec!["/ip4/127.0.0.1/tcp/9".into()],
            auth_key: [3; 32],
            enc_key: [4; 32],
        }],
        pow: None,
    };
    let times = HsDescriptorTimes {
        revision,
        published: now - 10,
        lifetime: 3600,
    };
    let d = SignedHsDescriptor::build(
        &service,
        period,
        &content,
        times,
        &[],
        &mut ChaCha20Rng::seed_from_u64(revision),
    )
    .unwrap();
    (d, service, period)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_published_through_a_circuit_is_served_to_another() {
    let relays = [
        start_relay("127.0.0.71", 100).await,
        start_relay("127.0.0.72", 100).await,
        start_relay("127.0.0.73", 100).await,
    ];
    let host = client_host(71).await;
    let (d, service, period) = descriptor(5);

    // The service's circuit: publish.
    let mut publisher = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
    let id = dir_stream(&mut publisher).await;
    let publish = DirRequest::PublishHsDescriptor(d.as_bytes().to_vec());
    assert_eq!(
        ask(&mut publisher, id, &publish).await,
        DirResponse::Accepted
    );
    // The same revision again, and garbage, are refused.
    assert!(matches!(
        ask(&mut publisher, id, &publish).await,
        DirResponse::Refused(_)
    ));
    let mut altered = d.as_bytes().to_vec();
    altered[60] ^= 1;
    let bad = DirRequest::PublishHsDescriptor(altered);
    assert!(matches!(
        ask(&mut publisher, id, &bad).await,
        DirResponse::Refused(_)
    ));

    // A client's circuit, by another path: fetch and open.
    let mut client = Origin::build(&host, &[&relays[1], &relays[0], &relays[2]]).await;
    let id = dir_stream(&mut client).await;
    let get = DirRequest::GetHsDescriptor(*d.blinded_key());
    let DirResponse::HsDescriptor(bytes) = ask(&mut client, id, &get).await else {
        panic!("the descriptor is not served");
    };
    assert_eq!(bytes, d.as_bytes());
    let got = SignedHsDescriptor::decode(&bytes)
        .unwrap()
        .verify(&())
        .unwrap()
        .check_valid_at(unix_now())
        .unwrap();
    assert_eq!(
        got.decrypt(&service.public(), period, None)
            .unwrap()
            .intro_points
            .len(),
        1
    );
    // A newer revision replaces it; an unknown key is not found.
    let (newer, _, _) = descriptor(6);
    let publish = DirRequest::PublishHsDescriptor(newer.as_bytes().to_vec());
    let pid = dir_stream(&mut publisher).await;
    assert_eq!(
        ask(&mut publisher, pid, &publish).await,
        DirResponse::Accepted
    );
    let DirResponse::HsDescriptor(bytes) = ask(&mut client, id, &get).await else {
        panic!("the newer descriptor is not served");
    };
    assert_eq!(bytes, newer.as_bytes());
    assert_eq!(
        ask(&mut client, id, &DirRequest::GetHsDescriptor([9; 32])).await,
        DirResponse::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_without_the_role_refuses_directory_streams() {
    let relay = start_relay_configured("127.0.0.74", |c| {
        c.roles = Roles::GUARD | Roles::MIDDLE;
    })
    .await;
    let host = client_host(74).await;
    let mut origin = Origin::build(&host, &[&relay]).await;
    let now = origin.now();
    let id = origin.circuit.begin_stream(now, "", 1).unwrap();
    origin.flush().await;
    let refused = CircEvent::Stream(StreamEvent::Ended {
        id,
        reason: warren_proto::relay_msg::EndReason::EXITPOLICY,
    });
    origin
        .until("END EXITPOLICY", |e| e.contains(&refused))
        .await;
}
