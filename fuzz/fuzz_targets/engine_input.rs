//! Fuzzes message decoding and the room engine together: a script of
//! joins, raw client and link messages, closes, backlog reports and clock
//! steps. The engine must never panic, whatever the bytes.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run engine_input`
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use edgecall_proto::room::{ConnId, LinkKind, Member, Room, RoomConfig};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Step {
    Join { conn: u8, name: String },
    JoinLink { conn: u8, mesh: bool },
    Message { conn: u8, data: Vec<u8> },
    Closed { conn: u8 },
    Backlog { conn: u8, queued: u32 },
    Tick { advance_ms: u16 },
}

#[derive(Debug, Arbitrary)]
struct Script {
    small_room_size: u8,
    top_k: u8,
    last_n: u8,
    steps: Vec<Step>,
}

fuzz_target!(|script: Script| {
    let config = RoomConfig {
        small_room_size: usize::from(script.small_room_size % 8),
        audio_top_k: usize::from(script.top_k % 5),
        video_last_n: usize::from(script.last_n % 10),
        ..RoomConfig::default()
    };
    let Ok(mut room) = Room::new("fuzz", config) else {
        return;
    };
    let mut now = 1_700_000_000_000u64;
    for step in script.steps {
        match step {
            Step::Join { conn, name } => room.join(ConnId(conn.into()), Member::new(name), now),
            Step::JoinLink { conn, mesh } => room.join_link(
                ConnId(conn.into()),
                "peer",
                if mesh { LinkKind::Mesh } else { LinkKind::Tree },
                now,
            ),
            Step::Message { conn, data } => {
                room.message(ConnId(conn.into()), Bytes::from(data), now)
            }
            Step::Closed { conn } => room.closed(ConnId(conn.into()), now),
            Step::Backlog { conn, queued } => room.backlog(ConnId(conn.into()), queued.into(), now),
            Step::Tick { advance_ms } => {
                now += u64::from(advance_ms);
                room.tick(now);
            }
        }
        room.drain_actions().for_each(drop);
    }
});
