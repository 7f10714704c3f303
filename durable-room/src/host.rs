//! The Durable Object's side of the engine: sockets by connection id,
//! carrying out actions, hibernation state and alarm bookkeeping.

use std::collections::HashMap;

use edgecall_proto::json::JsonWriter;
use edgecall_proto::metrics::Exposition;
use edgecall_proto::room::{Action, ConnId, ConnState, Room, RoomConfig};
use worker::js_sys::{Uint8Array, WeakMap};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::ext::WebSocketExt;
use worker::{State, WebSocket};

use crate::storage::{Storage, RESTORES, STORED_MARK};

/// While an alarm is pending, the engine's next deadline is looked up
/// after a client message at most this often: the lookup walks every
/// connection, and doing it after every message was a sixth of the wasm's
/// time in a busy room (CPU profile in BENCHMARKS.md). A message can only
/// bring a backlog check earlier (100 ms samples, 1 s grace), so at worst
/// that check runs this much later; joins, closes and alarms always look.
const ALARM_RECHECK_MS: u64 = 50;

/// WebSocket close reasons are limited to 123 bytes.
const MAX_CLOSE_REASON: usize = 123;

/// Answer of `GET /api/rooms/<room>`.
#[derive(Debug)]
pub(crate) struct Info {
    room: String,
    participants: usize,
    connections: usize,
    /// When this instance of the object started (ms since the epoch).
    instance_started_ms: u64,
    /// True when this instance rebuilt the room from hibernated sockets.
    restored: bool,
    /// How often the room was rebuilt from hibernated sockets, over the
    /// object's life (kept in its storage).
    restores: u64,
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
    /// When the pending alarm was last compared with the engine's deadline.
    alarm_checked_ms: u64,
    started_ms: u64,
    restored: bool,
    /// Persisted restore count (see [`Info::restores`]).
    restores: u64,
    /// Sends that failed because the socket had gone (since this instance
    /// started).
    failed_sends: u64,
    /// Alarms set (each a storage write) since this instance started.
    alarms_set: u64,
    /// Connection ids by socket object, so an event finds its connection
    /// without asking the runtime for the socket's tags (an array of
    /// strings per message, a visible cost in CPU profiles of busy rooms).
    conn_ids: WeakMap,
    /// The object's SQLite storage (`None` if it cannot be opened: links
    /// then persist in their attachments, up to its 2 KiB).
    storage: Option<Storage>,
}

impl Host {
    /// Starts (or restarts after eviction) with whatever sockets survived.
    pub(crate) fn wake(state: &State, config: RoomConfig) -> Self {
        let now = super::now_ms();
        let storage = Storage::open(state)
            .map_err(|err| log_failure("cannot open the object's storage", None, &err))
            .ok();
        let mut sockets = HashMap::new();
        let conn_ids = WeakMap::new();
        let mut states = Vec::new();
        let mut room_id = None;
        for ws in state.get_websockets() {
            let Some(conn) = super::conn_of(state, &ws) else {
                continue;
            };
            match read_attachment(&ws, storage.as_ref(), conn) {
                Ok(Slot::Live(room, state)) => {
                    room_id.get_or_insert(room);
                    states.push((conn, state));
                }
                Ok(Slot::Empty) => {}
                // Closed by the engine, still in the closing handshake: it
                // stays out of the room.
                Ok(Slot::Closed) => continue,
                Err(err) => log_failure("unreadable attachment on connection", Some(conn), &err),
            }
            remember_conn(&conn_ids, &ws, conn);
            sockets.insert(conn, ws);
        }
        let next_conn = sockets.keys().map(|c| c.0 + 1).max().unwrap_or(1);
        let restored = !states.is_empty();
        let restores = count_restores(storage.as_ref(), restored);
        let engine = room_id.and_then(|room| {
            Room::restore(&room, config.clone(), states, now)
                .map_err(|err| log_failure("cannot restore the room", None, &err))
                .ok()
        });
        let mut host = Self {
            config,
            engine,
            sockets,
            next_conn,
            alarm_at: None,
            alarm_checked_ms: 0,
            started_ms: now,
            restored,
            restores,
            failed_sends: 0,
            alarms_set: 0,
            conn_ids,
            storage,
        };
        host.restore_room();
        host.carry_out();
        host
    }

    /// Hands the engine the room state kept in storage (chat, removals):
    /// a restored room takes it back, a new one (its meeting ended) drops
    /// it.
    fn restore_room(&mut self) {
        let (Some(engine), Some(storage)) = (self.engine.as_mut(), self.storage.as_ref()) else {
            return;
        };
        match storage.room() {
            Ok(state) => {
                if let Err(err) = engine.restore_room(state.into()) {
                    log_failure("the room's stored state is unreadable", None, &err);
                }
            }
            Err(err) => log_failure("cannot read the room's state", None, &err),
        }
    }

    /// Creates the engine on first use; refuses a second room id.
    pub(crate) fn ensure_room(&mut self, room: &str) -> Result<(), String> {
        match &self.engine {
            Some(engine) if engine.id() == room => Ok(()),
            Some(engine) => Err(format!(
                "this object serves room {}, not {room}",
                engine.id()
            )),
            None => {
                self.engine =
                    Some(Room::new(room, self.config.clone()).map_err(|e| e.to_string())?);
                self.restore_room();
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
        remember_conn(&self.conn_ids, &ws, conn);
        self.sockets.insert(conn, ws);
    }

    /// The connection `ws` is: remembered when accepted or woken, else
    /// read from its tag.
    pub(crate) fn conn_of(&self, state: &State, ws: &WebSocket) -> Option<ConnId> {
        let known = self.conn_ids.get(socket_key(ws));
        if let Some(id) = known.as_f64() {
            return Some(ConnId(id as u64));
        }
        let conn = super::conn_of(state, ws)?;
        remember_conn(&self.conn_ids, ws, conn);
        Some(conn)
    }

    pub(crate) fn forget(&mut self, conn: ConnId) {
        self.sockets.remove(&conn);
        if let Some(storage) = &self.storage {
            if let Err(err) = storage.forget_link(conn.0) {
                log_failure(
                    "cannot drop the stored state of connection",
                    Some(conn),
                    &err,
                );
            }
        }
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
        let mut failed = Vec::new();
        while let Some(action) = engine.poll_action() {
            match action {
                Action::Send { conn, data, .. } => {
                    if !send(&self.sockets, conn, &data) {
                        failed.push(conn);
                    }
                }
                Action::Fanout { conns, data, .. } => {
                    // One copy out of wasm memory for every receiver: the
                    // runtime copies what it queues per socket anyway.
                    let shared = worker::js_sys::Uint8Array::from(&data[..]);
                    failed.extend(
                        conns
                            .into_iter()
                            .filter(|c| !send_shared(&self.sockets, *c, &shared)),
                    );
                }
                Action::Close { conn, code, reason } => {
                    if let Some(ws) = self.sockets.remove(&conn) {
                        // Marked first, so a wake-up during the handshake
                        // does not bring the connection back.
                        if let Err(err) = mark_closed(&ws) {
                            log_failure("cannot mark closed connection", Some(conn), &err);
                        }
                        let _ = ws.close(Some(code.code()), Some(truncate(&reason)));
                    }
                }
                Action::Persist { conn, state } => {
                    if let Some(ws) = self.sockets.get(&conn) {
                        if let Err(err) =
                            write_attachment(ws, self.storage.as_ref(), conn, engine.id(), &state)
                        {
                            log_failure("cannot persist connection", Some(conn), &err);
                        }
                    }
                }
                Action::PersistRoom { state } => {
                    let saved = match &self.storage {
                        Some(storage) => storage.save_room(&state),
                        None => Err("no storage".to_owned()),
                    };
                    if let Err(err) = saved {
                        log_failure("cannot keep the room's state", None, &err);
                    }
                }
            }
        }
        // Sockets that can no longer be written to have gone away.
        self.failed_sends += failed.len() as u64;
        if !failed.is_empty() {
            let now = super::now_ms();
            for conn in failed {
                self.sockets.remove(&conn);
                engine.closed(conn, now);
            }
        }
        if engine.poll_action().is_some() {
            worker::console_error!("actions left after a close; they will go with the next event");
        }
    }

    /// The alarm time to set, if the room needs one earlier than the one
    /// already pending. After a client message (`after_message`) with an
    /// alarm pending, it looks at most every [`ALARM_RECHECK_MS`].
    pub(crate) fn alarm_needed(&mut self, now_ms: u64, after_message: bool) -> Option<u64> {
        if after_message
            && self.alarm_at.is_some()
            && now_ms < self.alarm_checked_ms + ALARM_RECHECK_MS
        {
            return None;
        }
        self.alarm_checked_ms = now_ms;
        let due = self.engine.as_ref()?.next_timeout()?;
        if self.alarm_at.is_some_and(|at| at <= due) {
            return None;
        }
        self.alarm_at = Some(due);
        self.alarms_set += 1;
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
            restores: self.restores,
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

impl Info {
    /// The answer as a JSON object, one member per field.
    pub(crate) fn to_json(&self) -> String {
        JsonWriter::new()
            .string("room", &self.room)
            .uint("participants", self.participants as u64)
            .uint("connections", self.connections as u64)
            .uint("instance_started_ms", self.instance_started_ms)
            .boolean("restored", self.restored)
            .uint("restores", self.restores)
            .uints("recent_speakers", &self.recent_speakers)
            .uint("now_ms", self.now_ms)
            .uint("frames_in", self.frames_in)
            .uint("frames_out", self.frames_out)
            .uint("frames_unrouted", self.frames_unrouted)
            .finish()
    }
}

impl Host {
    /// The room's metrics in the Prometheus text format, labelled with the
    /// room id. Engine counters count since this instance of the object
    /// started (like a process restart, eviction resets them);
    /// `edgecall_restores_total` counts over the object's life.
    pub(crate) fn metrics(&self, room: &str) -> String {
        let room = self.engine.as_ref().map_or(room, Room::id);
        let mut out = Exposition::new(&[("room", room)]);
        out.gauge(
            "edgecall_room_participants",
            "Participants in the room, local and behind trunks.",
            self.engine.as_ref().map_or(0, Room::participant_count) as u64,
        );
        out.gauge(
            "edgecall_room_connections",
            "WebSockets the room object serves (clients and trunks).",
            self.sockets.len() as u64,
        );
        self.engine
            .as_ref()
            .map(Room::stats)
            .unwrap_or_default()
            .export(&mut out);
        out.counter(
            "edgecall_failed_sends_total",
            "Messages dropped because their socket could no longer be written to.",
            self.failed_sends,
        );
        out.counter(
            "edgecall_alarms_set_total",
            "Alarms the object set (each is a storage write, and its firing a billed wake-up).",
            self.alarms_set,
        );
        out.counter(
            "edgecall_restores_total",
            "Times the room was rebuilt from hibernated sockets after eviction.",
            self.restores,
        );
        out.gauge(
            "edgecall_instance_start_time_ms",
            "When this instance of the room object started (ms since the epoch).",
            self.started_ms,
        );
        out.finish()
    }
}

/// The persisted restore count, one higher when this instance was
/// `restored`. Storage errors are logged and count as 0.
fn count_restores(storage: Option<&Storage>, restored: bool) -> u64 {
    let Some(storage) = storage else {
        return 0;
    };
    let counted = if restored {
        storage.increment(RESTORES)
    } else {
        storage.get(RESTORES)
    };
    counted.unwrap_or_else(|err| {
        log_failure("cannot read or count restores in storage", None, &err);
        0
    })
}

fn socket_key(ws: &WebSocket) -> &worker::js_sys::Object {
    let socket: &worker::web_sys::WebSocket = ws.as_ref();
    socket.unchecked_ref()
}

/// Connection ids are below 2^53 (one per accepted socket), so the JS
/// number is exact.
fn remember_conn(conn_ids: &WeakMap, ws: &WebSocket, conn: ConnId) {
    conn_ids.set(socket_key(ws), &JsValue::from_f64(conn.0 as f64));
}

/// What a socket's attachment says about it.
enum Slot {
    /// Nothing persisted yet.
    Empty,
    /// A connection of the room: the room's id and the engine's state.
    Live(String, ConnState),
    /// Closed by the engine; ignored until the runtime drops it.
    Closed,
}

/// The attachment of a socket the engine closed. Live connections hold
/// their stored state as bytes, or [`STORED_MARK`].
const CLOSED_MARK: &str = "closed";

/// Reads a socket's attachment, or the storage row it points to.
fn read_attachment(
    ws: &WebSocket,
    storage: Option<&Storage>,
    conn: ConnId,
) -> Result<Slot, String> {
    // Read as a plain JS value: `deserialize_attachment::<T>` would bring
    // serde-wasm-bindgen's deserializer into the Worker.
    let socket: &worker::web_sys::WebSocket = ws.as_ref();
    let raw = socket
        .deserialize_attachment()
        .map_err(|_| "the runtime cannot read the attachment")?;
    if raw.is_null() || raw.is_undefined() {
        return Ok(Slot::Empty);
    }
    let bytes = match raw.as_string() {
        Some(mark) if mark == CLOSED_MARK => return Ok(Slot::Closed),
        Some(mark) if mark == STORED_MARK => storage
            .ok_or("the state is in storage, which cannot be opened")?
            .link(conn.0)?
            .ok_or("the state should be in storage but is not")?,
        Some(other) => return Err(format!("unknown attachment mark '{other}'")),
        None => raw
            .dyn_into::<Uint8Array>()
            .map_err(|_| "the attachment is neither bytes nor a mark")?
            .to_vec(),
    };
    let (room, state) = ConnState::from_stored(&bytes).map_err(|e| e.to_string())?;
    Ok(Slot::Live(room, state))
}

fn mark_closed(ws: &WebSocket) -> Result<(), String> {
    set_attachment(ws, &JsValue::from_str(CLOSED_MARK))
}

fn set_attachment(ws: &WebSocket, value: &JsValue) -> Result<(), String> {
    let socket: &worker::web_sys::WebSocket = ws.as_ref();
    socket
        .serialize_attachment(value.clone())
        .map_err(|_| "the runtime refused the attachment".to_owned())
}

/// Persists a connection's state: a link's (which grows with the
/// participants behind it) in storage, with [`STORED_MARK`] as its
/// attachment; anything else in the attachment itself.
fn write_attachment(
    ws: &WebSocket,
    storage: Option<&Storage>,
    conn: ConnId,
    room: &str,
    state: &ConnState,
) -> Result<(), String> {
    let bytes = state.to_stored(room);
    match (storage, state) {
        (Some(storage), ConnState::Link(_)) => {
            storage.save_link(conn.0, bytes)?;
            set_attachment(ws, &JsValue::from_str(STORED_MARK))
        }
        _ => set_attachment(ws, &Uint8Array::from(bytes.as_slice())),
    }
}

fn send(sockets: &HashMap<ConnId, WebSocket>, conn: ConnId, data: &[u8]) -> bool {
    match sockets.get(&conn) {
        Some(ws) => ws.send_with_bytes(data).is_ok(),
        None => false,
    }
}

/// Sends a buffer already copied out of wasm memory, shared by a fan-out.
fn send_shared(
    sockets: &HashMap<ConnId, WebSocket>,
    conn: ConnId,
    data: &worker::js_sys::Uint8Array,
) -> bool {
    match sockets.get(&conn) {
        Some(ws) => {
            let socket: &worker::web_sys::WebSocket = ws.as_ref();
            socket.send_with_array_buffer_view(data).is_ok()
        }
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

/// Logs a failed storage or socket step (of connection `conn`, if any).
/// One formatting site for all of them: each `console_error!` with its own
/// arguments is its own formatting code in the Worker's wasm.
#[inline(never)]
fn log_failure(what: &str, conn: Option<ConnId>, err: &dyn std::fmt::Display) {
    match conn {
        Some(conn) => worker::console_error!("{what} {}: {err}", conn.0),
        None => worker::console_error!("{what}: {err}"),
    }
}
