//! Raised hands, reactions and moderation on one host.

mod common;

use common::{audio, hello, Host};
use edgecall_proto::room::{CloseCode, ConnId, Member, RoomConfig, REACTIONS};
use edgecall_proto::wire::{self, client_message, server_message, ModerationAction};

/// A host (`role: host` token) on conn 1 and two participants on 2 and 3;
/// returns their ids.
fn meeting() -> (Host, [u32; 3]) {
    let mut host = Host::new(RoomConfig::default());
    let mut chair = Member::verified("chair", "chair");
    chair.rights.moderate = true;
    let chair = host.join_as(1, chair).expect("the host joins");
    let bob = host
        .join_as(2, Member::verified("bob", "bob"))
        .expect("bob");
    let carol = host
        .join_as(3, Member::verified("carol", "carol"))
        .expect("carol");
    host.clear();
    (host, [chair, bob, carol])
}

fn moderate(host: &mut Host, conn: u64, action: ModerationAction, participant: u32) {
    host.send(
        conn,
        client_message::Msg::Moderate(wire::Moderate {
            action: action as i32,
            participant,
        }),
    );
}

fn react(host: &mut Host, conn: u64, emoji: &str) {
    host.send(
        conn,
        client_message::Msg::Reaction(wire::Reaction {
            emoji: emoji.to_owned(),
        }),
    );
}

/// The media state everyone else last heard for participant `id`.
fn state_seen_by(host: &mut Host, conn: u64, id: u32) -> Option<wire::MediaState> {
    host.server_messages(conn)
        .into_iter()
        .filter_map(|m| match m {
            server_message::Msg::Updated(u) => u.participant,
            _ => None,
        })
        .filter(|p| p.id == id)
        .last()
        .and_then(|p| p.media_state)
}

#[test]
fn the_roster_says_who_is_a_host() {
    let (mut host, [chair, ..]) = meeting();
    host.room.join(ConnId(4), Member::new("dave"), host.now);
    host.send(4, hello());
    let welcome = common::welcome_in(host.server_messages(4)).expect("welcome");
    let hosts: Vec<u32> = welcome
        .roster
        .iter()
        .filter(|p| p.host)
        .map(|p| p.id)
        .collect();
    assert_eq!(hosts, [chair]);
}

#[test]
fn a_raised_hand_reaches_everyone_and_a_host_lowers_it() {
    let (mut host, [chair, bob, _]) = meeting();
    host.send(
        2,
        client_message::Msg::MediaState(wire::MediaState {
            hand_raised: true,
            ..Default::default()
        }),
    );
    assert!(state_seen_by(&mut host, 3, bob).is_some_and(|s| s.hand_raised));
    moderate(&mut host, 1, ModerationAction::LowerHand, bob);
    assert!(state_seen_by(&mut host, 3, bob).is_some_and(|s| !s.hand_raised));
    let told = host.server_messages(2).into_iter().find_map(|m| match m {
        server_message::Msg::Moderated(m) => Some(m),
        _ => None,
    });
    let told = told.expect("bob is told");
    assert_eq!(told.action, ModerationAction::LowerHand as i32);
    assert_eq!((told.by, told.by_name.as_str()), (chair, "chair"));
}

#[test]
fn reactions_reach_everyone_the_sender_included() {
    let (mut host, [_, bob, _]) = meeting();
    react(&mut host, 2, REACTIONS[0]);
    for conn in [1, 2, 3] {
        let got: Vec<wire::ReactionSent> = host
            .server_messages(conn)
            .into_iter()
            .filter_map(|m| match m {
                server_message::Msg::Reaction(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            [wire::ReactionSent {
                sender: bob,
                emoji: REACTIONS[0].to_owned()
            }],
            "conn {conn}"
        );
    }
}

#[test]
fn an_unknown_reaction_closes_only_the_sender() {
    let (mut host, _) = meeting();
    react(&mut host, 2, "<script>");
    assert_eq!(host.close_code(2), Some(CloseCode::Malformed));
    assert_eq!(host.close_code(3), None);
    assert_eq!(host.room.participant_count(), 2);
}

#[test]
fn a_reaction_flood_closes_only_the_flooder() {
    let (mut host, _) = meeting();
    let burst = RoomConfig::default().chat_burst_messages;
    for _ in 0..=burst {
        react(&mut host, 2, REACTIONS[1]);
    }
    assert_eq!(host.close_code(2), Some(CloseCode::RateLimited));
    assert_eq!(host.close_code(1), None);
    assert_eq!(host.close_code(3), None);
}

#[test]
fn someone_who_is_not_a_host_cannot_moderate_and_is_closed() {
    let (mut host, [chair, _, carol]) = meeting();
    for action in [
        ModerationAction::Mute,
        ModerationAction::Remove,
        ModerationAction::EndMeeting,
    ] {
        let (mut host, _) = meeting();
        moderate(&mut host, 2, action, carol);
        assert_eq!(host.close_code(2), Some(CloseCode::Forbidden), "{action:?}");
        assert_eq!(host.close_code(3), None, "{action:?}");
        assert_eq!(host.room.participant_count(), 2, "{action:?}");
    }
    // An open-mode member is never a host, whatever it asks.
    host.room.join(ConnId(4), Member::new("mallory"), host.now);
    host.send(4, hello());
    moderate(&mut host, 4, ModerationAction::Remove, chair);
    assert_eq!(host.close_code(4), Some(CloseCode::Forbidden));
    assert_eq!(host.close_code(1), None);
}

#[test]
fn a_host_mutes_someone_who_may_unmute_themselves() {
    let (mut host, [_, bob, _]) = meeting();
    moderate(&mut host, 1, ModerationAction::Mute, bob);
    assert!(state_seen_by(&mut host, 3, bob).is_some_and(|s| s.audio_muted));
    let told = host
        .server_messages(2)
        .into_iter()
        .any(|m| matches!(m, server_message::Msg::Moderated(m) if m.action == ModerationAction::Mute as i32));
    assert!(told, "bob is told he was muted");
    // A client that ignores the request is not heard anyway.
    host.clear();
    host.media(2, audio(1, 10));
    assert!(
        host.media_received(3).is_empty(),
        "held audio reached carol"
    );
    assert_eq!(host.room.stats().frames_held, 1);
    host.send(
        2,
        client_message::Msg::MediaState(wire::MediaState::default()),
    );
    assert!(state_seen_by(&mut host, 3, bob).is_some_and(|s| !s.audio_muted));
    host.media(2, audio(2, 10));
    assert_eq!(host.media_received(3).len(), 1, "unmuted, bob is heard");
    assert_eq!(host.close_code(2), None);
}

#[test]
fn a_removed_participant_is_closed_and_cannot_rejoin() {
    let (mut host, [_, bob, _]) = meeting();
    moderate(&mut host, 1, ModerationAction::Remove, bob);
    let (code, reason) = host.closed[&ConnId(2)].clone();
    assert_eq!(code, CloseCode::Removed);
    assert!(reason.contains("chair"), "{reason}");
    let left = host
        .server_messages(3)
        .into_iter()
        .any(|m| matches!(m, server_message::Msg::Left(l) if l.id == bob));
    assert!(left, "carol sees bob leave");
    // The same identity again, on a new connection: refused.
    assert!(host.join_as(5, Member::verified("bob", "bob")).is_none());
    assert_eq!(host.close_code(5), Some(CloseCode::Removed));
    // Someone else still joins.
    assert!(host.join_as(6, Member::verified("dave", "dave")).is_some());
}

#[test]
fn removals_are_kept_with_the_room_and_end_with_the_meeting() {
    let (mut host, [_, bob, _]) = meeting();
    moderate(&mut host, 1, ModerationAction::Remove, bob);
    let states: Vec<_> = host
        .persisted
        .iter()
        .map(|(c, s)| (*c, s.clone()))
        .collect();
    let kept = host.persisted_room.clone().expect("the room state is kept");
    let mut room =
        edgecall_proto::room::Room::restore("room-1", RoomConfig::default(), states, host.now)
            .expect("restores");
    room.restore_room(kept).expect("reads back");
    let mut restored = Host::with_room(room);
    restored.now = host.now;
    assert!(restored
        .join_as(7, Member::verified("bob", "bob"))
        .is_none());
    assert_eq!(restored.close_code(7), Some(CloseCode::Removed));
    // Everyone leaves: the meeting is over, and bob may join the next one.
    for conn in [1, 3] {
        restored.room.closed(ConnId(conn), restored.now);
        restored.pump();
    }
    assert_eq!(restored.persisted_room.as_deref(), Some(&[][..]));
    assert!(restored
        .join_as(8, Member::verified("bob", "bob"))
        .is_some());
}

#[test]
fn a_host_ends_the_meeting_for_everyone() {
    let (mut host, _) = meeting();
    moderate(&mut host, 1, ModerationAction::EndMeeting, 0);
    for conn in [1, 2, 3] {
        let (code, reason) = host.closed[&ConnId(conn)].clone();
        assert_eq!(code, CloseCode::MeetingEnded, "conn {conn}");
        assert!(reason.contains("chair ended the meeting"), "{reason}");
    }
    assert_eq!(host.room.participant_count(), 0);
}

#[test]
fn an_unknown_moderation_action_closes_even_a_host() {
    let (mut host, [_, bob, _]) = meeting();
    host.send(
        1,
        client_message::Msg::Moderate(wire::Moderate {
            action: 99,
            participant: bob,
        }),
    );
    assert_eq!(host.close_code(1), Some(CloseCode::Malformed));
    assert_eq!(host.close_code(2), None);
}
