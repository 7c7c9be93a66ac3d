//! The relay-directory vectors of docs/spec.md §12.11. The test network of
//! §12.11 is rebuilt here from fixed keys; each document must come out as
//! exactly the bytes the vector shows, decode, verify and re-encode to the
//! same bytes.
//! `the_spec_vectors_are_what_the_code_produces` regenerates every field
//! from the fixed keys and names the first one that differs.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "test helpers: a vector that does not decode must fail the test that reads it"
)]

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use sha3::Sha3_256;
use warren_crypto::{
    OnionKeypair, RelayIdentity, RelayIdentityKeypair, ServiceIdentityKeypair, TimePeriod,
};
use warren_directory::hsdir_ring::{hs_index, hsdir_index};
use warren_directory::{
    AuthorityCert, AuthorityIdentityKeypair, AuthoritySet, AuthoritySigningKeypair, Consensus,
    ConsensusBody, ConsensusSignature, Flags, HsDirRing, OnionKeyCert, RelayDescriptor,
    RelayStatus, Roles, SignedDescriptor, Vote, VoteBody,
};
use warren_tests::{Vector, bytes, field, spec_vector, spec_vector_names};

/// Publication time of the test network's descriptors: 2026-01-01 00:00 UTC.
const P: u64 = 1_767_225_600;
/// The consensus period starts an hour later.
const V: u64 = P + 3600;
const DAY: u64 = 86_400;

fn u64_field(v: &Vector, name: &str) -> u64 {
    u64::from_be_bytes(field(v, name))
}

fn text(v: &Vector, name: &str) -> String {
    String::from_utf8(bytes(v, name).to_vec()).unwrap()
}

fn relay_key(n: u8) -> RelayIdentityKeypair {
    RelayIdentityKeypair::from_secret_bytes([n; 32])
}

/// Relay A (`n = 1`) or B (`n = 2`) of §12.11.
fn relay(n: u8) -> RelayDescriptor {
    let id = relay_key(n);
    let onion = OnionKeypair::from_secret_bytes([0x80 + n; 32]).public();
    let (bandwidth, policy, roles) = if n == 1 {
        (
            5_000_000,
            "",
            "guard,middle,hsdir,intro,rendezvous,dircache",
        )
    } else {
        (
            2_000_000,
            "reject 10.0.0.0/8:*, accept *:80, accept *:443",
            "middle,exit,hsdir",
        )
    };
    RelayDescriptor {
        identity: id.public(),
        onion_cert: OnionKeyCert::sign(&id, onion, P + 28 * DAY),
        addresses: vec![
            format!("/ip4/192.0.2.{n}/tcp/9001"),
            format!("/ip4/192.0.2.{n}/udp/9001/quic-v1"),
        ],
        bandwidth,
        family: BTreeSet::from([relay_key(3 - n).public()]),
        exit_policy: policy.parse().unwrap(),
        roles: roles.parse().unwrap(),
        software: "warren 0.1.0".into(),
        published: P,
    }
}

fn signed_relay(n: u8) -> SignedDescriptor {
    relay(n).sign(&relay_key(n)).unwrap()
}

struct Authority {
    id: AuthorityIdentityKeypair,
    key: AuthoritySigningKeypair,
    cert: AuthorityCert,
}

/// Authority `k` (1 to 3) of §12.11.
fn authority(k: u8) -> Authority {
    let id = AuthorityIdentityKeypair::from_secret_bytes([200 + k; 32]);
    let key = AuthoritySigningKeypair::from_secret_bytes([100 + k; 32]);
    let cert = AuthorityCert::issue(&id, key.public(), P - 30 * DAY, P + 365 * DAY).unwrap();
    Authority { id, key, cert }
}

fn authority_set() -> AuthoritySet {
    AuthoritySet::new((1..=3).map(|k| authority(k).id.public())).unwrap()
}

/// Authority `k`'s vote on relays A and B (§12.11).
fn vote(k: u8) -> Vote {
    let auth = authority(k);
    let a_flags = Flags::RUNNING | Flags::STABLE | Flags::FAST | Flags::GUARD | Flags::HSDIR;
    let b_flags = Flags::RUNNING | Flags::STABLE | Flags::FAST | Flags::HSDIR | Flags::EXIT;
    let a = signed_relay(1);
    let b = signed_relay(2);
    let a_bw = if k == 3 { 1_000_000 } else { 5_000_000 };
    let b_flags = if k == 2 { Flags::NONE } else { b_flags };
    let body = VoteBody {
        valid_after: V,
        fresh_until: V + 3600,
        valid_until: V + 3 * 3600,
        shared_random: [0x10 * k; 32],
        relays: vec![
            RelayStatus::from_descriptor(&a, a_flags, a_bw),
            RelayStatus::from_descriptor(&b, b_flags, 2_000_000),
        ],
    };
    Vote::sign(body, &auth.cert, &auth.key).unwrap()
}

fn consensus() -> Consensus {
    let votes: Vec<Vote> = (1..=3).map(vote).collect();
    let body = ConsensusBody::compute(&authority_set(), &votes).unwrap();
    let sigs = (1..=3)
        .map(|k| {
            let a = authority(k);
            ConsensusSignature::sign(&body, &a.cert, &a.key).unwrap()
        })
        .collect();
    Consensus::assemble(body, sigs)
        .unwrap()
        .dangerously_assume_verified()
}

fn ring_period() -> TimePeriod {
    TimePeriod::containing(V, 1440).unwrap()
}

fn ring_relays() -> Vec<RelayIdentity> {
    (1..=8).map(|n| relay_key(n).public()).collect()
}

fn service() -> ServiceIdentityKeypair {
    let mut secret = [0u8; 32];
    secret.iter_mut().zip(0x41u8..).for_each(|(b, v)| *b = v);
    ServiceIdentityKeypair::from_secret_bytes(secret)
}

fn check_descriptor(name: &str, n: u8) {
    let v = spec_vector(name);
    let key = RelayIdentityKeypair::from_secret_bytes(field(&v, "identity_secret"));
    assert_eq!(
        key.public().as_bytes(),
        &field::<32>(&v, "identity"),
        "{name}"
    );
    let onion = OnionKeypair::from_secret_bytes(field(&v, "onion_secret"));
    let raw = bytes(&v, "descriptor");
    let d = SignedDescriptor::decode(raw)
        .unwrap()
        .verify(&())
        .unwrap()
        .check_valid_at(u64_field(&v, "published"))
        .unwrap();
    let desc = d.descriptor();
    assert_eq!(desc.identity, key.public());
    assert_eq!(desc.onion_key(), onion.public());
    assert_eq!(desc.onion_cert.expires, u64_field(&v, "onion_expires"));
    assert_eq!(
        desc.addresses,
        [text(&v, "address_1"), text(&v, "address_2")]
    );
    assert_eq!(desc.bandwidth, u64_field(&v, "bandwidth"));
    let family: Vec<[u8; 32]> = desc.family.iter().map(|f| *f.as_bytes()).collect();
    assert_eq!(family, [field::<32>(&v, "family")]);
    assert_eq!(desc.exit_policy.to_string(), text(&v, "exit_policy"));
    assert_eq!(
        desc.roles,
        Roles::from_bits(field::<1>(&v, "roles")[0]).unwrap()
    );
    assert_eq!(desc.software, text(&v, "software"));
    assert_eq!(d.encode().unwrap(), raw, "{name}: re-encoding");
    assert_eq!(d.digest(), <[u8; 32]>::from(Sha256::digest(raw)));
    assert_eq!(d.digest(), field::<32>(&v, "digest"), "{name}: digest");
    assert_eq!(signed_relay(n).as_bytes(), raw, "{name}: signing again");
}

#[test]
fn descriptors() {
    check_descriptor("directory-descriptor-a", 1);
    check_descriptor("directory-descriptor-b", 2);
}

#[test]
fn authority_cert() {
    let v = spec_vector("directory-authority-cert");
    let id = AuthorityIdentityKeypair::from_secret_bytes(field(&v, "identity_secret"));
    let key = AuthoritySigningKeypair::from_secret_bytes(field(&v, "signing_secret"));
    assert_eq!(id.public().as_bytes(), &field::<32>(&v, "identity"));
    assert_eq!(key.public().as_bytes(), &field::<32>(&v, "signing_key"));
    let raw = bytes(&v, "cert");
    let cert = AuthorityCert::decode(raw)
        .unwrap()
        .verify(&id.public())
        .unwrap()
        .check_valid_at(P)
        .unwrap();
    assert_eq!(cert.signing_key(), key.public());
    assert_eq!(cert.published(), u64_field(&v, "published"));
    assert_eq!(cert.expires(), u64_field(&v, "expires"));
    assert_eq!(cert.encode().unwrap(), raw);
    assert_eq!(authority(1).cert.as_bytes(), raw, "issuing again");
}

#[test]
fn vote_vector() {
    let v = spec_vector("directory-vote");
    let raw = bytes(&v, "vote");
    let vote1 = Vote::decode(raw)
        .unwrap()
        .verify(&authority_set())
        .unwrap()
        .check_valid_at(P)
        .unwrap();
    assert_eq!(
        vote1.cert().as_bytes(),
        bytes(&spec_vector("directory-authority-cert"), "cert")
    );
    let body = vote1.body();
    assert_eq!(body.valid_after, u64_field(&v, "valid_after"));
    assert_eq!(body.fresh_until, u64_field(&v, "fresh_until"));
    assert_eq!(body.valid_until, u64_field(&v, "valid_until"));
    assert_eq!(body.shared_random, field::<32>(&v, "shared_random"));
    let a = spec_vector("directory-descriptor-a");
    assert!(
        body.relays
            .iter()
            .any(|r| r.descriptor_digest == field::<32>(&a, "digest"))
    );
    assert_eq!(vote1.encode().unwrap(), raw);
    assert_eq!(vote(1).as_bytes(), raw, "signing again");
}

#[test]
fn consensus_vector() {
    let v = spec_vector("directory-consensus");
    let raw = bytes(&v, "consensus");
    let c = Consensus::decode(raw)
        .unwrap()
        .verify(&authority_set())
        .unwrap()
        .check_valid_at(V)
        .unwrap();
    assert_eq!(c.body_bytes(), bytes(&v, "body"));
    assert_eq!(c.signatures().len(), 3);
    assert_eq!(c.relays().len(), 2);
    let mut srv = Sha3_256::new().chain_update(b"warren-srv-v1");
    let mut votes: Vec<Vote> = (1..=3).map(vote).collect();
    votes.sort_by_key(Vote::authority);
    for vt in &votes {
        srv.update(vt.body().shared_random);
    }
    assert_eq!(c.shared_random(), &<[u8; 32]>::from(srv.finalize()));
    assert_eq!(c.shared_random(), &field::<32>(&v, "shared_random"));
    let a = c.relay(&relay_key(1).public()).unwrap();
    assert_eq!(a.bandwidth, 5_000_000);
    let b = c.relay(&relay_key(2).public()).unwrap();
    assert!(b.flags.contains(Flags::EXIT | Flags::RUNNING));
    assert_eq!(c.encode().unwrap(), raw);
    assert_eq!(
        consensus().encode().unwrap(),
        raw,
        "computing and signing again"
    );
}

#[test]
fn hsdir_ring_vector() {
    let v = spec_vector("directory-hsdir-ring");
    let period = TimePeriod {
        number: u64_field(&v, "period_number"),
        length_minutes: u32::from_be_bytes(field(&v, "period_length")),
    };
    assert_eq!(period, ring_period());
    let srv: [u8; 32] = field(&v, "srv");
    assert_eq!(srv, *consensus().shared_random());
    let blinded = service().public().blind(period).unwrap();
    assert_eq!(blinded.as_bytes(), &field::<32>(&v, "blinded_key"));
    assert_eq!(
        hsdir_index(&ring_relays()[0], &srv, period),
        field::<32>(&v, "hsdir_index_1")
    );
    assert_eq!(hs_index(&blinded, 1, period), field::<32>(&v, "hs_index_1"));
    let ring = HsDirRing::from_relays(&srv, period, ring_relays());
    let chosen: Vec<u8> = ring
        .responsible(&blinded)
        .iter()
        .flat_map(|id| *id.as_bytes())
        .collect();
    assert_eq!(chosen, bytes(&v, "responsible"));
}

#[test]
fn every_directory_vector_is_checked() {
    let checked = [
        "directory-descriptor-a",
        "directory-descriptor-b",
        "directory-authority-cert",
        "directory-vote",
        "directory-consensus",
        "directory-hsdir-ring",
    ];
    for name in spec_vector_names() {
        if name.starts_with("directory-") {
            assert!(
                checked.contains(&name.as_str()),
                "vector {name} has no test"
            );
        }
    }
}

thread_local! {
    /// The spec vector the generated fields are compared with.
    static CURRENT: std::cell::RefCell<Option<(String, Vector)>> =
        const { std::cell::RefCell::new(None) };
}

/// Starts comparing generated fields with spec vector `name`.
fn begin(name: &str) {
    let vector = spec_vector(name);
    CURRENT.with(|c| *c.borrow_mut() = Some((name.to_string(), vector)));
}

/// The code's value of `name` must be the spec's, byte for byte.
fn line(name: &str, value: &[u8]) {
    CURRENT.with(|c| {
        let current = c.borrow();
        let (block, vector) = current.as_ref().expect("begin() first");
        assert_eq!(
            hex::encode(bytes(vector, name)),
            hex::encode(value),
            "docs/spec.md vector {block}, field {name}, differs from what the code produces"
        );
    });
}

fn print_descriptor(name: &str, n: u8) {
    let d = relay(n);
    let s = signed_relay(n);
    begin(name);
    line("identity_secret", &[n; 32]);
    line("identity", d.identity.as_bytes());
    line("onion_secret", &[0x80 + n; 32]);
    line("onion_key", d.onion_key().as_bytes());
    line("onion_expires", &d.onion_cert.expires.to_be_bytes());
    line("address_1", d.addresses[0].as_bytes());
    line("address_2", d.addresses[1].as_bytes());
    line("bandwidth", &d.bandwidth.to_be_bytes());
    line("family", d.family.iter().next().unwrap().as_bytes());
    line("exit_policy", d.exit_policy.to_string().as_bytes());
    line("roles", &[d.roles.bits()]);
    line("software", d.software.as_bytes());
    line("published", &d.published.to_be_bytes());
    line("descriptor", s.as_bytes());
    line("digest", &s.digest());
}

/// Regenerates every §12.11 vector from fixed keys and checks it against the
/// spec, field by field: the encodings are deterministic.
#[test]
fn the_spec_vectors_are_what_the_code_produces() {
    print_descriptor("directory-descriptor-a", 1);
    print_descriptor("directory-descriptor-b", 2);
    let a = authority(1);
    begin("directory-authority-cert");
    line("identity_secret", &[201; 32]);
    line("identity", a.id.public().as_bytes());
    line("signing_secret", &[101; 32]);
    line("signing_key", a.key.public().as_bytes());
    line("published", &a.cert.published().to_be_bytes());
    line("expires", &a.cert.expires().to_be_bytes());
    line("cert", a.cert.as_bytes());
    let v = vote(1);
    begin("directory-vote");
    line("valid_after", &v.body().valid_after.to_be_bytes());
    line("fresh_until", &v.body().fresh_until.to_be_bytes());
    line("valid_until", &v.body().valid_until.to_be_bytes());
    line("shared_random", &v.body().shared_random);
    line("vote", v.as_bytes());
    let c = consensus();
    begin("directory-consensus");
    line("shared_random", c.shared_random());
    line("body", c.body_bytes());
    line("consensus", &c.encode().unwrap());
    let period = ring_period();
    let blinded = service().public().blind(period).unwrap();
    let ring = HsDirRing::from_relays(c.shared_random(), period, ring_relays());
    let chosen: Vec<u8> = ring
        .responsible(&blinded)
        .iter()
        .flat_map(|id| *id.as_bytes())
        .collect();
    begin("directory-hsdir-ring");
    line("srv", c.shared_random());
    line("period_number", &period.number.to_be_bytes());
    line("period_length", &period.length_minutes.to_be_bytes());
    line("blinded_key", blinded.as_bytes());
    line(
        "hsdir_index_1",
        &hsdir_index(&ring_relays()[0], c.shared_random(), period),
    );
    line("hs_index_1", &hs_index(&blinded, 1, period));
    line("responsible", &chosen);
}
