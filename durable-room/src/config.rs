//! Engine configuration for the edge, from the Worker's environment.

use edgecall_proto::room::RoomConfig;
use worker::Env;

/// Cloudflare's WebSocket message limit; frames must stay below it.
const PLATFORM_MAX_MESSAGE: usize = 1024 * 1024;
/// Explicit subscriptions are kept in the socket attachment (2 KiB max).
const EDGE_MAX_SUBSCRIPTIONS: usize = 16;
/// A socket's send queue is invisible here, so clients acknowledge what
/// they read this often and the engine derives each receiver's backlog.
/// Each `Ack` is an event the object pays for like a media frame: at
/// 500 ms a busy room's acks stay a small share of its events, and a
/// receiver's acknowledgement still comes well within the engine's 1 s
/// grace (`RoomConfig::ack_grace_ms`).
const EDGE_ACK_INTERVAL_MS: u64 = 500;

/// Defaults, overridden by the `HEARTBEAT_TIMEOUT_MS`, `MAX_PARTICIPANTS`,
/// `MAX_MESSAGE_BYTES`, `SENDER_MESSAGES_PER_SEC` and `SENDER_BYTES_PER_SEC`
/// vars when set (a rate var sets its burst to the same value).
pub fn room_config(env: &Env) -> RoomConfig {
    let mut config = RoomConfig {
        max_subscriptions: EDGE_MAX_SUBSCRIPTIONS,
        ack_interval_ms: EDGE_ACK_INTERVAL_MS,
        ..RoomConfig::default()
    };
    if let Some(ms) = var(env, "HEARTBEAT_TIMEOUT_MS") {
        config.heartbeat_timeout_ms = ms;
    }
    if let Some(n) = var(env, "MAX_PARTICIPANTS") {
        config.max_participants = n;
    }
    if let Some(rate) = var(env, "SENDER_MESSAGES_PER_SEC") {
        config.sender_messages_per_sec = rate;
        config.sender_burst_messages = rate;
    }
    if let Some(rate) = var(env, "SENDER_BYTES_PER_SEC") {
        config.sender_bytes_per_sec = rate;
        config.sender_burst_bytes = rate;
    }
    if let Some(bytes) = var::<usize>(env, "MAX_MESSAGE_BYTES") {
        config.max_message_bytes = bytes.min(PLATFORM_MAX_MESSAGE);
    }
    config
}

fn var<T: std::str::FromStr>(env: &Env, name: &str) -> Option<T> {
    let value = env.var(name).ok()?.to_string();
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => {
            worker::console_error!("ignoring {name}=\"{value}\": not a number");
            None
        }
    }
}
