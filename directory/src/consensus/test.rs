//! Tests of the consensus (docs/spec.md §12.7–§12.8): determinism, the
//! algorithm's rules, a minority of authorities missing, and every reason a
//! client refuses a consensus.

use super::*;
use crate::authority::AuthorityCert;
use crate::descriptor::SignedDescriptor;
use crate::status::Flags;
use crate::testing::{Authority, HOUR, T0, authorities, authority, relays, set_of, vote};
use crate::vote::Vote;
use sha3::{Digest, Sha3_256};

/// The votes of `auths` on 8 relays, each authority with a view of its own:
/// the first misses relay 8, the second sees relay 3 down and measures
/// relay 5 at 10 bytes/s, the third lists an older descriptor of relay 6.
fn votes_on_8(auths: &[Authority]) -> (Vec<SignedDescriptor>, Vec<Vote>) {
    let ds = relays(8);
    let old6 = crate::testing::signed_descriptor(6, T0 - 5 * HOUR);
    let id = |n: usize| ds[n - 1].descriptor().identity;
    let (id3, id5) = (id(3), id(5));
    let v1 = vote(&auths[0], &ds[..7], |_| {});
    let v2 = vote(&auths[1], &ds, |s| {
        if s.identity == id3 {
            s.flags = Flags::NONE;
        }
        if s.identity == id5 {
            s.bandwidth = 10;
        }
    });
    let mut third = ds.clone();
    third[5] = old6;
    let v3 = vote(&auths[2], &third, |_| {});
    (ds, vec![v1, v2, v3])
}

/// Signs `body` by each of `signers` and assembles the consensus.
fn sign_by(body: &ConsensusBody, signers: &[&Authority]) -> Consensus {
    let sigs = signers
        .iter()
        .map(|a| ConsensusSignature::sign(body, &a.cert, &a.key).unwrap())
        .collect();
    Consensus::assemble(body.clone(), sigs)
        .unwrap()
        .dangerously_assume_verified()
}

/// Decodes, verifies and time-checks `c` as a client configured with `set`.
fn accept(c: &Consensus, set: &AuthoritySet, now: u64) -> Result<Consensus, DirectoryError> {
    Consensus::decode(&c.encode()?)?
        .verify(set)?
        .check_valid_at(now)
}

#[test]
fn every_authority_computes_the_same_bytes() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let (_, votes) = votes_on_8(&auths);
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let bodies: Vec<Vec<u8>> = orders
        .iter()
        .map(|o| {
            let shuffled: Vec<Vote> = o.iter().map(|i| votes[*i].clone()).collect();
            ConsensusBody::compute(&set, &shuffled)
                .unwrap()
                .encode()
                .unwrap()
        })
        .collect();
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    let body = ConsensusBody::decode(&bodies[0]).unwrap();
    let signed = sign_by(&body, &[&auths[2], &auths[0], &auths[1]]);
    let accepted = accept(&signed, &set, T0 + 60).unwrap();
    assert_eq!(accepted.signatures().len(), 3);
    assert_eq!(accepted.body_bytes(), &bodies[0][..]);
    assert_eq!(accepted.relays().len(), 8);
}

#[test]
fn the_algorithm_follows_its_rules() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let (ds, votes) = votes_on_8(&auths);
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    let entry = |n: usize| body.relay(&ds[n - 1].descriptor().identity).unwrap();
    // Relay 8 is listed by 2 of 3 votes: listed.
    assert_eq!(body.relays.len(), 8);
    // Relay 3: Running in 2 of 3 votes.
    assert!(entry(3).flags.contains(Flags::RUNNING));
    // Relay 5: bandwidths 5 MB/s, 10 B/s, 5 MB/s: the low median is 5 MB/s.
    assert_eq!(entry(5).bandwidth, 5_000_000);
    // Relay 6: the newer descriptor is listed by 2 votes.
    assert_eq!(entry(6).descriptor_digest, ds[5].digest());
    // Exits: even relays; never odd ones.
    assert!(entry(2).flags.contains(Flags::EXIT) && !entry(1).flags.contains(Flags::EXIT));
    // Sorted by identity.
    assert!(
        body.relays
            .windows(2)
            .all(|w| w[0].identity < w[1].identity)
    );
    // Shared random value over the contributions in authority order.
    let mut by_id: Vec<&Vote> = votes.iter().collect();
    by_id.sort_by_key(|v| v.authority());
    let mut h = Sha3_256::new().chain_update(SRV_LABEL);
    for v in &by_id {
        h.update(v.body().shared_random);
    }
    assert_eq!(body.shared_random, <[u8; 32]>::from(h.finalize()));
    assert_eq!((body.valid_after, body.fresh_until), (T0, T0 + HOUR));
    assert_eq!(
        body.voters,
        by_id.iter().map(|v| v.authority()).collect::<Vec<_>>()
    );
}

#[test]
fn flags_need_a_majority_of_the_listing_votes() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let ds = relays(2);
    let id1 = ds[0].descriptor().identity;
    let down = |s: &mut RelayStatus| {
        if s.identity == id1 {
            s.flags = Flags::NONE;
        }
    };
    // Two votes list relay 1; one of them says it is down: 1 of 2 is not a
    // majority.
    let votes = vec![
        vote(&auths[0], &ds, |_| {}),
        vote(&auths[1], &ds, down),
        vote(&auths[2], &ds[1..], |_| {}),
    ];
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    assert_eq!(body.relay(&id1).unwrap().flags, Flags::NONE);
}

#[test]
fn ties_between_descriptors_go_to_the_larger_digest() {
    let auths = authorities(2);
    let set = set_of(&auths);
    let new = relays(1);
    let old = vec![crate::testing::signed_descriptor(1, T0 - 9 * HOUR)];
    let votes = vec![vote(&auths[0], &new, |_| {}), vote(&auths[1], &old, |_| {})];
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    let larger = new[0].digest().max(old[0].digest());
    assert_eq!(body.relays[0].descriptor_digest, larger);
}

#[test]
fn one_of_three_missing_still_works() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let (_, votes) = votes_on_8(&auths);
    let body = ConsensusBody::compute(&set, &votes[1..]).unwrap();
    assert_eq!(body.voters.len(), 2);
    let signed = sign_by(&body, &[&auths[1], &auths[2]]);
    let accepted = accept(&signed, &set, T0).unwrap();
    assert_eq!(accepted.signatures().len(), 2);
}

#[test]
fn two_of_three_missing_is_not_enough() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let (_, votes) = votes_on_8(&auths);
    assert_eq!(
        ConsensusBody::compute(&set, &votes[2..]).unwrap_err(),
        DirectoryError::TooFewVotes {
            votes: 1,
            needed: 2,
            configured: 3
        }
    );
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    let err = accept(&sign_by(&body, &[&auths[0]]), &set, T0).unwrap_err();
    assert_eq!(
        err,
        DirectoryError::TooFewSignatures {
            document: "consensus",
            valid: 1,
            needed: 2,
            configured: 3
        }
    );
    assert!(
        err.to_string()
            .contains("1 of the 3 configured authorities"),
        "{err}"
    );
}

#[test]
fn client_rejections() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let (_, votes) = votes_on_8(&auths);
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    let all: Vec<&Authority> = auths.iter().collect();
    let signed = sign_by(&body, &all);
    // Signed by keys the client does not know.
    let others = set_of(&[authority(7), authority(8)]);
    assert!(matches!(
        accept(&signed, &others, T0),
        Err(DirectoryError::UnknownAuthority { configured: 2, .. })
    ));
    // Altered after signing: the signatures of the original body on another.
    let mut altered = body.clone();
    altered.relays[0].bandwidth += 1;
    let forged = Consensus::assemble(altered, signed.signatures().to_vec()).unwrap();
    assert_eq!(
        forged.verify(&set).unwrap_err(),
        DirectoryError::BadSignature {
            document: "consensus"
        }
    );
    // Expired, and not yet valid.
    assert_eq!(
        accept(&signed, &set, T0 + 3 * HOUR + 100).unwrap_err(),
        DirectoryError::Expired {
            document: "consensus",
            valid_until: T0 + 3 * HOUR,
            now: T0 + 3 * HOUR + 100,
            by: 100
        }
    );
    assert!(matches!(
        accept(&signed, &set, T0 - 30),
        Err(DirectoryError::NotYetValid { wait: 30, .. })
    ));
    // Valid at both edges.
    accept(&signed, &set, T0).unwrap();
    accept(&signed, &set, T0 + 3 * HOUR).unwrap();
}

#[test]
fn expired_certificates_do_not_count() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let (_, votes) = votes_on_8(&auths);
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    // Authorities 1 and 2 sign with certificates that expired before T0.
    let stale = |a: &Authority| {
        let cert = AuthorityCert::issue(&a.id, a.key.public(), T0 - 9 * HOUR, T0 - HOUR).unwrap();
        ConsensusSignature::sign(&body, &cert, &a.key).unwrap()
    };
    let sigs = vec![
        stale(&auths[0]),
        stale(&auths[1]),
        ConsensusSignature::sign(&body, &auths[2].cert, &auths[2].key).unwrap(),
    ];
    let c = Consensus::assemble(body, sigs).unwrap();
    let err = c.verify(&set).unwrap().check_valid_at(T0 + 10).unwrap_err();
    assert_eq!(
        err,
        DirectoryError::TooFewValidCerts {
            document: "consensus",
            valid: 1,
            needed: 2,
            now: T0 + 10
        }
    );
}

#[test]
fn canonical_documents() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let (_, votes) = votes_on_8(&auths);
    let body = ConsensusBody::compute(&set, &votes).unwrap();
    let sig = ConsensusSignature::sign(&body, &auths[0].cert, &auths[0].key).unwrap();
    assert!(matches!(
        Consensus::assemble(body.clone(), vec![sig.clone(), sig.clone()]),
        Err(DirectoryError::DuplicateAuthority { .. })
    ));
    // A detached signature round-trips.
    assert_eq!(
        ConsensusSignature::decode(&sig.encode().unwrap()).unwrap(),
        sig
    );
    // Signatures in the wrong order are refused when decoding.
    let signed = sign_by(&body, &auths.iter().collect::<Vec<_>>());
    let mut wires: Vec<_> = signed
        .signatures()
        .iter()
        .map(ConsensusSignature::to_wire)
        .collect();
    wires.reverse();
    let bytes = wire::encode(&WireConsensus {
        body: signed.body_bytes(),
        signatures: wires,
    })
    .unwrap();
    assert!(matches!(
        Consensus::decode(&bytes),
        Err(DirectoryError::NonCanonical { reason, .. }) if reason.contains("sorted")
    ));
    // Unsorted relays are refused when encoding.
    let mut unsorted = body.clone();
    unsorted.relays.swap(0, 1);
    assert!(matches!(
        unsorted.encode(),
        Err(DirectoryError::NonCanonical { .. })
    ));
    let mut long = signed.encode().unwrap();
    long.push(7);
    assert!(matches!(
        Consensus::decode(&long),
        Err(DirectoryError::TrailingBytes { count: 1, .. })
    ));
    // Votes from an unknown authority, or twice from one, are refused.
    let stranger = vote(&authority(9), &relays(1), |_| {});
    assert!(matches!(
        ConsensusBody::compute(&set, &[votes[0].clone(), stranger]),
        Err(DirectoryError::UnknownAuthority { .. })
    ));
    assert!(matches!(
        ConsensusBody::compute(&set, &[votes[0].clone(), votes[0].clone()]),
        Err(DirectoryError::DuplicateAuthority { .. })
    ));
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A signed 3-relay consensus, made once.
    fn sample() -> &'static [u8] {
        static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
        BYTES.get_or_init(|| {
            let auths = authorities(3);
            let set = set_of(&auths);
            let ds = relays(3);
            let votes: Vec<Vote> = auths.iter().map(|a| vote(a, &ds, |_| {})).collect();
            let body = ConsensusBody::compute(&set, &votes).unwrap();
            sign_by(&body, &auths.iter().collect::<Vec<_>>())
                .encode()
                .unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            crate::fuzzing::consensus(&bytes);
        }

        #[test]
        fn mutated_consensus_never_panics(pos in any::<usize>(), bit in 0u8..8) {
            let mut bytes = sample().to_vec();
            let i = pos % bytes.len();
            bytes[i] ^= 1 << bit;
            crate::fuzzing::consensus(&bytes);
        }

        #[test]
        fn vote_order_never_matters(seed in any::<u64>()) {
            let auths = authorities(3);
            let set = set_of(&auths);
            let (_, mut votes) = votes_on_8(&auths);
            let body = ConsensusBody::compute(&set, &votes).unwrap();
            let reference = body.encode().unwrap();
            prop_assert_eq!(&ConsensusBody::decode(&reference).unwrap(), &body);
            let (a, b) = ((seed % 3) as usize, ((seed / 3) % 3) as usize);
            votes.swap(a, b);
            prop_assert_eq!(ConsensusBody::compute(&set, &votes).unwrap().encode().unwrap(), reference);
        }
    }
}
