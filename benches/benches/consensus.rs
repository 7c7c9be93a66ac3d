//! The consensus at network scale (docs/spec.md §12.12): 10,000 relays with
//! a realistic bandwidth distribution and 9 authorities. Prints the size of
//! the consensus document, raw and deflate-compressed, and measures an
//! authority's computation (9 votes → consensus) and a client's acceptance
//! (decode, check 5 of 9 signatures, check the time).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmarks: a failed operation must abort the run"
)]

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use warren_crypto::{OnionKeypair, RelayIdentity, RelayIdentityKeypair};
use warren_directory::{
    AuthorityCert, AuthorityIdentityKeypair, AuthoritySet, AuthoritySigningKeypair, Consensus,
    ConsensusBody, ConsensusSignature, ExitPolicy, FlagThresholds, Observation, RelayInfo,
    RelayStatus, Roles, Vote, VoteBody, assign_flags,
};

const RELAYS: usize = 10_000;
const AUTHORITIES: u8 = 9;
/// The consensus period starts here (2026-01-01 00:00 UTC).
const T0: u64 = 1_767_225_600;

/// A uniform float in (0, 1].
fn unit(rng: &mut ChaCha20Rng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

/// Advertised bandwidth in bytes/s: log-normal around 3 MB/s (most relays
/// between 1 and 10 MB/s), and a tail of 1% fast relays log-uniform between
/// 50 MB/s and 1 GB/s.
fn bandwidth(rng: &mut ChaCha20Rng) -> u64 {
    if unit(rng) < 0.01 {
        let (lo, hi) = (50e6f64.ln(), 1e9f64.ln());
        return (lo + unit(rng) * (hi - lo)).exp() as u64;
    }
    // Box–Muller.
    let z = (-2.0 * unit(rng).ln()).sqrt() * (std::f64::consts::TAU * unit(rng)).cos();
    (3e6f64.ln() + 0.7 * z).exp().clamp(20e3, 1e9) as u64
}

/// What every authority agrees a relay is.
struct Relay {
    identity: RelayIdentity,
    digest: [u8; 32],
    info: RelayInfo,
    bandwidth: u64,
    uptime: u64,
}

fn relays(rng: &mut ChaCha20Rng) -> Vec<Relay> {
    let exit_policy: ExitPolicy = "reject 10.0.0.0/8:*, reject *:25, accept *:80, accept *:443, \
                                   accept *:8000-9000, reject *:*"
        .parse()
        .unwrap();
    let ids: Vec<RelayIdentity> = (0..RELAYS)
        .map(|_| RelayIdentityKeypair::generate(rng).public())
        .collect();
    (0..RELAYS)
        .map(|i| {
            let exit = unit(rng) < 0.15;
            let mut roles = Roles::MIDDLE | Roles::GUARD | Roles::HSDIR | Roles::INTRO;
            roles.set(Roles::EXIT, exit);
            let family: BTreeSet<RelayIdentity> = if unit(rng) < 0.1 {
                (1..=3).map(|k| ids[(i + k) % RELAYS]).collect()
            } else {
                BTreeSet::new()
            };
            let mut digest = [0u8; 32];
            rng.fill_bytes(&mut digest);
            let ip = rng.next_u32().to_be_bytes();
            let ip = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
            Relay {
                identity: ids[i],
                digest,
                info: RelayInfo {
                    onion_key: OnionKeypair::generate(rng).public(),
                    addresses: vec![
                        format!("/ip4/{ip}/tcp/9001"),
                        format!("/ip4/{ip}/udp/9001/quic-v1"),
                    ],
                    family,
                    roles,
                    exit_summary: if exit {
                        exit_policy.summary()
                    } else {
                        Default::default()
                    },
                },
                bandwidth: bandwidth(rng),
                uptime: (unit(rng) * 30.0 * 86_400.0) as u64,
            }
        })
        .collect()
}

struct Authority {
    key: AuthoritySigningKeypair,
    cert: AuthorityCert,
}

fn authorities() -> (AuthoritySet, Vec<Authority>) {
    let auths: Vec<(AuthorityIdentityKeypair, Authority)> = (1..=AUTHORITIES)
        .map(|k| {
            let id = AuthorityIdentityKeypair::from_secret_bytes([k; 32]);
            let key = AuthoritySigningKeypair::from_secret_bytes([k + 100; 32]);
            let cert =
                AuthorityCert::issue(&id, key.public(), T0 - 86_400, T0 + 365 * 86_400).unwrap();
            (id, Authority { key, cert })
        })
        .collect();
    let set = AuthoritySet::new(auths.iter().map(|(id, _)| id.public())).unwrap();
    (set, auths.into_iter().map(|(_, a)| a).collect())
}

/// One authority's vote: it misses 2% of the relays, sees 1% as down, and
/// measures bandwidths within ±10% of the advertised ones.
fn vote(auth: &Authority, relays: &[Relay], rng: &mut ChaCha20Rng) -> Vote {
    let listed: Vec<&Relay> = relays.iter().filter(|_| unit(rng) >= 0.02).collect();
    let observations: Vec<Observation> = listed
        .iter()
        .map(|r| Observation {
            reachable: unit(rng) >= 0.01,
            uptime: r.uptime,
            known_for: r.uptime * 2,
            bandwidth: (r.bandwidth as f64 * (0.9 + 0.2 * unit(rng))) as u64,
            roles: r.info.roles,
            exits: r.info.exit_summary.allows_any(),
        })
        .collect();
    let flags = assign_flags(&observations, &FlagThresholds::PRODUCTION);
    let statuses = listed
        .iter()
        .zip(&observations)
        .zip(flags)
        .map(|((r, o), f)| RelayStatus {
            identity: r.identity,
            descriptor_digest: r.digest,
            flags: f,
            bandwidth: o.bandwidth,
            info: r.info.clone(),
        })
        .collect();
    let mut shared_random = [0u8; 32];
    rng.fill_bytes(&mut shared_random);
    let body = VoteBody {
        valid_after: T0,
        fresh_until: T0 + 3600,
        valid_until: T0 + 3 * 3600,
        shared_random,
        relays: statuses,
    };
    Vote::sign(body, &auth.cert, &auth.key).unwrap()
}

fn bench_consensus(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let relays = relays(&mut rng);
    let (set, auths) = authorities();
    let votes: Vec<Vote> = auths.iter().map(|a| vote(a, &relays, &mut rng)).collect();
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    let sigs = auths
        .iter()
        .map(|a| ConsensusSignature::sign(&body, &a.cert, &a.key).unwrap())
        .collect();
    let consensus = Consensus::assemble(body, sigs).unwrap();
    let consensus = consensus.verify(&set).unwrap().check_valid_at(T0).unwrap();
    let bytes = consensus.encode().unwrap();
    let compressed = miniz_oxide::deflate::compress_to_vec(&bytes, 9);
    eprintln!(
        "consensus: {} relays listed, {} signatures: {} bytes raw, {} bytes deflated \
         (level 9), {:.0} bytes per relay raw; one vote: {} bytes",
        consensus.relays().len(),
        consensus.signatures().len(),
        bytes.len(),
        compressed.len(),
        bytes.len() as f64 / consensus.relays().len() as f64,
        votes[0].as_bytes().len(),
    );

    let mut g = c.benchmark_group("consensus_10k");
    g.sample_size(10);
    g.bench_function("authority_compute_9_votes", |b| {
        b.iter(|| black_box(ConsensusBody::compute(&set, black_box(&votes)).unwrap()))
    });
    g.bench_function("client_decode", |b| {
        b.iter(|| black_box(Consensus::decode(black_box(&bytes)).unwrap()))
    });
    g.bench_function("client_verify_5_of_9", |b| {
        b.iter_batched(
            || Consensus::decode(&bytes).unwrap(),
            |u| black_box(u.verify(&set).unwrap().check_valid_at(T0 + 60).unwrap()),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("client_accept_total", |b| {
        b.iter(|| {
            let u = Consensus::decode(black_box(&bytes)).unwrap();
            black_box(u.verify(&set).unwrap().check_valid_at(T0 + 60).unwrap())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = warren_benches::criterion_config();
    targets = bench_consensus
}
criterion_main!(benches);
