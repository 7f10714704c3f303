//! The host loop of one room: feed the engine, carry out its actions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use edgecall_proto::room::{Action, CloseCode, ConnId, Delivery, Room};
use edgecall_proto::wire::{self, server_message, ServerMessage};
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::{Outbox, RoomEvent, Rooms};
use crate::cluster::ClusterRoom;
use crate::metrics::RoomSnapshot;
use crate::trunk::RoomTrunk;

/// How often queued bytes are reported to the engine and metrics.
const REPORT_INTERVAL: Duration = Duration::from_millis(100);
/// Events handled before the queued actions are carried out.
const BATCH: usize = 64;

/// Milliseconds since the Unix epoch: the engine's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

struct Host {
    room: Room,
    outboxes: HashMap<ConnId, Outbox>,
    cluster: Option<ClusterRoom>,
    trunk: Option<RoomTrunk>,
    rooms: Arc<Rooms>,
}

/// Runs one room until its last local connection leaves (or shutdown).
pub(super) async fn run(
    rooms: Arc<Rooms>,
    id: String,
    events_tx: mpsc::Sender<RoomEvent>,
    mut events: mpsc::Receiver<RoomEvent>,
) {
    let ctx = rooms.ctx().clone();
    let room = match Room::new(&id, ctx.room_config.clone()) {
        Ok(room) => room,
        Err(err) => {
            tracing::error!(room = %id, %err, "cannot open room");
            return;
        }
    };
    let trunk = ctx
        .trunk
        .as_ref()
        .map(|target| RoomTrunk::new(target.clone(), &id, ctx.clone(), events_tx.clone()));
    let cluster = ctx
        .cluster
        .as_ref()
        .map(|cluster| ClusterRoom::start(cluster.clone(), &id, events_tx));
    drop(ctx);
    let mut resync = cluster.as_ref().map(ClusterRoom::resync_signal);
    let heartbeat_every = cluster
        .as_ref()
        .map(ClusterRoom::heartbeat_interval)
        .unwrap_or(Duration::from_secs(3600));
    let mut host = Host {
        room,
        outboxes: HashMap::new(),
        cluster,
        trunk,
        rooms,
    };
    tracing::info!(room = %id, "room opened");
    let mut report = tokio::time::interval(REPORT_INTERVAL);
    report.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heartbeat = tokio::time::interval(heartbeat_every);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutting_down = false;

    loop {
        let deadline = host
            .room
            .next_timeout()
            .map(|at| Instant::now() + Duration::from_millis(at.saturating_sub(now_ms())))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                shutting_down |= host.handle(event);
                for _ in 1..BATCH {
                    match events.try_recv() {
                        Ok(event) => shutting_down |= host.handle(event),
                        Err(_) => break,
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => host.room.tick(now_ms()),
            _ = report.tick() => host.report(),
            _ = heartbeat.tick(), if host.cluster.is_some() => {
                let claims = host.trunk.as_ref().is_some_and(RoomTrunk::is_running);
                if let Some(cluster) = host.cluster.as_mut() {
                    cluster.heartbeat(&mut host.room, claims, now_ms());
                }
            }
            Some(()) = async { match resync.as_mut() { Some(rx) => rx.recv().await.ok(), None => None } } => {
                if let Some(cluster) = host.cluster.as_mut() {
                    cluster.resync(&mut host.room, now_ms());
                }
            }
        }
        host.steer_trunk(shutting_down);
        host.carry_out();
        if shutting_down || (host.outboxes.is_empty() && host.rooms.retire_if_idle(&id, &events)) {
            break;
        }
    }
    if shutting_down {
        host.rooms.retire_if_idle(&id, &events);
    }
    host.steer_trunk(true);
    host.carry_out();
    if let Some(cluster) = host.cluster.take() {
        cluster.stop();
    }
    host.rooms.ctx().metrics.retire(&id, host.room.stats());
    tracing::info!(room = %id, "room closed");
}

impl Host {
    /// Feeds one event to the engine. Returns `true` on shutdown.
    fn handle(&mut self, event: RoomEvent) -> bool {
        let now = now_ms();
        match event {
            RoomEvent::Join {
                conn,
                member,
                outbox,
            } => {
                tracing::debug!(room = %self.room.id(), conn = conn.0, name = %member.name, "joined");
                self.outboxes.insert(conn, outbox);
                self.room.join(conn, member, now);
            }
            RoomEvent::Message { conn, data } => self.room.message(conn, data, now),
            RoomEvent::Keepalive { conn } => {
                if let Some(outbox) = self.outboxes.get(&conn) {
                    self.room.heard(conn, now);
                    outbox.answer_keepalive();
                }
            }
            // As the edge does: the engine sends the `Error` and queues the
            // close, and the offender leaves like any other.
            RoomEvent::Violation { conn, code, reason } => {
                self.room.protocol_violation(conn, code, reason, now);
            }
            RoomEvent::Closed { conn } => {
                if self.outboxes.remove(&conn).is_some() {
                    self.room.closed(conn, now);
                }
            }
            RoomEvent::Cluster(event) => {
                let rooms = self.rooms.clone();
                if let Some(cluster) = self.cluster.as_mut() {
                    cluster.on_event(event, &mut self.room, rooms.ctx(), now);
                }
            }
            RoomEvent::Trunk(event) => {
                if let Some(trunk) = self.trunk.as_mut() {
                    trunk.on_event(event, &mut self.room, now);
                }
                // The trunk gauge follows the trunk at once, not at the next
                // periodic report (trunk events are rare).
                self.report();
            }
            RoomEvent::Shutdown => {
                let conns: Vec<ConnId> = self.outboxes.keys().copied().collect();
                for conn in conns {
                    self.room.closed(conn, now);
                    self.close_with_error(
                        conn,
                        CloseCode::ShuttingDown,
                        "this relay is shutting down; reconnect".into(),
                    );
                }
                return true;
            }
        }
        false
    }

    /// Opens the room's trunk while this relay should hold it (it has local
    /// participants and, in a cluster, won the election), closes it
    /// otherwise.
    fn steer_trunk(&mut self, stopping: bool) {
        let Some(trunk) = self.trunk.as_mut() else {
            return;
        };
        let elected = match &self.cluster {
            Some(cluster) => cluster.elects_me_for_trunk(trunk.is_running()),
            None => true,
        };
        let wanted = !stopping && !self.outboxes.is_empty() && elected;
        trunk.set_wanted(wanted, &mut self.room, now_ms());
    }

    /// A host-initiated close: an `Error` message, then the close code.
    fn close_with_error(&mut self, conn: ConnId, code: CloseCode, reason: String) {
        if let Some(outbox) = self.outboxes.remove(&conn) {
            let error = ServerMessage {
                msg: Some(server_message::Msg::Error(wire::Error {
                    code: code.error_code() as i32,
                    message: reason.clone(),
                })),
            };
            outbox.send(Bytes::from(error.encode_to_vec()), Delivery::Reliable);
            outbox.close(code, reason);
        }
    }

    /// Carries out everything the engine queued.
    fn carry_out(&mut self) {
        let now = now_ms();
        let mut overflowed = Vec::new();
        while let Some(action) = self.room.poll_action() {
            match action {
                Action::Send {
                    conn,
                    data,
                    delivery,
                } => self.deliver(&[conn], data, delivery, &mut overflowed),
                Action::Fanout {
                    conns,
                    data,
                    delivery,
                } => self.deliver(&conns, data, delivery, &mut overflowed),
                Action::Close { conn, code, reason } => {
                    if let Some(outbox) = self.outboxes.remove(&conn) {
                        tracing::info!(room = %self.room.id(), conn = conn.0, code = code.code(), %reason, "closing connection");
                        outbox.close(code, reason);
                    } else {
                        let trunk = self.trunk.as_mut();
                        if !trunk.is_some_and(|t| t.closed_by_engine(conn, &reason)) {
                            if let Some(cluster) = self.cluster.as_mut() {
                                cluster.link_closed(conn);
                            }
                        }
                    }
                }
                // The room lives in this task while anyone is in it.
                Action::Persist { .. } | Action::PersistRoom { .. } => {}
            }
        }
        for conn in overflowed {
            tracing::warn!(room = %self.room.id(), conn = conn.0, "receiver stopped reading; closing it");
            self.room.closed(conn, now);
            if let Some(trunk) = self.trunk.as_mut() {
                trunk.closed_by_engine(conn, "the edge stopped reading the trunk");
            }
            if let Some(outbox) = self.outboxes.remove(&conn) {
                outbox.close(
                    CloseCode::HeartbeatTimeout,
                    "too many unread control messages".into(),
                );
            }
        }
    }

    fn deliver(
        &mut self,
        conns: &[ConnId],
        data: Bytes,
        delivery: Delivery,
        overflowed: &mut Vec<ConnId>,
    ) {
        let mut links = Vec::new();
        for conn in conns {
            match self.outboxes.get(conn) {
                Some(outbox) => {
                    if !outbox.send(data.clone(), delivery) {
                        overflowed.push(*conn);
                    }
                }
                None => match self
                    .trunk
                    .as_ref()
                    .and_then(|t| t.deliver(*conn, &data, delivery))
                {
                    Some(true) => {}
                    Some(false) => overflowed.push(*conn),
                    None => links.push(*conn),
                },
            }
        }
        if let (false, Some(cluster)) = (links.is_empty(), self.cluster.as_mut()) {
            cluster.deliver(&links, data, delivery, self.rooms.ctx());
        }
    }

    fn report(&mut self) {
        let now = now_ms();
        let mut queued = 0;
        for (conn, outbox) in &self.outboxes {
            let bytes = outbox.queued_bytes();
            queued += bytes;
            self.room.backlog(*conn, bytes, now);
        }
        let trunk_up = self.trunk.as_ref().is_some_and(RoomTrunk::is_up);
        if let Some((conn, bytes)) = self.trunk.as_ref().and_then(RoomTrunk::backlog) {
            self.room.backlog(conn, bytes, now);
        }
        self.rooms.ctx().metrics.report(
            self.room.id(),
            RoomSnapshot {
                participants: self.room.participant_count(),
                connections: self.outboxes.len(),
                queued_bytes: queued,
                stats: self.room.stats(),
                trunk_up,
            },
        );
    }
}
