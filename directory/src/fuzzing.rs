//! Entry points shared by the fuzz targets in `fuzz/` and the corpus replay
//! test (docs/spec.md §12.1). Each feeds untrusted bytes to a decoder and
//! asserts the invariant of canonical encodings: whatever decodes encodes
//! back to exactly the input. Verification then runs on the decoded value
//! and must fail or succeed cleanly.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "fuzz entry points: a broken invariant must crash the fuzzer"
)]

use crate::authority::{AuthorityIdentityKeypair, AuthoritySet};
use crate::consensus::Consensus;
use crate::descriptor::SignedDescriptor;
use crate::vote::Vote;

/// The authority set the targets verify against: the identities of the
/// secret seeds `[201; 32]`, `[202; 32]` and `[203; 32]`, which sign the
/// spec's test vectors (docs/spec.md §12.11).
fn authorities() -> AuthoritySet {
    AuthoritySet::new(
        (201..=203).map(|n| AuthorityIdentityKeypair::from_secret_bytes([n; 32]).public()),
    )
    .expect("three distinct authorities")
}

/// A signed relay descriptor (§12.2).
pub fn descriptor(data: &[u8]) {
    let Ok(unchecked) = SignedDescriptor::decode(data) else {
        return;
    };
    let doc = unchecked.dangerously_peek();
    assert_eq!(doc.as_bytes(), data);
    assert_eq!(
        doc.encode().expect("a decoded descriptor encodes"),
        data,
        "descriptor is not canonical"
    );
    if let Ok(timed) = unchecked.verify(&()) {
        let t = timed.valid_after();
        let _ = timed.check_valid_at(t);
    }
}

/// A signed vote (§12.6).
pub fn vote(data: &[u8]) {
    let Ok(unchecked) = Vote::decode(data) else {
        return;
    };
    let doc = unchecked.dangerously_peek();
    assert_eq!(
        doc.encode().expect("a decoded vote encodes"),
        data,
        "vote is not canonical"
    );
    if let Ok(timed) = unchecked.verify(&authorities()) {
        let t = timed.valid_until();
        let _ = timed.check_valid_at(t);
    }
}

/// A consensus document (§12.8).
pub fn consensus(data: &[u8]) {
    let Ok(unchecked) = Consensus::decode(data) else {
        return;
    };
    let doc = unchecked.dangerously_peek();
    assert_eq!(
        doc.encode().expect("a decoded consensus encodes"),
        data,
        "consensus is not canonical"
    );
    assert_eq!(
        doc.body().encode().expect("a decoded body encodes"),
        doc.body_bytes(),
        "consensus body is not canonical"
    );
    if let Ok(timed) = unchecked.verify(&authorities()) {
        let t = timed.valid_after();
        let _ = timed.check_valid_at(t);
    }
}

/// A directory-protocol request or response (§12.13): whatever decodes
/// re-encodes to the same bytes; a refusal's reason stays within its cap.
pub fn dir_msg(data: &[u8]) {
    if let Ok(request) = crate::DirRequest::decode(data) {
        assert_eq!(
            request.encode().expect("a decoded request encodes"),
            data,
            "directory request is not canonical"
        );
    }
    if let Ok(response) = crate::DirResponse::decode(data) {
        assert_eq!(
            response.encode().expect("a decoded response encodes"),
            data,
            "directory response is not canonical"
        );
        if let crate::DirResponse::Refused(reason) = response {
            assert!(reason.len() <= crate::dir_msg::MAX_REASON_LEN);
        }
    }
}

/// A stored guard state (§14.2): whatever decodes re-encodes to the same
/// bytes.
pub fn guard_state(data: &[u8]) {
    if let Ok(state) = crate::GuardSet::decode(data) {
        assert_eq!(
            state.encode().expect("a decoded guard state encodes"),
            data,
            "guard state is not canonical"
        );
    }
}

/// An onion-service descriptor (§15): whatever decodes re-encodes to the
/// same bytes; verification and opening fail or pass cleanly.
pub fn hs_descriptor(data: &[u8]) {
    let Ok(unchecked) = crate::hs_descriptor::SignedHsDescriptor::decode(data) else {
        return;
    };
    assert_eq!(unchecked.dangerously_peek().as_bytes(), data);
    if let Ok(timed) = unchecked.verify(&()) {
        let d = timed.dangerously_assume_timely();
        let service = warren_crypto::ServiceIdentityKeypair::from_secret_bytes([0x41; 32]);
        if let Ok(period) = warren_crypto::TimePeriod::containing(d.times().published, 1440) {
            let client = warren_crypto::ClientAuthKeypair::from_secret_bytes([1; 32]);
            let _ = d.decrypt(&service.public(), period, Some(&client));
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::testing::{authority, relays, vote as make_vote};

    #[test]
    fn entry_points_accept_valid_and_garbage_input() {
        let d = relays(1);
        descriptor(d[0].as_bytes());
        descriptor(b"garbage");
        let v = make_vote(&authority(1), &d, |_| {});
        vote(v.as_bytes());
        vote(&[]);
        consensus(&[0, 0]);
        consensus(&[1, 1, 1]);
    }
}
