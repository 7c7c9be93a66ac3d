//! Reachability tests (docs/spec.md §12.5, §12.14): the authority opens a
//! link to every relay it knows, at the addresses the relay's descriptor
//! gives; the Noise handshake proves the relay holds its identity key.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use warren_crypto::RelayIdentity;
use warren_net::Multiaddr;
use warren_net::dir_client::unix_now;

use super::Shared;

/// Tests in flight at once.
const PARALLEL: usize = 32;
/// How long one test may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Tests one relay now and records the result.
pub(crate) async fn test(shared: &Shared, id: RelayIdentity, addresses: &[String]) {
    let addrs: Vec<Multiaddr> = addresses.iter().filter_map(|a| a.parse().ok()).collect();
    let reached = !addrs.is_empty()
        && matches!(
            tokio::time::timeout(TEST_TIMEOUT, shared.host.open_link(&id, &addrs)).await,
            Ok(Ok(_))
        );
    if !reached {
        tracing::debug!("a relay failed its reachability test");
    }
    shared.state().record_test(&id, reached, unix_now());
}

/// Tests every known relay twice per voting interval (at most every five
/// minutes), forever.
pub(crate) async fn run(shared: Arc<Shared>) {
    let every = Duration::from_secs((shared.config.schedule.interval() / 2).clamp(1, 300));
    loop {
        let relays = shared.state().to_test();
        futures::stream::iter(relays)
            .for_each_concurrent(PARALLEL, |(id, addrs)| {
                let shared = &shared;
                async move { test(shared, id, &addrs).await }
            })
            .await;
        tokio::time::sleep(every).await;
    }
}
