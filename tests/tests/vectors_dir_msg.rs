//! The directory-protocol vectors of docs/spec.md §12.13: each message
//! encodes to exactly the vector's bytes and decodes back.
#![expect(
    clippy::unwrap_used,
    reason = "test: a vector that does not decode must fail the test"
)]

use warren_directory::{DirRequest, DirResponse};
use warren_tests::{bytes, field, spec_vector, spec_vector_names};

fn request(name: &str, expected: &DirRequest) {
    let v = spec_vector(name);
    let message = bytes(&v, "message");
    assert_eq!(expected.encode().unwrap(), message, "{name}");
    assert_eq!(&DirRequest::decode(message).unwrap(), expected, "{name}");
}

fn response(name: &str, expected: &DirResponse) {
    let v = spec_vector(name);
    let message = bytes(&v, "message");
    assert_eq!(expected.encode().unwrap(), message, "{name}");
    assert_eq!(&DirResponse::decode(message).unwrap(), expected, "{name}");
}

#[test]
fn requests() {
    request(
        "dir-request-publish-descriptor",
        &DirRequest::PublishDescriptor(vec![1, 2, 3]),
    );
    request("dir-request-get-consensus", &DirRequest::GetConsensus);
    let framed = bytes(&spec_vector("dir-request-get-consensus"), "framed").to_vec();
    let mut expected = 1u32.to_be_bytes().to_vec();
    expected.extend(DirRequest::GetConsensus.encode().unwrap());
    assert_eq!(framed, expected);
    let v = spec_vector("dir-request-get-descriptor");
    request(
        "dir-request-get-descriptor",
        &DirRequest::GetDescriptor(field(&v, "identity")),
    );
    request(
        "dir-request-post-vote",
        &DirRequest::PostVote(vec![0xaa, 0xbb]),
    );
    let v = spec_vector("dir-request-post-signature");
    request(
        "dir-request-post-signature",
        &DirRequest::PostSignature {
            valid_after: u64::from_be_bytes(field(&v, "valid_after")),
            signature: vec![0xcc],
        },
    );
}

#[test]
fn responses() {
    response("dir-response-accepted", &DirResponse::Accepted);
    let v = spec_vector("dir-response-refused");
    let reason = String::from_utf8(bytes(&v, "reason").to_vec()).unwrap();
    response("dir-response-refused", &DirResponse::Refused(reason));
    response(
        "dir-response-consensus",
        &DirResponse::Consensus(vec![1, 2]),
    );
    response(
        "dir-response-descriptor",
        &DirResponse::Descriptor(Vec::new()),
    );
    response("dir-response-not-found", &DirResponse::NotFound);
    response(
        "dir-response-hs-descriptor",
        &DirResponse::HsDescriptor(vec![0xcd, 0xef]),
    );
}

#[test]
fn every_dir_message_vector_is_checked() {
    let checked = [
        "dir-request-publish-descriptor",
        "dir-request-get-consensus",
        "dir-request-get-descriptor",
        "dir-request-post-vote",
        "dir-request-post-signature",
        "dir-response-accepted",
        "dir-response-refused",
        "dir-response-consensus",
        "dir-response-descriptor",
        "dir-response-not-found",
        "dir-request-publish-hs-descriptor",
        "dir-request-get-hs-descriptor",
        "dir-response-hs-descriptor",
    ];
    for name in spec_vector_names() {
        if name.starts_with("dir-") {
            assert!(
                checked.contains(&name.as_str()),
                "vector {name} has no test"
            );
        }
    }
}
