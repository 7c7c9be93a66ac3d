//! Fetching and keeping the consensus (docs/spec.md §12.8, §12.13): ask the
//! authorities or caches, accept only what verifies, keep the last good one
//! on disk, fetch the next one from `fresh_until` on, and say clearly when
//! the one held has expired.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::seq::SliceRandom;
use tokio::sync::watch;
use warren_crypto::RelayIdentity;
use warren_directory::{AuthoritySet, Consensus, DirRequest, DirResponse};

use crate::host::Host;
use crate::{Multiaddr, NetError};

/// The file name of the last good consensus in a data directory.
pub const CONSENSUS_FILE: &str = "consensus";

/// How long to wait before asking again after every source failed.
const RETRY: Duration = Duration::from_secs(2);

/// A directory server: an authority or a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSource {
    /// Its host identity.
    pub peer: RelayIdentity,
    /// Where it listens.
    pub addrs: Vec<Multiaddr>,
}

/// A configured directory authority: the identity that signs, and the
/// host that answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityEntry {
    /// Its long-term authority identity (§12.4).
    pub identity: warren_directory::AuthorityIdentity,
    /// Its host.
    pub source: DirSource,
}

/// The authority set of `entries`, refused when empty or repeated.
pub fn authority_set(entries: &[AuthorityEntry]) -> Result<AuthoritySet, NetError> {
    AuthoritySet::new(entries.iter().map(|a| a.identity)).map_err(|e| NetError::Config {
        reason: e.to_string(),
    })
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks `bytes` as a consensus signed by more than half of `set` and
/// valid at `now`.
pub fn accept(bytes: &[u8], set: &AuthoritySet, now: u64) -> Result<Consensus, NetError> {
    let reject = |e: warren_directory::DirectoryError| NetError::ConsensusRejected {
        reason: e.to_string(),
    };
    Consensus::decode(bytes)
        .map_err(reject)?
        .verify(set)
        .map_err(reject)?
        .check_valid_at(now)
        .map_err(reject)
}

/// Asks `sources`, in random order, for their consensus; the first that
/// verifies and is valid at `now` wins. Returns it with its bytes.
pub async fn fetch_consensus(
    host: &Host,
    sources: &[DirSource],
    set: &AuthoritySet,
    now: u64,
) -> Result<(Consensus, Vec<u8>), NetError> {
    let mut order: Vec<&DirSource> = sources.iter().collect();
    order.shuffle(&mut rand::rng());
    let mut last = String::from("no directory source is configured");
    for source in order {
        match host
            .dir_request(&source.peer, &source.addrs, &DirRequest::GetConsensus)
            .await
        {
            Ok(DirResponse::Consensus(bytes)) => match accept(&bytes, set, now) {
                Ok(consensus) => return Ok((consensus, bytes)),
                Err(e) => last = e.to_string(),
            },
            Ok(DirResponse::NotFound) => last = "a source holds no consensus yet".into(),
            Ok(other) => last = format!("a source answered {other:?}"),
            Err(e) => last = e.to_string(),
        }
        tracing::debug!(reason = %last, "a directory source did not provide a consensus");
    }
    Err(NetError::NoConsensus { reason: last })
}

/// Keeps the newest good consensus: on disk in `data_dir`, and in a watch
/// channel for the daemon (`None` while there is none valid).
pub struct ConsensusKeeper {
    path: PathBuf,
    sources: Vec<DirSource>,
    set: AuthoritySet,
    current: Option<(Arc<Consensus>, Arc<Vec<u8>>)>,
    tx: watch::Sender<Option<Arc<Consensus>>>,
    bytes_tx: watch::Sender<Option<Arc<Vec<u8>>>>,
}

/// The receiving ends of a [`ConsensusKeeper`].
#[derive(Debug, Clone)]
pub struct ConsensusWatch {
    /// The consensus, decoded.
    pub consensus: watch::Receiver<Option<Arc<Consensus>>>,
    /// Its bytes, for serving to others.
    pub bytes: watch::Receiver<Option<Arc<Vec<u8>>>>,
}

impl ConsensusKeeper {
    /// A keeper for `data_dir`, loading the consensus stored there if it is
    /// still valid (an expired or unusable file is reported and ignored).
    pub fn new(
        data_dir: PathBuf,
        sources: Vec<DirSource>,
        set: AuthoritySet,
    ) -> (Self, ConsensusWatch) {
        let (tx, consensus) = watch::channel(None);
        let (bytes_tx, bytes) = watch::channel(None);
        let mut keeper = Self {
            path: data_dir.join(CONSENSUS_FILE),
            sources,
            set,
            current: None,
            tx,
            bytes_tx,
        };
        keeper.load(unix_now());
        (keeper, ConsensusWatch { consensus, bytes })
    }

    fn load(&mut self, now: u64) {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return;
        };
        match accept(&bytes, &self.set, now) {
            Ok(consensus) => {
                tracing::info!(
                    relays = consensus.relays().len(),
                    valid_for_s = consensus.valid_until().saturating_sub(now),
                    "loaded the last good consensus from disk"
                );
                self.install(consensus, bytes);
            }
            Err(e) => tracing::warn!(
                error = %e,
                "the consensus stored on disk is not usable; fetching a new one"
            ),
        }
    }

    fn install(&mut self, consensus: Consensus, bytes: Vec<u8>) {
        let consensus = Arc::new(consensus);
        let bytes = Arc::new(bytes);
        self.tx.send_replace(Some(consensus.clone()));
        self.bytes_tx.send_replace(Some(bytes.clone()));
        self.current = Some((consensus, bytes));
    }

    /// Accepts `bytes` if it verifies, is valid at `now` and is newer than
    /// the consensus held; stores it. Returns whether it was taken.
    pub fn offer(&mut self, bytes: Vec<u8>, now: u64) -> Result<bool, NetError> {
        let consensus = accept(&bytes, &self.set, now)?;
        // Newer, or the same period with more signatures (a late signer).
        let newer = self.current.as_ref().is_none_or(|(c, _)| {
            consensus.valid_after() > c.valid_after()
                || (consensus.valid_after() == c.valid_after()
                    && consensus.signatures().len() > c.signatures().len())
        });
        if newer {
            self.store(&bytes);
            tracing::info!(
                relays = consensus.relays().len(),
                signatures = consensus.signatures().len(),
                "accepted a new consensus"
            );
            self.install(consensus, bytes);
        }
        Ok(newer)
    }

    /// The `valid_after` of the consensus held.
    pub fn current_valid_after(&self) -> Option<u64> {
        self.current.as_ref().map(|(c, _)| c.valid_after())
    }

    /// The bytes of the consensus held.
    pub fn current_bytes(&self) -> Option<Arc<Vec<u8>>> {
        self.current.as_ref().map(|(_, b)| b.clone())
    }

    fn store(&self, bytes: &[u8]) {
        let tmp = self.path.with_extension("tmp");
        let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = result {
            tracing::warn!(error = %e, path = %self.path.display(), "cannot store the consensus");
        }
    }

    /// When the next fetch is due: at `fresh_until` of the consensus held,
    /// at once when none is held.
    fn next_fetch(&self) -> u64 {
        self.current.as_ref().map_or(0, |(c, _)| c.fresh_until())
    }

    /// Drops the consensus held once it has expired, saying so.
    pub fn expire(&mut self, now: u64) {
        if let Some((c, _)) = &self.current
            && now > c.valid_until()
        {
            tracing::warn!(
                expired_s_ago = now - c.valid_until(),
                "the consensus has expired and no directory source provided a newer one; \
                 no circuits can be built until one does"
            );
            self.current = None;
            self.tx.send_replace(None);
            self.bytes_tx.send_replace(None);
        }
    }

    /// Runs forever: fetches from `fresh_until` on, retrying every two
    /// seconds while no source answers.
    pub async fn run(mut self, host: &Host) {
        loop {
            let now = unix_now();
            self.expire(now);
            let due = self.next_fetch();
            if now < due {
                let wait = Duration::from_secs(due - now);
                tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                continue;
            }
            match fetch_consensus(host, &self.sources, &self.set, now).await {
                Ok((_, bytes)) => {
                    if let Ok(false) = self.offer(bytes, unix_now()) {
                        // Nothing newer yet: ask again shortly.
                        tokio::time::sleep(RETRY).await;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no consensus fetched");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}
