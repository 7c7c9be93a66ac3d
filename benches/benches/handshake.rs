//! The circuit handshake (docs/spec.md §4.4): the client's two steps and the
//! relay's one, against one X25519 Diffie-Hellman measured in the same run.
//! Target: the relay side costs at most 2.5 X25519 operations.

#![allow(
    clippy::expect_used,
    clippy::unreachable,
    reason = "benchmarks: a failed operation must abort the run"
)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::ntor::{EphemeralSecret, client_finish, client_start, server_respond};
use warren_crypto::{OnionKeypair, RelayIdentityKeypair};

fn bench_handshake(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let identity = RelayIdentityKeypair::generate(&mut rng).public();
    let onion = OnionKeypair::generate(&mut rng);
    let onion_public = onion.public();
    let mut g = c.benchmark_group("handshake");

    let a = x25519_dalek::StaticSecret::random_from_rng(&mut rng);
    let b = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::random_from_rng(&mut rng));
    g.bench_function("x25519_dh", |bch| {
        bch.iter(|| black_box(a.diffie_hellman(black_box(&b))))
    });

    g.bench_function("client_start", |bch| {
        bch.iter_batched(
            || EphemeralSecret::generate(&mut rng),
            |eph| black_box(client_start(eph, &identity, &onion_public)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("server_respond", |bch| {
        bch.iter_batched(
            || {
                let (_, msg) = client_start(
                    EphemeralSecret::generate(&mut rng),
                    &identity,
                    &onion_public,
                );
                (EphemeralSecret::generate(&mut rng), msg)
            },
            |(eph, msg)| {
                black_box(server_respond(eph, &identity, &[&onion], &msg).expect("respond"))
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("client_finish", |bch| {
        bch.iter_batched(
            || {
                let (state, msg) = client_start(
                    EphemeralSecret::generate(&mut rng),
                    &identity,
                    &onion_public,
                );
                let (_, reply) = server_respond(
                    EphemeralSecret::generate(&mut rng),
                    &identity,
                    &[&onion],
                    &msg,
                )
                .expect("respond");
                (state, reply)
            },
            |(state, reply)| black_box(client_finish(state, &reply).expect("finish")),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = warren_benches::criterion_config();
    targets = bench_handshake
}
criterion_main!(benches);
