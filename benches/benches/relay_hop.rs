//! One relay hop's state machine passing cells on, forward and backward, with
//! raw ChaCha20 over the same 512 bytes measured in the same run as the
//! baseline (docs/spec.md §9.5). This is the relay's whole per-cell work in
//! `warren-proto`: decode the cell, remove or add the layer, recognise, queue
//! the cell for the other link, encode it.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks: a failed operation must abort the run"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use warren_crypto::ntor::EphemeralSecret;
use warren_crypto::{OnionKeypair, RelayIdentityKeypair};
use warren_proto::cell::{Cell, CellCmd, ChanMsg, CircId};
use warren_proto::circuit::{HopNum, HopTarget, OriginCircuit, RelayAction, RelayCircuit, Verdict};
use warren_proto::relay_msg::{Drop as DropMsg, RelayMsg};
use warren_proto::stream::StreamRole;
use warren_proto::time::Timestamp;

const NOW: Timestamp = Timestamp::ZERO;

/// An origin with a two-hop circuit through `r0` (the hop being measured)
/// and `r1`.
struct TwoHops {
    origin: OriginCircuit,
    r0: RelayCircuit,
}

fn relay_keys(rng: &mut ChaCha20Rng) -> (RelayIdentityKeypair, OnionKeypair) {
    (
        RelayIdentityKeypair::generate(rng),
        OnionKeypair::generate(rng),
    )
}

fn target(keys: &(RelayIdentityKeypair, OnionKeypair)) -> HopTarget {
    HopTarget {
        identity: keys.0.public(),
        onion_key: keys.1.public(),
        link_specs: Vec::new(),
    }
}

fn accept(
    rng: &mut ChaCha20Rng,
    keys: &(RelayIdentityKeypair, OnionKeypair),
    cell: &Cell,
) -> (RelayCircuit, Cell) {
    let eph = EphemeralSecret::generate(rng);
    let (circuit, created) =
        RelayCircuit::accept_create(eph, &keys.0.public(), &[&keys.1], cell).expect("CREATE");
    (circuit, created.encode(cell.circ_id).expect("encode"))
}

fn build(rng: &mut ChaCha20Rng) -> TwoHops {
    let (k0, k1) = (relay_keys(rng), relay_keys(rng));
    let eph = EphemeralSecret::generate(rng);
    let mut origin = OriginCircuit::new(
        NOW,
        CircId(1),
        &target(&k0),
        eph,
        Duration::from_secs(10),
        StreamRole::Initiator,
    )
    .expect("origin");
    let create = origin.poll_transmit().expect("CREATE");
    let (mut r0, created) = accept(rng, &k0, &create);
    origin.handle_cell(NOW, created).expect("CREATED");
    origin
        .extend(NOW, &target(&k1), EphemeralSecret::generate(rng))
        .expect("extend");
    let extend = origin.poll_transmit().expect("EXTEND");
    let mut extend = extend;
    let _ = r0.handle_from_prev(NOW, &mut extend).expect("EXTEND at r0");
    let Some(RelayAction::Extend { create, .. }) = r0.poll_action() else {
        panic!("r0 did not extend");
    };
    let create = ChanMsg::Create(create).encode(CircId(2)).expect("encode");
    let (_r1, created) = accept(rng, &k1, &create);
    let mut created = created;
    let _ = r0.handle_from_next(&mut created).expect("CREATED at r0");
    let Some(RelayAction::ToPrev(extended)) = r0.poll_action() else {
        panic!("r0 sent no EXTENDED");
    };
    origin
        .handle_cell(NOW, extended.encode(CircId(1)).expect("encode"))
        .expect("EXTENDED");
    assert!(origin.is_ready() && origin.hop_count() == 2);
    TwoHops { origin, r0 }
}

/// Runs the relay on one cell, in place, as the daemon does: the cell goes
/// on under the other link's circuit id.
fn pass(r0: &mut RelayCircuit, cell: &mut Cell, forward: bool) {
    let verdict = if forward {
        r0.handle_from_prev(NOW, cell).expect("pass forward")
    } else {
        r0.handle_from_next(cell).expect("pass backward")
    };
    assert_eq!(verdict, Verdict::Forward);
    cell.circ_id = CircId(2);
}

fn bench_relay_hop(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut g = c.benchmark_group("relay_hop_512B");
    g.throughput(Throughput::Bytes(512));

    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    let mut buf = [0u8; 512];
    let mut n = 0u64;
    g.bench_function("raw_chacha20_xor", |b| {
        b.iter(|| {
            n += 1;
            warren_benches::raw_chacha20_xor(&key, n, black_box(&mut buf));
        })
    });

    let mut net = build(&mut rng);
    g.bench_function("pass_forward", |b| {
        b.iter_custom(|iters| {
            let mut cells: Vec<Cell> = (0..iters)
                .map(|_| {
                    let msg = RelayMsg::Drop(DropMsg { len: 0 });
                    net.origin.send_msg(HopNum(1), msg).expect("send");
                    net.origin.poll_transmit().expect("cell")
                })
                .collect();
            let start = Instant::now();
            for cell in &mut cells {
                pass(&mut net.r0, black_box(cell), true);
            }
            start.elapsed()
        })
    });
    g.bench_function("pass_backward", |b| {
        b.iter_custom(|iters| {
            let mut cells: Vec<Cell> = (0..iters)
                .map(|_| {
                    let mut body = [0u8; 512];
                    rng.fill_bytes(&mut body);
                    Cell {
                        circ_id: CircId(2),
                        cmd: CellCmd::RELAY,
                        body,
                    }
                })
                .collect();
            let start = Instant::now();
            for cell in &mut cells {
                pass(&mut net.r0, black_box(cell), false);
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = warren_benches::criterion_config();
    targets = bench_relay_hop
}
criterion_main!(benches);
