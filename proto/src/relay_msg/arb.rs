//! Proptest strategies for every relay message (docs/spec.md §8, §11), sized
//! so that every generated message fits in one relay cell.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use std::net::{SocketAddrV4, SocketAddrV6};

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn host() -> impl Strategy<Value = String> {
    "[!-9;-~]{0,60}"
}

fn link_spec() -> impl Strategy<Value = LinkSpec> {
    prop_oneof![
        any::<SocketAddrV4>().prop_map(LinkSpec::Ipv4),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| LinkSpec::Ipv6(SocketAddrV6::new(
            ip.into(),
            port,
            0,
            0
        ))),
        vec(any::<u8>(), 1..=40).prop_map(LinkSpec::Multiaddr),
        (4u8.., bytes(40)).prop_map(|(kind, data)| LinkSpec::Unrecognized { kind, data }),
        (Just(0u8), bytes(40)).prop_map(|(kind, data)| LinkSpec::Unrecognized { kind, data }),
    ]
}

fn extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(rate_per_sec, burst)| Extension::DosParams {
            rate_per_sec,
            burst
        }),
        (any::<[u8; 32]>(), any::<u32>()).prop_map(|(seed, suggested_effort)| {
            Extension::PowParams {
                seed,
                suggested_effort,
            }
        }),
        (any::<[u8; 32]>(), any::<[u8; 32]>())
            .prop_map(|(client_key, proof)| Extension::ClientProof { client_key, proof }),
        (
            any::<[u8; 16]>(),
            any::<u32>(),
            any::<[u8; 4]>(),
            any::<[u8; 16]>()
        )
            .prop_map(
                |(nonce, effort, seed_head, solution)| Extension::PowSolution {
                    nonce,
                    effort,
                    seed_head,
                    solution,
                }
            ),
        (5u8.., bytes(30)).prop_map(|(kind, data)| Extension::Unrecognized { kind, data }),
    ]
}

fn extensions() -> impl Strategy<Value = Vec<Extension>> {
    vec(extension(), 0..=4)
}

fn stream_msg() -> impl Strategy<Value = RelayMsg> {
    prop_oneof![
        (host(), 1u16..).prop_map(|(host, port)| Begin { host, port }.into()),
        vec(any::<u8>(), 1..=RELAY_DATA_MAX).prop_map(|d| Data::new(d).unwrap().into()),
        any::<u8>().prop_map(|r| End {
            reason: EndReason(r)
        }
        .into()),
        Just(Connected.into()),
        proptest::option::of(any::<[u8; 16]>()).prop_map(|ack| Sendme { ack }.into()),
    ]
}

fn circuit_msg() -> impl Strategy<Value = RelayMsg> {
    prop_oneof![
        (0..=RELAY_DATA_MAX as u16).prop_map(|len| Drop { len }.into()),
        (
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            vec(link_spec(), 0..=4),
            any::<u16>(),
            bytes(200)
        )
            .prop_map(
                |(identity, onion_key, link_specs, handshake_type, handshake)| Extend {
                    identity,
                    onion_key,
                    link_specs,
                    handshake_type,
                    handshake,
                }
                .into()
            ),
        bytes(RELAY_DATA_MAX - 2).prop_map(|handshake| Extended { handshake }.into()),
    ]
}

fn hs_msg() -> impl Strategy<Value = RelayMsg> {
    let encrypted = || vec(any::<u8>(), 1..=200);
    prop_oneof![
        (
            any::<[u8; 32]>(),
            extensions(),
            any::<[u8; 32]>(),
            any::<[u8; 64]>()
        )
            .prop_map(|(auth_key, extensions, handshake_auth, signature)| {
                EstablishIntro {
                    auth_key,
                    extensions,
                    handshake_auth,
                    signature,
                }
                .into()
            }),
        extensions().prop_map(|extensions| IntroEstablished { extensions }.into()),
        (any::<[u8; 32]>(), extensions(), encrypted()).prop_map(
            |(auth_key, extensions, encrypted)| Introduce1 {
                auth_key,
                extensions,
                encrypted
            }
            .into()
        ),
        (any::<[u8; 32]>(), extensions(), encrypted()).prop_map(
            |(auth_key, extensions, encrypted)| Introduce2 {
                auth_key,
                extensions,
                encrypted
            }
            .into()
        ),
        (any::<u16>(), extensions()).prop_map(|(s, extensions)| IntroduceAck {
            status: IntroduceAckStatus(s),
            extensions
        }
        .into()),
        any::<[u8; 20]>().prop_map(|cookie| EstablishRendezvous { cookie }.into()),
        Just(RendezvousEstablished.into()),
        (any::<[u8; 20]>(), bytes(RELAY_DATA_MAX - 22))
            .prop_map(|(cookie, handshake)| Rendezvous1 { cookie, handshake }.into()),
        bytes(RELAY_DATA_MAX - 2).prop_map(|handshake| Rendezvous2 { handshake }.into()),
    ]
}

fn unrecognized() -> impl Strategy<Value = RelayMsg> {
    (any::<u8>(), bytes(RELAY_DATA_MAX))
        .prop_filter("unknown command", |(c, _)| !RelayCmd(*c).is_recognized())
        .prop_map(|(c, data)| {
            Unrecognized {
                cmd: RelayCmd(c),
                data,
            }
            .into()
        })
}

/// Any relay message that fits one cell.
pub(crate) fn relay_msg() -> impl Strategy<Value = RelayMsg> {
    prop_oneof![stream_msg(), circuit_msg(), hs_msg(), unrecognized()]
}

/// Any valid relay cell: a message on a stream id of the class it needs.
pub(crate) fn relay_cell() -> impl Strategy<Value = RelayCell> {
    (relay_msg(), any::<u16>()).prop_map(|(msg, id)| {
        let stream_id = match msg.cmd().stream_id_class() {
            StreamIdClass::Circuit => 0,
            StreamIdClass::Stream => id.max(1),
            StreamIdClass::Either => id,
        };
        RelayCell::new(StreamId(stream_id), msg)
    })
}
