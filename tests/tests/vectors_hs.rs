//! The onion-service vectors of docs/spec.md: the descriptor of §15.5 (made
//! from fixed keys and a seeded RNG, it comes out byte for byte as the
//! vector, verifies, opens for the listed client and not for another), and
//! the introduction of §16.3.7 (the client proof, the introduction payload
//! and the onion-service handshake).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::hs_ntor::{self, IntroEncKeypair, IntroKeys};
use warren_crypto::{
    ClientAuthKeypair, ClientAuthPublicKey, CryptoError, EphemeralSecret, HopKeys, LayerKey,
    OnionKeypair, RELAY_BODY_LEN, RelayBody, RelayIdentityKeypair, ServiceIdentityKeypair,
    TimePeriod,
};
use warren_directory::DirectoryError;
use warren_directory::hs_descriptor::{
    HsDescriptorContent, HsDescriptorTimes, IntroPointInfo, PowParams, SignedHsDescriptor,
};
use warren_proto::relay_msg::{
    Extension, INTRODUCE_PAYLOAD_LEN, Introduce1, IntroducePayload, LinkSpec,
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

/// The payload of `introduce-payload-1`, built from its fields.
fn payload_of(v: &warren_tests::Vector) -> IntroducePayload {
    IntroducePayload {
        cookie: field(v, "cookie"),
        rend_identity: field(v, "rend_identity"),
        rend_onion_key: field(v, "rend_onion_key"),
        rend_link_specs: vec![LinkSpec::Multiaddr(
            bytes(v, "link_spec_multiaddr").to_vec(),
        )],
        extensions: vec![Extension::ClientProof {
            client_key: field(v, "client_key"),
            proof: field(v, "proof"),
        }],
    }
}

#[test]
fn the_client_proof_vector() {
    let v = spec_vector("client-proof-1");
    let client = ClientAuthKeypair::from_secret_bytes(field(&v, "client_secret"));
    assert_eq!(client.public().as_bytes(), &field::<32>(&v, "client_key"));
    let x = field(&v, "X");
    let proof = hs_ntor::client_proof(&client, &field(&v, "enc_key"), &x).unwrap();
    assert_eq!(hex::encode(proof), hex::encode(bytes(&v, "proof")));

    // The service, holding b (the enc_secret of hs-ntor-1), accepts it for
    // this X and this client key only.
    let h = spec_vector("hs-ntor-1");
    let enc = IntroEncKeypair::from_secret_bytes(field(&h, "enc_secret"));
    assert_eq!(enc.public(), field::<32>(&v, "enc_key"));
    let key = ClientAuthPublicKey::from_bytes(field(&v, "client_key"));
    assert!(hs_ntor::verify_client_proof(&enc, &key, &x, &proof));
    let mut other_x = x;
    other_x[0] ^= 1;
    assert!(!hs_ntor::verify_client_proof(&enc, &key, &other_x, &proof));
    let other = ClientAuthKeypair::from_secret_bytes([2; 32]).public();
    assert!(!hs_ntor::verify_client_proof(&enc, &other, &x, &proof));
}

#[test]
fn the_introduce_payload_vector() {
    let v = spec_vector("introduce-payload-1");
    let payload = payload_of(&v);
    let encoded = payload.encode().unwrap();
    assert_eq!(encoded.len(), INTRODUCE_PAYLOAD_LEN);
    assert_eq!(hex::encode(&encoded), hex::encode(bytes(&v, "payload")));
    assert_eq!(
        IntroducePayload::decode(bytes(&v, "payload")).unwrap(),
        payload
    );
    // The proof is client-proof-1's.
    let p = spec_vector("client-proof-1");
    assert_eq!(bytes(&v, "client_key"), bytes(&p, "client_key"));
    assert_eq!(bytes(&v, "proof"), bytes(&p, "proof"));
    // Non-zero padding is refused.
    let mut bad = encoded;
    bad[INTRODUCE_PAYLOAD_LEN - 1] = 1;
    assert!(IntroducePayload::decode(&bad).is_err());
}

/// True when `a` and `b` produce the same sealed cell (so hold the same key
/// and counter).
fn same_layer(a: &mut LayerKey, b: &mut LayerKey) -> Result<bool, CryptoError> {
    let mut x: RelayBody = [0x5a; RELAY_BODY_LEN];
    let mut y = x;
    Ok(a.seal(&mut x)? == b.seal(&mut y)? && x == y)
}

/// Whether `keys` holds the layer keys `forward` and `backward` and the
/// binding `binding`.
fn keys_are(
    keys: &mut HopKeys,
    forward: &[u8; 32],
    backward: &[u8; 32],
    binding: &[u8; 32],
) -> Result<bool, CryptoError> {
    let mut material = [0u8; 96];
    for (d, s) in material
        .iter_mut()
        .zip(forward.iter().chain(backward).chain(binding))
    {
        *d = *s;
    }
    let mut expected = HopKeys::from_key_material(&material);
    Ok(keys.binding.as_bytes() == binding
        && same_layer(&mut keys.forward, &mut expected.forward)?
        && same_layer(&mut keys.backward, &mut expected.backward)?)
}

#[test]
fn the_hs_ntor_vector() {
    let v = spec_vector("hs-ntor-1");
    let enc = IntroEncKeypair::from_secret_bytes(field(&v, "enc_secret"));
    let enc_key = enc.public();
    assert_eq!(enc_key, field::<32>(&v, "enc_key"));
    let auth_key = field(&v, "auth_key");
    let subcredential = field(&v, "subcredential");
    let keys = IntroKeys {
        auth_key: &auth_key,
        enc_key: &enc_key,
        subcredential: &subcredential,
    };

    // The header is INTRODUCE1's fields before `encrypted`.
    let header = Introduce1 {
        auth_key,
        extensions: Vec::new(),
        encrypted: vec![0],
    }
    .header()
    .unwrap();
    assert_eq!(hex::encode(&header), hex::encode(bytes(&v, "header")));

    // The plaintext is introduce-payload-1's payload.
    let plaintext = bytes(&v, "plaintext");
    assert_eq!(
        plaintext,
        bytes(&spec_vector("introduce-payload-1"), "payload")
    );

    let x = EphemeralSecret::from_bytes(field(&v, "client_ephemeral"));
    let (state, encrypted) = hs_ntor::client_introduce(x, &keys, &header, plaintext).unwrap();
    assert_eq!(state.public(), &field::<32>(&v, "X"));
    assert_eq!(hex::encode(&encrypted), hex::encode(bytes(&v, "encrypted")));
    assert_eq!(encrypted.len(), 32 + INTRODUCE_PAYLOAD_LEN + 16);

    // The service opens it; the payload decodes and its proof verifies.
    let opened = hs_ntor::service_open(&enc, &keys, &header, bytes(&v, "encrypted")).unwrap();
    assert_eq!(opened.client_key, field::<32>(&v, "X"));
    assert_eq!(&opened.plaintext[..], plaintext);
    let payload = IntroducePayload::decode(&opened.plaintext).unwrap();
    let Some(Extension::ClientProof { client_key, proof }) = payload.extensions.first() else {
        panic!("the payload has no CLIENT_PROOF");
    };
    assert!(hs_ntor::verify_client_proof(
        &enc,
        &ClientAuthPublicKey::from_bytes(*client_key),
        &opened.client_key,
        proof
    ));
    // Another header (an intro point that added an extension) does not open.
    let mut altered = header.clone();
    if let Some(last) = altered.last_mut() {
        *last = 1;
    }
    assert!(hs_ntor::service_open(&enc, &keys, &altered, &encrypted).is_err());

    let y = EphemeralSecret::from_bytes(field(&v, "service_ephemeral"));
    let (mut service_keys, reply) =
        hs_ntor::service_respond(y, &enc, &auth_key, &opened.client_key).unwrap();
    assert_eq!(hex::encode(reply), hex::encode(bytes(&v, "reply")));
    let mut client_keys = hs_ntor::client_finish(state, bytes(&v, "reply")).unwrap();

    // The client uses Kf forward and Kb backward, the service the reverse.
    let (kf, kb, kh) = (field(&v, "Kf"), field(&v, "Kb"), field(&v, "KH"));
    assert!(
        keys_are(&mut client_keys, &kf, &kb, &kh).unwrap(),
        "client keys"
    );
    assert!(
        keys_are(&mut service_keys, &kb, &kf, &kh).unwrap(),
        "service keys"
    );

    // A reply with a flipped AUTH bit is refused.
    let x = EphemeralSecret::from_bytes(field(&v, "client_ephemeral"));
    let (state, _) = hs_ntor::client_introduce(x, &keys, &header, plaintext).unwrap();
    let mut bad = reply;
    bad[63] ^= 1;
    assert_eq!(
        hs_ntor::client_finish(state, &bad).unwrap_err(),
        CryptoError::NtorAuthMismatch
    );
}

/// Every vector whose name has one of this file's prefixes is checked above.
#[test]
fn every_hs_vector_is_checked() {
    let checked = [
        "hs-descriptor",
        "client-proof-1",
        "introduce-payload-1",
        "hs-ntor-1",
    ];
    let prefixes = [
        "hs-descriptor",
        "client-proof-",
        "introduce-payload-",
        "hs-ntor-",
    ];
    for name in spec_vector_names() {
        if prefixes.iter().any(|p| name.starts_with(p)) {
            assert!(
                checked.contains(&name.as_str()),
                "vector {name} has no test"
            );
        }
    }
    for name in checked {
        assert!(
            spec_vector_names().iter().any(|n| n == name),
            "docs/spec.md has no vector {name}"
        );
    }
}
