//! The plain-HTTP directory port (docs/spec.md §12.13): `GET /consensus`
//! and `GET /descriptor/<identity hex>`, on `warren_net::http`.

use std::sync::Arc;

use warren_net::http::{Response, Routes};

/// The documents a directory server holds.
pub(crate) trait DirectoryView: Send + Sync + 'static {
    /// The consensus bytes, if a valid one is held.
    fn consensus(&self) -> Option<Arc<Vec<u8>>>;
    /// The signed descriptor of a relay, if held.
    fn descriptor(&self, id: &[u8; 32]) -> Option<Vec<u8>>;
}

/// The directory port's routes over a view.
pub(crate) struct DirRoutes<V>(pub(crate) V);

impl<V: DirectoryView> Routes for DirRoutes<V> {
    fn get(&self, path: &str) -> Response {
        if path == "/consensus" {
            return self.0.consensus().map_or_else(
                || Response::text("503 Service Unavailable", "no valid consensus is held yet"),
                |b| Response::bytes(b.to_vec()),
            );
        }
        if let Some(hex_id) = path.strip_prefix("/descriptor/") {
            let mut id = [0u8; 32];
            return match hex::decode_to_slice(hex_id, &mut id) {
                Ok(()) => self.0.descriptor(&id).map_or_else(
                    || Response::text("404 Not Found", "no descriptor of that relay is held"),
                    Response::bytes,
                ),
                Err(_) => Response::text(
                    "400 Bad Request",
                    "a relay identity is 64 hexadecimal digits",
                ),
            };
        }
        Response::text(
            "404 Not Found",
            "this port serves /consensus and /descriptor/<identity>",
        )
    }
}
