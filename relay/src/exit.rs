//! The exit role: streams that end at this relay become TCP connections,
//! when the exit policy allows them (docs/spec.md §13.4).
//!
//! Each stream has a task that resolves the target, checks the policy on the
//! resolved address, connects and copies bytes. The circuit task and the
//! stream tasks exchange data through bounded queues, with credits in both
//! directions, so that neither side buffers more than a few chunks per
//! stream; the stream windows of §10.3 do the rest end to end.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use warren_directory::exit_policy::ExitPolicy;
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
/// How long resolving and connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a stream task reports to its circuit task.
pub(crate) enum ExitEvent {
    /// The connection is open, or failed for this reason.
    Connected(StreamId, Result<(), EndReason>),
    /// Bytes from the connection; the permit is returned once they are
    /// taken into the stream.
    Data(StreamId, Vec<u8>, OwnedSemaphorePermit),
    /// The connection's read side ended.
    Eof(StreamId),
    /// A chunk was written to the connection: more may be sent.
    Drained(StreamId),
}

struct ExitStream {
    to_tcp: Option<mpsc::Sender<Vec<u8>>>,
    /// Chunks from the connection that the stream could not take yet, in
    /// order, with how much of the first was taken (at most [`CREDITS`]).
    pending: VecDeque<(Vec<u8>, OwnedSemaphorePermit)>,
    taken: usize,
    /// The connection's read side ended; END once `pending` is sent.
    eof: bool,
    task: JoinHandle<()>,
}

/// The exit streams of one circuit.
pub(crate) struct ExitStreams {
    policy: Arc<ExitPolicy>,
    streams: HashMap<StreamId, ExitStream>,
    events_tx: mpsc::Sender<ExitEvent>,
    pub(crate) events: mpsc::Receiver<ExitEvent>,
}

impl ExitStreams {
    pub(crate) fn new(policy: Arc<ExitPolicy>) -> Self {
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        Self {
            policy,
            streams: HashMap::new(),
            events_tx,
            events,
        }
    }

    /// A BEGIN arrived: start the stream's task.
    pub(crate) fn open(&mut self, id: StreamId, host: String, port: u16) {
        let (to_tcp, from_circuit) = mpsc::channel(TO_TCP_QUEUE);
        let task = tokio::spawn(stream_task(
            id,
            host,
            port,
            self.policy.clone(),
            self.events_tx.clone(),
            from_circuit,
        ));
        let stream = ExitStream {
            to_tcp: Some(to_tcp),
            pending: VecDeque::new(),
            taken: 0,
            eof: false,
            task,
        };
        self.streams.insert(id, stream);
    }

    /// Applies one event from a stream task to the circuit's streams.
    pub(crate) fn handle(&mut self, streams: &mut StreamSet, event: ExitEvent) {
        match event {
            ExitEvent::Connected(id, Ok(())) => {
                if streams.accept(id).is_err() {
                    self.forget(id);
                }
            }
            ExitEvent::Connected(id, Err(reason)) => {
                let _ = streams.reset(id, reason);
                self.forget(id);
            }
            ExitEvent::Data(id, data, permit) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.pending.push_back((data, permit));
                }
                self.flush_to_stream(streams, id);
            }
            ExitEvent::Eof(id) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.eof = true;
                }
                self.flush_to_stream(streams, id);
            }
            ExitEvent::Drained(id) => self.flush_to_tcp(streams, id),
        }
    }

    /// The stream can take more: send what the connection delivered.
    pub(crate) fn flush_to_stream(&mut self, streams: &mut StreamSet, id: StreamId) {
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
    pub(crate) fn flush_to_tcp(&mut self, streams: &mut StreamSet, id: StreamId) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        let mut buf = vec![0u8; CHUNK];
        while let Some(tx) = s.to_tcp.as_ref().filter(|tx| tx.capacity() > 0) {
            match streams.read(id, &mut buf) {
                Ok(StreamRead::Bytes(n)) => {
                    let _ = tx.try_send(buf.get(..n).unwrap_or_default().to_vec());
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

    fn forget(&mut self, id: StreamId) {
        if let Some(s) = self.streams.remove(&id) {
            s.task.abort();
        }
    }
}

impl Drop for ExitStreams {
    fn drop(&mut self) {
        for s in self.streams.values() {
            s.task.abort();
        }
    }
}

/// One exit stream: resolve, check the policy, connect, copy.
async fn stream_task(
    id: StreamId,
    host: String,
    port: u16,
    policy: Arc<ExitPolicy>,
    events: mpsc::Sender<ExitEvent>,
    mut from_circuit: mpsc::Receiver<Vec<u8>>,
) {
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&host, port, &policy)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(reason)) => return drop(events.send(ExitEvent::Connected(id, Err(reason))).await),
        Err(_) => {
            return drop(
                events
                    .send(ExitEvent::Connected(id, Err(EndReason::TIMEOUT)))
                    .await,
            );
        }
    };
    if events.send(ExitEvent::Connected(id, Ok(()))).await.is_err() {
        return;
    }
    let (mut read, mut write) = conn.into_split();
    let credits = Arc::new(Semaphore::new(CREDITS));
    let reader_events = events.clone();
    let reader = async move {
        loop {
            let Ok(permit) = credits.clone().acquire_owned().await else {
                return;
            };
            let mut buf = vec![0u8; CHUNK];
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return drop(reader_events.send(ExitEvent::Eof(id)).await),
                Ok(n) => {
                    buf.truncate(n);
                    if reader_events
                        .send(ExitEvent::Data(id, buf, permit))
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
            if events.send(ExitEvent::Drained(id)).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// Resolves `host` and connects to the first address the policy allows.
async fn connect(host: &str, port: u16, policy: &ExitPolicy) -> Result<TcpStream, EndReason> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| EndReason::RESOLVEFAILED)?
        .collect();
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| policy.allows(a.ip(), a.port()))
        .collect();
    if allowed.is_empty() {
        return Err(EndReason::EXITPOLICY);
    }
    for addr in allowed {
        if let Ok(conn) = TcpStream::connect(addr).await {
            let _ = conn.set_nodelay(true);
            return Ok(conn);
        }
    }
    Err(EndReason::CONNECTREFUSED)
}
