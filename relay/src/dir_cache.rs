//! The directory-cache role (docs/spec.md §12.13): a relay keeps the
//! consensus it fetched from the authorities and serves it to clients and
//! other relays, over the directory protocol and the optional HTTP port.

use std::sync::Arc;

use warren_directory::{DirRequest, DirResponse, Roles};
use warren_net::dir::IncomingDirRequests;
use warren_net::dir_client::{ConsensusWatch, unix_now};

use crate::dir_http::DirectoryView;
use crate::node::Shared;

/// The refusal of onion-service descriptor requests made directly.
pub(crate) const ANONYMOUS_ONLY: &str =
    "onion-service descriptors are published and fetched only through circuits (§15.6)";

/// Answers directory requests until the host stops.
pub(crate) async fn run(shared: Arc<Shared>, mut incoming: IncomingDirRequests) {
    while let Some(req) = incoming.next().await {
        let answer = match req.request {
            DirRequest::GetConsensus if shared.config.roles.contains(Roles::DIRCACHE) => shared
                .consensus
                .as_ref()
                .and_then(|w| CacheView(w.clone()).consensus())
                .map_or(DirResponse::NotFound, |b| {
                    DirResponse::Consensus(b.to_vec())
                }),
            DirRequest::GetDescriptor(_) | DirRequest::GetConsensus => DirResponse::NotFound,
            DirRequest::PublishDescriptor(_)
            | DirRequest::PostVote(_)
            | DirRequest::PostSignature { .. } => {
                DirResponse::refused("this is a relay, not a directory authority")
            }
            DirRequest::PublishHsDescriptor(_) | DirRequest::GetHsDescriptor(_) => {
                DirResponse::refused(ANONYMOUS_ONLY)
            }
        };
        req.reply.send(answer).await;
    }
}

/// What a cache holds, for the HTTP port.
pub(crate) struct CacheView(pub(crate) ConsensusWatch);

impl DirectoryView for CacheView {
    fn consensus(&self) -> Option<Arc<Vec<u8>>> {
        let bytes = self.0.bytes.borrow().clone()?;
        // Never serve one that has expired since it was fetched.
        let valid = self
            .0
            .consensus
            .borrow()
            .as_ref()
            .is_some_and(|c| unix_now() <= c.valid_until());
        valid.then_some(bytes)
    }

    fn descriptor(&self, _id: &[u8; 32]) -> Option<Vec<u8>> {
        None
    }
}
