//! Engine configuration: every limit and policy knob lives here, with safe
//! defaults, so hosts never scatter their own constants.

use serde::{Deserialize, Serialize};

/// What happens when a participant joins under an identity already in the
/// room (the same token subject, or an open-mode session presenting the
/// resume secret of one). Display names never decide this: two people may
/// share a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DuplicateSessionPolicy {
    /// The newer connection takes over; the older one is closed with
    /// [`CloseCode::Replaced`](super::CloseCode::Replaced). This is what a
    /// user reconnecting after a network change expects.
    #[default]
    ReplaceOlder,
    /// The newer connection is refused with
    /// [`CloseCode::NameTaken`](super::CloseCode::NameTaken).
    Reject,
}

/// Limits and policies of one room. `RoomConfig::default()` is safe for
/// production; hosts override single fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomConfig {
    /// Participants admitted per room, local and remote together.
    pub max_participants: usize,
    /// Largest accepted message in bytes (the edge must stay under the
    /// platform's 1 MiB WebSocket message limit).
    pub max_message_bytes: usize,
    /// Sustained bytes per second one sender may send.
    pub sender_bytes_per_sec: u32,
    /// Burst allowance above the sustained byte rate.
    pub sender_burst_bytes: u32,
    /// Sustained messages per second one sender may send.
    pub sender_messages_per_sec: u32,
    /// Burst allowance above the sustained message rate.
    pub sender_burst_messages: u32,
    /// A connection silent for this long is closed and leaves the room.
    pub heartbeat_timeout_ms: u64,
    /// A connection that has not sent `Hello` this long after the host
    /// admitted it is closed (pings do not extend it).
    pub hello_timeout_ms: u64,
    /// Sustained chat messages per second one sender may send.
    pub chat_messages_per_sec: u32,
    /// Burst allowance above the sustained chat rate.
    pub chat_burst_messages: u32,
    /// Longest participant name, in characters.
    pub max_name_chars: usize,
    /// Longest chat message, in characters.
    pub max_chat_chars: usize,
    /// Recent chat messages a room keeps for late joiners (0: none). The
    /// log lives while anyone is in the room.
    pub chat_history_messages: usize,
    /// Most encoded bytes of kept chat; the history a joiner gets is also
    /// kept within `max_message_bytes`.
    pub chat_history_bytes: usize,
    /// Most explicit subscriptions one receiver may hold.
    pub max_subscriptions: usize,
    /// Rooms with at most this many participants forward all audio and
    /// video to everyone.
    pub small_room_size: usize,
    /// Each receiver gets the audio of the K loudest speakers.
    pub audio_top_k: usize,
    /// At most this many senders outside the top K are heard from their
    /// first loud frame ("barge-in"; `room/ranking.rs` module docs): a
    /// frame at or below `speaking_level` that opens a talk spurt no
    /// ranking has judged yet goes to everyone until the next ranking
    /// decides, first come first served. Each receiver so gets at most
    /// `audio_top_k + audio_barge_in` audio streams. 0: newcomers wait for
    /// the ranking (up to `ranking_interval_ms` of their audio is lost).
    pub audio_barge_in: usize,
    /// By default each receiver gets the camera of the N most recent
    /// active speakers.
    pub video_last_n: usize,
    /// Highest simulcast layer forwarded to receivers in automatic mode.
    pub auto_max_layer: u8,
    /// How often the speaker ranking is recomputed.
    pub ranking_interval_ms: u64,
    /// A speaker whose smoothed level (RFC 6464, 0 loudest..127 silent) is
    /// at or below this value counts as actively speaking.
    pub speaking_level: u8,
    /// A simulcast layer not seen for this long counts as unpublished.
    pub layer_timeout_ms: u64,
    /// Minimum time between two keyframe requests for one sender layer.
    pub keyframe_request_interval_ms: u64,
    /// Queued bytes above which a receiver counts as congested.
    pub congestion_high_bytes: u64,
    /// Queued bytes below which a receiver counts as drained.
    pub congestion_low_bytes: u64,
    /// Minimum time between two congestion downgrades of one receiver.
    pub congestion_step_ms: u64,
    /// How long a receiver must stay drained before one step of recovery.
    pub congestion_recover_ms: u64,
    /// Same-identity policy.
    pub duplicate_sessions: DuplicateSessionPolicy,
    /// For hosts that cannot see their send queue (a Durable Object): when
    /// non-zero, clients acknowledge what they received at least this often
    /// (`Ack`) and the engine derives each receiver's backlog from what it
    /// queued minus what was acknowledged. 0: the host reports backlogs
    /// with [`Room::backlog`](super::Room::backlog).
    pub ack_interval_ms: u64,
    /// Bytes queued less than this long ago do not count as backlog yet:
    /// they may be on the wire or waiting for the receiver's next `Ack`.
    pub ack_grace_ms: u64,
    /// A receiver with more unacknowledged bytes than this has stopped
    /// reading: it is closed (`SlowReceiver`).
    pub max_unacked_bytes: u64,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            max_participants: 1_000,
            max_message_bytes: 256 * 1024,
            sender_bytes_per_sec: 1_250_000,
            sender_burst_bytes: 2_500_000,
            sender_messages_per_sec: 400,
            sender_burst_messages: 800,
            heartbeat_timeout_ms: 20_000,
            hello_timeout_ms: 10_000,
            chat_messages_per_sec: 2,
            chat_burst_messages: 10,
            max_name_chars: 32,
            max_chat_chars: 2_000,
            chat_history_messages: 100,
            chat_history_bytes: 64 * 1024,
            max_subscriptions: 64,
            small_room_size: 6,
            audio_top_k: 3,
            audio_barge_in: 2,
            video_last_n: 9,
            auto_max_layer: 2,
            ranking_interval_ms: 300,
            speaking_level: 90,
            layer_timeout_ms: 2_000,
            keyframe_request_interval_ms: 500,
            congestion_high_bytes: 512 * 1024,
            congestion_low_bytes: 64 * 1024,
            congestion_step_ms: 500,
            congestion_recover_ms: 3_000,
            duplicate_sessions: DuplicateSessionPolicy::ReplaceOlder,
            ack_interval_ms: 0,
            ack_grace_ms: 1_000,
            max_unacked_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Longest room id accepted by [`validate_room_id`].
pub const MAX_ROOM_ID_CHARS: usize = 64;

/// Why a name or room id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// The value is empty (after trimming spaces, for names).
    #[error("{what} must not be empty")]
    Empty {
        /// "name" or "room id".
        what: &'static str,
    },
    /// The value is longer than allowed.
    #[error("{what} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// "name" or "room id".
        what: &'static str,
        /// Length found.
        len: usize,
        /// Length allowed.
        max: usize,
    },
    /// The value holds a character outside the allowed set.
    #[error("{what} contains {found:?}; {allowed}")]
    BadCharacter {
        /// "name" or "room id".
        what: &'static str,
        /// The first offending character.
        found: char,
        /// Which characters are allowed.
        allowed: &'static str,
    },
}

/// Checks a room (meeting) id: 1 to 64 ASCII letters, digits, `-` or `_`,
/// so it is safe in URLs, NATS subjects and Durable Object names.
pub fn validate_room_id(room: &str) -> Result<(), SyntaxError> {
    const WHAT: &str = "room id";
    if room.is_empty() {
        return Err(SyntaxError::Empty { what: WHAT });
    }
    let len = room.chars().count();
    if len > MAX_ROOM_ID_CHARS {
        return Err(SyntaxError::TooLong {
            what: WHAT,
            len,
            max: MAX_ROOM_ID_CHARS,
        });
    }
    if let Some(found) = room
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(SyntaxError::BadCharacter {
            what: WHAT,
            found,
            allowed: "use ASCII letters, digits, '-' and '_'",
        });
    }
    Ok(())
}

/// Checks a participant name: 1 to `max_chars` characters of letters,
/// digits, spaces, `-`, `_`, `.`, `'` or `@`; no leading or trailing space.
pub fn validate_name(name: &str, max_chars: usize) -> Result<(), SyntaxError> {
    const WHAT: &str = "name";
    if name.trim().is_empty() {
        return Err(SyntaxError::Empty { what: WHAT });
    }
    let len = name.chars().count();
    if len > max_chars {
        return Err(SyntaxError::TooLong {
            what: WHAT,
            len,
            max: max_chars,
        });
    }
    const ALLOWED: &str =
        "use letters, digits, spaces and - _ . ' @ (no leading or trailing space)";
    if name.trim() != name {
        return Err(SyntaxError::BadCharacter {
            what: WHAT,
            found: ' ',
            allowed: ALLOWED,
        });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '\'' | '@')))
    {
        return Err(SyntaxError::BadCharacter {
            what: WHAT,
            found,
            allowed: ALLOWED,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_url_and_subject_safe() {
        assert!(validate_room_id("team-standup_42").is_ok());
        assert!(validate_room_id("").is_err());
        assert!(validate_room_id("a.b").is_err());
        assert!(validate_room_id("a b").is_err());
        assert!(validate_room_id("a/b").is_err());
        assert!(validate_room_id(&"x".repeat(64)).is_ok());
        assert!(validate_room_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn names_allow_people_not_markup() {
        assert!(validate_name("Zoë O'Brien", 32).is_ok());
        assert!(validate_name("bob@example.com", 32).is_ok());
        assert!(validate_name("  ", 32).is_err());
        assert!(validate_name(" bob", 32).is_err());
        assert!(validate_name("<script>", 32).is_err());
        assert!(validate_name("tab\there", 32).is_err());
        assert!(validate_name(&"é".repeat(32), 32).is_ok());
        assert!(validate_name(&"é".repeat(33), 32).is_err());
    }

    #[test]
    fn errors_say_what_is_allowed() {
        let err = validate_room_id("a b").unwrap_err().to_string();
        assert!(err.contains("ASCII letters"), "{err}");
    }
}
