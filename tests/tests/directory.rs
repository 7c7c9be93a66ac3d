//! The directory with real processes on 127.0.0.x (docs/spec.md §12.13,
//! §12.14): three `warren authority` processes and eight `warren relay`
//! processes produce a consensus that all three sign; with one authority
//! down a consensus is still produced and accepted; with two down none is,
//! the relays keep the last one until it expires and then say so.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test: a failure must fail the test"
)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::{OnionKeypair, RelayIdentityKeypair};
use warren_directory::exit_policy::ExitPolicy;
use warren_directory::{
    AuthorityIdentity, AuthoritySet, Consensus, DirRequest, DirResponse, OnionKeyCert,
    RelayDescriptor, Roles,
};
use warren_net::dir_client::unix_now;
use warren_net::host::{Host, HostConfig};
use warren_tests::procs::{
    Authorities, Node, http_get, start_authorities, start_relay, wait_until,
};

/// Voting interval of the test network, and how many intervals a
/// consensus stays valid.
const INTERVAL: u64 = 8;
const VALID_INTERVALS: u64 = 2;

fn authority_set(entries: &str) -> AuthoritySet {
    let ids = entries
        .lines()
        .filter_map(|l| l.strip_prefix("identity = \""))
        .map(|l| {
            l.trim_end_matches('"')
                .parse::<AuthorityIdentity>()
                .unwrap()
        });
    AuthoritySet::new(ids).unwrap()
}

/// The consensus an authority serves over HTTP, verified and timely.
fn served(http: SocketAddr, set: &AuthoritySet) -> Option<Consensus> {
    let (status, body) = http_get(http, "/consensus")?;
    if status != 200 {
        return None;
    }
    let consensus = Consensus::decode(&body)
        .expect("a served consensus decodes")
        .verify(set)
        .expect("a served consensus verifies")
        .check_valid_at(unix_now())
        .expect("a served consensus is timely");
    Some(consensus)
}

/// The consensus a relay keeps on disk, verified (not time-checked).
fn kept(relay: &Node, set: &AuthoritySet) -> Option<Consensus> {
    let bytes = std::fs::read(relay.dir.join("consensus")).ok()?;
    Some(
        Consensus::decode(&bytes)
            .unwrap()
            .verify(set)
            .unwrap()
            .dangerously_assume_timely(),
    )
}

fn start_relays(root: &std::path::Path, auths: &Authorities) -> Vec<Node> {
    (0..8)
        .map(|i| {
            start_relay(
                root,
                &format!("relay{i}"),
                &format!("127.0.3.{}", 10 + i),
                &auths.entries,
                INTERVAL,
                "",
            )
        })
        .collect()
}

#[test]
fn authorities_agree_survive_a_minority_down_and_not_a_majority() {
    let root = tempfile::tempdir().unwrap();
    let mut auths = start_authorities(
        root.path(),
        &["127.0.3.1", "127.0.3.2", "127.0.3.3"],
        INTERVAL,
        VALID_INTERVALS,
    );
    let set = authority_set(&auths.entries);
    let mut relays = start_relays(root.path(), &auths);

    // All three sign one consensus listing all eight relays, with flags.
    let full = wait_until(
        "a consensus of 8 relays signed by 3",
        Duration::from_secs(60),
        || {
            for node in auths.nodes.iter_mut().chain(relays.iter_mut()) {
                node.assert_running();
            }
            served(auths.http[0], &set)
                .filter(|c| c.relays().len() == 8 && c.signatures().len() == 3)
        },
    );
    for http in &auths.http[1..] {
        let other = wait_until(
            "the same consensus from every authority",
            Duration::from_secs(20),
            || served(*http, &set).filter(|c| c.valid_after() >= full.valid_after()),
        );
        if other.valid_after() == full.valid_after() {
            assert_eq!(
                other.body_bytes(),
                full.body_bytes(),
                "authorities disagree"
            );
        }
    }
    assert!(
        full.relays()
            .iter()
            .all(|r| r.flags.contains(warren_directory::Flags::RUNNING))
    );
    // Every relay, as a directory cache, keeps a verified copy on disk.
    for relay in &relays {
        wait_until(
            "a relay's cached consensus",
            Duration::from_secs(20),
            || kept(relay, &set).filter(|c| c.valid_after() >= full.valid_after()),
        );
    }

    // One of three down: the next consensus is still made, signed by two.
    auths.nodes[2].kill();
    let two = wait_until(
        "a consensus signed by 2 of 3",
        Duration::from_secs(40),
        || {
            served(auths.http[0], &set)
                .filter(|c| c.valid_after() > full.valid_after() && c.signatures().len() == 2)
        },
    );
    assert_eq!(two.relays().len(), 8);

    wait_until("the relay to fetch it", Duration::from_secs(30), || {
        kept(&relays[0], &set).filter(|c| c.valid_after() >= two.valid_after())
    });

    // Two of three down: no consensus; relays keep the last until it
    // expires, then say so.
    auths.nodes[1].kill();
    auths.nodes[0].wait_for_log("no consensus for this period", Duration::from_secs(30));
    let last = kept(&relays[0], &set).expect("the relay keeps the last consensus");
    assert!(last.valid_after() >= two.valid_after());
    let expiry = last.valid_until();
    wait_until(
        "the last consensus to expire",
        Duration::from_secs(40),
        || (unix_now() > expiry + 3).then_some(()),
    );
    relays[0].wait_for_log("the consensus has expired", Duration::from_secs(15));
    assert_eq!(
        kept(&relays[0], &set).map(|c| c.valid_after()),
        Some(last.valid_after()),
        "no newer consensus can exist"
    );
    let (status, _) = http_get(auths.http[0], "/consensus").expect("HTTP answers");
    assert_eq!(status, 503, "an expired consensus is not served");
}

/// A descriptor signed by relay `seed` for itself.
fn descriptor(seed: u8) -> (RelayIdentityKeypair, Vec<u8>) {
    let key = RelayIdentityKeypair::from_secret_bytes([seed; 32]);
    let onion = OnionKeypair::generate(&mut ChaCha20Rng::seed_from_u64(u64::from(seed)));
    let now = unix_now();
    let d = RelayDescriptor {
        identity: key.public(),
        onion_cert: OnionKeyCert::sign(&key, onion.public(), now + 3600),
        addresses: vec!["/ip4/127.0.3.99/tcp/9".into()],
        bandwidth: 1000,
        family: BTreeSet::new(),
        exit_policy: ExitPolicy::reject_all(),
        roles: Roles::MIDDLE,
        software: "test".into(),
        published: now,
    };
    let bytes = d.sign(&key).unwrap().as_bytes().to_vec();
    (key, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authority_refuses_forged_and_altered_descriptors() {
    let root = tempfile::tempdir().unwrap();
    let auths = start_authorities(root.path(), &["127.0.3.40"], INTERVAL, VALID_INTERVALS);
    let entry = &auths.entries;
    let peer: warren_crypto::RelayIdentity = entry
        .lines()
        .find_map(|l| l.strip_prefix("peer = \""))
        .unwrap()
        .trim_end_matches('"')
        .parse()
        .unwrap();
    let addr: warren_net::Multiaddr = entry
        .lines()
        .find_map(|l| l.strip_prefix("addresses = [\""))
        .unwrap()
        .trim_end_matches("\"]")
        .parse()
        .unwrap();
    let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(9));
    let config = HostConfig {
        listen: Vec::new(),
        idle_timeout: Duration::from_secs(10),
        serve_directory: false,
    };
    let (host, _) = Host::start(&key, &config).await.unwrap();
    let ask = |bytes: Vec<u8>| {
        let host = &host;
        let addr = addr.clone();
        async move {
            let request = DirRequest::PublishDescriptor(bytes);
            for _ in 0..50 {
                match host
                    .dir_request(&peer, std::slice::from_ref(&addr), &request)
                    .await
                {
                    Ok(answer) => return answer,
                    // The authority may still be starting.
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
            panic!("the authority never answered");
        }
    };

    let (_, good) = descriptor(1);
    assert_eq!(ask(good.clone()).await, DirResponse::Accepted);

    // Altered after signing: the bandwidth or any bit of the body.
    let mut altered = good.clone();
    altered[40] ^= 1;
    let DirResponse::Refused(reason) = ask(altered).await else {
        panic!("an altered descriptor was accepted");
    };
    assert!(!reason.is_empty());

    // A bad signature.
    let mut bad_sig = good.clone();
    *bad_sig.last_mut().unwrap() ^= 0x40;
    let DirResponse::Refused(reason) = ask(bad_sig).await else {
        panic!("a descriptor with a bad signature was accepted");
    };
    assert!(reason.contains("signature"), "{reason}");

    // A forged identity: relay 2's descriptor presented as signed by relay 3.
    let (_, mut forged) = descriptor(2);
    let claimed = RelayIdentityKeypair::from_secret_bytes([2; 32]).public();
    let other = RelayIdentityKeypair::from_secret_bytes([3; 32]).public();
    let at = forged
        .windows(32)
        .rposition(|w| w == claimed.as_bytes())
        .unwrap();
    forged[at..at + 32].copy_from_slice(other.as_bytes());
    let DirResponse::Refused(reason) = ask(forged).await else {
        panic!("a forged descriptor was accepted");
    };
    assert!(reason.contains("forged"), "{reason}");
    drop(auths);
}
