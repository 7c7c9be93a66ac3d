//! The onion-service descriptor vector of docs/spec.md §15.5: the
//! descriptor made from fixed keys and a seeded RNG comes out byte for byte
//! as the vector, verifies, opens for the listed client and not for
//! another.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::{
    ClientAuthKeypair, OnionKeypair, RelayIdentityKeypair, ServiceIdentityKeypair, TimePeriod,
};
use warren_directory::DirectoryError;
use warren_directory::hs_descriptor::{
    HsDescriptorContent, HsDescriptorTimes, IntroPointInfo, PowParams, SignedHsDescriptor,
};
use warren_tests::{bytes, field, spec_vector, spec_vector_names};

#[test]
fn the_descriptor_vector() {
    let v = spec_vector("hs-descriptor");
    let service = ServiceIdentityKeypair::from_secret_bytes(field(&v, "service_secret"));
    let published = u64::from_be_bytes(field(&v, "published"));
    let period = TimePeriod::containing(published, 1440).unwrap();
    let alice = ClientAuthKeypair::from_secret_bytes(field(&v, "client_secret"));
    let content = HsDescriptorContent {
        intro_points: vec![IntroPointInfo {
            relay: RelayIdentityKeypair::from_secret_bytes([1; 32]).public(),
            onion_key: OnionKeypair::from_secret_bytes([0x81; 32]).public(),
            addresses: vec!["/ip4/192.0.2.1/tcp/9001".into()],
            auth_key: field(&v, "auth_key"),
            enc_key: field(&v, "enc_key"),
        }],
        pow: Some(PowParams {
            seed: [7; 32],
            suggested_effort: 100,
        }),
    };
    let times = HsDescriptorTimes {
        revision: published,
        published,
        lifetime: 10_800,
    };
    let mut rng = ChaCha20Rng::from_seed(field(&v, "rng_seed"));
    let made = SignedHsDescriptor::build(
        &service,
        period,
        &content,
        times,
        &[alice.public()],
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        hex::encode(made.as_bytes()),
        hex::encode(bytes(&v, "descriptor"))
    );
    let got = SignedHsDescriptor::decode(bytes(&v, "descriptor"))
        .unwrap()
        .verify(&())
        .unwrap()
        .check_valid_at(published)
        .unwrap();
    assert_eq!(
        hex::encode(got.blinded_key()),
        hex::encode(bytes(&v, "blinded_key"))
    );
    assert_eq!(
        got.decrypt(&service.public(), period, Some(&alice))
            .unwrap(),
        content
    );
    let other = ClientAuthKeypair::from_secret_bytes([3; 32]);
    assert_eq!(
        got.decrypt(&service.public(), period, Some(&other))
            .unwrap_err(),
        DirectoryError::NotAuthorised
    );
}

#[test]
fn every_hs_vector_is_checked() {
    for name in spec_vector_names() {
        if name.starts_with("hs-descriptor") {
            assert_eq!(name, "hs-descriptor", "vector {name} has no test");
        }
    }
}
