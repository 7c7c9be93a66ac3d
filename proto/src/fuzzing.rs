//! Entry points for the fuzz targets in `fuzz/` and for the corpus replay
//! test (docs/spec.md §7.8: every decoder is fuzzed).
//!
//! Each function decodes arbitrary input and, when decoding succeeds,
//! re-encodes it and asserts that the bytes are identical: every accepted
//! encoding is canonical. A failed assertion is a bug the fuzzer found.
//! Not part of the stable API.

use crate::ProtoError;
use crate::cell::{CELL_LEN, Cell, ChanMsg};
use crate::relay_msg::{INTRODUCE_PAYLOAD_LEN, IntroducePayload, RelayCell};
use warren_crypto::layer::{AUTH_HEADER_LEN, RELAY_BODY_LEN, RelayBody};

/// Decodes `data` as a link cell and its channel message, checking that
/// whatever decodes re-encodes to the same bytes.
///
/// `data` is tried as is (so length handling is exercised) and, when its
/// length differs, zero-padded or cut to [`CELL_LEN`] (so the fuzzer reaches
/// the body decoders quickly). The bodies of RELAY cells are also decoded as
/// relay-cell plaintext, as [`relay_msg`] does.
pub fn cell(data: &[u8]) {
    if let Ok(c) = Cell::from_bytes(data) {
        assert_eq!(data.len(), CELL_LEN, "a cell of the wrong length decoded");
        assert_eq!(&c.to_bytes()[..], data, "cell did not round-trip");
        check_chan_msg(&c);
    }
    if data.len() != CELL_LEN {
        let mut fixed = [0; CELL_LEN];
        copy_prefix(&mut fixed, data);
        match Cell::from_bytes(&fixed) {
            Ok(c) => check_chan_msg(&c),
            Err(e) => unreachable!("a {CELL_LEN}-byte cell failed to decode: {e}"),
        }
    }
}

/// Decodes `c` as a channel message and checks the re-encoding.
fn check_chan_msg(c: &Cell) {
    let Ok(msg) = ChanMsg::decode(c) else {
        return;
    };
    match msg.encode(c.circ_id) {
        Ok(again) => assert_eq!(&again, c, "channel message did not round-trip"),
        Err(e) => unreachable!("decoded {:?} failed to re-encode: {e}", c.cmd),
    }
    if let ChanMsg::Relay(body) = msg {
        relay_body(&body);
    }
}

/// Decodes `data` as the plaintext of a relay cell body from offset 24 on
/// (cmd, stream id, length, data, padding), checking that whatever decodes
/// re-encodes to the same bytes.
///
/// The first 24 bytes (marker and tag, owned by the layer crypto) are zero;
/// input past the body is ignored and a short input is zero-padded.
pub fn relay_msg(data: &[u8]) {
    let mut body = [0; RELAY_BODY_LEN];
    if let Some(tail) = body.get_mut(AUTH_HEADER_LEN..) {
        copy_prefix(tail, data);
    }
    relay_body(&body);
}

/// Decodes a full plaintext relay body and checks the re-encoding, which
/// zeroes the first 24 bytes.
fn relay_body(body: &RelayBody) {
    let Ok(cell) = RelayCell::decode(body) else {
        return;
    };
    let mut again = [0xff; RELAY_BODY_LEN];
    if let Err(e) = cell.encode(&mut again) {
        unreachable!(
            "decoded relay cell {:?} failed to re-encode: {e}",
            cell.msg.cmd()
        );
    }
    let skip = |b: &RelayBody| b.iter().skip(AUTH_HEADER_LEN).copied().collect::<Vec<u8>>();
    assert_eq!(skip(&again), skip(body), "relay cell did not round-trip");
    assert!(
        again.iter().take(AUTH_HEADER_LEN).all(|&b| b == 0),
        "encode left the marker and tag non-zero"
    );
    match RelayCell::decode(&again) {
        Ok(back) => assert_eq!(back, cell, "re-encoded relay cell decodes differently"),
        Err(e) => unreachable!("re-encoded relay cell failed to decode: {e}"),
    }
}

/// Decodes `data` as the plaintext of an introduction (docs/spec.md
/// §16.3.2) and, when it decodes, checks that it re-encodes to 384 bytes
/// that decode to the same value and agree with `data`: the two have the
/// same bytes where both have any, and the rest of either is zero padding.
///
/// The decoder does not check the total length, so `data` may be shorter
/// or longer than 384 bytes; the encoder refuses only content that does not
/// fit in 384 bytes, which a decoded payload can have only when `data` is
/// longer.
pub fn introduce_payload(data: &[u8]) {
    let Ok(payload) = IntroducePayload::decode(data) else {
        return;
    };
    let encoded = match payload.encode() {
        Ok(e) => e,
        Err(ProtoError::TooLong { .. }) if data.len() > INTRODUCE_PAYLOAD_LEN => return,
        Err(e) => unreachable!("a decoded introduction payload failed to re-encode: {e}"),
    };
    assert_eq!(
        encoded.len(),
        INTRODUCE_PAYLOAD_LEN,
        "an introduction payload was not padded to its length"
    );
    match IntroducePayload::decode(&encoded) {
        Ok(back) => assert_eq!(
            back, payload,
            "re-encoded introduction payload decodes differently"
        ),
        Err(e) => unreachable!("re-encoded introduction payload failed to decode: {e}"),
    }
    let common = encoded.len().min(data.len());
    assert_eq!(
        encoded.get(..common),
        data.get(..common),
        "introduction payload did not round-trip"
    );
    let rest = encoded.get(common..).unwrap_or_default().iter();
    assert!(
        rest.chain(data.get(common..).unwrap_or_default())
            .all(|&b| b == 0),
        "introduction payload bytes beyond the common length are not padding"
    );
}

/// Copies as much of `src` as fits into the start of `dst`.
fn copy_prefix(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn accepts_short_and_long_input() {
        cell(&[]);
        cell(&[0; CELL_LEN]);
        cell(&[0xff; CELL_LEN + 10]);
        relay_msg(&[]);
        relay_msg(&[2, 0, 1, 0, 1, 7]);
        relay_msg(&[0xff; 1000]);
        introduce_payload(&[]);
        introduce_payload(&[0; INTRODUCE_PAYLOAD_LEN]);
        introduce_payload(&[0; 86]);
        introduce_payload(&[0; 1000]);
        introduce_payload(&[0xff; INTRODUCE_PAYLOAD_LEN]);
    }
}
