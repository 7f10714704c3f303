//! The `Room` Durable Object: one per meeting. It accepts hibernatable
//! WebSockets, feeds every event to the shared engine
//! ([`edgecall_proto::room::Room`]) and carries out the actions it returns.
//! It holds no room logic of its own.
//!
//! Hibernation: each socket carries a tag with its connection id and an
//! attachment with the engine's [`ConnState`]; when the runtime evicts the
//! object and later wakes it for a socket event, [`Room::restore`] rebuilds
//! the engine from those attachments.
//!
//! [`Room::restore`]: edgecall_proto::room::Room::restore

mod config;
mod host;
pub mod http;
mod keepalive;
mod storage;
mod trunk;

use std::cell::RefCell;

use bytes::Bytes;
use edgecall_proto::room::{CloseCode, ConnId, LinkKind, Member};
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, ScheduledTime, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

pub use config::room_config;
use host::Host;

/// Header the Worker uses to pass the verified member to the room
/// ([`Member::to_header`]).
pub const MEMBER_HEADER: &str = "x-edgecall-member";
/// Header carrying the room id from the Worker.
pub const ROOM_HEADER: &str = "x-edgecall-room";
/// Header naming the relay at the far end of a trunk (already checked by
/// the Worker).
pub const TRUNK_HOST_HEADER: &str = "x-edgecall-trunk-host";
/// The edge's own host id in link hellos.
const EDGE_HOST_ID: &str = "edge";

/// The meeting's Durable Object.
#[durable_object]
pub struct Room {
    state: State,
    host: RefCell<Host>,
}

impl DurableObject for Room {
    fn new(state: State, env: Env) -> Self {
        keepalive::answer_keepalives(&state);
        let host = Host::wake(&state, room_config(&env));
        Self {
            state,
            host: RefCell::new(host),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let room = req.headers().get(ROOM_HEADER)?.unwrap_or_default();
        match req.path().as_str() {
            "/ws" => self.accept(&req, &room).await,
            "/trunk" => self.accept_trunk(&req, &room).await,
            "/info" => {
                let info = self.host.borrow_mut().info(&room);
                http::json_response(info.to_json(), 200)
            }
            "/metrics" => {
                let text = self.host.borrow().metrics(&room);
                http::text_response(text, edgecall_proto::metrics::CONTENT_TYPE, 200)
            }
            // The Worker's /healthz: the namespace answers.
            "/health" => Response::ok("ok"),
            _ => Response::error("unknown room endpoint", 404),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        let now = now_ms();
        {
            let mut host = self.host.borrow_mut();
            let Some(conn) = host.conn_of(&self.state, &ws) else {
                let _ = ws.close(
                    Some(CloseCode::Malformed.code()),
                    Some("unknown connection"),
                );
                return Ok(());
            };
            if !host.serves(conn) {
                // Closed by the engine (a violation, a replacement): what
                // the peer still sends is dropped unread.
                return Ok(());
            }
            let Some(engine) = host.engine_mut() else {
                let _ = ws.close(
                    Some(CloseCode::Malformed.code()),
                    Some("room state lost; reconnect"),
                );
                return Ok(());
            };
            match message {
                WebSocketIncomingMessage::Binary(data) => {
                    engine.message(conn, Bytes::from(data), now)
                }
                WebSocketIncomingMessage::String(_) => engine.protocol_violation(
                    conn,
                    CloseCode::Malformed,
                    edgecall_proto::TEXT_FRAME_REASON,
                    now,
                ),
            }
            host.carry_out();
        }
        self.schedule_tick(true).await
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        self.gone(&ws);
        self.schedule_tick(false).await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.gone(&ws);
        self.schedule_tick(false).await
    }

    async fn alarm(&self) -> Result<Response> {
        {
            let mut host = self.host.borrow_mut();
            host.alarm_fired();
            let keepalives = keepalive::last_keepalives(&self.state);
            if let Some(engine) = host.engine_mut() {
                for (conn, at) in keepalives {
                    engine.heard(conn, at);
                }
                engine.tick(now_ms());
            }
            host.carry_out();
        }
        self.schedule_tick(false).await?;
        Response::ok("ticked")
    }
}

impl Room {
    /// Upgrades a request the Worker already authorised.
    async fn accept(&self, req: &Request, room: &str) -> Result<Response> {
        let member: Member = match req.headers().get(MEMBER_HEADER)? {
            Some(header) => Member::from_header(&header)
                .map_err(|e| worker::Error::RustError(format!("bad member header: {e}")))?,
            None => return Response::error("missing member", 400),
        };
        let pair = WebSocketPair::new()?;
        let conn = {
            let mut host = self.host.borrow_mut();
            if let Err(err) = host.ensure_room(room) {
                return Response::error(err, 400);
            }
            let conn = host.next_conn();
            self.state
                .accept_websocket_with_tags(&pair.server, &[&conn.0.to_string()]);
            host.remember(conn, pair.server);
            if let Some(engine) = host.engine_mut() {
                engine.join(conn, member, now_ms());
            }
            host.carry_out();
            conn
        };
        worker::console_debug!("accepted connection {}", conn.0);
        self.schedule_tick(false).await?;
        Response::from_websocket(pair.client)
    }

    /// Upgrades a relay's trunk the Worker already authenticated: a link
    /// carrying the relay's participants of this room. A trunk the same
    /// relay still has open here is stale (the relay reconnected before the
    /// old socket was noticed gone): it is closed and its participants
    /// leave before the new link announces them again.
    async fn accept_trunk(&self, req: &Request, room: &str) -> Result<Response> {
        let peer = req.headers().get(TRUNK_HOST_HEADER)?.unwrap_or_default();
        let pair = WebSocketPair::new()?;
        {
            let mut host = self.host.borrow_mut();
            if let Err(err) = host.ensure_room(room) {
                return Response::error(err, 400);
            }
            for stale in trunk::from_relay(&self.state, &peer) {
                let _ = stale.close(
                    Some(CloseCode::Replaced.code()),
                    Some("replaced by a newer trunk from the same relay"),
                );
                if let Some(old) = conn_of(&self.state, &stale) {
                    worker::console_log!("trunk from relay {peer}: connection {} replaced", old.0);
                    host.forget(old);
                    if let Some(engine) = host.engine_mut() {
                        engine.closed(old, now_ms());
                    }
                }
            }
            let conn = host.next_conn();
            let tags = trunk::tags(conn, &peer);
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            self.state.accept_websocket_with_tags(&pair.server, &tags);
            host.remember(conn, pair.server);
            if let Some(engine) = host.engine_mut() {
                // The edge is the root of the tree its trunks hang from.
                engine.join_link(conn, EDGE_HOST_ID, LinkKind::Tree, now_ms());
            }
            host.carry_out();
            worker::console_log!("trunk from relay {peer} opened as connection {}", conn.0);
        }
        self.schedule_tick(false).await?;
        Response::from_websocket(pair.client)
    }

    fn gone(&self, ws: &WebSocket) {
        let mut host = self.host.borrow_mut();
        if let Some(conn) = host.conn_of(&self.state, ws) {
            host.forget(conn);
            if let Some(engine) = host.engine_mut() {
                engine.closed(conn, now_ms());
            }
            host.carry_out();
        }
    }

    /// Keeps an alarm pending while the room has connections, so heartbeats
    /// and speaker ranking run; none when the room is empty.
    /// `after_message`: a client message was handled (see
    /// `Host::alarm_needed`).
    async fn schedule_tick(&self, after_message: bool) -> Result<()> {
        let due = self.host.borrow_mut().alarm_needed(now_ms(), after_message);
        if let Some(at_ms) = due {
            // An absolute time: `set_alarm(i64)` would mean an offset.
            let at =
                worker::js_sys::Date::new(&worker::wasm_bindgen::JsValue::from_f64(at_ms as f64));
            self.state
                .storage()
                .set_alarm(ScheduledTime::new(at))
                .await?;
        }
        Ok(())
    }
}

/// The connection id tagged on a socket when it was accepted.
fn conn_of(state: &State, ws: &WebSocket) -> Option<ConnId> {
    state
        .get_tags(ws)
        .first()
        .and_then(|tag| tag.parse().ok())
        .map(ConnId)
}

/// Wall-clock milliseconds (the engine only uses differences).
fn now_ms() -> u64 {
    // `Date.now()` itself: `worker::Date::now()` builds a `Date` object per
    // call, which showed in CPU profiles of busy rooms.
    worker::js_sys::Date::now() as u64
}
