//! Entry points shared by the fuzz targets in `fuzz/` and the corpus replay
//! test (docs/spec.md §1.3). Each one feeds untrusted bytes to a decoder and
//! asserts the decoder's invariants, not merely that it returns.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "fuzz entry points: a broken invariant must crash the fuzzer"
)]

use crate::hs_ntor::{self, HS_INTRO_OVERHEAD, IntroEncKeypair, IntroKeys};
use crate::keyfile::{KeyKind, decode_key_file, encode_key_file};
use crate::keys::{OnionKeypair, RelayIdentityKeypair};
use crate::ntor::{self, EphemeralSecret};
use crate::onion_addr::HsAddress;

/// A `.warren` address: whatever parses prints back as the same address
/// (lower case), and parses again to the same key.
pub fn onion_addr(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(addr) = text.parse::<HsAddress>() else {
        return;
    };
    let printed = addr.to_string();
    assert_eq!(
        printed,
        text.to_ascii_lowercase(),
        "address is not canonical"
    );
    let again: HsAddress = printed.parse().expect("printed address parses");
    assert_eq!(again.identity(), addr.identity());
}

/// A key file: whatever decodes, for any kind, encodes back to the very same
/// text (the format is canonical).
pub fn key_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KeyKind::ALL {
        if let Ok(secret) = decode_key_file(kind, text) {
            assert_eq!(
                encode_key_file(kind, &secret).as_str(),
                text,
                "key file is not canonical"
            );
        }
    }
}

/// The relay side of the handshake on an arbitrary client message (a CREATE
/// or EXTEND body from the network), and the client side on an arbitrary
/// reply: they fail cleanly or, for the relay, succeed only on a message that
/// names its identity and onion key.
pub fn ntor(data: &[u8]) {
    let identity = RelayIdentityKeypair::from_secret_bytes([7; 32]).public();
    let onion = OnionKeypair::from_secret_bytes([9; 32]);
    let eph = EphemeralSecret::from_bytes([11; 32]);
    if ntor::server_respond(eph, &identity, &[&onion], data).is_ok() {
        assert_eq!(data.get(..32), Some(&identity.as_bytes()[..]));
        assert_eq!(data.get(32..64), Some(&onion.public().as_bytes()[..]));
    }
    let (state, _) = ntor::client_start(
        EphemeralSecret::from_bytes([13; 32]),
        &identity,
        &onion.public(),
    );
    let _ = ntor::client_finish(state, data);
}

/// `n`, `n + 1`, … `n + 31`: the fixed keys of the `hs-ntor-1` vector
/// (docs/spec.md §16.3.7).
fn counting_from(n: u8) -> [u8; 32] {
    let mut out = [0; 32];
    for (b, v) in out.iter_mut().zip(n..) {
        *b = v;
    }
    out
}

/// The service's side of an introduction (docs/spec.md §16.3.1) on an
/// arbitrary `encrypted` field, with the keys, subcredential and header of
/// the `hs-ntor-1` vector: it fails cleanly, or opens an input that starts
/// with the client's `X` and carries the plaintext and the tag, and the
/// service can then answer that `X` (§16.3.4). The client's side of the
/// answer, on the same bytes taken as a RENDEZVOUS2 handshake, fails or
/// passes cleanly.
pub fn hs_introduction(data: &[u8]) {
    let enc = IntroEncKeypair::from_secret_bytes(counting_from(0xc1));
    let enc_key = enc.public();
    let auth_key = counting_from(0x60);
    let subcredential = counting_from(0x51);
    let keys = IntroKeys {
        auth_key: &auth_key,
        enc_key: &enc_key,
        subcredential: &subcredential,
    };
    let header: Vec<u8> = [1, 0, 32].into_iter().chain(auth_key).chain([0]).collect();
    if let Ok(opened) = hs_ntor::service_open(&enc, &keys, &header, data) {
        assert_eq!(data.get(..32), Some(opened.client_key.as_slice()));
        assert_eq!(
            opened.plaintext.len() + HS_INTRO_OVERHEAD,
            data.len(),
            "an introduction opened to a plaintext of the wrong length"
        );
        let answer = hs_ntor::service_respond(
            EphemeralSecret::from_bytes(counting_from(0xa1)),
            &enc,
            &auth_key,
            &opened.client_key,
        );
        assert!(answer.is_ok(), "an opened introduction cannot be answered");
    }
    match hs_ntor::client_introduce(
        EphemeralSecret::from_bytes(counting_from(0x81)),
        &keys,
        &header,
        b"fuzz",
    ) {
        Ok((state, _)) => {
            let _ = hs_ntor::client_finish(state, data);
        }
        Err(e) => unreachable!("an introduction to a valid key failed to seal: {e}"),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        onion_addr(b"not an address");
        key_file(b"warren-key v1 relay-identity\nAAAA\n");
        ntor(&[0u8; 96]);
        ntor(b"short");
        hs_introduction(&[]);
        hs_introduction(&[9; 32]);
        hs_introduction(&[9; 432]);
        hs_introduction(&[0; 64]);
    }

    #[test]
    fn hs_introduction_opens_a_sealed_introduction() {
        let enc = IntroEncKeypair::from_secret_bytes(counting_from(0xc1));
        let auth_key = counting_from(0x60);
        let keys = IntroKeys {
            auth_key: &auth_key,
            enc_key: &enc.public(),
            subcredential: &counting_from(0x51),
        };
        let header: Vec<u8> = [1, 0, 32].into_iter().chain(auth_key).chain([0]).collect();
        let (_, encrypted) = hs_ntor::client_introduce(
            EphemeralSecret::from_bytes([5; 32]),
            &keys,
            &header,
            &[0; 384],
        )
        .unwrap();
        assert!(hs_ntor::service_open(&enc, &keys, &header, &encrypted).is_ok());
        hs_introduction(&encrypted);
    }
}
