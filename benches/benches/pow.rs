//! The onion-service client puzzle (docs/spec.md §16.4): one solving
//! attempt (one nonce: an Equi-X solve and the effort check of each of its
//! solutions) and one verification (the effort check and an Equi-X
//! verification).

#![allow(
    clippy::expect_used,
    reason = "benchmarks: a failed operation must abort the run"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use warren_crypto::pow::{solve, verify};

const SEED: [u8; 32] = [0x07; 32];
const KEY: [u8; 32] = [0xdd; 32];

fn nonce(n: u64) -> [u8; 16] {
    u128::from(n).to_le_bytes()
}

fn bench_pow(c: &mut Criterion) {
    let mut g = c.benchmark_group("pow");

    // One attempt per iteration, whether or not it finds a solution.
    let mut n = 0u64;
    g.bench_function("solve_effort_1", |bch| {
        bch.iter(|| {
            n = n.wrapping_add(1);
            black_box(solve(&SEED, &KEY, 1, nonce(n << 32), 1).ok())
        })
    });

    // Distinct solutions, so that every verification builds its own
    // Equi-X instance.
    let solutions: Vec<_> = (0..64)
        .map(|i| solve(&SEED, &KEY, 1, nonce(i << 40), 1_000).expect("solve"))
        .collect();
    let mut i = 0usize;
    g.bench_function("verify", |bch| {
        bch.iter(|| {
            i = i.wrapping_add(1);
            let s = solutions.get(i % solutions.len()).expect("a solution");
            black_box(verify(black_box(&SEED), &KEY, s)).expect("verify");
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = warren_benches::criterion_config();
    targets = bench_pow
}
criterion_main!(benches);
