//! Tests of votes (docs/spec.md §12.6): round trips, canonical relay order
//! and every rejection of a received vote.

use super::*;
use crate::status::Flags;
use crate::testing::{HOUR, T0, authorities, authority, relays, set_of, vote};
use proptest::prelude::*;

#[test]
fn sign_decode_verify_round_trip() {
    let auths = authorities(3);
    let ds = relays(4);
    let v = vote(&auths[0], &ds, |_| {});
    let timed = Vote::decode(v.as_bytes())
        .unwrap()
        .verify(&set_of(&auths))
        .unwrap();
    assert_eq!(timed.valid_until(), T0 + 3 * HOUR);
    let back = timed.check_valid_at(T0 - 600).unwrap();
    assert_eq!(back, v);
    assert_eq!(back.encode().unwrap(), v.as_bytes());
    assert_eq!(back.authority(), auths[0].id.public());
    assert_eq!(back.body().relays.len(), 4);
    let relay2 = ds[1].descriptor().identity;
    let flags = back
        .body()
        .relays
        .iter()
        .find(|r| r.identity == relay2)
        .unwrap()
        .flags;
    assert!(flags.contains(Flags::RUNNING | Flags::STABLE | Flags::FAST | Flags::EXIT));
}

#[test]
fn relays_are_sorted_and_unique() {
    let auth = authority(1);
    let v = vote(&auth, &relays(6), |_| {});
    let ids: Vec<_> = v.body().relays.iter().map(|r| r.identity).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let mut body = v.body().clone();
    body.relays.push(body.relays[0].clone());
    let err = Vote::sign(body, &auth.cert, &auth.key).unwrap_err();
    assert!(matches!(err, DirectoryError::NonCanonical { reason, .. } if reason.contains("twice")));
}

#[test]
fn rejections() {
    let auths = authorities(3);
    let set = set_of(&auths);
    let v = vote(&auths[0], &relays(2), |_| {});
    // A vote by an authority the verifier does not know.
    let stranger = authority(9);
    let sv = vote(&stranger, &relays(2), |_| {});
    assert_eq!(
        Vote::decode(sv.as_bytes())
            .unwrap()
            .verify(&set)
            .unwrap_err(),
        DirectoryError::UnknownAuthority {
            document: DOCUMENT,
            authority: stranger.id.public(),
            configured: 3
        }
    );
    // Signing with a key the certificate does not certify.
    assert!(matches!(
        Vote::sign(v.body().clone(), &auths[0].cert, &auths[1].key),
        Err(DirectoryError::KeyMismatch { .. })
    ));
    // Authority 2's signing key signs a vote carrying authority 1's certificate.
    let body = encode_body(v.body(), &auths[0].cert).unwrap();
    let forged = Sealed::seal(VOTE_LABEL, &body, auths[1].key.ed25519()).unwrap();
    let err = Vote::decode(&forged.bytes)
        .unwrap()
        .verify(&set)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::ForgedSigner {
                document: "vote",
                ..
            }
        ),
        "{err}"
    );
    // Altered after signing.
    let mut altered = v.body().clone();
    altered.relays[0].bandwidth += 1;
    let body = encode_body(&altered, &auths[0].cert).unwrap();
    let bytes = Sealed::from_parts(&body, v.signer, v.signature)
        .unwrap()
        .bytes;
    assert_eq!(
        Vote::decode(&bytes).unwrap().verify(&set).unwrap_err(),
        DirectoryError::BadSignature { document: DOCUMENT }
    );
}

#[test]
fn times() {
    let auths = authorities(1);
    let set = set_of(&auths);
    let v = vote(&auths[0], &relays(1), |_| {});
    let timed = Vote::decode(v.as_bytes()).unwrap().verify(&set).unwrap();
    assert!(matches!(
        timed.clone().check_valid_at(T0 + 3 * HOUR + 5),
        Err(DirectoryError::Expired { by: 5, .. })
    ));
    // The certificate expires a year after T0.
    let mut body = v.body().clone();
    body.valid_until = T0 + 400 * 24 * HOUR;
    let late = Vote::sign(body, &auths[0].cert, &auths[0].key).unwrap();
    let timed = Vote::decode(late.as_bytes()).unwrap().verify(&set).unwrap();
    assert!(matches!(
        timed.check_valid_at(T0 + 370 * 24 * HOUR),
        Err(DirectoryError::TooFewValidCerts {
            valid: 0,
            needed: 1,
            ..
        })
    ));
    let mut bad = v.body().clone();
    bad.fresh_until = bad.valid_until + 1;
    assert!(matches!(
        Vote::sign(bad, &auths[0].cert, &auths[0].key),
        Err(DirectoryError::BadTimes { .. })
    ));
}

#[test]
fn a_contribution_holds_for_a_period_and_differs_by_secret() {
    let p = warren_crypto::TimePeriod::containing(1_767_225_600, 1440).unwrap();
    let a = shared_random_contribution(&[1; 32], p);
    assert_eq!(a, shared_random_contribution(&[1; 32], p));
    assert_ne!(a, shared_random_contribution(&[1; 32], p.next()));
    assert_ne!(a, shared_random_contribution(&[2; 32], p));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        crate::fuzzing::vote(&bytes);
    }

    #[test]
    fn mutated_votes_never_panic(pos in any::<usize>(), bit in 0u8..8) {
        let mut bytes = vote(&authority(1), &relays(2), |_| {}).as_bytes().to_vec();
        let i = pos % bytes.len();
        bytes[i] ^= 1 << bit;
        crate::fuzzing::vote(&bytes);
    }

    #[test]
    fn votes_round_trip(bw in any::<u64>(), flags in 0u8..0x40, n in 1u8..6) {
        let v = vote(&authority(2), &relays(n), |s| {
            s.bandwidth = bw;
            s.flags = Flags::from_bits(flags).unwrap();
        });
        let back = Vote::decode(v.as_bytes()).unwrap().dangerously_assume_verified();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(back.encode().unwrap(), v.as_bytes());
    }
}
