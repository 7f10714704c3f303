//! # edgecall-stream
//!
//! The native edgecall client library: join a room on a relay (or the edge)
//! over **WebTransport** or **WebSocket**, send media, receive what the
//! room forwards, measure round-trip time and reconnect with backoff. The
//! relay's tests, the edge tests and the load bots use it; the streamer CLI
//! builds on it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), edgecall_stream::ClientError> {
//! use edgecall_stream::{JoinConfig, Session, TransportKind, Trust};
//! let config = JoinConfig::new("https://127.0.0.1:4443", "standup", "ada")?
//!     .transport(TransportKind::WebTransport)
//!     .trust(Trust::cert_hash_hex("…64 hex digits…")?);
//! let mut session = Session::connect(&config).await?;
//! session.ping().await?;
//! let message = session.recv().await?;
//! # Ok(()) }
//! ```
//!
//! Transport mapping (the same messages everywhere, see `ARCHITECTURE.md`):
//! WebSocket carries one protobuf message per binary frame; WebTransport
//! carries control messages length-delimited (protobuf varint prefix) on one
//! bidirectional stream the client opens, audio as datagrams, and each video
//! frame on its own unidirectional stream.

mod backoff;
pub mod bots;
mod config;
pub mod directory;
mod error;
pub mod framing;
pub mod media;
pub mod publish;
mod session;
mod tls;
mod ws;
mod wt;

pub use backoff::{connect_with_retry, Backoff};
pub use config::{JoinConfig, TransportKind};
pub use directory::{JoinTarget, RelayAnswer, RelayDirectory};
pub use error::{sent_unless_withheld, ClientError, CloseInfo};
pub use session::Session;
pub use tls::Trust;

/// Client description sent in `Hello` unless the caller sets its own.
pub const CLIENT_NAME: &str = concat!("edgecall-stream/", env!("CARGO_PKG_VERSION"));
