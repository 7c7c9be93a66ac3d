//! Streams bridged to byte streams (docs/spec.md §10, §13.4): an exit's
//! TCP connections to their targets, a client's connections from its SOCKS
//! and HTTP entries, a relay's directory streams.
//!
//! Each stream has a task that owns the connection. The circuit task and
//! the stream tasks exchange data through bounded queues, with credits in
//! both directions, so that neither side buffers more than a few chunks per
//! stream; the stream windows of §10.3 do the rest end to end.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use warren_proto::relay_msg::{EndReason, StreamId};
use warren_proto::stream::{StreamRead, StreamSet};

/// Bytes read from a TCP connection at a time.
const CHUNK: usize = 16 * 1024;
/// Chunks a stream's TCP reader may have in flight to the circuit task.
const CREDITS: usize = 4;
/// Chunks queued towards a stream's TCP writer.
const TO_TCP_QUEUE: usize = 4;
/// Events all stream tasks of a circuit may have queued.
const EVENT_QUEUE: usize = 256;

/// What a stream task reports to its circuit task.
pub enum BridgeEvent {
    /// The connection is open, or failed for this reason.
    Connected(StreamId, Result<(), EndReason>),
    /// Bytes from the connection; the permit is returned once they are
    /// taken into the stream.
    Data(StreamId, Vec<u8>, OwnedSemaphorePermit),
    /// The connection's read side ended.
    Eof(StreamId),
    /// Reading the connection failed (reset): what was read is not all
    /// there was, so the stream ends with END CONNRESET, not DONE.
    Failed(StreamId),
    /// A chunk was written to the connection: more may be sent.
    Drained(StreamId),
}

struct BridgedStream {
    to_tcp: Option<mpsc::Sender<Vec<u8>>>,
    /// Chunks from the connection that the stream could not take yet, in
    /// order, with how much of the first was taken (at most [`CREDITS`]).
    pending: VecDeque<(Vec<u8>, OwnedSemaphorePermit)>,
    taken: usize,
    /// The connection's read side ended; END once `pending` is sent.
    eof: bool,
    task: JoinHandle<()>,
}

/// The bridged streams of one circuit.
pub struct StreamBridge {
    streams: HashMap<StreamId, BridgedStream>,
    /// The stream tasks' events, for [`StreamBridge::handle`]: made with the
    /// first stream, so that a circuit without streams holds no queue.
    events: Option<(mpsc::Sender<BridgeEvent>, mpsc::Receiver<BridgeEvent>)>,
}

impl StreamBridge {
    /// A bridge with no stream.
    pub fn new() -> Self {
        Self {
            streams: HashMap::new(),
            events: None,
        }
    }

    /// The next event from a stream task, for [`Self::handle`]; pending
    /// while there is none (forever, before the first stream).
    pub async fn next_event(&mut self) -> Option<BridgeEvent> {
        match &mut self.events {
            Some((_, rx)) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Starts stream `id`'s task: it waits for `connection` (an exit's
    /// connect, a client's accepted connection, a relay's own directory
    /// service), reports it, then copies.
    pub fn open<F, C>(&mut self, id: StreamId, connection: F)
    where
        F: Future<Output = Result<C, EndReason>> + Send + 'static,
        C: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (to_tcp, from_circuit) = mpsc::channel(TO_TCP_QUEUE);
        let (events, _) = self
            .events
            .get_or_insert_with(|| mpsc::channel(EVENT_QUEUE));
        let task = tokio::spawn(stream_task(id, connection, events.clone(), from_circuit));
        let stream = BridgedStream {
            to_tcp: Some(to_tcp),
            pending: VecDeque::new(),
            taken: 0,
            eof: false,
            task,
        };
        self.streams.insert(id, stream);
    }

    /// Applies one event from a stream task to the circuit's streams.
    /// Returns the outcome of a connection attempt for the caller to act on
    /// (an exit accepts or resets the stream); a failed one is forgotten.
    pub fn handle(
        &mut self,
        streams: &mut StreamSet,
        event: BridgeEvent,
    ) -> Option<(StreamId, Result<(), EndReason>)> {
        match event {
            BridgeEvent::Connected(id, result) => {
                if result.is_err() {
                    self.forget(id);
                }
                return Some((id, result));
            }
            BridgeEvent::Data(id, data, permit) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.pending.push_back((data, permit));
                }
                self.flush_to_stream(streams, id);
            }
            BridgeEvent::Eof(id) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.eof = true;
                }
                self.flush_to_stream(streams, id);
            }
            BridgeEvent::Failed(id) => {
                let _ = streams.reset(id, EndReason::CONNRESET);
                self.forget(id);
            }
            BridgeEvent::Drained(id) => self.flush_to_tcp(streams, id),
        }
        None
    }

    /// Stops bridging stream `id` (its stream is gone).
    pub fn forget(&mut self, id: StreamId) {
        if let Some(s) = self.streams.remove(&id) {
            s.task.abort();
        }
    }

    /// The stream can take more: send what the connection delivered.
    pub fn flush_to_stream(&mut self, streams: &mut StreamSet, id: StreamId) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        while let Some((data, _)) = s.pending.front() {
            let rest = data.get(s.taken..).unwrap_or_default();
            match streams.write(id, rest) {
                Ok(n) if n < rest.len() => {
                    s.taken += n;
                    break;
                }
                Ok(_) => {
                    // The chunk is in; its credit goes back to the reader.
                    s.pending.pop_front();
                    s.taken = 0;
                }
                Err(_) => return self.forget(id),
            }
        }
        if s.eof && s.pending.is_empty() {
            let _ = streams.close(id);
            s.to_tcp = None;
        }
    }

    /// Data arrived on the stream (or the connection drained): copy what
    /// fits into the connection's queue; leave the rest in the stream, so
    /// its window stays closed until the connection catches up.
    pub fn flush_to_tcp(&mut self, streams: &mut StreamSet, id: StreamId) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        while let Some(tx) = s.to_tcp.as_ref().filter(|tx| tx.capacity() > 0) {
            // As much as has arrived, up to a chunk, in one write; at least
            // one byte, so that an empty stream reports why it is empty.
            let mut buf = vec![0u8; streams.readable(id).clamp(1, CHUNK)];
            match streams.read(id, &mut buf) {
                Ok(StreamRead::Bytes(n)) => {
                    buf.truncate(n);
                    let _ = tx.try_send(buf);
                }
                Ok(StreamRead::WouldBlock) => return,
                Ok(StreamRead::Finished(_)) | Err(_) => {
                    // The client ended the stream: the connection's write
                    // side closes once its queue is written.
                    s.to_tcp = None;
                    return;
                }
            }
        }
    }
}

impl Default for StreamBridge {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StreamBridge {
    fn drop(&mut self) {
        for s in self.streams.values() {
            s.task.abort();
        }
    }
}

/// One bridged stream: wait for the connection, report it, copy.
async fn stream_task<F, C>(
    id: StreamId,
    connection: F,
    events: mpsc::Sender<BridgeEvent>,
    mut from_circuit: mpsc::Receiver<Vec<u8>>,
) where
    F: Future<Output = Result<C, EndReason>>,
    C: AsyncRead + AsyncWrite,
{
    let conn = match connection.await {
        Ok(conn) => conn,
        Err(reason) => return drop(events.send(BridgeEvent::Connected(id, Err(reason))).await),
    };
    if events
        .send(BridgeEvent::Connected(id, Ok(())))
        .await
        .is_err()
    {
        return;
    }
    let (mut read, mut write) = tokio::io::split(conn);
    let credits = Arc::new(Semaphore::new(CREDITS));
    let reader_events = events.clone();
    let reader = async move {
        loop {
            let Ok(permit) = credits.clone().acquire_owned().await else {
                return;
            };
            let mut buf = vec![0u8; CHUNK];
            match read.read(&mut buf).await {
                Ok(0) => return drop(reader_events.send(BridgeEvent::Eof(id)).await),
                Err(e) => {
                    tracing::debug!(error = %e, "a bridged connection failed");
                    return drop(reader_events.send(BridgeEvent::Failed(id)).await);
                }
                Ok(n) => {
                    buf.truncate(n);
                    if reader_events
                        .send(BridgeEvent::Data(id, buf, permit))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some(chunk) = from_circuit.recv().await {
            if write.write_all(&chunk).await.is_err() {
                return;
            }
            if events.send(BridgeEvent::Drained(id)).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    };
    tokio::join!(reader, writer);
}
