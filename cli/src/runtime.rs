//! The async runtime of the commands that run a node.

use std::num::NonZeroUsize;

use anyhow::Context;

/// A multi-threaded runtime with `threads` worker threads, or one per core
/// when `None`. A testnet runs every node with one: its dozen processes
/// share one machine, and one thread each spares them the wake-ups of
/// threads handing work to each other.
pub(crate) fn start(threads: Option<NonZeroUsize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = threads {
        builder.worker_threads(n.get());
    }
    builder.build().context("starting the async runtime")
}
