//! Circuit tests over the in-memory network of [`super::testnet`]:
//! building, moving 10 MiB each way through three hops, and tearing down on
//! every kind of tampering (docs/spec.md §9.7).

use rand_core::Rng;

use super::testnet::{Dir, RELAYS, Tamper, TestNet};
use super::{CircEvent, HopNum};
use crate::cell::{Cell, CellCmd, DestroyReason};
use crate::relay_msg::{EstablishRendezvous, RelayMsg, StreamId};
use crate::stream::{StreamEvent, StreamRead};

const PORT: u16 = 80;

/// Byte `i` of the test stream in direction `salt`.
fn pattern(i: usize, salt: u8) -> u8 {
    let x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 24;
    (x as u8) ^ salt
}

/// Both ends of one stream through the three hops.
struct Transfer {
    id: StreamId,
    exit_id: StreamId,
    sent_up: usize,
    got_up: usize,
    sent_down: usize,
    got_down: usize,
}

fn open_stream(net: &mut TestNet) -> Transfer {
    let id = net
        .origin
        .begin_stream(net.now, "api.example", PORT)
        .unwrap();
    net.drive();
    let exit = net.relays[RELAYS - 1].circuit.as_mut().unwrap();
    let exit_id = loop {
        match exit.streams().poll_event() {
            Some(StreamEvent::Incoming { id, host, port }) => {
                assert_eq!((host.as_str(), port), ("api.example", PORT));
                break id;
            }
            Some(_) => {}
            None => panic!("the exit saw no BEGIN"),
        }
    };
    exit.streams().accept(exit_id).unwrap();
    net.drive();
    assert!(
        net.events
            .contains(&CircEvent::Stream(StreamEvent::Opened(id)))
    );
    Transfer {
        id,
        exit_id,
        sent_up: 0,
        got_up: 0,
        sent_down: 0,
        got_down: 0,
    }
}

/// One round of the transfer: both ends write what they can, the network
/// settles, both ends read and check every byte. Returns false once the
/// circuit is closed.
fn transfer_round(net: &mut TestNet, t: &mut Transfer, total: usize) -> bool {
    if net.origin.teardown().is_some() {
        return false;
    }
    let chunk: Vec<u8> = (t.sent_up..total.min(t.sent_up + 20_000))
        .map(|i| pattern(i, 0x55))
        .collect();
    if !chunk.is_empty() {
        t.sent_up += net.origin.streams().write(t.id, &chunk).unwrap();
    }
    let Some(exit) = net.relays[RELAYS - 1].circuit.as_mut() else {
        return false;
    };
    let chunk: Vec<u8> = (t.sent_down..total.min(t.sent_down + 20_000))
        .map(|i| pattern(i, 0xaa))
        .collect();
    if let (false, Ok(n)) = (chunk.is_empty(), exit.streams().write(t.exit_id, &chunk)) {
        t.sent_down += n;
    }
    net.drive();
    let mut buf = vec![0u8; 65536];
    if let Some(exit) = net.relays[RELAYS - 1].circuit.as_mut() {
        while let Ok(StreamRead::Bytes(n)) = exit.streams().read(t.exit_id, &mut buf) {
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(
                    *b,
                    pattern(t.got_up + k, 0x55),
                    "corrupt byte {} at the exit",
                    t.got_up + k
                );
            }
            t.got_up += n;
        }
    }
    while let Ok(StreamRead::Bytes(n)) = net.origin.streams().read(t.id, &mut buf) {
        for (k, b) in buf[..n].iter().enumerate() {
            assert_eq!(
                *b,
                pattern(t.got_down + k, 0xaa),
                "corrupt byte {} at the origin",
                t.got_down + k
            );
        }
        t.got_down += n;
    }
    net.drive();
    net.origin.teardown().is_none()
}

#[test]
fn builds_three_hops() {
    let net = TestNet::build();
    let extended: Vec<_> = net
        .events
        .iter()
        .filter_map(|e| match e {
            CircEvent::Extended { hops } => Some(*hops),
            _ => None,
        })
        .collect();
    assert_eq!(extended, vec![1, 2, 3]);
    assert!(
        net.relays
            .iter()
            .all(|r| r.circuit.is_some() && r.teardown.is_none())
    );
}

#[test]
fn moves_10_mib_each_way_and_checks_every_byte() {
    const TOTAL: usize = 10 * 1024 * 1024;
    let mut net = TestNet::build();
    let mut t = open_stream(&mut net);
    let mut rounds = 0;
    while t.got_up < TOTAL || t.got_down < TOTAL {
        assert!(
            transfer_round(&mut net, &mut t, TOTAL),
            "circuit closed: {:?}",
            net.origin.teardown()
        );
        rounds += 1;
        assert!(
            rounds < 10_000,
            "transfer stalled at {} / {}",
            t.got_up,
            t.got_down
        );
    }
    assert_eq!((t.got_up, t.got_down), (TOTAL, TOTAL));
    // The stream ends cleanly: END travels and the exit sees it.
    net.origin.streams().close(t.id).unwrap();
    net.drive();
    let exit = net.relays[RELAYS - 1].circuit.as_mut().unwrap();
    let mut saw_end = false;
    while let Some(e) = exit.streams().poll_event() {
        saw_end |= matches!(e, StreamEvent::Ended { id, .. } if id == t.exit_id);
    }
    assert!(saw_end);
}

#[test]
fn a_stream_closed_twice_still_delivers_its_buffered_data_before_end() {
    // An exit whose send buffer is full closes the stream, and is told to
    // close it again before the buffer drains (as a bridge may be): every
    // buffered byte still arrives, then END DONE.
    let mut net = TestNet::build();
    let t = open_stream(&mut net);
    let total = crate::stream::STREAM_SEND_BUFFER;
    let data: Vec<u8> = (0..total).map(|i| pattern(i, 0x33)).collect();
    let exit = net.relays[RELAYS - 1].circuit.as_mut().unwrap();
    assert_eq!(exit.streams().write(t.exit_id, &data).unwrap(), total);
    exit.streams().close(t.exit_id).unwrap();
    exit.streams().close(t.exit_id).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let finished = loop {
        net.drive();
        match net.origin.streams().read(t.id, &mut buf).unwrap() {
            StreamRead::Bytes(n) => got.extend_from_slice(&buf[..n]),
            StreamRead::Finished(reason) => break reason,
            StreamRead::WouldBlock => assert!(got.len() < total, "no END after the data"),
        }
    };
    assert_eq!(finished, crate::relay_msg::EndReason::DONE);
    assert_eq!(got.len(), total, "bytes lost before END");
    assert!(got == data, "bytes altered");
}

#[test]
fn circuit_level_messages_reach_the_addressed_hop() {
    let mut net = TestNet::build();
    for hop in 0..RELAYS {
        let msg = RelayMsg::EstablishRendezvous(EstablishRendezvous {
            cookie: [hop as u8; 20],
        });
        net.origin.send_msg(HopNum(hop as u8), msg.clone()).unwrap();
        net.drive();
        assert_eq!(net.relays[hop].delivered, vec![msg], "hop {hop}");
    }
    assert!(net.origin_closed().is_none());
}

#[test]
fn destroy_from_the_origin_reaches_every_hop() {
    let mut net = TestNet::build();
    net.origin.destroy(DestroyReason::REQUESTED);
    net.drive();
    for r in &net.relays {
        let t = r.teardown.expect("relay saw the DESTROY");
        assert_eq!(t.reason, DestroyReason::REQUESTED);
        assert!(t.remote);
    }
}

#[test]
fn a_dead_next_hop_tears_down_towards_the_origin() {
    let mut net = TestNet::build();
    net.relays[1]
        .circuit
        .as_mut()
        .unwrap()
        .next_failed(DestroyReason::CHANNEL_CLOSED);
    net.drive();
    let t = net.origin_closed().expect("origin saw the teardown");
    assert_eq!(t.reason, DestroyReason::CHANNEL_CLOSED);
    assert!(t.remote);
    assert!(net.relays[0].teardown.is_some());
}

/// Runs a 200 KiB transfer with `hook` installed after the circuit is
/// built; returns the network once the transfer ends or the circuit closes.
fn tampered_transfer(
    hook: impl FnMut(usize, Dir, usize, &Cell) -> Tamper + 'static,
) -> (TestNet, Transfer) {
    const TOTAL: usize = 200 * 1024;
    let mut net = TestNet::build();
    let mut t = open_stream(&mut net);
    net.hook = Some(Box::new(hook));
    for _ in 0..1000 {
        if !transfer_round(&mut net, &mut t, TOTAL) || (t.got_up >= TOTAL && t.got_down >= TOTAL) {
            break;
        }
    }
    (net, t)
}

/// The circuit must have been torn down, everywhere, for integrity.
fn assert_torn_down_for_integrity(net: &TestNet, what: &str) {
    let t = net
        .origin_closed()
        .unwrap_or_else(|| panic!("{what}: origin circuit still open"));
    assert!(
        [DestroyReason::INTEGRITY, DestroyReason::PROTOCOL].contains(&t.reason),
        "{what}: closed with {:?}",
        t.reason
    );
    for (i, r) in net.relays.iter().enumerate() {
        assert!(
            r.teardown.is_some(),
            "{what}: relay {i} still holds the circuit"
        );
    }
}

#[test]
fn a_flipped_bit_anywhere_ends_the_circuit() {
    let mut rng = super::testnet::testing_rng();
    for link in 0..RELAYS {
        for dir in [Dir::Forward, Dir::Backward] {
            for _ in 0..6 {
                let victim = 10 + (rng.next_u32() % 40) as usize;
                let bit = 5 * 8 + (rng.next_u32() as usize % (512 * 8));
                let (net, t) = tampered_transfer(move |l, d, i, cell| {
                    if l == link && d == dir && i == victim && cell.cmd == CellCmd::RELAY {
                        let mut bytes = cell.to_bytes();
                        bytes[bit / 8] ^= 1 << (bit % 8);
                        return Tamper::Replace(Cell::from_bytes(&bytes).unwrap());
                    }
                    Tamper::Pass
                });
                let what = format!("bit {bit} of cell {victim} on link {link} {dir:?}");
                assert_torn_down_for_integrity(&net, &what);
                assert!(
                    t.got_up < 200 * 1024 || t.got_down < 200 * 1024,
                    "{what}: transfer completed"
                );
            }
        }
    }
}

#[test]
fn a_flipped_header_bit_ends_the_circuit() {
    for bit in 0..5 * 8 {
        let (net, _) = tampered_transfer(move |l, d, i, cell| {
            if l == 1 && d == Dir::Forward && i == 10 {
                let mut bytes = cell.to_bytes();
                bytes[bit / 8] ^= 1 << (bit % 8);
                // A cell that no longer decodes is dropped by the channel.
                return match Cell::from_bytes(&bytes) {
                    Ok(c) => Tamper::Replace(c),
                    Err(_) => Tamper::Drop,
                };
            }
            Tamper::Pass
        });
        assert!(net.origin_closed().is_some(), "header bit {bit}");
    }
}

#[test]
fn a_replayed_cell_ends_the_circuit() {
    for link in 0..RELAYS {
        for dir in [Dir::Forward, Dir::Backward] {
            let (net, _) = tampered_transfer(move |l, d, i, _| {
                if l == link && d == dir && i == 12 {
                    Tamper::Duplicate
                } else {
                    Tamper::Pass
                }
            });
            assert_torn_down_for_integrity(&net, &format!("replay on link {link} {dir:?}"));
        }
    }
}

#[test]
fn a_dropped_cell_ends_the_circuit() {
    for link in 0..RELAYS {
        for dir in [Dir::Forward, Dir::Backward] {
            let (net, _) = tampered_transfer(move |l, d, i, _| {
                if l == link && d == dir && i == 12 {
                    Tamper::Drop
                } else {
                    Tamper::Pass
                }
            });
            assert_torn_down_for_integrity(&net, &format!("drop on link {link} {dir:?}"));
        }
    }
}

#[test]
fn reordered_cells_end_the_circuit() {
    for link in 0..RELAYS {
        for dir in [Dir::Forward, Dir::Backward] {
            let (net, _) = tampered_transfer(move |l, d, i, _| {
                if l == link && d == dir && i == 12 {
                    Tamper::Delay
                } else {
                    Tamper::Pass
                }
            });
            assert_torn_down_for_integrity(&net, &format!("reorder on link {link} {dir:?}"));
        }
    }
}

#[test]
fn an_injected_cell_ends_the_circuit() {
    let mut rng = super::testnet::testing_rng();
    for link in 0..RELAYS {
        for dir in [Dir::Forward, Dir::Backward] {
            let mut body = [0u8; 512];
            rng.fill_bytes(&mut body);
            let (net, _) = tampered_transfer(move |l, d, i, cell| {
                if l == link && d == dir && i == 12 {
                    let extra = Cell {
                        circ_id: cell.circ_id,
                        cmd: CellCmd::RELAY,
                        body,
                    };
                    return Tamper::InjectBefore(extra);
                }
                Tamper::Pass
            });
            assert_torn_down_for_integrity(&net, &format!("injection on link {link} {dir:?}"));
        }
    }
}

#[test]
fn a_slow_stream_does_not_stall_the_others() {
    const TOTAL: usize = 2 * 1024 * 1024;
    let mut net = TestNet::build();
    let slow = open_stream(&mut net);
    let mut fast = open_stream(&mut net);
    let mut slow_sent = 0;
    let mut rounds = 0;
    // The exit never reads the slow stream; the fast one must still finish.
    while fast.got_up < TOTAL {
        let chunk = vec![0x33u8; 20_000];
        slow_sent += net.origin.streams().write(slow.id, &chunk).unwrap();
        assert!(transfer_round(&mut net, &mut fast, TOTAL), "circuit closed");
        rounds += 1;
        assert!(rounds < 5_000, "fast stream stalled at {}", fast.got_up);
    }
    // The slow stream got no further than its window plus its send buffer.
    let window_bytes = usize::from(crate::flow::STREAM_WINDOW) * crate::relay_msg::RELAY_DATA_MAX;
    assert!(
        slow_sent <= window_bytes + crate::stream::STREAM_SEND_BUFFER,
        "{slow_sent}"
    );
    assert!(
        slow_sent >= window_bytes,
        "the slow stream did not fill its window: {slow_sent}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Any pattern of write and read sizes delivers every byte, in order,
    /// both ways.
    #[test]
    fn any_write_and_read_sizes_deliver_every_byte(
        writes in proptest::collection::vec(1usize..70_000, 1..12),
        read_size in 1usize..70_000,
    ) {
        let mut net = TestNet::build();
        let t = open_stream(&mut net);
        let total: usize = writes.iter().sum();
        let mut sent = 0;
        let mut got = 0;
        let mut pending = writes.clone();
        pending.reverse();
        let mut buf = vec![0u8; read_size];
        for _ in 0..10_000 {
            if let Some(size) = pending.last().copied() {
                let data: Vec<u8> = (sent..sent + size).map(|i| pattern(i, 1)).collect();
                let n = net.origin.streams().write(t.id, &data).unwrap();
                sent += n;
                if n == size { pending.pop(); } else { *pending.last_mut().unwrap() -= n; }
            }
            net.drive();
            let exit = net.relays[RELAYS - 1].circuit.as_mut().unwrap();
            while let Ok(StreamRead::Bytes(n)) = exit.streams().read(t.exit_id, &mut buf) {
                for (k, b) in buf[..n].iter().enumerate() {
                    proptest::prop_assert_eq!(*b, pattern(got + k, 1));
                }
                got += n;
            }
            net.drive();
            if got == total { break; }
        }
        proptest::prop_assert_eq!(got, total);
    }
}
