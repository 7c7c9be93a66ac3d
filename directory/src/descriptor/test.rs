//! Tests of relay descriptors (docs/spec.md §12.2): round trips, every
//! rejection an authority applies, and decoding arbitrary bytes.

use super::*;
use crate::testing::{HOUR, T0, descriptor, relay_key, signed_descriptor};
use proptest::prelude::*;
use warren_crypto::OnionKeypair;

/// Wraps `body` in an envelope signed by `key`, whatever the body says.
fn seal_as(body: &[u8], key: &RelayIdentityKeypair) -> Vec<u8> {
    Sealed::seal(DESCRIPTOR_LABEL, body, key).unwrap().bytes
}

fn verify(bytes: &[u8]) -> Result<TimeBoundDescriptor, DirectoryError> {
    SignedDescriptor::decode(bytes)?.verify(&())
}

type TimeBoundDescriptor = crate::signed::TimeBound<SignedDescriptor>;

#[test]
fn sign_decode_verify_round_trip() {
    let signed = signed_descriptor(3, T0);
    let checked = verify(signed.as_bytes()).unwrap();
    assert_eq!(checked.valid_after(), T0 - DESCRIPTOR_MAX_SKEW);
    assert_eq!(checked.valid_until(), T0 + DESCRIPTOR_LIFETIME);
    let again = checked.check_valid_at(T0 + HOUR).unwrap();
    assert_eq!(again, signed);
    assert_eq!(again.encode().unwrap(), signed.as_bytes());
    assert_eq!(
        again.digest(),
        <[u8; 32]>::from(Sha256::digest(signed.as_bytes()))
    );
    assert_eq!(
        again.descriptor().onion_key(),
        signed.descriptor().onion_key()
    );
}

#[test]
fn bad_signature_is_refused() {
    let d = descriptor(3, T0);
    let signed = d.sign(&relay_key(3)).unwrap();
    let mut altered = d.clone();
    altered.bandwidth += 1;
    let body = altered.encode_body().unwrap();
    let bytes = Sealed::from_parts(&body, signed.signer, signed.signature)
        .unwrap()
        .bytes;
    assert_eq!(
        verify(&bytes).unwrap_err(),
        DirectoryError::BadSignature { document: DOCUMENT }
    );
}

#[test]
fn forged_identity_is_refused() {
    // Relay 4 signs a descriptor that claims relay 3's identity.
    let d = descriptor(3, T0);
    let bytes = seal_as(&d.encode_body().unwrap(), &relay_key(4));
    let err = verify(&bytes).unwrap_err();
    assert_eq!(
        err,
        DirectoryError::ForgedSigner {
            document: DOCUMENT,
            claimed: relay_key(3).public().to_string(),
            signer: relay_key(4).public().to_string(),
        }
    );
    assert!(
        err.to_string().starts_with("forged relay descriptor"),
        "{err}"
    );
    // And the relay's own key refuses to sign for another identity.
    assert!(matches!(
        d.sign(&relay_key(4)),
        Err(DirectoryError::KeyMismatch { .. })
    ));
}

#[test]
fn onion_cert_of_another_identity_is_refused() {
    let mut d = descriptor(3, T0);
    let onion = OnionKeypair::from_secret_bytes([9; 32]).public();
    d.onion_cert = OnionKeyCert::sign(&relay_key(4), onion, T0 + 24 * HOUR);
    let signed = d.sign(&relay_key(3)).unwrap();
    assert_eq!(
        verify(signed.as_bytes()).unwrap_err(),
        DirectoryError::OnionCertWrongSigner {
            identity: relay_key(3).public(),
            signer: relay_key(4).public(),
        }
    );
    // A certificate naming relay 3 but signed by relay 4.
    let mut cert = OnionKeyCert::sign(&relay_key(4), onion, T0 + 24 * HOUR);
    cert.signed_by = relay_key(3).public();
    d.onion_cert = cert;
    let signed = d.sign(&relay_key(3)).unwrap();
    assert_eq!(
        verify(signed.as_bytes()).unwrap_err(),
        DirectoryError::BadSignature {
            document: "onion-key certificate"
        }
    );
}

#[test]
fn validity_window() {
    let mut d = descriptor(5, T0);
    d.onion_cert = OnionKeyCert::sign(&relay_key(5), d.onion_key(), T0 + 2 * HOUR);
    let timed = verify(d.sign(&relay_key(5)).unwrap().as_bytes()).unwrap();
    assert_eq!(timed.valid_until(), T0 + 2 * HOUR);
    assert!(matches!(
        timed.clone().check_valid_at(T0 + 2 * HOUR + 1),
        Err(DirectoryError::Expired { by: 1, .. })
    ));
    assert!(matches!(
        timed.check_valid_at(T0 - DESCRIPTOR_MAX_SKEW - 10),
        Err(DirectoryError::NotYetValid { wait: 10, .. })
    ));
    let old = verify(signed_descriptor(5, T0).as_bytes()).unwrap();
    assert!(matches!(
        old.check_valid_at(T0 + DESCRIPTOR_LIFETIME + 60),
        Err(DirectoryError::Expired { by: 60, .. })
    ));
}

#[test]
fn limits_are_enforced_when_signing() {
    let key = relay_key(6);
    let mut d = descriptor(6, T0);
    d.addresses = (0..9).map(|i| format!("/ip4/10.0.0.{i}/tcp/1")).collect();
    assert!(matches!(
        d.sign(&key),
        Err(DirectoryError::TooMany { max: 8, .. })
    ));
    let mut d = descriptor(6, T0);
    d.family = (10..=42).map(|n| relay_key(n).public()).collect();
    assert!(matches!(
        d.sign(&key),
        Err(DirectoryError::TooMany { max: 32, .. })
    ));
    let mut d = descriptor(6, T0);
    d.family.insert(key.public());
    assert!(matches!(d.sign(&key), Err(DirectoryError::BadField { .. })));
    let mut d = descriptor(6, T0);
    d.software = "x".repeat(65);
    assert!(d.sign(&key).is_err());
    let mut d = descriptor(6, T0);
    d.onion_cert = OnionKeyCert::sign(&key, d.onion_key(), T0);
    assert!(matches!(d.sign(&key), Err(DirectoryError::BadTimes { .. })));
}

/// The body of relay 7's descriptor in its wire form, for editing.
fn wire_of(d: &RelayDescriptor) -> Vec<u8> {
    d.encode_body().unwrap()
}

#[test]
fn non_canonical_bodies_are_refused() {
    let key = relay_key(7);
    let mut d = descriptor(7, T0);
    d.family = [8, 9].iter().map(|n| relay_key(*n).public()).collect();
    let body = wire_of(&d);
    let w: WireDescriptor<'_> = wire::decode(&body, DOCUMENT).unwrap();
    let mut reversed = w;
    reversed.family.reverse();
    let bytes = seal_as(&wire::encode(&reversed).unwrap(), &key);
    assert!(matches!(
        SignedDescriptor::decode(&bytes),
        Err(DirectoryError::NonCanonical { reason, .. }) if reason.contains("family")
    ));
    let w: WireDescriptor<'_> = wire::decode(&body, DOCUMENT).unwrap();
    let mut roles = w;
    roles.roles = 0x80;
    let bytes = seal_as(&wire::encode(&roles).unwrap(), &key);
    let err = SignedDescriptor::decode(&bytes).unwrap_err();
    assert!(err.to_string().contains("unknown role bits 0x80"), "{err}");
    let mut v2 = body.clone();
    v2[0] = 2;
    assert_eq!(
        SignedDescriptor::decode(&seal_as(&v2, &key)).unwrap_err(),
        DirectoryError::UnsupportedVersion {
            document: DOCUMENT,
            found: 2,
            supported: 1
        }
    );
    let mut trailing = signed_descriptor(7, T0).as_bytes().to_vec();
    trailing.push(0);
    assert!(matches!(
        SignedDescriptor::decode(&trailing),
        Err(DirectoryError::TrailingBytes { count: 1, .. })
    ));
}

fn arb_descriptor() -> impl Strategy<Value = (u8, RelayDescriptor)> {
    (
        1u8..=250,
        proptest::collection::vec("/[a-z0-9]{1,10}(/[a-z0-9.-]{1,12}){0,4}", 0..=8),
        any::<u64>(),
        proptest::collection::btree_set(251u8..=255, 0..4),
        crate::exit_policy::test::arb_policy(),
        0u8..0x80,
        "[ -~]{0,64}",
        0u64..u64::MAX / 2,
    )
        .prop_map(|(n, addrs, bw, fam, policy, roles, software, published)| {
            let mut d = descriptor(n, published);
            let mut seen = BTreeSet::new();
            d.addresses = addrs
                .into_iter()
                .filter(|a| seen.insert(a.clone()))
                .collect();
            d.bandwidth = bw;
            d.family = fam.into_iter().map(|f| relay_key(f).public()).collect();
            d.exit_policy = policy;
            d.roles = Roles::from_bits(roles).unwrap();
            d.software = software;
            (n, d)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn descriptors_round_trip((n, d) in arb_descriptor()) {
        let signed = d.sign(&relay_key(n)).unwrap();
        let back = SignedDescriptor::decode(signed.as_bytes()).unwrap().verify(&()).unwrap();
        let back = back.dangerously_assume_timely();
        prop_assert_eq!(back.descriptor(), &d);
        prop_assert_eq!(back.encode().unwrap(), signed.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        crate::fuzzing::descriptor(&bytes);
    }

    #[test]
    fn mutated_descriptors_never_panic(pos in any::<usize>(), bit in 0u8..8) {
        let mut bytes = signed_descriptor(3, T0).as_bytes().to_vec();
        let i = pos % bytes.len();
        bytes[i] ^= 1 << bit;
        crate::fuzzing::descriptor(&bytes);
    }
}
