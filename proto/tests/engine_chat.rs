//! Chat history: what a late joiner gets of the room's recent chat, how
//! long a room keeps it, and how a host that loses its memory keeps it.

mod common;

use bytes::Bytes;
use common::{hello, Host};
use edgecall_proto::room::{ConnId, ConnState, Member, Room, RoomConfig};
use edgecall_proto::wire::{self, client_message, link_message, server_message};
use prost::Message;

fn say(host: &mut Host, conn: u64, text: &str) {
    host.send(
        conn,
        client_message::Msg::Chat(wire::Chat {
            text: text.to_owned(),
            ..wire::Chat::default()
        }),
    );
}

/// Joins `name` on `conn` and returns everything it got, in order.
fn join_and_listen(host: &mut Host, conn: u64, name: &str) -> Vec<server_message::Msg> {
    host.room.join(ConnId(conn), Member::new(name), host.now);
    host.send(conn, hello());
    host.server_messages(conn)
}

/// The `ChatHistory` among `msgs`, if any.
fn history_in(msgs: &[server_message::Msg]) -> Option<&wire::ChatHistory> {
    msgs.iter().find_map(|m| match m {
        server_message::Msg::ChatHistory(h) => Some(h),
        _ => None,
    })
}

fn texts(history: &wire::ChatHistory) -> Vec<&str> {
    history.messages.iter().map(|m| m.text.as_str()).collect()
}

#[test]
fn a_late_joiner_gets_the_recent_chat_right_after_its_welcome() {
    let mut host = Host::new(RoomConfig::default());
    let alice = host.join(1, "alice");
    host.join(2, "bob");
    say(&mut host, 1, "agenda: the launch");
    say(&mut host, 2, "sounds good");
    let msgs = join_and_listen(&mut host, 3, "carol");
    assert!(matches!(
        msgs.first(),
        Some(server_message::Msg::Welcome(_))
    ));
    assert!(
        matches!(msgs.get(1), Some(server_message::Msg::ChatHistory(_))),
        "the history follows the welcome: {msgs:?}"
    );
    let history = history_in(&msgs).expect("a history");
    assert_eq!(texts(history), ["agenda: the launch", "sounds good"]);
    let first = &history.messages[0];
    assert_eq!(first.sender, alice);
    assert_eq!(first.sender_name, "alice");
    assert!(first.sender_identity.starts_with("anon:"), "{first:?}");
    assert_eq!(first.server_time_ms, host.now);
}

#[test]
fn a_message_outlives_its_sender_with_its_name_and_identity() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    host.join(2, "bob");
    say(&mut host, 2, "bye all");
    let bob_identity = host
        .room
        .participants()
        .find(|p| p.name == "bob")
        .map(|p| p.identity)
        .expect("bob is in");
    host.room.closed(ConnId(2), host.now);
    host.pump();
    let msgs = join_and_listen(&mut host, 3, "carol");
    let history = history_in(&msgs).expect("a history");
    assert_eq!(history.messages.len(), 1);
    assert_eq!(history.messages[0].sender_name, "bob");
    assert_eq!(history.messages[0].sender_identity, bob_identity);
}

#[test]
fn live_chat_names_its_sender_too() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    host.join(2, "bob");
    host.clear();
    say(&mut host, 1, "hi");
    let chat = host
        .server_messages(2)
        .into_iter()
        .find_map(|m| match m {
            server_message::Msg::Chat(c) => Some(c),
            _ => None,
        })
        .expect("bob gets the chat");
    assert_eq!(chat.sender_name, "alice");
    assert!(!chat.sender_identity.is_empty());
}

#[test]
fn the_history_keeps_only_the_newest_messages() {
    let config = RoomConfig {
        chat_history_messages: 3,
        chat_burst_messages: 10,
        ..RoomConfig::default()
    };
    let mut host = Host::new(config);
    host.join(1, "alice");
    for n in 1..=5 {
        say(&mut host, 1, &format!("message {n}"));
    }
    let msgs = join_and_listen(&mut host, 2, "bob");
    assert_eq!(
        texts(history_in(&msgs).expect("a history")),
        ["message 3", "message 4", "message 5"]
    );
}

#[test]
fn the_history_fits_one_message_of_the_announced_size() {
    let config = RoomConfig {
        max_message_bytes: 4 * 1024,
        chat_history_bytes: 64 * 1024,
        chat_burst_messages: 100,
        ..RoomConfig::default()
    };
    let mut host = Host::new(config);
    host.join(1, "alice");
    for n in 0..40 {
        say(&mut host, 1, &format!("{n} {}", "x".repeat(400)));
    }
    host.room.join(ConnId(2), Member::new("bob"), host.now);
    host.send(2, hello());
    let delivered = host.take(2);
    let largest = delivered.iter().map(|d| d.data.len()).max().unwrap_or(0);
    assert!(largest <= 4 * 1024, "a message of {largest} bytes");
    let history = delivered
        .iter()
        .filter_map(|d| wire::ServerMessage::decode(d.data.clone()).ok()?.msg)
        .find_map(|m| match m {
            server_message::Msg::ChatHistory(h) => Some(h),
            _ => None,
        })
        .expect("a history");
    assert!(history.messages.len() >= 5, "{}", history.messages.len());
    assert!(history
        .messages
        .last()
        .is_some_and(|m| m.text.starts_with("39 ")));
}

#[test]
fn no_history_is_sent_when_there_is_none_or_it_is_off() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    assert!(history_in(&join_and_listen(&mut host, 2, "bob")).is_none());

    let mut off = Host::new(RoomConfig {
        chat_history_messages: 0,
        ..RoomConfig::default()
    });
    off.join(1, "alice");
    say(&mut off, 1, "not kept");
    assert!(history_in(&join_and_listen(&mut off, 2, "bob")).is_none());
    assert_eq!(off.persisted_room, None, "nothing to keep");
}

#[test]
fn sealed_chat_is_kept_sealed_byte_for_byte() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    let sealed = Bytes::from_static(b"\x01opaque sealed bytes the server cannot open");
    host.send(
        1,
        client_message::Msg::Chat(wire::Chat {
            text: String::new(),
            sealed: sealed.clone(),
        }),
    );
    let msgs = join_and_listen(&mut host, 2, "bob");
    let kept = &history_in(&msgs).expect("a history").messages[0];
    assert_eq!(kept.sealed, sealed);
    assert_eq!(kept.text, "");
    let stored = host.persisted_room.clone().expect("kept for the host");
    // A stored log reads as a history.
    let stored = wire::ChatHistory::decode(stored).expect("a stored log");
    assert_eq!(stored.messages[0].sealed, sealed);
}

#[test]
fn the_chat_of_a_meeting_ends_with_its_last_participant() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    host.join(2, "bob");
    say(&mut host, 1, "see you tomorrow");
    assert!(host.persisted_room.as_ref().is_some_and(|l| !l.is_empty()));
    host.room.closed(ConnId(1), host.now);
    host.pump();
    assert_eq!(host.room.chat_history_len(), 1, "bob is still in");
    host.room.closed(ConnId(2), host.now);
    host.pump();
    assert_eq!(host.room.chat_history_len(), 0);
    assert_eq!(
        host.persisted_room.as_deref(),
        Some(&[][..]),
        "the host is told to drop what it kept"
    );
    assert!(history_in(&join_and_listen(&mut host, 3, "carol")).is_none());
}

#[test]
fn a_restored_room_gives_late_joiners_the_chat_it_kept() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    host.join(2, "bob");
    say(&mut host, 1, "before the eviction");
    let states: Vec<(ConnId, ConnState)> = host
        .persisted
        .iter()
        .map(|(c, s)| (*c, s.clone()))
        .collect();
    let log = host.persisted_room.clone().expect("kept");
    let mut room =
        Room::restore("room-1", RoomConfig::default(), states, host.now).expect("restores");
    room.restore_room(log).expect("reads back");
    let mut restored = Host::with_room(room);
    restored.now = host.now + 60_000;
    restored.pump();
    assert_eq!(restored.persisted_room, None, "nothing new to keep");
    let msgs = join_and_listen(&mut restored, 3, "carol");
    assert_eq!(
        texts(history_in(&msgs).expect("a history")),
        ["before the eviction"]
    );
    // The restored log goes on: new chat is appended and kept.
    say(&mut restored, 2, "after it");
    let stored = wire::ChatHistory::decode(restored.persisted_room.clone().expect("kept"))
        .expect("a stored log");
    assert_eq!(stored.messages.len(), 2);
}

#[test]
fn a_room_nobody_is_in_drops_the_chat_its_host_kept() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    say(&mut host, 1, "from a meeting that ended");
    let log = host.persisted_room.clone().expect("kept");
    let mut fresh = Host::new(RoomConfig::default());
    fresh.room.restore_room(log).expect("reads");
    fresh.pump();
    assert_eq!(fresh.persisted_room.as_deref(), Some(&[][..]));
    assert!(history_in(&join_and_listen(&mut fresh, 1, "bob")).is_none());
}

#[test]
fn an_unreadable_stored_log_is_an_error_and_the_room_starts_without_history() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    assert!(host
        .room
        .restore_room(Bytes::from_static(b"\xff\xff\xff"))
        .is_err());
    assert!(history_in(&join_and_listen(&mut host, 2, "bob")).is_none());
}

#[test]
fn chat_from_behind_a_link_is_kept_under_the_name_the_link_announced() {
    let mut host = Host::new(RoomConfig::default());
    host.join(1, "alice");
    host.join_link(100, "relay-a");
    let joined = link_message::Msg::Joined(wire::Participant {
        id: 7,
        name: "dave".into(),
        can_publish: true,
        identity: "sub:dave".into(),
        joined_at_ms: host.now,
        ..wire::Participant::default()
    });
    host.send_link(100, joined);
    // The far host claims another name and identity in the message.
    host.send_link(
        100,
        link_message::Msg::Chat(wire::ChatMessage {
            sender: 7,
            text: "hello from the relay".into(),
            server_time_ms: host.now,
            sender_name: "mallory".into(),
            sender_identity: "sub:admin".into(),
            ..wire::ChatMessage::default()
        }),
    );
    let msgs = join_and_listen(&mut host, 2, "bob");
    let kept = &history_in(&msgs).expect("a history").messages[0];
    assert_eq!(kept.text, "hello from the relay");
    assert_eq!(kept.sender_name, "dave");
    assert_eq!(kept.sender_identity, "sub:dave");
}
