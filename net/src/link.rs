//! The link protocol: fixed-size cells on one libp2p substream per circuit
//! hop (docs/spec.md §13.2).
//!
//! A [`Link`] is one substream to one authenticated peer. Reading yields
//! whole cells; writing goes through a bounded queue to a writer task that
//! coalesces the cells that are ready into one write, because one yamux write
//! costs more than ten onion layers on the same cell.

use futures::FutureExt;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
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
/// The most bytes a link reads ahead: one read from the substream takes
/// every cell that has arrived (up to this), not one cell, for the same
/// reason. The buffer exists only while cells keep arriving, so an idle
/// circuit holds one cell's worth (§13.2).
const READ_AHEAD: usize = 32 * 1024;

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
                cells: CellReader::new(read),
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
    cells: CellReader<ReadHalf<Stream>>,
}

impl LinkReader {
    /// The next cell, or `None` when the peer closed the substream cleanly
    /// between cells. A substream cut inside a cell is an error.
    ///
    /// Cancel-safe: a call dropped half-way keeps the bytes it read for the
    /// next call.
    pub async fn recv(&mut self) -> Result<Option<Cell>, NetError> {
        self.cells.recv().await
    }

    /// The next cell if it has already been read ahead, without waiting and
    /// without reading the substream. A caller that got a cell from
    /// [`Self::recv`] takes the rest of that read this way, and acts on
    /// them together (one write towards a stream's connection for all
    /// their data) before it goes back to `recv` (§13.2).
    pub fn try_recv(&mut self) -> Option<Result<Cell, NetError>> {
        self.cells.take_ahead()
    }
}

/// Frames cells from a byte stream. It waits for at most one cell at a time
/// (into a cell-sized buffer, so an idle reader holds little), and once a
/// cell is in, takes whatever else has already arrived in one read, without
/// waiting, into a read-ahead buffer. It refills that buffer the same way
/// while cells keep arriving, and frees it when a refill finds nothing.
struct CellReader<R> {
    stream: R,
    /// The cell being waited for.
    buf: Box<[u8; CELL_LEN]>,
    /// Bytes of `buf` already read: kept here, not on the stack, so that
    /// [`Self::recv`] can be cancelled without losing the framing.
    filled: usize,
    /// Bytes read ahead (empty, with no allocation, when there are none).
    ahead: Vec<u8>,
    /// Bytes of `ahead` already taken.
    taken: usize,
}

impl<R: AsyncRead + Unpin> CellReader<R> {
    fn new(stream: R) -> Self {
        Self {
            stream,
            buf: Box::new([0; CELL_LEN]),
            filled: 0,
            ahead: Vec::new(),
            taken: 0,
        }
    }

    /// The next whole cell of `ahead`, if there is one.
    fn take_ahead(&mut self) -> Option<Result<Cell, NetError>> {
        let bytes = self.ahead.get(self.taken..self.taken + CELL_LEN)?;
        self.taken += CELL_LEN;
        Some(Cell::from_bytes(bytes).map_err(NetError::BadCell))
    }

    async fn recv(&mut self) -> Result<Option<Cell>, NetError> {
        loop {
            if let Some(cell) = self.take_ahead() {
                return cell.map(Some);
            }
            if self.ahead.is_empty() || !self.read_ahead() {
                break;
            }
        }
        self.spill_ahead();
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
        self.read_ahead();
        Cell::from_bytes(self.buf.as_slice())
            .map(Some)
            .map_err(NetError::BadCell)
    }

    /// Moves the last partial cell read ahead into `buf` and frees `ahead`.
    fn spill_ahead(&mut self) {
        if let Some(rest) = self.ahead.get(self.taken..).filter(|r| !r.is_empty())
            && let Some(dst) = self.buf.get_mut(..rest.len())
        {
            dst.copy_from_slice(rest);
            self.filled = rest.len();
        }
        self.ahead = Vec::new();
        self.taken = 0;
    }

    /// Appends to `ahead` what has already arrived, if anything, without
    /// waiting; returns false when nothing had. The read goes through the
    /// stack, so a reader with nothing waiting allocates nothing. An end of
    /// stream or an error seen here is seen again by the next read.
    fn read_ahead(&mut self) -> bool {
        let mut space = [0; READ_AHEAD];
        match self.stream.read(&mut space).now_or_never() {
            Some(Ok(n)) if n > 0 => {
                self.ahead.drain(..self.taken);
                self.taken = 0;
                self.ahead
                    .extend_from_slice(space.get(..n).unwrap_or_default());
                true
            }
            _ => false,
        }
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

#[cfg(test)]
mod test {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use warren_proto::cell::{CELL_BODY_LEN, CellCmd, CircId};

    use super::*;

    /// A byte stream that delivers its bytes in the given pieces; `None`
    /// makes one read return pending first (as a socket with nothing yet).
    struct Pieces(VecDeque<Option<Vec<u8>>>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            out: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            match self.0.pop_front() {
                None => Poll::Ready(Ok(0)),
                Some(None) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Some(Some(mut piece)) => {
                    let n = piece.len().min(out.len());
                    out[..n].copy_from_slice(&piece[..n]);
                    if n < piece.len() {
                        self.0.push_front(Some(piece.split_off(n)));
                    }
                    Poll::Ready(Ok(n))
                }
            }
        }
    }

    fn cell(i: u32) -> Cell {
        Cell {
            circ_id: CircId(i),
            cmd: CellCmd::RELAY,
            body: [i as u8; CELL_BODY_LEN],
        }
    }

    /// `count` cells cut into pieces of `sizes` (cycled), with a pending
    /// read before every `pending_every`-th piece.
    fn pieces(count: u32, sizes: &[usize], pending_every: usize) -> Pieces {
        let bytes: Vec<u8> = (0..count).flat_map(|i| cell(i).to_bytes()).collect();
        let mut out = VecDeque::new();
        let mut at = 0;
        for (k, size) in sizes.iter().cycle().enumerate() {
            if at >= bytes.len() {
                break;
            }
            if k % pending_every == 0 {
                out.push_back(None);
            }
            let end = (at + size).min(bytes.len());
            out.push_back(Some(bytes[at..end].to_vec()));
            at = end;
        }
        Pieces(out)
    }

    #[test]
    fn cells_come_whole_and_in_order_from_any_cutting() {
        for sizes in [
            &[1usize][..],
            &[517],
            &[100, 900, 7],
            &[40_000],
            &[3, 60_000, 516],
        ] {
            let mut reader = CellReader::new(pieces(300, sizes, 3));
            futures::executor::block_on(async {
                for i in 0..300 {
                    let got = reader.recv().await.expect("cell").expect("not the end");
                    assert_eq!(
                        got.to_bytes(),
                        cell(i).to_bytes(),
                        "cell {i}, pieces {sizes:?}"
                    );
                }
                assert!(reader.recv().await.expect("clean end").is_none());
            });
        }
    }

    #[test]
    fn cells_read_ahead_are_taken_without_waiting() {
        // 40 cells arrive in one piece, then nothing for now.
        let mut stream = pieces(40, &[40 * CELL_LEN], 1_000);
        stream.0.push_back(None);
        let mut reader = CellReader::new(stream);
        assert!(reader.take_ahead().is_none(), "nothing read yet");
        futures::executor::block_on(async {
            let first = reader.recv().await.expect("cell").expect("not the end");
            assert_eq!(first.to_bytes(), cell(0).to_bytes());
        });
        for i in 1..40 {
            let got = reader.take_ahead().expect("read ahead").expect("a cell");
            assert_eq!(got.to_bytes(), cell(i).to_bytes(), "cell {i}");
        }
        assert!(reader.take_ahead().is_none(), "all taken");
    }

    #[test]
    fn a_stream_cut_inside_a_cell_is_an_error() {
        let mut bytes = cell(1).to_bytes().to_vec();
        bytes.extend_from_slice(&cell(2).to_bytes()[..100]);
        let mut reader = CellReader::new(Pieces(VecDeque::from([Some(bytes)])));
        futures::executor::block_on(async {
            assert!(reader.recv().await.expect("first cell").is_some());
            assert!(matches!(
                reader.recv().await,
                Err(NetError::LinkTruncated { bytes: 100 })
            ));
        });
    }

    #[test]
    fn a_cancelled_read_loses_no_bytes() {
        // Poll every receive once before running it to completion: a
        // pending first poll is dropped, as `select!` drops a branch.
        let mut reader = CellReader::new(pieces(200, &[300, 2_000, 51], 1));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for i in 0..200 {
            let first = {
                let mut fut = Box::pin(reader.recv());
                fut.as_mut().poll(&mut cx)
            };
            let got = match first {
                Poll::Ready(cell) => cell,
                Poll::Pending => futures::executor::block_on(reader.recv()),
            };
            let got = got.expect("cell").expect("not the end");
            assert_eq!(got.to_bytes(), cell(i).to_bytes(), "cell {i}");
        }
    }

    #[test]
    fn an_idle_reader_holds_no_read_ahead_buffer() {
        // 70 cells in one piece, then nothing more for now.
        let mut stream = pieces(70, &[70 * CELL_LEN], 1_000);
        stream.0.extend([None, None]);
        let mut reader = CellReader::new(stream);
        futures::executor::block_on(async {
            for _ in 0..70 {
                reader.recv().await.expect("cell").expect("not the end");
            }
        });
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Box::pin(reader.recv()).as_mut().poll(&mut cx).is_pending());
        assert_eq!(reader.ahead.capacity(), 0);
    }
}
