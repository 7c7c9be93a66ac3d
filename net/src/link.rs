//! The link protocol: fixed-size cells on one libp2p substream per circuit
//! hop (docs/spec.md §13.2).
//!
//! A [`Link`] is one substream to one authenticated peer. Reading yields
//! whole cells; writing goes through a bounded queue to a writer task that
//! coalesces the cells that are ready into one write, because one yamux write
//! costs more than ten onion layers on the same cell.

use futures::io::{AsyncReadExt, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use libp2p::Stream;
use tokio::sync::mpsc;
use warren_crypto::RelayIdentity;
use warren_proto::cell::{CELL_LEN, Cell};

use crate::NetError;

/// Cells a link's send queue holds: a full circuit window (1000 DATA
/// cells) plus room for control cells. A peer that obeys flow control never
/// fills it; a sender that finds it full sheds the circuit (§13.2).
pub const LINK_QUEUE_CELLS: usize = 1100;

/// The most bytes one coalesced write carries.
const MAX_WRITE: usize = 64 * 1024;
/// The read buffer of a link: one read from the substream takes every cell
/// that has arrived (up to this), not one cell, for the same reason.
const READ_BUFFER: usize = 32 * 1024;

/// One substream to an authenticated peer, carrying one circuit hop.
pub struct Link {
    peer: RelayIdentity,
    reader: LinkReader,
    writer: LinkWriter,
}

impl Link {
    /// Wraps an open substream to `peer` and starts its writer task.
    pub(crate) fn new(peer: RelayIdentity, stream: Stream) -> Self {
        let (read, write) = stream.split();
        let (tx, rx) = mpsc::channel(LINK_QUEUE_CELLS);
        tokio::spawn(write_cells(write, rx));
        Self {
            peer,
            reader: LinkReader {
                stream: BufReader::with_capacity(READ_BUFFER, read),
                buf: Box::new([0; CELL_LEN]),
                filled: 0,
            },
            writer: LinkWriter { queue: tx },
        }
    }

    /// The peer at the other end, as authenticated by the link's Noise
    /// handshake.
    pub fn peer(&self) -> &RelayIdentity {
        &self.peer
    }

    /// Splits the link into its receiving and sending halves.
    pub fn split(self) -> (LinkReader, LinkWriter) {
        (self.reader, self.writer)
    }
}

/// The receiving half of a [`Link`].
pub struct LinkReader {
    stream: BufReader<ReadHalf<Stream>>,
    buf: Box<[u8; CELL_LEN]>,
    /// Bytes of the next cell already read: kept here, not on the stack, so
    /// that [`Self::recv`] can be cancelled (as in `select!`) without losing
    /// the framing.
    filled: usize,
}

impl LinkReader {
    /// The next cell, or `None` when the peer closed the substream cleanly
    /// between cells. A substream cut inside a cell is an error.
    ///
    /// Cancel-safe: a call dropped half-way keeps the bytes it read for the
    /// next call.
    pub async fn recv(&mut self) -> Result<Option<Cell>, NetError> {
        while self.filled < CELL_LEN {
            let rest = self.buf.get_mut(self.filled..).unwrap_or_default();
            let n = self.stream.read(rest).await.map_err(NetError::LinkIo)?;
            if n == 0 {
                return match self.filled {
                    0 => Ok(None),
                    bytes => Err(NetError::LinkTruncated { bytes }),
                };
            }
            self.filled += n;
        }
        self.filled = 0;
        Cell::from_bytes(self.buf.as_slice())
            .map(Some)
            .map_err(NetError::BadCell)
    }
}

/// The sending half of a [`Link`]: cheap to clone; the link closes when
/// every clone is dropped and the queue has been written.
#[derive(Clone)]
pub struct LinkWriter {
    queue: mpsc::Sender<Box<Cell>>,
}

impl LinkWriter {
    /// Queues `cell`, waiting while the queue is full.
    pub async fn send(&self, cell: Cell) -> Result<(), NetError> {
        self.queue
            .send(Box::new(cell))
            .await
            .map_err(|_| NetError::LinkClosed)
    }

    /// Queues `cell` without waiting; fails when the queue is full (the
    /// peer is not keeping up) or the link is closed.
    pub fn try_send(&self, cell: Cell) -> Result<(), NetError> {
        self.queue.try_send(Box::new(cell)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NetError::LinkQueueFull,
            mpsc::error::TrySendError::Closed(_) => NetError::LinkClosed,
        })
    }

    /// Cells queued and not yet written.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Whether the writer task has stopped (the substream failed or closed).
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

/// The writer task: takes the cells that are ready, writes them in one go,
/// flushes, repeats; closes the substream when the queue ends.
async fn write_cells(mut stream: WriteHalf<Stream>, mut queue: mpsc::Receiver<Box<Cell>>) {
    let mut batch = Vec::with_capacity(MAX_WRITE);
    while let Some(cell) = queue.recv().await {
        batch.extend_from_slice(&cell.to_bytes());
        while batch.len() + CELL_LEN <= MAX_WRITE {
            match queue.try_recv() {
                Ok(cell) => batch.extend_from_slice(&cell.to_bytes()),
                Err(_) => break,
            }
        }
        let written = async {
            stream.write_all(&batch).await?;
            stream.flush().await
        };
        if let Err(e) = written.await {
            tracing::debug!(error = %e, "link write failed");
            return;
        }
        batch.clear();
    }
    let _ = stream.close().await;
}
