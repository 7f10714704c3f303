//! Keep-alives that never wake the object.
//!
//! Every WebSocket peer (browsers, native clients, relay trunks) keeps its
//! socket alive with a text [`KEEPALIVE_PING`], which the runtime answers
//! with [`KEEPALIVE_PONG`] by itself (WebSocket auto-response): an idle
//! room hibernates however many keep-alives flow, and the client measures
//! its round-trip time from the same exchange. When the object wakes for
//! its heartbeat alarm, each socket's last auto-response time counts as
//! traffic for the engine's heartbeat ([`Room::heard`]).
//!
//! [`Room::heard`]: edgecall_proto::room::Room::heard

use edgecall_proto::room::ConnId;
use edgecall_proto::{KEEPALIVE_PING, KEEPALIVE_PONG};
use wasm_bindgen::prelude::*;
use worker::worker_sys::{DurableObjectState, WebSocketRequestResponsePair};
use worker::State;

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

/// Lets the runtime answer keep-alives while the object sleeps.
pub(crate) fn answer_keepalives(state: &State) {
    match WebSocketRequestResponsePair::new(KEEPALIVE_PING, KEEPALIVE_PONG) {
        Ok(pair) => state.set_websocket_auto_response(&pair),
        // The JS error itself goes to the console (no Rust formatting).
        Err(err) => worker::web_sys::console::error_2(
            &JsValue::from_str("cannot set the keep-alive auto-response:"),
            &err,
        ),
    }
}

/// Each socket's last auto-answered keep-alive: (connection, ms since the
/// epoch).
pub(crate) fn last_keepalives(state: &State) -> Vec<(ConnId, u64)> {
    let raw: &DurableObjectState = state.as_raw();
    let raw = raw.unchecked_ref::<AutoResponseState>();
    state
        .get_websockets()
        .iter()
        .filter_map(|ws| {
            let conn = super::conn_of(state, ws)?;
            let at = raw
                .get_websocket_auto_response_timestamp(ws.as_ref())
                .ok()?
                .dyn_into::<worker::js_sys::Date>()
                .ok()?
                .get_time();
            Some((conn, at as u64))
        })
        .collect()
}
