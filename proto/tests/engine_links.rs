//! Links between two engines: one meeting spread over two hosts.

mod common;

use common::{audio, selective, video, Host};
use edgecall_proto::room::{
    CloseCode, ConnId, ConnState, LinkKind, Member, ParticipantId, Room, RoomConfig,
};
use edgecall_proto::wire::{self, client_message, link_message, server_message, Track};

const LINK_ON_A: u64 = 100;
const LINK_ON_B: u64 = 200;

/// Two hosts of one room joined by a link.
struct Pair {
    a: Host,
    b: Host,
}

impl Pair {
    fn new(config: RoomConfig) -> Self {
        let mut pair = Self {
            a: Host::new(config.clone()),
            b: Host::new(config),
        };
        pair.a.join_link(LINK_ON_A, "host-a");
        pair.b.join_link(LINK_ON_B, "host-b");
        pair.carry();
        pair
    }

    /// Delivers link traffic both ways until both sides are quiet.
    fn carry(&mut self) -> usize {
        let mut carried = 0;
        loop {
            let a_out = self.a.take(LINK_ON_A);
            let b_out = self.b.take(LINK_ON_B);
            if a_out.is_empty() && b_out.is_empty() {
                return carried;
            }
            carried += a_out.len() + b_out.len();
            for d in a_out {
                self.b.raw(LINK_ON_B, d.data);
            }
            for d in b_out {
                self.a.raw(LINK_ON_A, d.data);
            }
        }
    }
}

/// The id `host` gave the participant called `name`.
fn id_named(host: &Host, name: &str) -> ParticipantId {
    host.room
        .participants()
        .find(|p| p.name == name)
        .map(|p| p.id)
        .unwrap_or_else(|| panic!("{name} is known"))
}

fn names(host: &Host) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = host
        .room
        .participants()
        .map(|p| (p.name, p.link.is_some()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_newer_session_of_an_identity_on_another_host_replaces_the_older_one() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a
        .join_as(1, Member::verified("ada", "u-1"))
        .expect("ada on A");
    pair.carry();
    pair.b.advance(5);
    pair.b
        .join_as(1, Member::verified("ada", "u-1"))
        .expect("ada again on B");
    pair.carry();
    assert_eq!(pair.a.close_code(1), Some(CloseCode::Replaced));
    assert_eq!(pair.b.close_code(1), None);
    // One ada left in both rosters, the one on B.
    assert_eq!(names(&pair.a), [("ada".into(), true)]);
    assert_eq!(names(&pair.b), [("ada".into(), false)]);
}

#[test]
fn an_open_session_resumed_on_another_host_replaces_the_first() {
    let mut pair = Pair::new(RoomConfig::default());
    let first = pair
        .a
        .welcome_as(1, Member::new("bob"), &[])
        .expect("bob on A");
    pair.carry();
    // Another "bob" without the secret is someone else: both stay.
    pair.b.advance(5);
    pair.b
        .welcome_as(2, Member::new("bob"), &[])
        .expect("other bob");
    pair.carry();
    assert_eq!(pair.a.close_code(1), None);
    pair.b.advance(5);
    let resumed = pair
        .b
        .welcome_as(1, Member::new("bob"), &first.resume_secret)
        .expect("bob resumes on B");
    pair.carry();
    assert_eq!(resumed.identity, first.identity);
    assert_eq!(pair.a.close_code(1), Some(CloseCode::Replaced));
    assert_eq!(pair.b.room.participant_count(), 2);
    assert_eq!(pair.a.room.participant_count(), 2);
}

#[test]
fn remote_participants_appear_in_both_rosters() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a.join(1, "alice");
    pair.carry();
    pair.b.join(1, "bob");
    pair.carry();
    assert_eq!(
        names(&pair.a),
        [("alice".into(), false), ("bob".into(), true)]
    );
    assert_eq!(
        names(&pair.b),
        [("alice".into(), true), ("bob".into(), false)]
    );
    // Bob's welcome on B listed Alice (remote).
    let joined_on_a = pair.a.server_messages(1).into_iter().any(|m| {
        matches!(m, server_message::Msg::Joined(j) if j.participant.as_ref().is_some_and(|p| p.name == "bob" && p.remote))
    });
    assert!(joined_on_a);
}

#[test]
fn media_crosses_the_link_with_the_true_sender() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a.join(1, "alice");
    pair.carry();
    pair.b.join(1, "bob");
    pair.b.join(2, "carol");
    pair.carry();
    let alice_on_b = id_named(&pair.b, "alice");
    pair.a.clear();
    pair.b.clear();
    let mut frame = audio(1, 20);
    frame.sender = 999;
    pair.a.media(1, frame);
    let crossings = pair.a.take(LINK_ON_A);
    assert_eq!(
        crossings.len(),
        1,
        "one copy per link, however many receivers behind it"
    );
    for d in crossings {
        pair.b.raw(LINK_ON_B, d.data);
    }
    for conn in [1, 2] {
        let got = pair.b.media_received(conn);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].sender, alice_on_b);
    }
}

#[test]
fn a_link_receives_only_what_its_receivers_want() {
    // Large-room rules on both sides, last-N = 1.
    let mut pair = Pair::new(selective(1, 1));
    for (conn, name) in [(1, "a1"), (2, "a2"), (3, "a3")] {
        pair.a.join(conn, name);
    }
    pair.carry();
    pair.b.join(1, "b1");
    pair.carry();
    // a2 becomes the active speaker (heard on B through the link).
    for seq in 0..30 {
        pair.a.media(2, audio(seq, 10));
        pair.a.now += 20;
        pair.b.now = pair.a.now;
        pair.carry();
    }
    pair.a.advance(0);
    pair.b.advance(0);
    pair.carry();
    pair.a.clear();
    pair.b.clear();
    for conn in 1..=3 {
        pair.a.media(conn, video(Track::Camera, 1, 2, true));
    }
    let crossed: Vec<u32> = pair
        .a
        .link_messages(LINK_ON_A)
        .into_iter()
        .filter_map(|m| match m {
            link_message::Msg::Media(f) => Some(f.sender),
            _ => None,
        })
        .collect();
    assert_eq!(crossed.len(), 1, "only the speaker B's receiver shows");
    assert_eq!(crossed[0], id_named(&pair.a, "a2"));
}

#[test]
fn a_new_speakers_first_words_cross_the_link() {
    // Ten in all, top-3 audio: a1..a6 on A, b1..b4 on B.
    let mut pair = Pair::new(RoomConfig::default());
    for conn in 1..=6 {
        pair.a.join(conn, &format!("a{conn}"));
    }
    for conn in 1..=4 {
        pair.b.join(conn, &format!("b{conn}"));
    }
    pair.carry();
    // a1..a3 have been talking for two seconds.
    for seq in 0..100 {
        for conn in 1..=3 {
            pair.a.media(conn, audio(seq, 20));
        }
        pair.a.advance(20);
        pair.b.advance(20);
        pair.carry();
    }
    pair.a.clear();
    pair.b.clear();
    let (a_before, b_before) = (pair.a.room.stats(), pair.b.room.stats());
    // a4 says its first word.
    pair.a.media(4, audio(1, 30));
    pair.carry();
    let a4_on_b = id_named(&pair.b, "a4");
    for conn in 1..=4 {
        let got = pair.b.media_received(conn);
        assert_eq!(got.len(), 1, "b{conn} heard a4's first word");
        assert_eq!(got[0].sender, a4_on_b);
    }
    for (before, host) in [(a_before, &pair.a), (b_before, &pair.b)] {
        let after = host.room.stats();
        assert_eq!(after.frames_unrouted, before.frames_unrouted);
        assert_eq!(after.audio_barge_ins, before.audio_barge_ins + 1);
    }
}

#[test]
fn a_link_cannot_speak_for_participants_it_did_not_announce() {
    let mut host = Host::new(RoomConfig::default());
    let alice = host.join(1, "alice");
    host.join(2, "bob");
    host.join_link(LINK_ON_A, "host-a");
    host.clear();
    // A forged frame naming Alice's id, and one naming nobody.
    for sender in [alice, 4242] {
        let mut frame = audio(1, 10);
        frame.sender = sender;
        host.send_link(LINK_ON_A, link_message::Msg::Media(frame));
    }
    assert!(host.media_received(1).is_empty());
    assert!(host.media_received(2).is_empty());
    assert_eq!(host.room.stats().frames_unknown_sender, 2);
}

#[test]
fn losing_a_link_removes_its_participants() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a.join(1, "alice");
    pair.b.join(1, "bob");
    pair.b.join(2, "carol");
    pair.carry();
    assert_eq!(pair.a.room.participant_count(), 3);
    pair.a.clear();
    pair.a.room.closed(ConnId(LINK_ON_A), pair.a.now);
    pair.a.pump();
    assert_eq!(names(&pair.a), [("alice".into(), false)]);
    let left = pair
        .a
        .server_messages(1)
        .into_iter()
        .filter(|m| matches!(m, server_message::Msg::Left(_)))
        .count();
    assert_eq!(left, 2);
}

#[test]
fn rosters_converge_after_the_link_is_restored() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a.join(1, "alice");
    pair.b.join(1, "bob");
    pair.carry();
    // The link drops; both sides keep working and change meanwhile.
    pair.a.room.closed(ConnId(LINK_ON_A), pair.a.now);
    pair.b.room.closed(ConnId(LINK_ON_B), pair.b.now);
    pair.a.pump();
    pair.b.pump();
    pair.b.join(2, "carol");
    pair.a.room.closed(ConnId(1), pair.a.now);
    pair.a.join(3, "dave");
    pair.a.clear();
    pair.b.clear();
    pair.a.join_link(LINK_ON_A, "host-a");
    pair.b.join_link(LINK_ON_B, "host-b");
    pair.carry();
    let expected = |local: &[&str], remote: &[&str]| {
        let mut v: Vec<(String, bool)> = local
            .iter()
            .map(|n| (n.to_string(), false))
            .chain(remote.iter().map(|n| (n.to_string(), true)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&pair.a), expected(&["dave"], &["bob", "carol"]));
    assert_eq!(names(&pair.b), expected(&["bob", "carol"], &["dave"]));
}

#[test]
fn keyframe_requests_and_chat_cross_the_link() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a.join(1, "alice");
    pair.b.join(1, "bob");
    pair.carry();
    pair.a.clear();
    pair.b.clear();
    // Delta frames from Alice reach B; Bob's engine asks for a keyframe,
    // which crosses back to Alice.
    pair.a.media(1, video(Track::Camera, 1, 0, false));
    pair.carry();
    let asked = pair
        .a
        .server_messages(1)
        .into_iter()
        .any(|m| matches!(m, server_message::Msg::KeyframeRequest(_)));
    assert!(asked);
    pair.b.send(
        1,
        client_message::Msg::Chat(wire::Chat {
            text: "hello A".into(),
            ..Default::default()
        }),
    );
    pair.carry();
    let chat = pair.a.server_messages(1).into_iter().find_map(|m| match m {
        server_message::Msg::Chat(c) => Some(c.text),
        _ => None,
    });
    assert_eq!(chat.as_deref(), Some("hello A"));
}

#[test]
fn a_sealed_chat_crosses_the_link_unchanged() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a.join(1, "alice");
    pair.b.join(1, "bob");
    pair.carry();
    pair.a.clear();
    let sealed = bytes::Bytes::from_static(b"\x9a opaque sealed chat bytes \x00\xff");
    pair.b.send(
        1,
        client_message::Msg::Chat(wire::Chat {
            text: String::new(),
            sealed: sealed.clone(),
        }),
    );
    pair.carry();
    let chat = pair.a.server_messages(1).into_iter().find_map(|m| match m {
        server_message::Msg::Chat(c) => Some(c),
        _ => None,
    });
    let chat = chat.expect("the sealed chat reached the other host");
    assert_eq!((chat.text.as_str(), &chat.sealed), ("", &sealed));
}

#[test]
fn a_link_and_its_participants_survive_restore() {
    let mut pair = Pair::new(RoomConfig::default());
    pair.a.join(1, "alice");
    pair.b.join(1, "bob");
    pair.carry();
    let states: Vec<(ConnId, ConnState)> = pair
        .a
        .persisted
        .iter()
        .map(|(c, s)| (*c, s.clone()))
        .collect();
    let restored =
        Room::restore("room-1", RoomConfig::default(), states, pair.a.now).expect("restores");
    let mut a2 = Host::with_room(restored);
    a2.now = pair.a.now;
    a2.pump();
    assert_eq!(names(&a2), [("alice".into(), false), ("bob".into(), true)]);
    let mut frame = audio(1, 10);
    frame.sender = id_named(&pair.b, "bob");
    a2.clear();
    a2.send_link(LINK_ON_A, link_message::Msg::Media(frame));
    assert_eq!(a2.media_received(1).len(), 1);
}

/// Hosts joined by links, each end given as (host index, conn on that host).
struct Net {
    hosts: Vec<Host>,
    wires: Vec<((usize, u64), (usize, u64))>,
}

impl Net {
    fn new(n: usize) -> Self {
        Self {
            hosts: (0..n).map(|_| Host::new(RoomConfig::default())).collect(),
            wires: Vec::new(),
        }
    }

    /// Links hosts `a` and `b` with links of `kind`.
    fn link(&mut self, a: usize, b: usize, kind: LinkKind) {
        let (ca, cb) = (100 + b as u64, 100 + a as u64);
        self.hosts[a].join_link_kind(ca, &format!("host-{a}"), kind);
        self.hosts[b].join_link_kind(cb, &format!("host-{b}"), kind);
        self.wires.push(((a, ca), (b, cb)));
        self.carry();
    }

    /// Delivers link traffic until every host is quiet.
    fn carry(&mut self) {
        loop {
            let mut moved = false;
            for &((a, ca), (b, cb)) in &self.wires.clone() {
                for (from, cf, to, ct) in [(a, ca, b, cb), (b, cb, a, ca)] {
                    let out = self.hosts[from].take(cf);
                    moved |= !out.is_empty();
                    for d in out {
                        self.hosts[to].raw(ct, d.data);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }
}

#[test]
fn a_mesh_of_three_hosts_sees_each_participant_once() {
    let mut net = Net::new(3);
    net.link(0, 1, LinkKind::Mesh);
    net.link(1, 2, LinkKind::Mesh);
    net.link(0, 2, LinkKind::Mesh);
    for (i, name) in ["ann", "ben", "cat"].iter().enumerate() {
        net.hosts[i].join(1, name);
        net.carry();
    }
    for host in &net.hosts {
        let mut names: Vec<String> = host.room.participants().map(|p| p.name).collect();
        names.sort();
        assert_eq!(
            names,
            ["ann", "ben", "cat"],
            "no duplicates through the mesh"
        );
    }
    for host in &mut net.hosts {
        host.clear();
    }
    net.hosts[0].media(1, audio(1, 10));
    net.carry();
    for i in [1, 2] {
        assert_eq!(
            net.hosts[i].media_received(1).len(),
            1,
            "host {i} hears ann once"
        );
    }
}

#[test]
fn a_trunk_carries_the_whole_mesh_and_the_mesh_the_trunk() {
    // Hosts 0 and 1 are relays in a mesh; host 0 holds a trunk to host 2
    // (the edge).
    let mut net = Net::new(3);
    net.link(0, 1, LinkKind::Mesh);
    net.link(0, 2, LinkKind::Tree);
    net.hosts[1].join(1, "ben");
    net.hosts[2].join(1, "eve");
    net.carry();
    for host in &net.hosts {
        let mut names: Vec<String> = host.room.participants().map(|p| p.name).collect();
        names.sort();
        assert_eq!(names, ["ben", "eve"]);
    }
    for host in &mut net.hosts {
        host.clear();
    }
    net.hosts[1].media(1, audio(1, 10));
    net.hosts[2].media(1, audio(1, 10));
    net.carry();
    assert_eq!(
        net.hosts[2].media_received(1).len(),
        1,
        "ben reaches the edge via the trunk"
    );
    assert_eq!(
        net.hosts[1].media_received(1).len(),
        1,
        "eve reaches the second relay via the first"
    );
}

/// A host (`role: host`) on A's conn 1, bob on B's conn 1.
fn moderated_pair() -> Pair {
    let mut pair = Pair::new(RoomConfig::default());
    let mut chair = Member::verified("chair", "chair");
    chair.rights.moderate = true;
    pair.a.join_as(1, chair).expect("the host joins A");
    pair.carry();
    pair.b
        .join_as(1, Member::verified("bob", "bob"))
        .expect("bob joins B");
    pair.b
        .join_as(2, Member::verified("carol", "carol"))
        .expect("carol joins B");
    pair.carry();
    pair.a.clear();
    pair.b.clear();
    pair
}

fn moderate(host: &mut Host, conn: u64, action: wire::ModerationAction, participant: u32) {
    host.send(
        conn,
        client_message::Msg::Moderate(wire::Moderate {
            action: action as i32,
            participant,
        }),
    );
}

#[test]
fn the_host_flag_and_reactions_cross_the_link() {
    let mut pair = moderated_pair();
    let chair_on_b = id_named(&pair.b, "chair");
    let joined = pair
        .b
        .welcome_as(3, Member::new("dave"), &[])
        .expect("dave");
    let chair = joined
        .roster
        .iter()
        .find(|p| p.id == chair_on_b)
        .expect("the host in B's roster");
    assert!(chair.host);
    pair.a.send(
        1,
        client_message::Msg::Reaction(wire::Reaction {
            emoji: edgecall_proto::room::REACTIONS[2].to_owned(),
        }),
    );
    pair.carry();
    let got = pair.b.server_messages(1).into_iter().find_map(|m| match m {
        server_message::Msg::Reaction(r) => Some(r),
        _ => None,
    });
    assert_eq!(got.map(|r| r.sender), Some(chair_on_b));
}

#[test]
fn a_host_removes_and_mutes_participants_on_the_other_host() {
    let mut pair = moderated_pair();
    let bob_on_a = id_named(&pair.a, "bob");
    let carol_on_a = id_named(&pair.a, "carol");
    moderate(&mut pair.a, 1, wire::ModerationAction::Mute, carol_on_a);
    pair.carry();
    let carol_on_b = id_named(&pair.b, "carol");
    let muted = pair
        .b
        .room
        .participants()
        .find(|p| p.id == carol_on_b)
        .is_some_and(|p| p.media.audio_muted);
    assert!(muted, "carol is muted on her own host");
    assert!(pair
        .b
        .server_messages(2)
        .into_iter()
        .any(|m| { matches!(m, server_message::Msg::Moderated(m) if m.by_name == "chair") }));
    moderate(&mut pair.a, 1, wire::ModerationAction::Remove, bob_on_a);
    pair.carry();
    assert_eq!(pair.b.close_code(1), Some(CloseCode::Removed));
    assert!(!names(&pair.a).iter().any(|(n, _)| n == "bob"));
    assert!(pair.b.join_as(5, Member::verified("bob", "bob")).is_none());
    assert_eq!(pair.b.close_code(2), None, "carol stays");
}

#[test]
fn ending_the_meeting_closes_everyone_on_every_host() {
    let mut pair = moderated_pair();
    moderate(&mut pair.a, 1, wire::ModerationAction::EndMeeting, 0);
    pair.carry();
    assert_eq!(pair.a.close_code(1), Some(CloseCode::MeetingEnded));
    assert_eq!(pair.b.close_code(1), Some(CloseCode::MeetingEnded));
    assert_eq!(pair.b.close_code(2), Some(CloseCode::MeetingEnded));
}
