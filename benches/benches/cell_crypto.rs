//! Per-cell crypto of one hop and of the origin, against raw ChaCha20 and raw
//! ChaCha20-Poly1305 over the same 512 bytes, measured in the same run
//! (docs/spec.md §5.6).
//!
//! Ratios to report: `hop_pass_*` against `raw_chacha20_xor` (target ≥ 0.70),
//! `hop_addressed_open`, `hop_originate_seal` and the origin benches against
//! `raw_chacha20poly1305_seal` (target ≥ 0.80; the three-hop ones do three
//! layers and are reported per cell as well).

#![allow(
    clippy::expect_used,
    clippy::unreachable,
    clippy::indexing_slicing,
    reason = "benchmarks: a failed operation must abort the run; hop arrays have fixed length 3"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use warren_crypto::layer::{LayerKey, RELAY_BODY_LEN, Recognized, RelayBody};

fn random_body(rng: &mut ChaCha20Rng) -> RelayBody {
    let mut body = [0u8; RELAY_BODY_LEN];
    rng.fill_bytes(&mut body);
    body
}

fn key(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut k = [0u8; 32];
    rng.fill_bytes(&mut k);
    k
}

/// Times `f` on `iters` cells prepared in advance by `prepare` (so only the
/// receiving side is timed).
fn timed_on_prepared(
    iters: u64,
    mut prepare: impl FnMut() -> RelayBody,
    mut f: impl FnMut(&mut RelayBody),
) -> Duration {
    let mut cells: Vec<RelayBody> = (0..iters).map(|_| prepare()).collect();
    let start = Instant::now();
    for cell in &mut cells {
        f(cell);
    }
    start.elapsed()
}

fn bench_cell_crypto(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut g = c.benchmark_group("cell_crypto_512B");
    g.throughput(Throughput::Bytes(RELAY_BODY_LEN as u64));

    // Baselines: the raw primitives over the same 512 bytes, with a fresh
    // cipher instance per cell as the layer uses.
    let k = key(&mut rng);
    let mut buf = random_body(&mut rng);
    let mut n = 0u64;
    g.bench_function("raw_chacha20_xor", |b| {
        b.iter(|| {
            n += 1;
            warren_benches::raw_chacha20_xor(&k, n, black_box(&mut buf));
        })
    });
    let aead = ChaCha20Poly1305::new((&k).into());
    g.bench_function("raw_chacha20poly1305_seal", |b| {
        b.iter(|| {
            n += 1;
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&n.to_be_bytes());
            let tag = aead
                .encrypt_inout_detached((&nonce).into(), &[], black_box(&mut buf[..]).into())
                .expect("seal");
            black_box(tag);
        })
    });

    // A passing hop, forward: remove the layer, see a non-zero marker.
    let mut hop = LayerKey::new(key(&mut rng));
    g.bench_function("hop_pass_forward", |b| {
        b.iter(|| {
            let r = hop.open(black_box(&mut buf)).expect("open");
            debug_assert_eq!(r, Recognized::No);
            black_box(r);
        })
    });
    // A passing hop, backward: add the layer.
    g.bench_function("hop_pass_backward", |b| {
        b.iter(|| hop.xor(black_box(&mut buf)).expect("xor"))
    });
    // The hop a cell is addressed to originates (seals) ...
    g.bench_function("hop_originate_seal", |b| {
        b.iter(|| black_box(hop.seal(black_box(&mut buf)).expect("seal")))
    });
    // ... and receives (opens and checks the tag).
    let k_addr = key(&mut rng);
    let mut sender = LayerKey::new(k_addr);
    let mut receiver = LayerKey::new(k_addr);
    let mut plain = random_body(&mut rng);
    g.bench_function("hop_addressed_open", |b| {
        b.iter_custom(|iters| {
            timed_on_prepared(
                iters,
                || {
                    let mut body = plain;
                    sender.seal(&mut body).expect("seal");
                    body
                },
                |cell| {
                    let r = receiver.open(cell).expect("tag checks");
                    black_box(r);
                },
            )
        })
    });

    // The origin, three hops: wrap a cell for hop 2, unwrap one from hop 2.
    let keys: Vec<[u8; 32]> = (0..3).map(|_| key(&mut rng)).collect();
    let mut fwd: Vec<LayerKey> = keys.iter().map(|k| LayerKey::new(*k)).collect();
    g.bench_function("origin_wrap_3hop", |b| {
        b.iter(|| {
            let body = black_box(&mut plain);
            fwd[2].seal(body).expect("seal");
            fwd[1].xor(body).expect("xor");
            fwd[0].xor(body).expect("xor");
        })
    });
    let mut relays: Vec<LayerKey> = keys.iter().map(|k| LayerKey::new(*k)).collect();
    let mut origin: Vec<LayerKey> = keys.iter().map(|k| LayerKey::new(*k)).collect();
    let payload = random_body(&mut rng);
    g.bench_function("origin_unwrap_3hop", |b| {
        b.iter_custom(|iters| {
            timed_on_prepared(
                iters,
                || {
                    let mut body = payload;
                    relays[2].seal(&mut body).expect("seal");
                    relays[1].xor(&mut body).expect("xor");
                    relays[0].xor(&mut body).expect("xor");
                    body
                },
                |cell| {
                    for layer in origin.iter_mut() {
                        if let Recognized::Yes(tag) = layer.open(cell).expect("tag checks") {
                            black_box(tag);
                            return;
                        }
                    }
                    unreachable!("the cell is addressed to hop 2");
                },
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = warren_benches::criterion_config();
    targets = bench_cell_crypto
}
criterion_main!(benches);
