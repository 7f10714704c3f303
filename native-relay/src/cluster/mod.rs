//! Cluster mode: rooms that span relays over NATS.
//!
//! Each relay serving a room keeps one engine *link* per other relay in
//! that room, and carries the engine's `LinkMessage`s over NATS (see
//! [`subjects`] and `native-relay/README.md`):
//!
//! - **presence**: every relay with local participants in a room publishes
//!   a heartbeat on the room's presence subject; a relay first heard
//!   becomes a link (`Room::join_link`), one silent for the timeout (or
//!   saying `bye`) is closed and its participants leave. A heartbeat also
//!   says whether its sender holds the room's trunk to the edge, which is
//!   how the relays elect one holder (`crate::trunk::election`);
//! - **control**: reliable link messages (roster, wants, keyframe
//!   requests, chat) go to the peer's control inbox;
//! - **media**: a frame the engine forwards to any links is published once
//!   on a per (origin, participant, track, layer) subject; each relay
//!   subscribes to exactly the video layers its `LinkWants` ask for, plus
//!   the audio its peers choose to publish;
//! - **recovery**: after NATS reconnects, each relay starts a new *epoch*:
//!   it drops its links and re-announces, and peers that see the new epoch
//!   rebuild their link to it.

mod room;
pub mod subjects;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use tokio::sync::broadcast;

pub use room::ClusterRoom;

/// What arrives from NATS for one room.
#[derive(Debug)]
pub enum ClusterEvent {
    /// A heartbeat (`alive`) or a farewell from `relay`.
    Presence {
        /// The peer.
        relay: String,
        /// Its epoch.
        epoch: u64,
        /// `false` for `bye`.
        alive: bool,
        /// Whether the peer holds the room's trunk to the edge.
        trunk: bool,
    },
    /// A control link message from `from`.
    Control {
        /// The peer.
        from: String,
        /// Its epoch.
        epoch: u64,
        /// The `LinkMessage`.
        data: Bytes,
    },
    /// A media link message published by `from`.
    Media {
        /// The origin relay.
        from: String,
        /// The `LinkMessage`.
        data: Bytes,
    },
}

/// The NATS connection and this relay's identity in the cluster.
pub struct Cluster {
    client: async_nats::Client,
    relay_id: String,
    epoch: Arc<AtomicU64>,
    heartbeat: Duration,
    timeout: Duration,
    resync: broadcast::Sender<()>,
}

impl Cluster {
    /// Connects to NATS (retrying until it answers) as a new relay id.
    pub async fn connect(url: &str, heartbeat: Duration, timeout: Duration) -> Result<Arc<Self>> {
        let relay_id = format!("r{:016x}", rand::random::<u64>());
        let epoch = Arc::new(AtomicU64::new(1));
        let (resync, _) = broadcast::channel(4);
        let was_disconnected = Arc::new(AtomicBool::new(false));
        let callback_epoch = epoch.clone();
        let callback_resync = resync.clone();
        let client = async_nats::ConnectOptions::new()
            .name(relay_id.clone())
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((100 * attempts as u64).min(2_000))
            })
            .event_callback(move |event| {
                let epoch = callback_epoch.clone();
                let resync = callback_resync.clone();
                let was_disconnected = was_disconnected.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            was_disconnected.store(true, Ordering::SeqCst);
                            tracing::warn!("lost the NATS connection; reconnecting");
                        }
                        async_nats::Event::Connected => {
                            if was_disconnected.swap(false, Ordering::SeqCst) {
                                let now = epoch.fetch_add(1, Ordering::SeqCst) + 1;
                                tracing::info!(
                                    epoch = now,
                                    "NATS reconnected; re-announcing rooms"
                                );
                                let _ = resync.send(());
                            }
                        }
                        other => tracing::info!(event = %other, "NATS event"),
                    }
                }
            })
            .connect(url)
            .await
            .with_context(|| format!("connecting to NATS at {url}"))?;
        tracing::info!(%relay_id, %url, "cluster mode: connected to NATS");
        Ok(Arc::new(Self {
            client,
            relay_id,
            epoch,
            heartbeat,
            timeout,
            resync,
        }))
    }

    /// This relay's id in the cluster.
    pub fn relay_id(&self) -> &str {
        &self.relay_id
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
}
