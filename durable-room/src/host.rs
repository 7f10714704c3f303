//! The Durable Object's side of the engine: sockets by connection id,
//! carrying out actions, hibernation state and alarm bookkeeping.

use std::collections::HashMap;

use edgecall_proto::room::{Action, ConnId, ConnState, Room, RoomConfig};
use serde::{Deserialize, Serialize};
use worker::{State, WebSocket};

/// WebSocket close reasons are limited to 123 bytes.
const MAX_CLOSE_REASON: usize = 123;

/// What each socket's attachment holds across hibernation, stored as a
/// JSON string.
#[derive(Debug, Serialize, Deserialize)]
struct Attachment {
    room: String,
    state: ConnState,
}

/// Answer of `GET /api/rooms/<room>`.
#[derive(Debug, Serialize)]
pub(crate) struct Info {
    room: String,
    participants: usize,
    connections: usize,
    /// When this instance of the object started (ms since the epoch).
    instance_started_ms: u64,
    /// True when this instance rebuilt the room from hibernated sockets.
    restored: bool,
    /// Participant ids, most recent active speaker first.
    recent_speakers: Vec<u32>,
    /// Engine time of the last event (ms since the epoch).
    now_ms: u64,
    /// Media frames accepted, copies queued, and frames nobody was
    /// entitled to.
    frames_in: u64,
    frames_out: u64,
    frames_unrouted: u64,
}

pub(crate) struct Host {
    config: RoomConfig,
    engine: Option<Room>,
    sockets: HashMap<ConnId, WebSocket>,
    next_conn: u64,
    alarm_at: Option<u64>,
    started_ms: u64,
    restored: bool,
}

impl Host {
    /// Starts (or restarts after eviction) with whatever sockets survived.
    pub(crate) fn wake(state: &State, config: RoomConfig) -> Self {
        let now = super::now_ms();
        let mut sockets = HashMap::new();
        let mut states = Vec::new();
        let mut room_id = None;
        for ws in state.get_websockets() {
            let Some(conn) = super::conn_of(state, &ws) else {
                continue;
            };
            match read_attachment(&ws) {
                Ok(Slot::Live(attachment)) => {
                    room_id.get_or_insert(attachment.room);
                    states.push((conn, attachment.state));
                }
                Ok(Slot::Empty) => {}
                // Closed by the engine, still in the closing handshake: it
                // stays out of the room.
                Ok(Slot::Closed) => continue,
                Err(err) => worker::console_error!("unreadable attachment on {}: {err}", conn.0),
            }
            sockets.insert(conn, ws);
        }
        let next_conn = sockets.keys().map(|c| c.0 + 1).max().unwrap_or(1);
        let restored = !states.is_empty();
        let engine = room_id.and_then(|room| {
            Room::restore(&room, config.clone(), states, now)
                .map_err(|err| worker::console_error!("cannot restore room {room}: {err}"))
                .ok()
        });
        let mut host = Self {
            config,
            engine,
            sockets,
            next_conn,
            alarm_at: None,
            started_ms: now,
            restored,
        };
        host.carry_out();
        host
    }

    /// Creates the engine on first use; refuses a second room id.
    pub(crate) fn ensure_room(&mut self, room: &str) -> Result<(), String> {
        match &self.engine {
            Some(engine) if engine.id() == room => Ok(()),
            Some(engine) => Err(format!(
                "this object serves room {:?}, not {room:?}",
                engine.id()
            )),
            None => {
                self.engine =
                    Some(Room::new(room, self.config.clone()).map_err(|e| e.to_string())?);
                Ok(())
            }
        }
    }

    pub(crate) fn engine_mut(&mut self) -> Option<&mut Room> {
        self.engine.as_mut()
    }

    pub(crate) fn next_conn(&mut self) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        conn
    }

    pub(crate) fn remember(&mut self, conn: ConnId, ws: WebSocket) {
        self.sockets.insert(conn, ws);
    }

    pub(crate) fn forget(&mut self, conn: ConnId) {
        self.sockets.remove(&conn);
    }

    /// Whether `conn` is still served. A socket the engine closed may keep
    /// delivering what its peer sends until the closing handshake ends;
    /// none of that reaches the engine.
    pub(crate) fn serves(&self, conn: ConnId) -> bool {
        self.sockets.contains_key(&conn)
    }

    /// Carries out every action the engine queued.
    pub(crate) fn carry_out(&mut self) {
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        let room = engine.id().to_owned();
        let mut failed = Vec::new();
        while let Some(action) = engine.poll_action() {
            match action {
                Action::Send { conn, data, .. } => {
                    if !send(&self.sockets, conn, &data) {
                        failed.push(conn);
                    }
                }
                Action::Fanout { conns, data, .. } => {
                    failed.extend(
                        conns
                            .into_iter()
                            .filter(|c| !send(&self.sockets, *c, &data)),
                    );
                }
                Action::Close { conn, code, reason } => {
                    if let Some(ws) = self.sockets.remove(&conn) {
                        // Marked first, so a wake-up during the handshake
                        // does not bring the connection back.
                        if let Err(err) = mark_closed(&ws) {
                            worker::console_error!("cannot mark {} closed: {err}", conn.0);
                        }
                        let _ = ws.close(Some(code.code()), Some(truncate(&reason)));
                    }
                }
                Action::Persist { conn, state } => {
                    if let Some(ws) = self.sockets.get(&conn) {
                        let attachment = Attachment {
                            room: room.clone(),
                            state: *state,
                        };
                        if let Err(err) = write_attachment(ws, &attachment) {
                            worker::console_error!("cannot persist connection {}: {err}", conn.0);
                        }
                    }
                }
            }
        }
        // Sockets that can no longer be written to have gone away.
        let now = super::now_ms();
        for conn in failed {
            self.sockets.remove(&conn);
            engine.closed(conn, now);
        }
        if engine.poll_action().is_some() {
            worker::console_error!("actions left after a close; they will go with the next event");
        }
    }

    /// The alarm time to set, if the room needs one earlier than the one
    /// already pending.
    pub(crate) fn alarm_needed(&mut self) -> Option<u64> {
        let due = self.engine.as_ref()?.next_timeout()?;
        if self.alarm_at.is_some_and(|at| at <= due) {
            return None;
        }
        self.alarm_at = Some(due);
        Some(due)
    }

    pub(crate) fn alarm_fired(&mut self) {
        self.alarm_at = None;
    }

    pub(crate) fn info(&self, room: &str) -> Info {
        let stats = self.engine.as_ref().map(Room::stats).unwrap_or_default();
        Info {
            room: self
                .engine
                .as_ref()
                .map_or_else(|| room.to_owned(), |e| e.id().to_owned()),
            participants: self.engine.as_ref().map_or(0, Room::participant_count),
            connections: self.sockets.len(),
            instance_started_ms: self.started_ms,
            restored: self.restored,
            recent_speakers: self
                .engine
                .as_ref()
                .map(|e| e.recent_speakers().to_vec())
                .unwrap_or_default(),
            now_ms: super::now_ms(),
            frames_in: stats.frames_in,
            frames_out: stats.frames_out,
            frames_unrouted: stats.frames_unrouted,
        }
    }
}

/// What a socket's attachment says about it.
enum Slot {
    /// Nothing persisted yet.
    Empty,
    /// A connection of the room.
    Live(Attachment),
    /// Closed by the engine; ignored until the runtime drops it.
    Closed,
}

/// The attachment of a socket the engine closed.
const CLOSED_MARK: &str = "closed";

fn read_attachment(ws: &WebSocket) -> Result<Slot, String> {
    match ws.deserialize_attachment::<String>() {
        Ok(Some(mark)) if mark == CLOSED_MARK => Ok(Slot::Closed),
        Ok(Some(json)) => edgecall_proto::json::from_str(&json)
            .map(Slot::Live)
            .map_err(|e| e.to_string()),
        Ok(None) => Ok(Slot::Empty),
        Err(err) => Err(err.to_string()),
    }
}

fn mark_closed(ws: &WebSocket) -> Result<(), String> {
    ws.serialize_attachment(CLOSED_MARK.to_owned())
        .map_err(|e| e.to_string())
}

fn write_attachment(ws: &WebSocket, attachment: &Attachment) -> Result<(), String> {
    let json = edgecall_proto::json::to_string(attachment).map_err(|e| e.to_string())?;
    ws.serialize_attachment(json).map_err(|e| e.to_string())
}

fn send(sockets: &HashMap<ConnId, WebSocket>, conn: ConnId, data: &[u8]) -> bool {
    match sockets.get(&conn) {
        Some(ws) => ws.send_with_bytes(data).is_ok(),
        None => false,
    }
}

fn truncate(reason: &str) -> &str {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason;
    }
    let mut end = MAX_CLOSE_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}
