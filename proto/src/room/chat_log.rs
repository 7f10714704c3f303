//! The room's recent chat, for participants who join later: a log bounded
//! in messages and in encoded bytes, oldest dropped first. The engine
//! replays it after each `Welcome` (`ChatHistory`) and hands hosts that may
//! lose their memory (a hibernating Durable Object) the whole log to keep
//! with the room's state ([`Action::PersistRoom`](super::Action::PersistRoom)).
//!
//! Messages are kept encoded, exactly as forwarded, so a sealed (end-to-end
//! encrypted) message stays sealed — the server never had its text — and
//! the history and the stored log are the kept bytes framed as repeated
//! field 1 (the layout of both `ChatHistory.messages` and
//! `StoredRoom.chat`), with no re-encoding.

use bytes::Bytes;
use prost::encoding::{encoded_len_varint, key_len};
use prost::Message;

use crate::wire;

/// `ChatHistory.messages` and `StoredRoom.chat`.
const MESSAGES_FIELD: u32 = 1;
/// `ServerMessage.chat_history`.
const SERVER_CHAT_HISTORY_FIELD: u32 = 11;

/// The recent chat of one room.
#[derive(Debug, Clone)]
pub(super) struct ChatLog {
    /// Encoded `ChatMessage`s, oldest first (a `Vec`: at most a hundred or
    /// so, and one collection type less in the Worker's wasm than a
    /// `VecDeque`).
    messages: Vec<Bytes>,
    /// Encoded size of `messages` framed as one `ChatHistory`.
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
}

impl ChatLog {
    /// An empty log keeping at most `max_messages` messages and
    /// `max_bytes` encoded bytes (0 for either: keep nothing).
    pub(super) fn new(max_messages: usize, max_bytes: usize) -> Self {
        Self {
            messages: Vec::new(),
            bytes: 0,
            max_messages,
            max_bytes,
        }
    }

    /// Whether nothing is kept.
    pub(super) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Messages kept.
    pub(super) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Keeps `message`, dropping the oldest ones until the log is within
    /// its bounds again. A message larger than the byte bound on its own is
    /// not kept (it was still forwarded live). Returns whether the log
    /// changed.
    pub(super) fn push(&mut self, message: &wire::ChatMessage) -> bool {
        self.push_encoded(Bytes::from(message.encode_to_vec()))
    }

    fn push_encoded(&mut self, encoded: Bytes) -> bool {
        let size = framed_len(&encoded);
        if self.max_messages == 0 || size > self.max_bytes {
            return false;
        }
        self.bytes += size;
        self.messages.push(encoded);
        while self.messages.len() > self.max_messages || self.bytes > self.max_bytes {
            let oldest = self.messages.remove(0);
            self.bytes -= framed_len(&oldest);
        }
        true
    }

    /// Forgets everything. Returns whether anything was kept.
    pub(super) fn clear(&mut self) -> bool {
        let had = !self.messages.is_empty();
        self.messages.clear();
        self.bytes = 0;
        had
    }

    /// The log framed as repeated field 1: a `ChatHistory`, and equally
    /// the chat of a `StoredRoom`.
    pub(super) fn framed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes);
        for message in &self.messages {
            prost::encoding::bytes::encode(MESSAGES_FIELD, message, &mut out);
        }
        out
    }

    /// The `ServerMessage` carrying the log as the `ChatHistory` a joiner
    /// gets, oldest first.
    pub(super) fn history_message(&self) -> Bytes {
        let history = self.framed();
        let mut out = Vec::with_capacity(history.len() + 6);
        prost::encoding::bytes::encode(SERVER_CHAT_HISTORY_FIELD, &history, &mut out);
        Bytes::from(out)
    }

    /// Replaces the log with the entries [`ChatLog::framed`] wrote (read
    /// back as `StoredRoom.chat`), within this log's bounds (a host
    /// configured with smaller bounds since keeps the newest that fit). The
    /// entries are taken as the encoded chat messages this log wrote; they
    /// are not decoded again.
    pub(super) fn restore(&mut self, entries: Vec<Bytes>) {
        self.clear();
        for entry in entries {
            self.push_encoded(entry);
        }
    }
}

/// What one encoded message adds to the framed log: its key, its length
/// prefix and its bytes.
fn framed_len(encoded: &[u8]) -> usize {
    key_len(MESSAGES_FIELD) + encoded_len_varint(encoded.len() as u64) + encoded.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::server_message;

    fn chat(text: &str) -> wire::ChatMessage {
        wire::ChatMessage {
            sender: 1,
            text: text.to_owned(),
            server_time_ms: 1_700_000_000_000,
            sender_name: "alice".to_owned(),
            sender_identity: "sub:alice".to_owned(),
            ..wire::ChatMessage::default()
        }
    }

    fn history(log: &ChatLog) -> wire::ChatHistory {
        let msg = wire::ServerMessage::decode(log.history_message()).expect("decodes");
        match msg.msg {
            Some(server_message::Msg::ChatHistory(history)) => history,
            other => panic!("not a chat history: {other:?}"),
        }
    }

    fn texts(log: &ChatLog) -> Vec<String> {
        history(log).messages.into_iter().map(|m| m.text).collect()
    }

    #[test]
    fn the_history_message_is_a_server_chat_history_of_the_kept_messages() {
        let mut log = ChatLog::new(10, 64 * 1024);
        log.push(&chat("one"));
        log.push(&chat("two"));
        assert_eq!(history(&log).messages, [chat("one"), chat("two")]);
        assert_eq!(log.framed().len(), log.bytes);
    }

    #[test]
    fn the_oldest_messages_go_first_past_the_message_bound() {
        let mut log = ChatLog::new(3, 64 * 1024);
        for text in ["one", "two", "three", "four"] {
            assert!(log.push(&chat(text)));
        }
        assert_eq!(texts(&log), ["two", "three", "four"]);
    }

    #[test]
    fn the_encoded_history_never_exceeds_the_byte_bound() {
        let max_bytes = 1_000;
        let mut log = ChatLog::new(1_000, max_bytes);
        for n in 0..100 {
            log.push(&chat(&format!("message {n} {}", "x".repeat(n % 40))));
            assert!(log.framed().len() <= max_bytes);
        }
        assert!(log.len() > 5, "kept only {}", log.len());
        assert_eq!(
            texts(&log).last().map(String::as_str),
            Some("message 99 xxxxxxxxxxxxxxxxxxx")
        );
    }

    #[test]
    fn a_message_larger_than_the_whole_bound_is_not_kept_and_evicts_nothing() {
        let mut log = ChatLog::new(10, 200);
        log.push(&chat("small"));
        assert!(!log.push(&chat(&"x".repeat(300))));
        assert_eq!(texts(&log), ["small"]);
    }

    #[test]
    fn a_zero_bound_keeps_nothing() {
        let mut log = ChatLog::new(0, 64 * 1024);
        assert!(!log.push(&chat("hello")));
        assert!(log.is_empty());
    }

    #[test]
    fn the_stored_log_reads_back_within_the_current_bounds() {
        let mut log = ChatLog::new(10, 64 * 1024);
        for text in ["a", "b", "c"] {
            log.push(&chat(text));
        }
        let stored = wire::StoredRoom::decode(Bytes::from(log.framed())).expect("a stored room");
        let mut same = ChatLog::new(10, 64 * 1024);
        same.restore(stored.chat.clone());
        assert_eq!(history(&same), history(&log));
        let mut smaller = ChatLog::new(2, 64 * 1024);
        smaller.restore(stored.chat);
        assert_eq!(texts(&smaller), ["b", "c"]);
    }
}
