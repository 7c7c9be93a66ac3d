//! The HSDir role (docs/spec.md §15.6): onion-service descriptors stored
//! by blinded key, served on directory streams, with caps on their number
//! and bytes, forgotten when their lifetime ends.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use warren_directory::hs_descriptor::SignedHsDescriptor;
use warren_directory::{DirRequest, DirResponse};
use warren_net::dir_client::unix_now;

/// Descriptors held at most.
pub(crate) const MAX_DESCRIPTORS: usize = 20_000;
/// Bytes of descriptors held at most.
pub(crate) const MAX_BYTES: usize = 128 << 20;
/// The largest request on a directory stream.
const MAX_REQUEST: usize = 64 * 1024;
/// The buffer between a directory stream and its server task.
pub(crate) const PIPE: usize = 64 * 1024;

struct Stored {
    revision: u64,
    expires: u64,
    bytes: Vec<u8>,
}

/// The descriptors an HSDir holds.
#[derive(Default)]
pub(crate) struct HsDirStore {
    inner: Mutex<(HashMap<[u8; 32], Stored>, usize)>,
    record: Option<std::sync::Arc<crate::hop_record::HopRecord>>,
}

impl HsDirStore {
    /// An empty store; with `record`, stored descriptors are recorded
    /// (test mode, §16.6).
    pub(crate) fn new(record: Option<std::sync::Arc<crate::hop_record::HopRecord>>) -> Self {
        Self {
            inner: Mutex::default(),
            record,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<[u8; 32], Stored>, usize)> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Verifies and stores a descriptor at `now`.
    pub(crate) fn publish(&self, bytes: &[u8], now: u64) -> DirResponse {
        let checked = SignedHsDescriptor::decode(bytes)
            .and_then(|d| d.verify(&()))
            .and_then(|d| {
                let end = d.valid_until();
                d.check_valid_at(now).map(|d| (d, end))
            });
        let (descriptor, expires) = match checked {
            Ok(d) => d,
            Err(e) => return DirResponse::refused(e),
        };
        let key = *descriptor.blinded_key();
        let revision = descriptor.times().revision;
        let mut guard = self.lock();
        let (map, total) = &mut *guard;
        map.retain(|_, s| {
            let keep = s.expires >= now;
            if !keep {
                *total -= s.bytes.len();
            }
            keep
        });
        if let Some(old) = map.get(&key) {
            if old.revision >= revision {
                return DirResponse::refused("an equal or newer revision is stored");
            }
        } else if map.len() >= MAX_DESCRIPTORS {
            return DirResponse::refused("this HSDir holds as many descriptors as it can");
        }
        let old_len = map.get(&key).map_or(0, |s| s.bytes.len());
        if *total - old_len + bytes.len() > MAX_BYTES {
            return DirResponse::refused("this HSDir holds as many bytes of descriptors as it can");
        }
        *total = *total - old_len + bytes.len();
        if let Some(record) = &self.record {
            record.descriptor(bytes);
        }
        map.insert(
            key,
            Stored {
                revision,
                expires,
                bytes: bytes.to_vec(),
            },
        );
        DirResponse::Accepted
    }

    /// The descriptor stored under `key`, if it is still valid at `now`.
    pub(crate) fn get(&self, key: &[u8; 32], now: u64) -> DirResponse {
        match self.lock().0.get(key) {
            Some(s) if s.expires >= now => DirResponse::HsDescriptor(s.bytes.clone()),
            _ => DirResponse::NotFound,
        }
    }
}

/// Serves one directory stream: framed requests in, framed answers out,
/// until the stream ends or a frame is bad.
pub(crate) async fn serve_stream(mut pipe: DuplexStream, store: std::sync::Arc<HsDirStore>) {
    loop {
        let mut len = [0u8; 4];
        if pipe.read_exact(&mut len).await.is_err() {
            return;
        }
        let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        let answer = if len > MAX_REQUEST {
            DirResponse::refused("a directory-stream request is at most 64 KiB")
        } else {
            let mut buf = vec![0u8; len];
            if pipe.read_exact(&mut buf).await.is_err() {
                return;
            }
            match DirRequest::decode(&buf) {
                Ok(DirRequest::PublishHsDescriptor(bytes)) => store.publish(&bytes, unix_now()),
                Ok(DirRequest::GetHsDescriptor(key)) => store.get(&key, unix_now()),
                Ok(_) => {
                    DirResponse::refused("a directory stream serves onion-service descriptors only")
                }
                Err(e) => DirResponse::refused(e),
            }
        };
        let Ok(bytes) = answer.encode() else { return };
        let Ok(n) = u32::try_from(bytes.len()) else {
            return;
        };
        if pipe.write_all(&n.to_be_bytes()).await.is_err() || pipe.write_all(&bytes).await.is_err()
        {
            return;
        }
        if len > MAX_REQUEST {
            return;
        }
    }
}
