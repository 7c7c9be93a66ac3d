//! Checks every `warren-crypto` test vector in docs/spec.md §2–§6 and §16.4
//! against the code, so that the specification and the implementation cannot drift.

use sha2::{Digest, Sha256};
use warren_crypto::pow::{self, POW_LABEL, PowSolution};
use warren_crypto::{
    ClientAuthKeypair, CryptoError, EphemeralSecret, HopKeys, HsAddress, KeyFile, LayerKey,
    OnionKeypair, RELAY_BODY_LEN, Recognized, RelayBody, RelayIdentityKeypair, ServiceIdentity,
    ServiceIdentityKeypair, Signature, TimePeriod, client_finish, client_start, server_respond,
};
use warren_tests::{Vector, bytes, field, spec_vector, spec_vector_names};

fn u64_field(v: &Vector, name: &str) -> u64 {
    u64::from_be_bytes(field(v, name))
}

/// Checks one key-file vector: file text, public key, and parsing back.
fn check_key_file<K: KeyFile>(
    name: &str,
    from: fn([u8; 32]) -> K,
    public: fn(&K) -> [u8; 32],
) -> Result<(), CryptoError> {
    let v = spec_vector(name);
    let key = from(field(&v, "secret"));
    assert_eq!(
        public(&key),
        field::<32>(&v, "public"),
        "{name}: public key"
    );
    assert_eq!(
        key.to_key_file().as_bytes(),
        bytes(&v, "file"),
        "{name}: file"
    );
    let text = String::from_utf8_lossy(bytes(&v, "file"));
    let back = K::from_key_file(&text)?;
    assert_eq!(
        public(&back),
        field::<32>(&v, "public"),
        "{name}: parsed back"
    );
    Ok(())
}

#[test]
fn key_files() {
    check_key_file(
        "key-file-relay-identity",
        RelayIdentityKeypair::from_secret_bytes,
        |k| *k.public().as_bytes(),
    )
    .unwrap();
    check_key_file(
        "key-file-relay-onion",
        OnionKeypair::from_secret_bytes,
        |k| *k.public().as_bytes(),
    )
    .unwrap();
    check_key_file(
        "key-file-service-identity",
        ServiceIdentityKeypair::from_secret_bytes,
        |k| *k.public().as_bytes(),
    )
    .unwrap();
    check_key_file(
        "key-file-client-auth",
        ClientAuthKeypair::from_secret_bytes,
        |k| *k.public().as_bytes(),
    )
    .unwrap();
}

#[test]
fn hs_address_1() {
    let v = spec_vector("hs-address-1");
    let id =
        ServiceIdentityKeypair::from_secret_bytes(field(&v, "service_identity_secret")).public();
    assert_eq!(id.as_bytes(), &field::<32>(&v, "pubkey"));
    let text = std::str::from_utf8(bytes(&v, "address")).unwrap();
    assert_eq!(HsAddress::from_identity(id).to_string(), text);
    let parsed: HsAddress = text.parse().unwrap();
    assert_eq!(
        parsed.identity(),
        &ServiceIdentity::from_bytes(&field(&v, "pubkey")).unwrap()
    );
}

/// True when `a` and `b` produce the same sealed cell (so hold the same key
/// and counter).
fn same_layer(a: &mut LayerKey, b: &mut LayerKey) -> Result<bool, CryptoError> {
    let mut x: RelayBody = [0x5a; RELAY_BODY_LEN];
    let mut y = x;
    Ok(a.seal(&mut x)? == b.seal(&mut y)? && x == y)
}

#[test]
fn ntor_1() {
    let v = spec_vector("ntor-1");
    let identity =
        RelayIdentityKeypair::from_secret_bytes(field(&v, "relay_identity_secret")).public();
    let onion = OnionKeypair::from_secret_bytes(field(&v, "onion_secret"));
    assert_eq!(identity.as_bytes(), &field::<32>(&v, "relay_identity"));
    assert_eq!(onion.public().as_bytes(), &field::<32>(&v, "onion_public"));

    let x = EphemeralSecret::from_bytes(field(&v, "client_ephemeral"));
    let (state, client_msg) = client_start(x, &identity, &onion.public());
    assert_eq!(client_msg[..], *bytes(&v, "client_msg"));

    let y = EphemeralSecret::from_bytes(field(&v, "server_ephemeral"));
    let (mut relay_keys, server_msg) =
        server_respond(y, &identity, &[&onion], &client_msg).unwrap();
    assert_eq!(server_msg[..], *bytes(&v, "server_msg"));
    let mut client_keys = client_finish(state, &server_msg).unwrap();

    let material: Vec<u8> = ["Kf", "Kb", "KH"]
        .iter()
        .flat_map(|f| bytes(&v, f).to_vec())
        .collect();
    for keys in [&mut relay_keys, &mut client_keys] {
        let mut expected = HopKeys::from_key_material(&material.clone().try_into().unwrap());
        assert_eq!(keys.binding.as_bytes(), &field::<32>(&v, "KH"));
        assert!(
            same_layer(&mut keys.forward, &mut expected.forward).unwrap(),
            "Kf"
        );
        assert!(
            same_layer(&mut keys.backward, &mut expected.backward).unwrap(),
            "Kb"
        );
    }
}

#[test]
fn layer_seal_1() {
    let v = spec_vector("layer-seal-1");
    let key = field(&v, "key");
    let counter = u64_field(&v, "counter");
    let plaintext: RelayBody = field(&v, "plaintext");
    let mut body = plaintext;
    let mut layer = LayerKey::with_counter(key, counter);
    let tag = layer.seal(&mut body).unwrap();
    assert_eq!(layer.counter(), counter + 1);
    assert_eq!(body, field::<RELAY_BODY_LEN>(&v, "sealed"));
    assert_eq!(tag, field::<16>(&v, "tag"));

    let mut opener = LayerKey::with_counter(key, counter);
    assert_eq!(opener.open(&mut body).unwrap(), Recognized::Yes(tag));
    assert_eq!(body[24..], plaintext[24..]);
    assert_eq!(body[..8], [0; 8]);
    assert_eq!(body[8..24], tag);
}

#[test]
fn layer_xor_1() {
    let v = spec_vector("layer-xor-1");
    let key = field(&v, "key");
    let counter = u64_field(&v, "counter");
    let input: RelayBody = field(&v, "input");
    let mut body = input;
    LayerKey::with_counter(key, counter).xor(&mut body).unwrap();
    assert_eq!(body, field::<RELAY_BODY_LEN>(&v, "output"));
    LayerKey::with_counter(key, counter).xor(&mut body).unwrap();
    assert_eq!(body, input);
}

#[test]
fn blind_1() {
    let v = spec_vector("blind-1");
    let service = ServiceIdentityKeypair::from_secret_bytes(field(&v, "identity_secret"));
    let identity = service.public();
    assert_eq!(identity.as_bytes(), &field::<32>(&v, "identity"));

    let length = u32::from_be_bytes(field(&v, "period_length"));
    let period = TimePeriod::containing(u64_field(&v, "unix_secs"), length).unwrap();
    assert_eq!(period.number, u64_field(&v, "period_number"));

    let blinded = service.blind(period);
    let expected = field::<32>(&v, "blinded_public");
    assert_eq!(blinded.public().as_bytes(), &expected);
    assert_eq!(identity.blind(period).unwrap().as_bytes(), &expected);
    assert_eq!(
        identity.subcredential(period).unwrap(),
        field::<32>(&v, "subcredential")
    );

    let message = bytes(&v, "message");
    let signature = blinded.sign(message);
    assert_eq!(signature, Signature(field(&v, "signature")));
    blinded.public().verify(message, &signature).unwrap();
    let next = identity.blind(period.next()).unwrap();
    assert!(next.verify(message, &signature).is_err());
}

#[test]
fn pow_1() {
    let v = spec_vector("pow-1");
    let seed = field(&v, "seed");
    let blinded_key = field(&v, "blinded_key");
    let effort = u32::from_be_bytes(field(&v, "effort"));
    let listed = PowSolution {
        nonce: field(&v, "nonce"),
        effort,
        seed_head: field(&v, "seed_head"),
        solution: field(&v, "solution"),
    };
    let challenge = pow::challenge(&seed, &blinded_key, &listed.nonce, effort);
    assert_eq!(challenge[..], *bytes(&v, "challenge"), "challenge");
    assert_eq!(&challenge[..16], POW_LABEL);

    let digest = Sha256::new()
        .chain_update(challenge)
        .chain_update(listed.solution)
        .finalize();
    assert_eq!(digest[..4], *bytes(&v, "r"), "r");
    let r = u32::from_be_bytes(field(&v, "r"));
    assert!(u64::from(r) * u64::from(effort) <= u64::from(u32::MAX));

    pow::verify(&seed, &blinded_key, &listed).unwrap();
    let solved = pow::solve(&seed, &blinded_key, effort, field(&v, "start_nonce"), 16).unwrap();
    assert_eq!(solved, listed);
}

/// Every crypto vector in the specification is checked by a test here.
#[test]
fn no_crypto_vector_is_unchecked() {
    let checked = [
        "key-file-relay-identity",
        "key-file-relay-onion",
        "key-file-service-identity",
        "key-file-client-auth",
        "hs-address-1",
        "ntor-1",
        "layer-seal-1",
        "layer-xor-1",
        "blind-1",
        "pow-1",
    ];
    let crypto_prefixes = [
        "key-file-",
        "hs-address-",
        "ntor-",
        "layer-",
        "blind-",
        "pow-",
    ];
    for name in spec_vector_names() {
        if crypto_prefixes.iter().any(|p| name.starts_with(p)) {
            assert!(
                checked.contains(&name.as_str()),
                "vector {name} has no test"
            );
        }
    }
}
