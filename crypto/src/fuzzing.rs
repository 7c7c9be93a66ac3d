//! Entry points shared by the fuzz targets in `fuzz/` and the corpus replay
//! test (docs/spec.md §1.3). Each one feeds untrusted bytes to a decoder and
//! asserts the decoder's invariants, not merely that it returns.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "fuzz entry points: a broken invariant must crash the fuzzer"
)]

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

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        onion_addr(b"not an address");
        key_file(b"warren-key v1 relay-identity\nAAAA\n");
        ntor(&[0u8; 96]);
        ntor(b"short");
    }
}
