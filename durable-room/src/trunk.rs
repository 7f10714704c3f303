//! Trunk sockets: how the object tells them apart, replaces a stale one and
//! keeps them alive without waking up.
//!
//! - Each trunk socket is tagged `trunk` and `trunk:<relay-id>` (after its
//!   connection-id tag), so a relay that reconnects replaces its previous
//!   trunk instead of adding a second one (which would duplicate its
//!   participants until the old socket timed out).
//! - Relays keep their trunk alive with a text [`TRUNK_PING`] that the
//!   runtime answers with [`TRUNK_PONG`] by itself (WebSocket
//!   auto-response), so an idle trunk never wakes a hibernated object. When
//!   the object does wake (its heartbeat alarm), the last auto-response
//!   time of each trunk counts as traffic for the engine's heartbeat.

use edgecall_proto::room::ConnId;
use edgecall_proto::wire::{self, link_message, LinkMessage};
use edgecall_proto::{TRUNK_PING, TRUNK_PONG};
use prost::Message;
use wasm_bindgen::prelude::*;
use worker::worker_sys::{DurableObjectState, WebSocketRequestResponsePair};
use worker::{State, WebSocket};

/// Tag on every trunk socket.
const TRUNK_TAG: &str = "trunk";

#[wasm_bindgen]
extern "C" {
    /// The `DurableObjectState` method workers-rs does not bind.
    type AutoResponseState;

    /// `DurableObjectState.getWebSocketAutoResponseTimestamp(ws)`: when the
    /// runtime last auto-responded on `ws` (a `Date`), or `null`.
    #[wasm_bindgen(method, catch, js_name = getWebSocketAutoResponseTimestamp)]
    fn get_websocket_auto_response_timestamp(
        this: &AutoResponseState,
        ws: &worker::web_sys::WebSocket,
    ) -> Result<JsValue, JsValue>;
}

/// Lets the runtime answer trunk keep-alives while the object sleeps.
pub(crate) fn answer_keepalives(state: &State) {
    match WebSocketRequestResponsePair::new(TRUNK_PING, TRUNK_PONG) {
        Ok(pair) => state.set_websocket_auto_response(&pair),
        Err(err) => worker::console_error!("cannot set the trunk auto-response: {err:?}"),
    }
}

/// The tags of a trunk socket (the first one is its connection id).
pub(crate) fn tags(conn: ConnId, relay: &str) -> [String; 3] {
    [
        conn.0.to_string(),
        TRUNK_TAG.to_owned(),
        format!("{TRUNK_TAG}:{relay}"),
    ]
}

/// Open trunk sockets from `relay`.
pub(crate) fn from_relay(state: &State, relay: &str) -> Vec<WebSocket> {
    state.get_websockets_with_tag(&format!("{TRUNK_TAG}:{relay}"))
}

/// Each trunk's last auto-answered keep-alive: (connection, ms since the
/// epoch).
pub(crate) fn last_keepalives(state: &State) -> Vec<(ConnId, u64)> {
    state
        .get_websockets_with_tag(TRUNK_TAG)
        .iter()
        .filter_map(|ws| {
            let conn = super::conn_of(state, ws)?;
            let raw: &DurableObjectState = state.as_raw();
            let at = raw
                .unchecked_ref::<AutoResponseState>()
                .get_websocket_auto_response_timestamp(ws.as_ref())
                .ok()?
                .dyn_into::<worker::js_sys::Date>()
                .ok()?
                .get_time();
            Some((conn, at as u64))
        })
        .collect()
}

/// A link message that only counts as traffic.
pub(crate) fn pong() -> Vec<u8> {
    LinkMessage {
        msg: Some(link_message::Msg::Pong(wire::Pong { nonce: 0 })),
    }
    .encode_to_vec()
}
