//! Cost of the engine's hot paths: routing one 1,200-byte media frame in
//! rooms of 10, 100 and 1,000 participants under the default selective
//! forwarding policy, a newcomer's first word (a barge-in) in the same
//! rooms, and one join + leave in a room of 1,000.
//!
//! Run with `cargo bench -p edgecall-proto --bench routing`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use edgecall_proto::room::{Action, ConnId, Member, Room, RoomConfig};
use edgecall_proto::wire::{self, client_message, ClientMessage, Track};
use edgecall_proto::PROTOCOL_VERSION;
use prost::Message;

const START_MS: u64 = 1_700_000_000_000;
const PAYLOAD: usize = 1_200;

fn encode(msg: client_message::Msg) -> Bytes {
    ClientMessage { msg: Some(msg) }.encode_to_vec().into()
}

fn hello() -> Bytes {
    encode(client_message::Msg::Hello(wire::Hello {
        protocol_version: PROTOCOL_VERSION,
        client: "bench".into(),
        media_state: None,
        ..wire::Hello::default()
    }))
}

fn frame(track: Track, level: u32) -> Bytes {
    encode(client_message::Msg::Media(wire::MediaFrame {
        track: track as i32,
        layer: 0,
        keyframe: true,
        sequence: 1,
        capture_time_us: 1,
        audio_level: level,
        codec: wire::Codec::H264 as i32,
        sealed: false,
        payload: Bytes::from(vec![7u8; PAYLOAD]),
        sender: 0,
    }))
}

/// A room of `size` participants in which participant 1 is the loudest
/// (and latest) active speaker.
fn room_of(size: u64) -> (Room, u64) {
    let mut room = Room::new("bench", RoomConfig::default()).expect("room");
    let mut now = START_MS;
    for conn in 1..=size {
        room.join(ConnId(conn), Member::new(format!("p{conn}")), now);
        room.message(ConnId(conn), hello(), now);
        room.drain_actions().for_each(drop);
    }
    let speech = frame(Track::Audio, 10);
    for _ in 0..50 {
        now += 20;
        room.message(ConnId(1), speech.clone(), now);
        room.drain_actions().for_each(drop);
    }
    (room, now)
}

/// What a host does at the least with each action: one `Bytes` handle per
/// receiving connection (`deliver`), or nothing (`engine only`).
fn consume(room: &mut Room, deliver: bool) -> usize {
    let mut copies = 0usize;
    while let Some(action) = room.poll_action() {
        match action {
            Action::Fanout { conns, data, .. } if deliver => {
                for conn in conns {
                    copies += 1;
                    black_box((conn, data.clone()));
                }
            }
            other => {
                copies += 1;
                black_box(other);
            }
        }
    }
    copies
}

fn route_frame(c: &mut Criterion) {
    for (group_name, deliver) in [("route_frame", false), ("route_and_deliver", true)] {
        let mut group = c.benchmark_group(group_name);
        for size in [10u64, 100, 1_000] {
            for (label, track, level) in
                [("audio", Track::Audio, 10), ("video", Track::Camera, 127)]
            {
                let (mut room, mut now) = room_of(size);
                let data = frame(track, level);
                group.throughput(Throughput::Elements(1));
                group.bench_with_input(BenchmarkId::new(label, size), &size, |b, _| {
                    b.iter(|| {
                        // 10 ms per frame keeps the sender inside its rate limit.
                        now += 10;
                        room.message(ConnId(1), data.clone(), now);
                        consume(&mut room, deliver)
                    });
                });
                assert!(
                    room.participant_id(ConnId(1)).is_some(),
                    "sender stayed in the room"
                );
            }
        }
        group.finish();
    }
}

/// A participant who has not spoken says its first word (a loud frame
/// from outside the top K): the engine makes it a barge-in speaker, redoes
/// its forwarding table and fans the frame out to everyone else.
fn first_word(c: &mut Criterion) {
    let mut group = c.benchmark_group("first_word");
    for size in [10u64, 100, 1_000] {
        let (room, now) = room_of(size);
        let data = frame(Track::Audio, 20);
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("audio", size), &size, |b, _| {
            b.iter_batched_ref(
                || room.clone(),
                |room| {
                    // Before the next ranking (every 300 ms) is due.
                    room.message(ConnId(2), data.clone(), now + 10);
                    consume(room, false)
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn join_leave(c: &mut Criterion) {
    // 999 members, so the newcomer is the 1,000th.
    let (mut room, now) = room_of(999);
    let hello = hello();
    let mut group = c.benchmark_group("join_leave");
    group.bench_function("1000", |b| {
        b.iter(|| {
            let conn = ConnId(5_000);
            room.join(conn, Member::new("newcomer"), now);
            room.message(conn, hello.clone(), now);
            room.closed(conn, now);
            consume(&mut room, true)
        });
        assert_eq!(
            room.participant_count(),
            999,
            "the newcomer joined and left"
        );
    });
    group.finish();
}

criterion_group!(benches, route_frame, first_word, join_leave);
criterion_main!(benches);
