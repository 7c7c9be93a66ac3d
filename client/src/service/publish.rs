//! Publishing a service's descriptor (docs/spec.md §15, §15.6): one per
//! time period — the current one and the next, so that clients find it
//! across the boundary — sealed, signed by that period's blinded key, and
//! uploaded to every HSDir the ring names, each over a circuit of the
//! service's own.

use std::sync::Arc;

use tokio::task::JoinSet;
use warren_crypto::{ClientAuthPublicKey, RelayIdentity, ServiceIdentityKeypair, TimePeriod};
use warren_directory::hs_descriptor::{HsDescriptorContent, HsDescriptorTimes, SignedHsDescriptor};
use warren_directory::path::LastHop;
use warren_directory::{Consensus, DirRequest, DirResponse, HsDirRing};

use crate::ClientError;
use crate::manager::Manager;

/// What one publication did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Published {
    /// Uploads the HSDirs accepted.
    pub(crate) accepted: usize,
    /// Uploads tried.
    pub(crate) tried: usize,
}

/// The HSDirs responsible for `identity`'s descriptors of `current` and
/// the next period in `consensus`, sorted: when they change (a new shared
/// random value, HSDirs joining or leaving), the service republishes.
pub(crate) fn responsible(
    consensus: &Consensus,
    identity: &ServiceIdentityKeypair,
    current: TimePeriod,
) -> Vec<RelayIdentity> {
    let mut all: Vec<RelayIdentity> = [current, current.next()]
        .into_iter()
        .flat_map(|p| HsDirRing::new(consensus, p).responsible(&identity.blind(p).public()))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Builds the descriptors of the `current` and the next period and
/// uploads them to their HSDirs.
pub(crate) async fn publish(
    manager: &Arc<Manager>,
    identity: &ServiceIdentityKeypair,
    content: &HsDescriptorContent,
    times: HsDescriptorTimes,
    clients: &[ClientAuthPublicKey],
    current: TimePeriod,
) -> Result<Published, ClientError> {
    let consensus = manager.consensus()?;
    let mut uploads = JoinSet::new();
    for period in [current, current.next()] {
        let descriptor =
            SignedHsDescriptor::build(identity, period, content, times, clients, &mut rand::rng())
                .map_err(|e| ClientError::Build(format!("cannot build the descriptor: {e}")))?;
        let blinded = identity.blind(period).public();
        let bytes = Arc::new(descriptor.as_bytes().to_vec());
        for hsdir in HsDirRing::new(&consensus, period).responsible(&blinded) {
            let Some(status) = consensus.relay(&hsdir).cloned() else {
                continue;
            };
            let manager = manager.clone();
            let bytes = bytes.clone();
            uploads.spawn(async move {
                let circuit = manager.build_to(&status, LastHop::Theirs, None).await?;
                let request = DirRequest::PublishHsDescriptor(bytes.to_vec());
                crate::dir_stream::ask(&circuit, &request).await
            });
        }
    }
    let mut done = Published::default();
    while let Some(result) = uploads.join_next().await {
        done.tried += 1;
        match result {
            Ok(Ok(DirResponse::Accepted)) => done.accepted += 1,
            Ok(Ok(other)) => tracing::debug!(answer = ?other, "an HSDir refused the descriptor"),
            Ok(Err(e)) => tracing::debug!(error = %e, "a descriptor upload failed"),
            Err(_) => tracing::debug!("a descriptor upload stopped"),
        }
    }
    Ok(done)
}
