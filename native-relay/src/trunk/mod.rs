//! The trunk: one WebSocket per room from this relay to the edge's room
//! (`<edge>/api/rooms/<room>/trunk?host=<relay-id>`), carrying all of the
//! relay's participants of that room as a [`LinkKind::Tree`] link of the
//! engine. The engine does the routing; this module only carries bytes.
//!
//! - [`RoomTrunk`] is the room task's side: it starts the connection loop
//!   when the room should hold the trunk, turns connections into engine
//!   links, and stops the loop when the room no longer should;
//! - [`conn`] is the connection loop (keep-alive, backoff);
//! - [`election`] decides which relay of a NATS cluster holds the trunk.

mod conn;
pub mod election;

use std::sync::Arc;

use bytes::Bytes;
use edgecall_proto::room::{ConnId, Delivery, LinkKind, Room};
use edgecall_proto::token::TokenVerifier;
use tokio::sync::{mpsc, watch};
use url::Url;

pub use conn::{TrunkOutbox, DEAD_AFTER, PING_INTERVAL};

use crate::config::TrunkSettings;
use crate::host::{HostCtx, RoomEvent};

/// The edge this relay trunks to, and who the relay is.
#[derive(Debug)]
pub struct TrunkTarget {
    edge: Url,
    secret: String,
    relay_id: String,
    /// This relay's join-token verifier: its trunk proofs tell an edge that
    /// verifies tokens that this relay does so with the same secret.
    tokens: TokenVerifier,
}

impl TrunkTarget {
    /// A target from the relay's settings; `relay_id` names this relay to
    /// the edge (and to its NATS peers); `tokens` is how the relay admits
    /// its own clients.
    pub fn new(settings: &TrunkSettings, relay_id: &str, tokens: TokenVerifier) -> Self {
        Self {
            edge: settings.edge.clone(),
            secret: settings.secret.clone(),
            relay_id: relay_id.to_owned(),
            tokens,
        }
    }

    /// The proof for a trunk of `room` that this relay verifies join
    /// tokens (`None` when it runs open).
    pub fn token_proof(&self, room: &str) -> Option<String> {
        self.tokens.trunk_proof(room)
    }

    /// This relay's id.
    pub fn relay_id(&self) -> &str {
        &self.relay_id
    }

    /// The trunk URL of `room`: `ws(s)://<edge>/api/rooms/<room>/trunk?host=<id>`.
    pub fn url(&self, room: &str) -> Url {
        let mut url = self.edge.clone();
        let scheme = match url.scheme() {
            "https" | "wss" => "wss",
            _ => "ws",
        };
        // Both schemes are special, so switching between them succeeds.
        let _ = url.set_scheme(scheme);
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/api/rooms/{room}/trunk"));
        url.set_query(None);
        url.query_pairs_mut().append_pair("host", &self.relay_id);
        url
    }
}

/// What the connection loop tells the room task.
pub enum TrunkEvent {
    /// A connection to the edge is open.
    Up {
        /// The link's connection id in this room's engine.
        conn: ConnId,
        /// Where messages for the edge go.
        outbox: TrunkOutbox,
    },
    /// A link message from the edge.
    Message {
        /// The connection it came on.
        conn: ConnId,
        /// The `LinkMessage` bytes.
        data: Bytes,
    },
    /// The edge answered a keep-alive (or sent anything not for the engine).
    Alive {
        /// The connection.
        conn: ConnId,
    },
    /// The connection is gone (the loop reconnects unless stopped).
    Down {
        /// The connection.
        conn: ConnId,
    },
}

/// The trunk as one room task sees it.
pub struct RoomTrunk {
    target: Arc<TrunkTarget>,
    room: String,
    ctx: Arc<HostCtx>,
    events: mpsc::Sender<RoomEvent>,
    /// Set while the connection loop runs; dropping it stops the loop.
    running: Option<watch::Sender<bool>>,
    link: Option<(ConnId, TrunkOutbox)>,
}

impl RoomTrunk {
    /// A stopped trunk for `room`.
    pub fn new(
        target: Arc<TrunkTarget>,
        room: &str,
        ctx: Arc<HostCtx>,
        events: mpsc::Sender<RoomEvent>,
    ) -> Self {
        Self {
            target,
            room: room.to_owned(),
            ctx,
            events,
            running: None,
            link: None,
        }
    }

    /// Whether this relay is holding (or opening) the room's trunk.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Whether the trunk is connected right now.
    pub fn is_up(&self) -> bool {
        self.link.is_some()
    }

    /// Starts or stops the connection loop. Stopping removes the edge's
    /// participants from the room at once.
    pub fn set_wanted(&mut self, wanted: bool, room: &mut Room, now_ms: u64) {
        match (wanted, self.running.is_some()) {
            (true, false) => {
                let (stop, stop_rx) = watch::channel(false);
                tracing::info!(room = %self.room, edge = %self.target.edge, "opening the room's trunk to the edge");
                tokio::spawn(conn::run(
                    self.target.clone(),
                    self.room.clone(),
                    self.ctx.clone(),
                    self.events.clone(),
                    stop_rx,
                ));
                self.running = Some(stop);
            }
            (false, true) => {
                tracing::info!(room = %self.room, "closing the room's trunk to the edge");
                if let Some(stop) = self.running.take() {
                    let _ = stop.send(true);
                }
                if let Some((conn, _)) = self.link.take() {
                    room.closed(conn, now_ms);
                }
            }
            _ => {}
        }
    }

    /// Feeds one event from the connection loop to the engine.
    pub fn on_event(&mut self, event: TrunkEvent, room: &mut Room, now_ms: u64) {
        let current = self.link.as_ref().map(|(conn, _)| *conn);
        match event {
            TrunkEvent::Up { conn, outbox } => {
                if self.running.is_none() {
                    outbox.close("the relay no longer holds this trunk".into());
                    return;
                }
                if let Some(old) = current {
                    room.closed(old, now_ms);
                }
                self.link = Some((conn, outbox));
                room.join_link(conn, &self.target.relay_id, LinkKind::Tree, now_ms);
            }
            TrunkEvent::Message { conn, data } if Some(conn) == current => {
                room.message(conn, data, now_ms)
            }
            TrunkEvent::Alive { conn } if Some(conn) == current => room.heard(conn, now_ms),
            TrunkEvent::Down { conn } if Some(conn) == current => {
                self.link = None;
                room.closed(conn, now_ms);
            }
            // Late news from a connection already replaced or closed.
            TrunkEvent::Message { .. } | TrunkEvent::Alive { .. } | TrunkEvent::Down { .. } => {}
        }
    }

    /// Carries a message the engine queued for `conn` if `conn` is the
    /// trunk. `None`: not the trunk; `Some(false)`: the trunk could not
    /// take a reliable message and must be rebuilt.
    pub fn deliver(&self, conn: ConnId, data: &Bytes, delivery: Delivery) -> Option<bool> {
        match &self.link {
            Some((link, outbox)) if *link == conn => Some(outbox.send(data.clone(), delivery)),
            _ => None,
        }
    }

    /// The engine closed `conn`; if it is the trunk, drop this connection
    /// (the loop reconnects and the link is rebuilt from scratch).
    pub fn closed_by_engine(&mut self, conn: ConnId, reason: &str) -> bool {
        match self.link.take() {
            Some((link, outbox)) if link == conn => {
                tracing::warn!(room = %self.room, %reason, "the engine closed the trunk link; reconnecting");
                outbox.close(reason.to_owned());
                true
            }
            other => {
                self.link = other;
                false
            }
        }
    }

    /// The trunk's connection and the bytes waiting for the edge.
    pub fn backlog(&self) -> Option<(ConnId, u64)> {
        self.link
            .as_ref()
            .map(|(conn, outbox)| (*conn, outbox.queued_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(edge: &str) -> TrunkTarget {
        let settings = TrunkSettings {
            edge: Url::parse(edge).unwrap(),
            secret: "s".into(),
        };
        TrunkTarget::new(&settings, "r00ff", TokenVerifier::open())
    }

    #[test]
    fn trunk_urls_follow_the_edge_scheme_and_path() {
        assert_eq!(
            target("https://edge.example").url("standup").as_str(),
            "wss://edge.example/api/rooms/standup/trunk?host=r00ff"
        );
        assert_eq!(
            target("http://127.0.0.1:8787/").url("a-b").as_str(),
            "ws://127.0.0.1:8787/api/rooms/a-b/trunk?host=r00ff"
        );
        assert_eq!(
            target("https://example.com/edge/").url("x").as_str(),
            "wss://example.com/edge/api/rooms/x/trunk?host=r00ff"
        );
    }
}
