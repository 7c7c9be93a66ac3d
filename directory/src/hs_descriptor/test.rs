//! Onion-service descriptors (§15): made, verified and opened by who may.

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::{
    ClientAuthKeypair, OnionKeypair, RelayIdentityKeypair, ServiceIdentityKeypair, TimePeriod,
};

use super::*;
use crate::ErrorKind;

const NOW: u64 = 1_767_225_600;

fn period() -> TimePeriod {
    TimePeriod::containing(NOW, 1440).unwrap()
}

fn content(n: u8) -> HsDescriptorContent {
    HsDescriptorContent {
        intro_points: (1..=n)
            .map(|i| IntroPointInfo {
                relay: RelayIdentityKeypair::from_secret_bytes([i; 32]).public(),
                onion_key: OnionKeypair::from_secret_bytes([i + 50; 32]).public(),
                addresses: vec![format!("/ip4/192.0.2.{i}/tcp/9001")],
                auth_key: [i + 100; 32],
                enc_key: [i + 150; 32],
            })
            .collect(),
        pow: Some(PowParams {
            seed: [7; 32],
            suggested_effort: 100,
        }),
    }
}

fn times() -> HsDescriptorTimes {
    HsDescriptorTimes {
        revision: NOW,
        published: NOW,
        lifetime: 3 * 3600,
    }
}

fn service() -> ServiceIdentityKeypair {
    ServiceIdentityKeypair::from_secret_bytes([0x41; 32])
}

fn receive(bytes: &[u8]) -> SignedHsDescriptor {
    SignedHsDescriptor::decode(bytes)
        .unwrap()
        .verify(&())
        .unwrap()
        .check_valid_at(NOW + 60)
        .unwrap()
}

#[test]
fn a_public_descriptor_opens_for_anyone_with_the_address_only() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let d = SignedHsDescriptor::build(&service(), period(), &content(3), times(), &[], &mut rng)
        .unwrap();
    let got = receive(d.as_bytes());
    assert_eq!(
        got.blinded_key(),
        service().blind(period()).public().as_bytes()
    );
    assert_eq!(
        got.decrypt(&service().public(), period(), None).unwrap(),
        content(3)
    );
    // Another service's address, or another period, opens nothing.
    let other = ServiceIdentityKeypair::from_secret_bytes([0x42; 32]).public();
    assert!(got.decrypt(&other, period(), None).is_err());
    assert!(
        got.decrypt(&service().public(), period().next(), None)
            .is_err()
    );
    // The bytes name neither the identity nor the intro points.
    let identity = service().public();
    let id_bytes = identity.as_bytes();
    assert!(!d.as_bytes().windows(32).any(|w| w == id_bytes));
    let relay = content(3).intro_points[0].relay;
    assert!(!d.as_bytes().windows(32).any(|w| w == relay.as_bytes()));
}

#[test]
fn restricted_discovery_opens_for_listed_clients_only() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let alice = ClientAuthKeypair::from_secret_bytes([1; 32]);
    let bob = ClientAuthKeypair::from_secret_bytes([2; 32]);
    let mallory = ClientAuthKeypair::from_secret_bytes([3; 32]);
    let d = SignedHsDescriptor::build(
        &service(),
        period(),
        &content(2),
        times(),
        &[alice.public(), bob.public()],
        &mut rng,
    )
    .unwrap();
    let got = receive(d.as_bytes());
    let sid = service().public();
    assert_eq!(
        got.decrypt(&sid, period(), Some(&alice)).unwrap(),
        content(2)
    );
    assert_eq!(got.decrypt(&sid, period(), Some(&bob)).unwrap(), content(2));
    assert_eq!(
        got.decrypt(&sid, period(), Some(&mallory)).unwrap_err(),
        DirectoryError::NotAuthorised
    );
    assert_eq!(
        got.decrypt(&sid, period(), None).unwrap_err(),
        DirectoryError::NotAuthorised
    );
    assert!(
        DirectoryError::NotAuthorised
            .to_string()
            .starts_with("not authorised for this service")
    );
}

#[test]
fn an_altered_or_expired_descriptor_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let d = SignedHsDescriptor::build(&service(), period(), &content(1), times(), &[], &mut rng)
        .unwrap();
    let mut bad = d.as_bytes().to_vec();
    let last = bad.len() - 70;
    bad[last] ^= 1;
    let err = SignedHsDescriptor::decode(&bad)
        .and_then(|u| u.verify(&()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProtocolViolation);
    let timed = SignedHsDescriptor::decode(d.as_bytes())
        .unwrap()
        .verify(&())
        .unwrap();
    assert!(timed.check_valid_at(NOW + 3 * 3600 + 1).is_err());
    // Too many intro points, or too long a life, are not made.
    assert!(
        SignedHsDescriptor::build(&service(), period(), &content(11), times(), &[], &mut rng)
            .is_err()
    );
    let long = HsDescriptorTimes {
        lifetime: MAX_LIFETIME + 1,
        ..times()
    };
    assert!(
        SignedHsDescriptor::build(&service(), period(), &content(1), long, &[], &mut rng).is_err()
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(u) = SignedHsDescriptor::decode(&bytes) {
            let _ = u.verify(&());
        }
    }
}
