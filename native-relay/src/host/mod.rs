//! Hosting rooms: one task per room owns its engine ([`room_task`]); the
//! [`Rooms`] registry starts them on the first join and forgets them when
//! their last local connection leaves. Listeners only admit connections and
//! turn what they read into [`RoomEvent`]s.

pub mod outbox;
mod room_task;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use edgecall_proto::room::{CloseCode, ConnId, Member, RoomConfig};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::cluster::{Cluster, ClusterEvent};
use crate::metrics::Metrics;
use crate::trunk::{TrunkEvent, TrunkTarget};
pub use outbox::{CloseSignal, Outbox, Writer, CLOSE_LINGER};

/// Events queued to one room task before readers wait.
const ROOM_QUEUE: usize = 8192;

/// Something for a room's engine.
pub enum RoomEvent {
    /// A connection was admitted as `member`.
    Join {
        /// Its id.
        conn: ConnId,
        /// The identity the host verified.
        member: Member,
        /// Where its messages go.
        outbox: Outbox,
    },
    /// One message arrived on `conn`.
    Message {
        /// The connection.
        conn: ConnId,
        /// The message bytes.
        data: Bytes,
    },
    /// A WebSocket client's text keep-alive arrived on `conn`: it counts
    /// for the heartbeat and is answered.
    Keepalive {
        /// The connection.
        conn: ConnId,
    },
    /// The host saw `conn` break a transport rule (an oversize stream or
    /// WebSocket message, a text frame, broken framing); handed to the
    /// engine as [`Room::protocol_violation`](edgecall_proto::room::Room::protocol_violation).
    Violation {
        /// The offender.
        conn: ConnId,
        /// The close code to use.
        code: CloseCode,
        /// Why.
        reason: String,
    },
    /// `conn` is gone.
    Closed {
        /// The connection.
        conn: ConnId,
    },
    /// Something arrived from the cluster.
    Cluster(ClusterEvent),
    /// Something happened on the room's trunk to the edge.
    Trunk(TrunkEvent),
    /// The relay is shutting down: tell everyone to reconnect.
    Shutdown,
}

/// What every room task shares.
pub struct HostCtx {
    /// Engine configuration for new rooms.
    pub room_config: RoomConfig,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The cluster, in cluster mode.
    pub cluster: Option<Arc<Cluster>>,
    /// The edge to trunk rooms to, if configured.
    pub trunk: Option<Arc<TrunkTarget>>,
    next_conn: AtomicU64,
}

impl HostCtx {
    /// A fresh connection id, unique in this process.
    pub fn next_conn(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }
}

/// All rooms on this relay.
pub struct Rooms {
    ctx: Arc<HostCtx>,
    open: Mutex<HashMap<String, mpsc::Sender<RoomEvent>>>,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
}

impl Rooms {
    /// An empty registry.
    pub fn new(
        room_config: RoomConfig,
        metrics: Arc<Metrics>,
        cluster: Option<Arc<Cluster>>,
        trunk: Option<Arc<TrunkTarget>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            ctx: Arc::new(HostCtx {
                room_config,
                metrics,
                cluster,
                trunk,
                next_conn: AtomicU64::new(1),
            }),
            open: Mutex::new(HashMap::new()),
            tasks: tokio::sync::Mutex::new(JoinSet::new()),
        })
    }

    /// Shared context (connection ids, metrics).
    pub fn ctx(&self) -> &Arc<HostCtx> {
        &self.ctx
    }

    /// Hands a new connection to its room, starting the room if needed.
    /// Returns the room's event queue for the connection's readers.
    pub async fn join(
        self: &Arc<Self>,
        room: &str,
        conn: ConnId,
        member: Member,
        outbox: Outbox,
    ) -> Option<mpsc::Sender<RoomEvent>> {
        let mut event = RoomEvent::Join {
            conn,
            member,
            outbox,
        };
        // A room that just emptied may be ending: retry on a fresh one.
        for _ in 0..3 {
            let events = self.room(room).await;
            match events.send(event).await {
                Ok(()) => return Some(events),
                Err(mpsc::error::SendError(returned)) => event = returned,
            }
        }
        None
    }

    async fn room(self: &Arc<Self>, room: &str) -> mpsc::Sender<RoomEvent> {
        let (tx, rx) = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(events) = open.get(room).filter(|tx| !tx.is_closed()) {
                return events.clone();
            }
            let (tx, rx) = mpsc::channel(ROOM_QUEUE);
            open.insert(room.to_owned(), tx.clone());
            (tx, rx)
        };
        let task = room_task::run(self.clone(), room.to_owned(), tx.clone(), rx);
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
        tx
    }

    /// Called by a room task with no local connections left: forgets the
    /// room unless an event (a join) is already waiting for it.
    fn retire_if_idle(&self, room: &str, rx: &mpsc::Receiver<RoomEvent>) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if !rx.is_empty() {
            return false;
        }
        open.remove(room);
        true
    }

    /// Tells every room to send its clients away, then waits for the room
    /// tasks to finish (at most `grace`).
    pub async fn shutdown(&self, grace: std::time::Duration) {
        let rooms: Vec<mpsc::Sender<RoomEvent>> = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for events in rooms {
            let _ = events.send(RoomEvent::Shutdown).await;
        }
        let mut tasks = self.tasks.lock().await;
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("rooms did not finish within the shutdown grace period");
        }
    }
}
