//! One test per engine rule, driven by a fake clock (no sleeping).

mod common;

use bytes::Bytes;
use common::{audio, selective, speak, video, Host};
use edgecall_proto::room::{
    CloseCode, ConnId, ConnState, Delivery, DuplicateSessionPolicy, Member, ParticipantId, Room,
    RoomConfig,
};
use edgecall_proto::wire::{self, client_message, server_message, ErrorCode, Track};
use edgecall_proto::PROTOCOL_VERSION;

fn small() -> RoomConfig {
    RoomConfig::default()
}

// ------------------------------------------------------------------ roster

#[test]
fn welcome_carries_the_roster_and_others_see_the_join() {
    let mut host = Host::new(small());
    let alice = host.join(1, "alice");
    host.clear();
    host.room.join(ConnId(2), Member::new("bob"), host.now);
    host.send(2, common::hello());
    let welcome = host
        .server_messages(2)
        .into_iter()
        .find_map(|m| match m {
            server_message::Msg::Welcome(w) => Some(w),
            _ => None,
        })
        .expect("bob is welcomed");
    let names: Vec<_> = welcome.roster.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_ne!(welcome.participant_id, alice);
    assert_eq!(welcome.room, "room-1");
    let limits = welcome.limits.expect("limits in the welcome");
    assert_eq!(
        limits.max_subscriptions as usize,
        small().max_subscriptions,
        "clients learn how many tracks they may subscribe to"
    );
    let to_alice = host.server_messages(1);
    assert!(matches!(
        &to_alice[..],
        [server_message::Msg::Joined(j)] if j.participant.as_ref().map(|p| p.name.as_str()) == Some("bob")
    ));
}

#[test]
fn leaving_is_announced_to_the_others() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    let bob = host.join(2, "bob");
    host.clear();
    host.room.closed(ConnId(2), host.now);
    host.pump();
    let msgs = host.server_messages(1);
    assert!(matches!(&msgs[..], [server_message::Msg::Left(l)] if l.id == bob));
    assert_eq!(host.room.participant_count(), 1);
}

#[test]
fn heartbeat_timeout_removes_a_silent_participant_and_tells_the_others() {
    let config = small();
    let timeout = config.heartbeat_timeout_ms;
    let mut host = Host::new(config);
    host.join(1, "alice");
    let bob = host.join(2, "bob");
    host.clear();
    // Alice pings regularly; Bob stays silent.
    for _ in 0..4 {
        host.send(1, client_message::Msg::Ping(wire::Ping { nonce: 7 }));
        host.advance(timeout / 3);
    }
    assert_eq!(host.close_code(2), Some(CloseCode::HeartbeatTimeout));
    assert_eq!(host.close_code(1), None);
    let msgs = host.server_messages(1);
    assert!(msgs
        .iter()
        .any(|m| matches!(m, server_message::Msg::Left(l) if l.id == bob)));
    assert!(msgs
        .iter()
        .any(|m| matches!(m, server_message::Msg::Pong(p) if p.nonce == 7)));
    assert!(host.room.next_timeout().is_some());
}

#[test]
fn a_connection_that_never_says_hello_is_closed_at_the_hello_deadline_even_if_it_pings() {
    let config = small();
    let deadline = config.hello_timeout_ms;
    assert!(deadline < config.heartbeat_timeout_ms);
    let mut host = Host::new(config);
    let opened = host.now;
    host.room.join(ConnId(1), Member::new("alice"), host.now);
    assert_eq!(host.room.next_timeout(), Some(opened + deadline + 1));
    while host.now < opened + deadline {
        host.send(1, client_message::Msg::Ping(wire::Ping { nonce: 1 }));
        host.advance(1_000);
        if host.now <= opened + deadline {
            assert_eq!(host.close_code(1), None, "closed before the deadline");
        }
    }
    host.advance(1);
    assert_eq!(host.close_code(1), Some(CloseCode::HeartbeatTimeout));
    assert_eq!(host.room.connection_count(), 0);
    assert_eq!(
        host.room.next_timeout(),
        None,
        "an empty room needs no ticks"
    );
}

#[test]
fn a_second_session_of_the_same_token_subject_replaces_the_first() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    let old = host
        .join_as(2, Member::verified("bob", "u-42"))
        .expect("bob");
    let new = host
        .join_as(3, Member::verified("Bob on his phone", "u-42"))
        .expect("bob again");
    assert_ne!(old, new);
    assert_eq!(host.close_code(2), Some(CloseCode::Replaced));
    let names: Vec<String> = host.room.participants().map(|p| p.name).collect();
    assert_eq!(names, ["alice", "Bob on his phone"]);
}

#[test]
fn two_people_with_the_same_name_both_stay_and_are_told_apart_by_identity() {
    let mut host = Host::new(small());
    host.join(1, "bob");
    host.join(2, "bob");
    host.join_as(3, Member::verified("bob", "u-1"))
        .expect("u-1");
    host.join_as(4, Member::verified("bob", "u-2"))
        .expect("u-2");
    for conn in 1..=4 {
        assert_eq!(host.close_code(conn), None, "conn {conn} was closed");
    }
    let identities: std::collections::HashSet<String> =
        host.room.participants().map(|p| p.identity).collect();
    assert_eq!(identities.len(), 4, "{identities:?}");
    assert!(identities.contains("sub:u-1") && identities.contains("sub:u-2"));
}

#[test]
fn an_open_session_gets_a_resume_secret_that_takes_over_its_identity() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    let first = host.welcome_as(2, Member::new("bob"), &[]).expect("bob");
    assert_eq!(first.resume_secret.len(), 32);
    assert!(first.identity.starts_with("anon:"), "{}", first.identity);
    // Someone else named bob, without the secret, is a different person.
    let other = host
        .welcome_as(3, Member::new("bob"), &[])
        .expect("other bob");
    assert_ne!(other.identity, first.identity);
    assert_eq!(host.close_code(2), None);
    // A guessed secret proves nothing either.
    let guess = host
        .welcome_as(4, Member::new("bob"), &[0; 32])
        .expect("guessing bob");
    assert_ne!(guess.identity, first.identity);
    assert_eq!(host.close_code(2), None);
    // Bob's own reconnect, with his secret, replaces his old session.
    let again = host
        .welcome_as(5, Member::new("bob"), &first.resume_secret)
        .expect("bob again");
    assert_eq!(again.identity, first.identity);
    assert_eq!(again.resume_secret, first.resume_secret);
    assert_eq!(host.close_code(2), Some(CloseCode::Replaced));
    assert_eq!(host.room.participant_count(), 4);
}

#[test]
fn a_verified_session_gets_no_resume_secret_and_ignores_one() {
    let mut host = Host::new(small());
    let welcome = host
        .welcome_as(1, Member::verified("ada", "u-7"), &[9; 32])
        .expect("ada");
    assert_eq!(welcome.identity, "sub:u-7");
    assert!(welcome.resume_secret.is_empty());
}

#[test]
fn a_malformed_resume_secret_is_refused_with_a_reason() {
    let mut host = Host::new(small());
    assert!(host.welcome_as(1, Member::new("bob"), &[1; 3]).is_none());
    assert_eq!(host.close_code(1), Some(CloseCode::Malformed));
}

#[test]
fn the_reject_policy_refuses_a_second_session_of_an_identity() {
    let mut host = Host::new(RoomConfig {
        duplicate_sessions: DuplicateSessionPolicy::Reject,
        ..small()
    });
    host.join_as(1, Member::verified("bob", "u-1"))
        .expect("bob");
    assert_eq!(host.join_as(2, Member::verified("bob", "u-1")), None);
    assert_eq!(host.close_code(2), Some(CloseCode::NameTaken));
    assert_eq!(host.close_code(1), None);
}

// ------------------------------------------------------------------ forwarding

#[test]
fn the_server_stamps_the_sender_even_when_the_client_lies() {
    let mut host = Host::new(small());
    let alice = host.join(1, "alice");
    let bob = host.join(2, "bob");
    host.clear();
    let mut frame = audio(1, 30);
    frame.sender = bob; // Alice pretends to be Bob.
    host.media(1, frame);
    let got = host.media_received(2);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sender, alice);
}

#[test]
fn one_encoding_is_shared_by_every_receiver() {
    let mut host = Host::new(small());
    for conn in 1..=5 {
        host.join(conn, &format!("p{conn}"));
    }
    host.clear();
    host.media(1, video(Track::Camera, 1, 0, true));
    let buffers: Vec<Bytes> = (2..=5)
        .flat_map(|c| host.take(c))
        .map(|d| {
            assert_eq!(d.delivery, Delivery::Stream { keyframe: true });
            d.data
        })
        .collect();
    assert_eq!(buffers.len(), 4);
    assert!(buffers.iter().all(|b| b.as_ptr() == buffers[0].as_ptr()));
    assert!(host.take(1).is_empty(), "never back to the sender");
}

#[test]
fn audio_travels_as_datagrams_and_control_reliably() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    host.join(2, "bob");
    host.clear();
    host.media(1, audio(1, 20));
    host.send(1, client_message::Msg::Ping(wire::Ping { nonce: 1 }));
    assert_eq!(host.take(2)[0].delivery, Delivery::Datagram);
    assert_eq!(host.take(1)[0].delivery, Delivery::Reliable);
}

#[test]
fn a_small_room_forwards_everything_to_everyone() {
    let mut host = Host::new(small());
    for conn in 1..=4 {
        host.join(conn, &format!("p{conn}"));
    }
    host.clear();
    for conn in 1..=4 {
        host.media(conn, audio(1, 127));
        host.media(conn, video(Track::Camera, 1, 0, true));
    }
    for conn in 1..=4 {
        assert_eq!(
            host.media_received(conn).len(),
            6,
            "3 others × audio + video"
        );
    }
}

#[test]
fn large_rooms_forward_only_the_k_loudest_speakers() {
    let mut host = Host::new(selective(2, 9));
    let ids: Vec<u32> = (1..=6).map(|c| host.join(c, &format!("p{c}"))).collect();
    // Levels: p1 loudest … p4 quiet, p5 and p6 silent.
    for round in 0..20 {
        for (conn, level) in [(1, 10), (2, 30), (3, 50), (4, 70), (5, 127), (6, 127)] {
            host.media(conn, audio(round, level));
        }
        host.now += 20;
    }
    host.advance(150);
    assert_eq!(&host.room.audible_speakers()[..4], &ids[..4]);
    host.clear();
    for (conn, level) in [(1, 10), (2, 30), (3, 50), (4, 70), (5, 127), (6, 127)] {
        host.media(conn, audio(100, level));
    }
    let senders = |frames: Vec<wire::MediaFrame>| -> Vec<u32> {
        let mut s: Vec<u32> = frames.iter().map(|f| f.sender).collect();
        s.sort_unstable();
        s
    };
    // A listener hears the two loudest.
    assert_eq!(senders(host.media_received(6)), vec![ids[0], ids[1]]);
    // The loudest speaker hears the next two.
    assert_eq!(senders(host.media_received(1)), vec![ids[1], ids[2]]);
}

#[test]
fn large_rooms_show_the_last_n_active_speakers_by_default() {
    let mut host = Host::new(selective(3, 2));
    let ids: Vec<u32> = (1..=5).map(|c| host.join(c, &format!("p{c}"))).collect();
    speak(&mut host, 4, 10, 30);
    speak(&mut host, 5, 10, 30);
    host.advance(150);
    assert_eq!(&host.room.recent_speakers()[..2], &[ids[4], ids[3]]);
    host.clear();
    for conn in 1..=5 {
        host.media(conn, video(Track::Camera, 1, 0, true));
    }
    let mut seen: Vec<u32> = host.media_received(1).iter().map(|f| f.sender).collect();
    seen.sort_unstable();
    assert_eq!(seen, vec![ids[3], ids[4]]);
    // The latest speaker sees the previous one and the next in line.
    let mut seen: Vec<u32> = host.media_received(5).iter().map(|f| f.sender).collect();
    seen.sort_unstable();
    assert_eq!(seen, vec![ids[0], ids[3]]);
}

#[test]
fn explicit_subscriptions_replace_last_n_and_cap_the_layer() {
    let mut host = Host::new(selective(3, 1));
    let ids: Vec<u32> = (1..=4).map(|c| host.join(c, &format!("p{c}"))).collect();
    host.send(
        1,
        client_message::Msg::Subscribe(wire::Subscribe {
            mode: wire::subscribe::Mode::Explicit as i32,
            subscriptions: vec![wire::Subscription {
                participant: ids[3],
                track: Track::Camera as i32,
                max_layer: 1,
            }],
        }),
    );
    for conn in 2..=4 {
        publish_all_layers(&mut host, conn);
    }
    host.clear();
    for layer in 0..=2 {
        for conn in 2..=4 {
            host.media(conn, video(Track::Camera, 2, layer, true));
        }
    }
    let got = host.media_received(1);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].sender, got[0].layer), (ids[3], 1));
}

fn sharing(conn: u64, host: &mut Host, on: bool) {
    host.send(
        conn,
        client_message::Msg::MediaState(wire::MediaState {
            screen_sharing: on,
            ..wire::MediaState::default()
        }),
    );
}

#[test]
fn screen_shares_reach_everyone_in_auto_mode_while_shared() {
    let mut host = Host::new(selective(1, 1));
    let ids: Vec<u32> = (1..=5).map(|c| host.join(c, &format!("p{c}"))).collect();
    // Not announced: a large room keeps no rows for it and forwards nothing.
    host.clear();
    host.media(5, video(Track::Screen, 1, 0, true));
    for conn in 1..=4 {
        assert!(host.media_received(conn).is_empty(), "receiver {conn}");
    }
    sharing(5, &mut host, true);
    host.clear();
    host.media(5, video(Track::Screen, 2, 0, true));
    for conn in 1..=4 {
        let got = host.media_received(conn);
        assert_eq!(got.len(), 1, "receiver {conn}");
        assert_eq!(got[0].sender, ids[4]);
    }
    sharing(5, &mut host, false);
    host.clear();
    host.media(5, video(Track::Screen, 3, 0, true));
    for conn in 1..=4 {
        assert!(
            host.media_received(conn).is_empty(),
            "receiver {conn} after the share"
        );
    }
}

#[test]
fn participants_without_subscribe_rights_receive_no_media() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    let mut viewer = Member::new("kiosk");
    viewer.rights.subscribe = false;
    host.join_as(2, viewer);
    host.clear();
    host.media(1, audio(1, 10));
    assert!(host.media_received(2).is_empty());
}

#[test]
fn publishing_without_the_right_is_refused() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    let mut viewer = Member::new("viewer");
    viewer.rights.publish = false;
    host.join_as(2, viewer);
    host.clear();
    host.media(2, audio(1, 10));
    assert_eq!(host.close_code(2), Some(CloseCode::Forbidden));
    assert!(host.media_received(1).is_empty());
}

// ------------------------------------------------------------------ barge-in

/// Each of `talkers` sends one audio frame at its level every 20 ms for
/// `ms`, the host ticking the engine in between.
fn talk(host: &mut Host, talkers: &[(u64, u32)], ms: u64) {
    for _ in 0..ms / 20 {
        for &(conn, level) in talkers {
            host.media(conn, audio(host.now / 20, level));
        }
        host.advance(20);
    }
}

/// p1, p2 and p3 talk (at RFC 6464 levels 20, 25, 30).
const SPEAKERS: [(u64, u32); 3] = [(1, 20), (2, 25), (3, 30)];

/// A room of 10 under the default rules (top-3 audio above 6
/// participants) in which p1..p3 have been talking for 10 s; inboxes
/// cleared. `late` (if any) joins only after that.
fn room_with_three_speakers(late: Option<u64>) -> (Host, Vec<ParticipantId>) {
    let mut host = Host::new(RoomConfig::default());
    for conn in (1..=10).filter(|c| Some(*c) != late) {
        host.join(conn, &format!("p{conn}"));
    }
    talk(&mut host, &SPEAKERS, 10_000);
    if let Some(conn) = late {
        host.join(conn, &format!("p{conn}"));
    }
    let mut established: Vec<ParticipantId> = host.room.audible_speakers()[..3].to_vec();
    established.sort_unstable();
    let ids: Vec<ParticipantId> = (1..=10).map(|c| host.ids[&ConnId(c)]).collect();
    assert_eq!(established, ids[..3], "p1..p3 hold the three places");
    host.clear();
    (host, ids)
}

/// Senders of the frames `conn` received, in arrival order.
fn heard_from(host: &mut Host, conn: u64) -> Vec<ParticipantId> {
    host.media_received(conn).iter().map(|f| f.sender).collect()
}

#[test]
fn a_new_speakers_first_loud_frame_reaches_everyone_at_once() {
    let (mut host, ids) = room_with_three_speakers(None);
    let before = host.room.stats();
    host.media(4, audio(1, 30));
    for conn in (1..=10).filter(|c| *c != 4) {
        assert_eq!(heard_from(&mut host, conn), [ids[3]], "p{conn}");
    }
    assert!(heard_from(&mut host, 4).is_empty(), "nobody hears himself");
    let after = host.room.stats();
    assert_eq!(
        after.frames_unrouted, before.frames_unrouted,
        "the first word is not counted unrouted"
    );
    assert_eq!(after.audio_barge_ins, before.audio_barge_ins + 1);
    assert_eq!(host.room.barge_in_speakers(), [ids[3]]);
}

#[test]
fn a_quiet_frame_from_outside_the_top_k_is_still_not_routed() {
    let (mut host, _) = room_with_three_speakers(None);
    let before = host.room.stats();
    // 91 is just quieter than the default speaking level (90).
    for level in [91, 127] {
        host.media(4, audio(1, level));
    }
    for conn in 1..=10 {
        assert!(heard_from(&mut host, conn).is_empty(), "p{conn}");
    }
    let after = host.room.stats();
    assert_eq!(after.frames_unrouted, before.frames_unrouted + 2);
    assert_eq!(after.audio_barge_ins, before.audio_barge_ins);
    assert!(host.room.barge_in_speakers().is_empty());
}

#[test]
fn when_many_start_together_the_first_two_barge_in_and_the_rest_wait() {
    let (mut host, ids) = room_with_three_speakers(None);
    let before = host.room.stats();
    // p4..p8 start in the same millisecond; p8 claims to be loudest.
    for (conn, level) in [(4, 30), (5, 30), (6, 30), (7, 30), (8, 0)] {
        host.media(conn, audio(1, level));
    }
    host.now += 20;
    for (conn, level) in [(4, 30), (5, 30), (6, 30), (7, 30), (8, 0)] {
        host.media(conn, audio(2, level));
    }
    let expected = [ids[3], ids[4], ids[3], ids[4]];
    for conn in [9, 10] {
        assert_eq!(heard_from(&mut host, conn), expected, "p{conn}");
    }
    assert_eq!(host.room.barge_in_speakers(), [ids[3], ids[4]]);
    let after = host.room.stats();
    assert_eq!(after.audio_barge_ins, before.audio_barge_ins + 2);
    assert_eq!(after.frames_unrouted, before.frames_unrouted + 6);
}

#[test]
fn after_the_next_ranking_a_newcomer_who_keeps_talking_holds_a_regular_place() {
    let (mut host, ids) = room_with_three_speakers(None);
    let before = host.room.stats();
    // Longer than a ranking interval (300 ms): rankings happen meanwhile.
    let mut talkers = SPEAKERS.to_vec();
    talkers.push((4, 30));
    talk(&mut host, &talkers, 400);
    let from_p4 = heard_from(&mut host, 10)
        .into_iter()
        .filter(|s| *s == ids[3])
        .count();
    assert_eq!(from_p4, 20, "a listener heard every one of p4's frames");
    assert!(host.room.barge_in_speakers().is_empty());
    assert!(
        host.room.audible_speakers()[..3].contains(&ids[3]),
        "p4 has one of the three places: {:?}",
        host.room.audible_speakers()
    );
    assert_eq!(
        host.room.stats().audio_barge_ins,
        before.audio_barge_ins + 1,
        "one barge-in, then a regular place"
    );
    host.media(4, audio(99, 30));
    assert_eq!(heard_from(&mut host, 10), [ids[3]]);
}

#[test]
fn a_newcomer_who_falls_quiet_is_dropped_at_the_next_ranking() {
    let (mut host, ids) = room_with_three_speakers(None);
    host.media(4, audio(1, 30));
    assert_eq!(heard_from(&mut host, 10), [ids[3]]);
    // Then only background noise, quieter than the speaking level.
    let mut talkers = SPEAKERS.to_vec();
    talkers.push((4, 110));
    talk(&mut host, &talkers, 400);
    assert!(host.room.barge_in_speakers().is_empty());
    assert!(!host.room.audible_speakers()[..3].contains(&ids[3]));
    host.clear();
    host.media(4, audio(99, 110));
    assert!(heard_from(&mut host, 10).is_empty());
}

#[test]
fn a_speaker_the_ranking_keeps_waiting_barges_in_again_only_after_a_pause() {
    // p4 joins after the others talked for 10 s, so the fairness rule
    // does not give it a place at once (`ranking.rs` module docs).
    let (mut host, ids) = room_with_three_speakers(Some(4));
    let barge_ins = host.room.stats().audio_barge_ins;
    let mut talkers = SPEAKERS.to_vec();
    talkers.push((4, 30));
    host.media(4, audio(1, 30));
    assert_eq!(heard_from(&mut host, 10), [ids[3]], "first words heard");
    talk(&mut host, &talkers, 400);
    assert!(!host.room.audible_speakers()[..3].contains(&ids[3]));
    host.clear();
    talk(&mut host, &talkers, 200);
    assert!(
        !heard_from(&mut host, 10).contains(&ids[3]),
        "a speaker kept waiting does not barge in again in the same spurt"
    );
    assert_eq!(host.room.stats().audio_barge_ins, barge_ins + 1);
    // Quiet for longer than the hold time (500 ms), then a new sentence.
    talk(&mut host, &SPEAKERS, 600);
    host.clear();
    host.media(4, audio(2, 30));
    assert_eq!(heard_from(&mut host, 10), [ids[3]], "the new sentence too");
    assert_eq!(host.room.stats().audio_barge_ins, barge_ins + 2);
}

#[test]
fn a_small_room_needs_no_barge_in() {
    let mut host = Host::new(small());
    let ids: Vec<ParticipantId> = (1..=4).map(|c| host.join(c, &format!("p{c}"))).collect();
    host.clear();
    host.media(1, audio(1, 30));
    for conn in 2..=4 {
        assert_eq!(heard_from(&mut host, conn), [ids[0]]);
    }
    assert_eq!(host.room.stats().audio_barge_ins, 0);
    assert!(host.room.barge_in_speakers().is_empty());
}

#[test]
fn with_barge_in_off_a_newcomer_waits_for_the_ranking() {
    let mut host = Host::new(RoomConfig {
        audio_barge_in: 0,
        ..RoomConfig::default()
    });
    for conn in 1..=10 {
        host.join(conn, &format!("p{conn}"));
    }
    talk(&mut host, &SPEAKERS, 10_000);
    host.clear();
    let before = host.room.stats();
    host.media(4, audio(1, 30));
    assert!(heard_from(&mut host, 10).is_empty());
    assert_eq!(
        host.room.stats().frames_unrouted,
        before.frames_unrouted + 1
    );
}

// ------------------------------------------------------------------ simulcast

/// Lets the engine see all three layers of `conn`'s camera once.
fn publish_all_layers(host: &mut Host, conn: u64) {
    for layer in 0..=2 {
        host.media(conn, video(Track::Camera, 0, layer, true));
    }
}

fn simulcast_room() -> (Host, u32) {
    let mut host = Host::new(small());
    let alice = host.join(1, "alice");
    host.join(2, "bob");
    host.clear();
    (host, alice)
}

#[test]
fn each_receiver_gets_one_layer_starting_on_a_keyframe() {
    let (mut host, _) = simulcast_room();
    // Delta frames first: nothing decodable yet, a keyframe is requested.
    for layer in 0..=2 {
        host.media(1, video(Track::Camera, 1, layer, false));
    }
    assert!(host.media_received(2).is_empty());
    let asked: Vec<_> = host
        .server_messages(1)
        .into_iter()
        .filter_map(|m| match m {
            server_message::Msg::KeyframeRequest(k) => Some(k.layer),
            _ => None,
        })
        .collect();
    // Layers appear one by one; each becomes the target in turn and is
    // asked for once.
    assert_eq!(asked, vec![0, 1, 2]);
    for layer in 0..=2 {
        host.media(1, video(Track::Camera, 2, layer, true));
        host.media(1, video(Track::Camera, 3, layer, false));
    }
    let got: Vec<(u32, bool)> = host
        .media_received(2)
        .iter()
        .map(|f| (f.layer, f.keyframe))
        .collect();
    assert_eq!(got, vec![(2, true), (2, false)]);
}

#[test]
fn keyframe_requests_are_rate_limited() {
    let (mut host, _) = simulcast_room();
    for seq in 0..20 {
        host.media(1, video(Track::Camera, seq, 0, false));
        host.now += 10;
    }
    let asked = host
        .server_messages(1)
        .into_iter()
        .filter(|m| matches!(m, server_message::Msg::KeyframeRequest(_)))
        .count();
    assert_eq!(asked, 1, "200 ms of requests within a 500 ms interval");
}

#[test]
fn a_receiver_can_ask_for_a_keyframe_of_what_it_receives() {
    let (mut host, alice) = simulcast_room();
    host.media(1, video(Track::Camera, 1, 0, true));
    host.clear();
    host.now += 1_000;
    host.send(
        2,
        client_message::Msg::KeyframeRequest(wire::KeyframeRequest {
            participant: alice,
            track: Track::Camera as i32,
            layer: 2,
        }),
    );
    let asked: Vec<_> = host
        .server_messages(1)
        .into_iter()
        .filter_map(|m| match m {
            server_message::Msg::KeyframeRequest(k) => Some(k.layer),
            _ => None,
        })
        .collect();
    assert_eq!(asked, vec![0], "the layer it actually receives");
}

// ------------------------------------------------------------------ congestion

#[test]
fn a_slow_receiver_is_downgraded_then_paused_not_the_room() {
    let config = small();
    let step = config.congestion_step_ms;
    let high = config.congestion_high_bytes;
    let mut host = Host::new(config);
    host.join(1, "alice");
    host.join(2, "slow");
    host.join(3, "fast");
    publish_all_layers(&mut host, 1);
    host.clear();
    let mut seq = 0;
    let mut send_all_layers = |host: &mut Host| {
        seq += 1;
        host.media(1, audio(seq, 20));
        for layer in 0..=2 {
            host.media(1, video(Track::Camera, seq, layer, true));
        }
    };
    let mut layers_seen = Vec::new();
    for _ in 0..5 {
        send_all_layers(&mut host);
        let got = host.media_received(2);
        let video_layer = got
            .iter()
            .find(|f| f.track == Track::Camera as i32)
            .map(|f| f.layer);
        let has_audio = got.iter().any(|f| f.track == Track::Audio as i32);
        layers_seen.push((video_layer, has_audio));
        // Fast receiver is unaffected throughout.
        let fast = host.media_received(3);
        assert_eq!(fast.len(), 2);
        assert!(fast.iter().any(|f| f.layer == 2));
        host.room.backlog(ConnId(2), high, host.now);
        host.pump();
        host.now += step;
    }
    assert_eq!(
        layers_seen,
        vec![
            (Some(2), true),
            (Some(1), true),
            (Some(0), true),
            (None, true),
            (None, false)
        ],
        "layer steps down, then video pauses, audio goes last"
    );
    let notices = host
        .server_messages(2)
        .into_iter()
        .filter(|m| matches!(m, server_message::Msg::Congestion(_)))
        .count();
    assert_eq!(notices, 0, "notices were taken with the media above");
}

#[test]
fn a_drained_receiver_recovers_after_a_stable_period() {
    let config = small();
    let recover = config.congestion_recover_ms;
    let high = config.congestion_high_bytes;
    let mut host = Host::new(config);
    host.join(1, "alice");
    host.join(2, "bob");
    publish_all_layers(&mut host, 1);
    host.room.backlog(ConnId(2), high, host.now);
    host.pump();
    host.clear();
    // The switch down happens on the next layer-1 keyframe.
    host.media(1, video(Track::Camera, 1, 1, true));
    host.media(1, video(Track::Camera, 1, 2, true));
    let got: Vec<u32> = host.media_received(2).iter().map(|f| f.layer).collect();
    assert_eq!(got, vec![1], "capped at layer 1");
    host.room.backlog(ConnId(2), 0, host.now);
    host.now += recover;
    host.room.backlog(ConnId(2), 0, host.now);
    host.pump();
    let notice = host.server_messages(2).into_iter().find_map(|m| match m {
        server_message::Msg::Congestion(c) => Some(c),
        _ => None,
    });
    assert_eq!(notice.map(|c| c.max_layer), Some(2));
    host.media(1, video(Track::Camera, 2, 2, true));
    assert_eq!(host.media_received(2).len(), 1);
}

#[test]
fn congestion_steps_are_counted_both_ways() {
    let config = small();
    let (high, step, recover) = (
        config.congestion_high_bytes,
        config.congestion_step_ms,
        config.congestion_recover_ms,
    );
    let mut host = Host::new(config);
    host.join(1, "alice");
    host.join(2, "bob");
    for _ in 0..2 {
        host.room.backlog(ConnId(2), high, host.now);
        host.now += step;
    }
    // A report within the step interval changes nothing and counts nothing.
    host.room.backlog(ConnId(2), high, host.now - 1);
    host.room.backlog(ConnId(2), 0, host.now);
    host.now += recover;
    host.room.backlog(ConnId(2), 0, host.now);
    let stats = host.room.stats();
    assert_eq!(
        (stats.congestion_downgrades, stats.congestion_recoveries),
        (2, 1)
    );
}

#[test]
fn a_receiver_can_cap_itself() {
    let (mut host, _) = simulcast_room();
    host.send(
        2,
        client_message::Msg::Congestion(wire::Congestion {
            max_layer: 0,
            video_paused: false,
            audio_paused: false,
        }),
    );
    for layer in 0..=2 {
        host.media(1, video(Track::Camera, 1, layer, true));
    }
    let got: Vec<u32> = host.media_received(2).iter().map(|f| f.layer).collect();
    assert_eq!(got, vec![0]);
}

// ------------------------------------------------------------------ acknowledged backlog

/// A host that cannot see its send queue: receivers acknowledge.
fn acknowledging() -> RoomConfig {
    RoomConfig {
        ack_interval_ms: 250,
        ..small()
    }
}

/// Alice publishes three layers every 20 ms for `rounds` rounds of
/// 100 ms; `acking` receivers acknowledge at the end of every round.
/// Returns, per round, the camera layer and whether audio reached `watch`.
fn stream_with_acks(
    host: &mut Host,
    rounds: usize,
    acking: &[u64],
    watch: u64,
) -> Vec<(Option<u32>, bool)> {
    let mut seen = Vec::new();
    let mut seq = 0;
    for _ in 0..rounds {
        let mut layer = None;
        let mut heard = false;
        for _ in 0..5 {
            seq += 1;
            host.media(1, audio(seq, 20));
            for l in 0..=2 {
                let mut frame = video(Track::Camera, seq, l, seq % 10 == 1);
                frame.payload = vec![0; 4_000].into();
                host.media(1, frame);
            }
            for f in host.media_received(watch) {
                if f.track == Track::Camera as i32 {
                    layer = Some(f.layer);
                } else {
                    heard = true;
                }
            }
            host.advance(20);
        }
        for &conn in acking {
            host.ack(conn);
        }
        seen.push((layer, heard));
    }
    seen
}

#[test]
fn a_receiver_that_stops_acknowledging_is_downgraded_then_paused_not_the_room() {
    let mut host = Host::new(acknowledging());
    host.join(1, "alice");
    host.join(2, "slow");
    host.join(3, "fast");
    publish_all_layers(&mut host, 1);
    host.ack(2);
    host.ack(3);
    host.clear();
    let slow = stream_with_acks(&mut host, 100, &[3], 2);
    let layers: Vec<Option<u32>> = slow.iter().map(|(l, _)| *l).collect();
    assert_eq!(layers.first(), Some(&Some(2)), "healthy at first: {slow:?}");
    for step in [Some(1), Some(0), None] {
        assert!(layers.contains(&step), "never reached {step:?}: {slow:?}");
    }
    assert_eq!(
        slow.last(),
        Some(&(None, false)),
        "audio pauses last: {slow:?}"
    );
    assert_eq!(host.close_code(2), None, "held back, not closed");
    let fast = stream_with_acks(&mut host, 5, &[3], 3);
    assert!(
        fast.iter().all(|r| *r == (Some(2), true)),
        "the receiver that keeps up keeps every layer: {fast:?}"
    );
}

#[test]
fn a_receiver_that_catches_up_recovers() {
    let config = acknowledging();
    let recover = config.congestion_recover_ms;
    let mut host = Host::new(config);
    host.join(1, "alice");
    host.join(2, "bob");
    publish_all_layers(&mut host, 1);
    host.clear();
    let paused = stream_with_acks(&mut host, 60, &[], 2);
    assert_eq!(paused.last(), Some(&(None, false)), "{paused:?}");
    // Bob reads everything and keeps reading: one step back per stable period.
    host.ack(2);
    let rounds = usize::try_from(6 * recover / 100).unwrap();
    let seen = stream_with_acks(&mut host, rounds, &[2], 2);
    assert_eq!(seen.last(), Some(&(Some(2), true)), "{seen:?}");
}

#[test]
fn acknowledging_more_than_was_sent_closes_only_the_liar() {
    let mut host = Host::new(acknowledging());
    host.join(1, "alice");
    host.join(2, "bob");
    host.join(3, "mallory");
    host.clear();
    let sent = host.received_bytes[&ConnId(3)];
    host.send(
        3,
        client_message::Msg::Ack(wire::Ack {
            received_bytes: sent + 1,
        }),
    );
    assert_eq!(host.close_code(3), Some(CloseCode::Malformed));
    assert_eq!(error_code(&mut host, 3), Some(ErrorCode::Malformed));
    host.media(1, audio(1, 10));
    assert_eq!(host.media_received(2).len(), 1, "the room still works");
}

#[test]
fn a_receiver_that_never_reads_is_closed_as_slow() {
    let config = RoomConfig {
        congestion_high_bytes: 20_000,
        congestion_low_bytes: 5_000,
        max_unacked_bytes: 50_000,
        ..acknowledging()
    };
    let mut host = Host::new(config);
    host.join(1, "alice");
    host.join(2, "bob");
    host.join(3, "stuck");
    host.clear();
    // Chat is never paused by congestion; it piles up at the stuck reader.
    for round in 0..40u64 {
        host.send(
            1,
            client_message::Msg::Chat(wire::Chat {
                text: "x".repeat(1_900),
                ..Default::default()
            }),
        );
        host.ack(1);
        host.ack(2);
        // Its keep-alives still arrive: it is connected, just not reading.
        host.room.heard(ConnId(3), host.now);
        host.advance(600 + round % 2);
    }
    assert_eq!(host.close_code(3), Some(CloseCode::SlowReceiver));
    assert_eq!(host.close_code(2), None);
    assert_eq!(host.close_code(1), None);
}

#[test]
fn acks_are_ignored_where_the_host_sees_its_queue() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    host.join(2, "bob");
    host.clear();
    host.send(
        2,
        client_message::Msg::Ack(wire::Ack {
            received_bytes: u64::MAX,
        }),
    );
    assert_eq!(host.close_code(2), None);
    let seen = stream_with_acks(&mut host, 20, &[], 2);
    assert!(seen.iter().all(|(l, _)| *l == Some(2)), "{seen:?}");
}

#[test]
fn an_idle_acknowledged_room_needs_no_tick_before_the_heartbeat() {
    let config = acknowledging();
    let heartbeat = config.heartbeat_timeout_ms;
    let mut host = Host::new(config);
    host.join(1, "alice");
    host.join(2, "bob");
    host.media(1, audio(1, 10));
    host.advance(1_000);
    let joined = host.now - 1_000;
    assert_eq!(
        host.room.next_timeout(),
        Some(joined + heartbeat + 1),
        "unacknowledged bytes below the congestion threshold wake nobody"
    );
}

#[test]
fn keepalives_the_host_heard_hold_a_connection_past_the_heartbeat() {
    let config = small();
    let heartbeat = config.heartbeat_timeout_ms;
    let mut host = Host::new(config);
    host.join(1, "alice");
    host.join(2, "bob");
    for _ in 0..3 {
        host.now += heartbeat / 2;
        host.room.heard(ConnId(1), host.now);
        host.room.heard(ConnId(2), host.now);
        host.advance(1);
    }
    assert_eq!(host.close_code(1), None);
    assert_eq!(host.room.participant_count(), 2);
    host.advance(heartbeat + 1);
    assert_eq!(host.close_code(1), Some(CloseCode::HeartbeatTimeout));
}

#[test]
fn the_welcome_announces_every_limit_a_client_must_respect() {
    let config = acknowledging();
    let mut host = Host::new(config.clone());
    let welcome = host
        .welcome_as(1, Member::new("alice"), &[])
        .expect("welcome");
    let limits = welcome.limits.expect("limits");
    assert_eq!(limits.ack_interval_ms, 250);
    assert_eq!(limits.max_subscriptions as usize, config.max_subscriptions);
    assert_eq!(limits.max_message_bytes as usize, config.max_message_bytes);
    assert_eq!(
        limits.sender_messages_per_sec,
        config.sender_messages_per_sec
    );
    assert_eq!(limits.sender_bytes_per_sec, config.sender_bytes_per_sec);
    assert_eq!(limits.chat_messages_per_sec, config.chat_messages_per_sec);
    assert_eq!(limits.chat_burst_messages, config.chat_burst_messages);
}

// ------------------------------------------------------------------ limits

fn error_code(host: &mut Host, conn: u64) -> Option<ErrorCode> {
    host.server_messages(conn)
        .into_iter()
        .find_map(|m| match m {
            server_message::Msg::Error(e) => ErrorCode::try_from(e.code).ok(),
            _ => None,
        })
}

/// Checks that after `offend` only the offender is gone and the room still
/// forwards between the others.
fn only_the_offender_suffers(offend: impl FnOnce(&mut Host), code: CloseCode, error: ErrorCode) {
    let mut host = Host::new(small());
    host.join(1, "alice");
    host.join(2, "bob");
    host.join(3, "mallory");
    host.clear();
    offend(&mut host);
    assert_eq!(host.close_code(3), Some(code));
    assert_eq!(error_code(&mut host, 3), Some(error));
    assert_eq!(host.close_code(1), None);
    assert_eq!(host.close_code(2), None);
    host.clear();
    host.media(1, audio(1, 10));
    assert_eq!(host.media_received(2).len(), 1, "the room still works");
    assert_eq!(host.room.participant_count(), 2);
}

#[test]
fn garbage_bytes_close_only_the_sender() {
    only_the_offender_suffers(
        |h| h.raw(3, Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f])),
        CloseCode::Malformed,
        ErrorCode::Malformed,
    );
}

#[test]
fn a_truncated_message_closes_only_the_sender() {
    let mut whole = wire::ClientMessage {
        msg: Some(client_message::Msg::Media(audio(1, 10))),
    };
    whole.msg = whole.msg.take();
    let bytes = prost::Message::encode_to_vec(&whole);
    let cut = Bytes::from(bytes[..bytes.len() / 2].to_vec());
    only_the_offender_suffers(
        move |h| h.raw(3, cut),
        CloseCode::Malformed,
        ErrorCode::Malformed,
    );
}

#[test]
fn an_empty_message_closes_only_the_sender() {
    only_the_offender_suffers(
        |h| h.raw(3, Bytes::new()),
        CloseCode::Malformed,
        ErrorCode::Malformed,
    );
}

#[test]
fn an_oversize_message_closes_only_the_sender() {
    let size = RoomConfig::default().max_message_bytes + 1;
    only_the_offender_suffers(
        move |h| {
            let mut frame = video(Track::Camera, 1, 0, true);
            frame.payload = Bytes::from(vec![0; size]);
            h.media(3, frame)
        },
        CloseCode::TooLarge,
        ErrorCode::TooLarge,
    );
}

#[test]
fn a_flood_closes_only_the_flooder() {
    only_the_offender_suffers(
        |h| {
            for seq in 0..2_000 {
                h.media(3, audio(seq, 10));
                if h.close_code(3).is_some() {
                    break;
                }
            }
        },
        CloseCode::RateLimited,
        ErrorCode::RateLimited,
    );
}

#[test]
fn a_byte_flood_closes_only_the_flooder() {
    only_the_offender_suffers(
        |h| {
            for seq in 0..200 {
                let mut frame = video(Track::Camera, seq, 0, true);
                frame.payload = Bytes::from(vec![0; 200_000]);
                h.media(3, frame);
                if h.close_code(3).is_some() {
                    break;
                }
            }
        },
        CloseCode::RateLimited,
        ErrorCode::RateLimited,
    );
}

#[test]
fn an_invalid_layer_closes_only_the_sender() {
    only_the_offender_suffers(
        |h| h.media(3, video(Track::Camera, 1, 7, true)),
        CloseCode::Malformed,
        ErrorCode::Malformed,
    );
}

#[test]
fn a_frame_without_a_track_closes_only_the_sender() {
    only_the_offender_suffers(
        |h| h.media(3, video(Track::Unspecified, 1, 0, true)),
        CloseCode::Malformed,
        ErrorCode::Malformed,
    );
}

#[test]
fn an_oversize_chat_closes_only_the_sender() {
    only_the_offender_suffers(
        |h| {
            h.send(
                3,
                client_message::Msg::Chat(wire::Chat {
                    text: "x".repeat(5_000),
                    ..Default::default()
                }),
            )
        },
        CloseCode::TooLarge,
        ErrorCode::TooLarge,
    );
}

#[test]
fn an_oversize_sealed_chat_closes_only_the_sender() {
    let limit = edgecall_proto::e2ee::max_sealed_chat_len(small().max_chat_chars);
    only_the_offender_suffers(
        |h| {
            h.send(
                3,
                client_message::Msg::Chat(wire::Chat {
                    text: String::new(),
                    sealed: vec![7; limit + 1].into(),
                }),
            )
        },
        CloseCode::TooLarge,
        ErrorCode::TooLarge,
    );
}

#[test]
fn a_chat_flood_closes_only_the_sender() {
    let burst = small().chat_burst_messages;
    only_the_offender_suffers(
        move |h| {
            for i in 0..=burst {
                h.send(
                    3,
                    client_message::Msg::Chat(wire::Chat {
                        text: format!("spam {i}"),
                        ..wire::Chat::default()
                    }),
                );
            }
        },
        CloseCode::RateLimited,
        ErrorCode::RateLimited,
    );
}

#[test]
fn a_second_hello_closes_only_the_sender() {
    only_the_offender_suffers(
        |h| {
            h.send(
                3,
                client_message::Msg::Hello(wire::Hello {
                    protocol_version: 1,
                    client: String::new(),
                    media_state: None,
                    ..wire::Hello::default()
                }),
            )
        },
        CloseCode::Malformed,
        ErrorCode::Malformed,
    );
}

#[test]
fn a_violation_the_host_caught_closes_only_the_offender() {
    only_the_offender_suffers(
        |h| {
            h.room
                .protocol_violation(ConnId(3), CloseCode::Malformed, "text frame", h.now);
            h.pump();
        },
        CloseCode::Malformed,
        ErrorCode::Malformed,
    );
}

#[test]
fn an_old_client_gets_a_clear_version_error() {
    let mut host = Host::new(small());
    host.room.join(ConnId(1), Member::new("old"), host.now);
    host.send(
        1,
        client_message::Msg::Hello(wire::Hello {
            protocol_version: 0,
            client: "ancient".into(),
            media_state: None,
            ..wire::Hello::default()
        }),
    );
    let err = host.server_messages(1).into_iter().find_map(|m| match m {
        server_message::Msg::Error(e) => Some(e),
        _ => None,
    });
    let err = err.expect("an error message");
    assert_eq!(err.code, ErrorCode::UnsupportedVersion as i32);
    assert!(
        err.message
            .contains(&format!("protocol {PROTOCOL_VERSION}")),
        "{}",
        err.message
    );
    assert_eq!(host.close_code(1), Some(CloseCode::UnsupportedVersion));
}

#[test]
fn media_before_hello_is_refused() {
    let mut host = Host::new(small());
    host.room.join(ConnId(1), Member::new("eager"), host.now);
    host.media(1, audio(1, 10));
    assert_eq!(host.close_code(1), Some(CloseCode::NotJoined));
}

#[test]
fn a_bad_name_is_refused_at_join() {
    let mut host = Host::new(small());
    host.room
        .join(ConnId(1), Member::new("<b>evil</b>"), host.now);
    host.pump();
    assert_eq!(host.close_code(1), Some(CloseCode::InvalidName));
    assert_eq!(error_code(&mut host, 1), Some(ErrorCode::InvalidName));
}

#[test]
fn a_full_room_refuses_newcomers() {
    let mut host = Host::new(RoomConfig {
        max_participants: 2,
        ..small()
    });
    host.join(1, "a");
    host.join(2, "b");
    assert_eq!(host.try_join(3, "c"), None);
    assert_eq!(host.close_code(3), Some(CloseCode::RoomFull));
    assert_eq!(host.room.participant_count(), 2);
}

#[test]
fn invalid_room_ids_are_refused() {
    assert!(Room::new("a/b", small()).is_err());
    assert!(Room::new("", small()).is_err());
}

#[test]
fn chat_and_media_state_reach_everyone() {
    let mut host = Host::new(small());
    let alice = host.join(1, "alice");
    host.join(2, "bob");
    host.clear();
    host.send(
        1,
        client_message::Msg::Chat(wire::Chat {
            text: "hi".into(),
            ..Default::default()
        }),
    );
    host.send(
        1,
        client_message::Msg::MediaState(wire::MediaState {
            audio_muted: true,
            camera_off: false,
            screen_sharing: true,
            hand_raised: false,
        }),
    );
    let msgs = host.server_messages(2);
    assert!(msgs
        .iter()
        .any(|m| matches!(m, server_message::Msg::Chat(c) if c.sender == alice && c.text == "hi")));
    assert!(msgs.iter().any(|m| matches!(m,
        server_message::Msg::Updated(u) if u.participant.as_ref().and_then(|p| p.media_state).is_some_and(|s| s.audio_muted && s.screen_sharing))));
}

#[test]
fn a_sealed_chat_is_forwarded_byte_for_byte_up_to_the_sealed_limit() {
    let mut host = Host::new(small());
    let alice = host.join(1, "alice");
    host.join(2, "bob");
    host.clear();
    let limit = edgecall_proto::e2ee::max_sealed_chat_len(small().max_chat_chars);
    // Opaque bytes: the engine never opens them, and the longest sealing
    // of an allowed text is still allowed.
    let sealed: Bytes = (0..limit)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    host.send(
        1,
        client_message::Msg::Chat(wire::Chat {
            text: String::new(),
            sealed: sealed.clone(),
        }),
    );
    assert_eq!(host.close_code(1), None);
    let forwarded: Vec<wire::ChatMessage> = host
        .server_messages(2)
        .into_iter()
        .filter_map(|m| match m {
            server_message::Msg::Chat(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(forwarded.len(), 1, "{forwarded:?}");
    assert_eq!(forwarded[0].sender, alice);
    assert_eq!(forwarded[0].sealed, sealed);
    assert_eq!(forwarded[0].text, "");
}

#[test]
fn an_empty_chat_is_dropped() {
    let mut host = Host::new(small());
    host.join(1, "alice");
    host.join(2, "bob");
    host.clear();
    host.send(1, client_message::Msg::Chat(wire::Chat::default()));
    assert!(!host
        .server_messages(2)
        .iter()
        .any(|m| matches!(m, server_message::Msg::Chat(_))));
    assert_eq!(host.close_code(1), None);
}

// ------------------------------------------------------------------ hibernation

#[test]
fn a_room_restored_from_persisted_state_keeps_its_roster_and_routes() {
    let mut host = Host::new(small());
    let alice = host.join(1, "alice");
    let bob = host.join(2, "bob");
    host.send(
        2,
        client_message::Msg::MediaState(wire::MediaState {
            audio_muted: true,
            ..Default::default()
        }),
    );
    let states: Vec<(ConnId, ConnState)> = host
        .persisted
        .iter()
        .map(|(c, s)| (*c, s.clone()))
        .collect();
    assert_eq!(states.len(), 2);
    let restored = Room::restore("room-1", small(), states, host.now + 60_000).expect("restores");
    let mut host2 = Host::with_room(restored);
    host2.now = host.now + 60_000;
    let roster: Vec<(u32, String, bool)> = host2
        .room
        .participants()
        .map(|p| (p.id, p.name, p.media.audio_muted))
        .collect();
    assert_eq!(
        roster,
        vec![(alice, "alice".into(), false), (bob, "bob".into(), true)]
    );
    host2.media(1, audio(1, 10));
    let got = host2.media_received(2);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sender, alice);
    // New participants get fresh ids.
    let carol = host2.join(3, "carol");
    assert!(carol > bob);
}

#[test]
fn a_restored_room_keeps_its_last_n_order() {
    let mut host = Host::new(selective(3, 2));
    let ids: Vec<u32> = (1..=4).map(|c| host.join(c, &format!("p{c}"))).collect();
    speak(&mut host, 4, 10, 30);
    host.advance(1_000);
    speak(&mut host, 3, 10, 30);
    assert_eq!(&host.room.recent_speakers()[..2], &[ids[2], ids[3]]);
    let states: Vec<(ConnId, ConnState)> = host
        .persisted
        .iter()
        .map(|(c, s)| (*c, s.clone()))
        .collect();
    let restored = Room::restore("room-1", selective(3, 2), states, host.now).expect("restores");
    assert_eq!(
        restored.recent_speakers(),
        &[ids[2], ids[3], ids[0], ids[1]]
    );
}
