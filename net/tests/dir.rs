//! The directory protocol between two real hosts on 127.0.0.x (docs/spec.md
//! §12.13).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test: a failure must fail the test"
)]

use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::RelayIdentityKeypair;
use warren_directory::{DirRequest, DirResponse};
use warren_net::host::{Host, HostConfig, Incoming};

const DEADLINE: Duration = Duration::from_secs(30);

async fn host(seed: u64, listen: Option<&str>, serve: bool) -> (Host, Incoming) {
    let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let config = HostConfig {
        listen: listen
            .map(|ip| format!("/ip4/{ip}/tcp/0").parse().unwrap())
            .into_iter()
            .collect(),
        idle_timeout: Duration::from_secs(5),
        serve_directory: serve,
    };
    Host::start(&key, &config).await.expect("host starts")
}

#[tokio::test]
async fn a_request_gets_its_answer_and_a_big_one_fits() {
    let (server, mut incoming) = host(1, Some("127.0.0.41"), true).await;
    let (client, _) = host(2, None, false).await;
    let big = vec![7u8; 3 << 20];
    let served = big.clone();
    let client_id = *client.identity();
    tokio::spawn(async move {
        while let Some(req) = incoming.dir.next().await {
            assert_eq!(req.peer, client_id);
            let answer = match req.request {
                DirRequest::GetConsensus => DirResponse::Consensus(served.clone()),
                DirRequest::PublishDescriptor(bytes) if bytes == b"hello" => DirResponse::Accepted,
                _ => DirResponse::NotFound,
            };
            req.reply.send(answer).await;
        }
    });
    let addrs = server.listen_addrs().to_vec();
    let ask = |r: DirRequest| {
        let (client, server_id, addrs) = (&client, *server.identity(), addrs.clone());
        async move {
            tokio::time::timeout(DEADLINE, client.dir_request(&server_id, &addrs, &r))
                .await
                .expect("answered in time")
                .expect("answered")
        }
    };
    assert_eq!(
        ask(DirRequest::PublishDescriptor(b"hello".to_vec())).await,
        DirResponse::Accepted
    );
    assert_eq!(
        ask(DirRequest::GetConsensus).await,
        DirResponse::Consensus(big)
    );
    assert_eq!(
        ask(DirRequest::GetDescriptor([0; 32])).await,
        DirResponse::NotFound
    );
}

#[tokio::test]
async fn a_host_that_does_not_serve_refuses_the_protocol() {
    let (server, _incoming) = host(3, Some("127.0.0.42"), false).await;
    let (client, _) = host(4, None, false).await;
    let result = tokio::time::timeout(
        DEADLINE,
        client.dir_request(
            server.identity(),
            server.listen_addrs(),
            &DirRequest::GetConsensus,
        ),
    )
    .await
    .expect("fails in time");
    assert!(result.is_err(), "{result:?}");
}
