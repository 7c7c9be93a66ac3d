//! The cell and relay-message vectors of docs/spec.md §7, §8 and §11: each
//! one decodes to the fields the vector lists and re-encodes to the same
//! bytes, and every cell and relay command has a vector.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a vector that does not decode must fail the test that reads it"
)]

use warren_crypto::layer::RelayBody;
use warren_proto::cell::{Cell, CellCmd, ChanMsg, CircId, Create, Created, Destroy, DestroyReason};
use warren_proto::relay_msg::{
    Begin, Connected, Data, Drop, End, EndReason, EstablishIntro, EstablishRendezvous, Extend,
    Extended, Extension, IntroEstablished, Introduce1, Introduce2, IntroduceAck,
    IntroduceAckStatus, LinkSpec, RelayCell, RelayCmd, RelayMsg, Rendezvous1, Rendezvous2,
    RendezvousEstablished, Sendme, StreamId, Unrecognized,
};
use warren_tests::{Vector, bytes, field, spec_vector, spec_vector_names};

/// Checks a cell vector: header fields, decoded message, byte-identical
/// re-encoding.
fn check_cell(name: &str, expected: impl FnOnce(&Vector) -> ChanMsg) {
    let v = spec_vector(name);
    let raw = bytes(&v, "cell");
    let cell = Cell::from_bytes(raw).unwrap();
    assert_eq!(
        cell.circ_id,
        CircId(u32::from_be_bytes(field(&v, "circ_id")))
    );
    assert_eq!(cell.cmd, CellCmd(field::<1>(&v, "cmd")[0]));
    let msg = ChanMsg::decode(&cell).unwrap();
    assert_eq!(msg, expected(&v), "{name}");
    assert_eq!(msg.encode(cell.circ_id).unwrap(), cell, "{name}");
    assert_eq!(&cell.to_bytes()[..], raw, "{name}");
}

/// Checks a relay vector: command, stream id, decoded message and a
/// byte-identical re-encoding of the 512-byte plaintext body.
fn check_relay(name: &str, expected: impl FnOnce(&Vector) -> RelayMsg) {
    let v = spec_vector(name);
    let body: RelayBody = field(&v, "body");
    let cell = RelayCell::decode(&body).unwrap();
    assert_eq!(cell.msg.cmd(), RelayCmd(field::<1>(&v, "cmd")[0]), "{name}");
    assert_eq!(
        cell.stream_id,
        StreamId(u16::from_be_bytes(field(&v, "stream_id"))),
        "{name}"
    );
    assert_eq!(cell.msg, expected(&v), "{name}");
    let mut again = [0xff; 512];
    cell.encode(&mut again).unwrap();
    assert_eq!(again, body, "{name}");
}

fn u16_field(v: &Vector, name: &str) -> u16 {
    u16::from_be_bytes(field(v, name))
}

fn u32_field(v: &Vector, name: &str) -> u32 {
    u32::from_be_bytes(field(v, name))
}

#[test]
fn cell_vectors() {
    check_cell("cell-padding", |_| ChanMsg::Padding);
    check_cell("cell-create", |v| {
        ChanMsg::Create(Create {
            handshake_type: u16_field(v, "handshake_type"),
            handshake: bytes(v, "handshake").to_vec(),
        })
    });
    check_cell("cell-created", |v| {
        ChanMsg::Created(Created {
            handshake: bytes(v, "handshake").to_vec(),
        })
    });
    check_cell("cell-relay", |v| ChanMsg::Relay(field(v, "body")));
    check_cell("cell-destroy", |v| {
        ChanMsg::Destroy(Destroy {
            reason: DestroyReason(field::<1>(v, "reason")[0]),
        })
    });
}

#[test]
fn stream_vectors() {
    for name in ["relay-begin", "relay-begin-service"] {
        check_relay(name, |v| {
            Begin {
                host: String::from_utf8(bytes(v, "host").to_vec()).unwrap(),
                port: u16_field(v, "port"),
            }
            .into()
        });
    }
    check_relay("relay-data", |v| {
        Data::new(bytes(v, "data").to_vec()).unwrap().into()
    });
    check_relay("relay-end", |v| {
        End {
            reason: EndReason(field::<1>(v, "reason")[0]),
        }
        .into()
    });
    check_relay("relay-connected", |_| Connected.into());
}

#[test]
fn flow_vectors() {
    check_relay("relay-sendme", |v| {
        assert_eq!(field::<1>(v, "version"), [1]);
        Sendme {
            ack: Some(field(v, "tag")),
        }
        .into()
    });
    check_relay("relay-sendme-stream", |_| Sendme { ack: None }.into());
    check_relay("relay-drop", |v| {
        Drop {
            len: u16_field(v, "len"),
        }
        .into()
    });
    check_relay("relay-unrecognized", |v| {
        Unrecognized {
            cmd: RelayCmd(field::<1>(v, "cmd")[0]),
            data: bytes(v, "data").to_vec(),
        }
        .into()
    });
}

#[test]
fn extend_vectors() {
    check_relay("relay-extend", |v| {
        let v4: [u8; 6] = field(v, "link_spec_ipv4");
        let v6: [u8; 18] = field(v, "link_spec_ipv6");
        let [a, b, c, d, p0, p1] = v4;
        let ip6: [u8; 16] = v6[..16].try_into().unwrap();
        Extend {
            identity: field(v, "identity"),
            onion_key: field(v, "onion_key"),
            link_specs: vec![
                LinkSpec::Ipv4(std::net::SocketAddrV4::new(
                    [a, b, c, d].into(),
                    u16::from_be_bytes([p0, p1]),
                )),
                LinkSpec::Ipv6(std::net::SocketAddrV6::new(
                    ip6.into(),
                    u16::from_be_bytes([v6[16], v6[17]]),
                    0,
                    0,
                )),
                LinkSpec::Multiaddr(bytes(v, "link_spec_multiaddr").to_vec()),
            ],
            handshake_type: u16_field(v, "handshake_type"),
            handshake: bytes(v, "handshake").to_vec(),
        }
        .into()
    });
    check_relay("relay-extended", |v| {
        Extended {
            handshake: bytes(v, "handshake").to_vec(),
        }
        .into()
    });
}

#[test]
fn intro_vectors() {
    check_relay("relay-establish-intro", |v| {
        let m = EstablishIntro {
            auth_key: field(v, "auth_key"),
            extensions: vec![
                Extension::DosParams {
                    rate_per_sec: u32_field(v, "rate_per_sec"),
                    burst: u32_field(v, "burst"),
                },
                Extension::PowParams {
                    seed: field(v, "pow_seed"),
                    suggested_effort: u32_field(v, "suggested_effort"),
                },
            ],
            handshake_auth: field(v, "handshake_auth"),
            signature: field(v, "signature"),
        };
        assert_eq!(m.signed_part().unwrap(), bytes(v, "signed_part"));
        m.into()
    });
    check_relay("relay-intro-established", |v| {
        IntroEstablished {
            extensions: vec![Extension::Unrecognized {
                kind: field::<1>(v, "ext_type")[0],
                data: bytes(v, "ext_data").to_vec(),
            }],
        }
        .into()
    });
    check_relay("relay-introduce1", |v| {
        Introduce1 {
            auth_key: field(v, "auth_key"),
            extensions: vec![],
            encrypted: bytes(v, "encrypted").to_vec(),
        }
        .into()
    });
    check_relay("relay-introduce2", |v| {
        Introduce2 {
            auth_key: field(v, "auth_key"),
            extensions: vec![],
            encrypted: bytes(v, "encrypted").to_vec(),
        }
        .into()
    });
    check_relay("relay-introduce-ack", |v| {
        IntroduceAck {
            status: IntroduceAckStatus(u16_field(v, "status")),
            extensions: vec![],
        }
        .into()
    });
}

#[test]
fn rendezvous_vectors() {
    check_relay("relay-establish-rendezvous", |v| {
        EstablishRendezvous {
            cookie: field(v, "cookie"),
        }
        .into()
    });
    check_relay("relay-rendezvous-established", |_| {
        RendezvousEstablished.into()
    });
    check_relay("relay-rendezvous1", |v| {
        Rendezvous1 {
            cookie: field(v, "cookie"),
            handshake: bytes(v, "handshake").to_vec(),
        }
        .into()
    });
    check_relay("relay-rendezvous2", |v| {
        Rendezvous2 {
            handshake: bytes(v, "handshake").to_vec(),
        }
        .into()
    });
}

/// INTRODUCE1 and INTRODUCE2 differ only in the command byte (§11.4).
#[test]
fn introduce2_is_introduce1_with_another_command() {
    let one: RelayBody = field(&spec_vector("relay-introduce1"), "body");
    let mut two: RelayBody = field(&spec_vector("relay-introduce2"), "body");
    assert_eq!(two[24], RelayCmd::INTRODUCE2.0);
    two[24] = RelayCmd::INTRODUCE1.0;
    assert_eq!(one, two);
}

/// The vector name of a protocol constant: `PREFIX-` and the constant's
/// name in lower case with `-` for `_`.
fn vector_name(prefix: &str, name: &str) -> String {
    format!("{prefix}-{}", name.to_lowercase().replace('_', "-"))
}

#[test]
fn every_command_has_a_vector() {
    let names = spec_vector_names();
    let wanted = CellCmd::ALL
        .iter()
        .map(|c| vector_name("cell", c.name().unwrap()))
        .chain(
            RelayCmd::ALL
                .iter()
                .map(|c| vector_name("relay", c.name().unwrap())),
        );
    for name in wanted {
        assert!(names.contains(&name), "docs/spec.md has no vector {name}");
    }
}

/// Every vector whose name starts with `cell-` or `relay-` is checked above.
#[test]
fn no_unchecked_proto_vector() {
    let checked = [
        "cell-padding",
        "cell-create",
        "cell-created",
        "cell-relay",
        "cell-destroy",
        "relay-begin",
        "relay-begin-service",
        "relay-data",
        "relay-end",
        "relay-connected",
        "relay-sendme",
        "relay-sendme-stream",
        "relay-drop",
        "relay-unrecognized",
        "relay-extend",
        "relay-extended",
        "relay-establish-intro",
        "relay-intro-established",
        "relay-introduce1",
        "relay-introduce2",
        "relay-introduce-ack",
        "relay-establish-rendezvous",
        "relay-rendezvous-established",
        "relay-rendezvous1",
        "relay-rendezvous2",
    ];
    for name in spec_vector_names() {
        if name.starts_with("cell-") || name.starts_with("relay-") {
            assert!(
                checked.contains(&name.as_str()),
                "vector {name} is not checked"
            );
        }
    }
}
