//! Trunk sockets: how the object tells them apart and replaces a stale one.
//!
//! Each trunk socket is tagged `trunk` and `trunk:<relay-id>` (after its
//! connection-id tag), so a relay that reconnects replaces its previous
//! trunk instead of adding a second one (which would duplicate its
//! participants until the old socket timed out). Trunks keep alive like
//! every socket (see `keepalive`).

use edgecall_proto::room::ConnId;
use worker::{State, WebSocket};

/// Tag on every trunk socket.
const TRUNK_TAG: &str = "trunk";

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
