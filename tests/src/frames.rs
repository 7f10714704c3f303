//! Media frames for tests.

use bytes::Bytes;
use edgecall_proto::wire::{Codec, MediaFrame, Track};

/// An audio frame at `level` (RFC 6464: 0 loudest, 127 silent).
pub fn audio(seq: u64, level: u32) -> MediaFrame {
    MediaFrame {
        track: Track::Audio as i32,
        layer: 0,
        keyframe: true,
        sequence: seq,
        capture_time_us: now_us(),
        audio_level: level,
        codec: Codec::Opus as i32,
        sealed: false,
        payload: Bytes::from(vec![0xA5; 160]),
        sender: 0,
    }
}

/// A camera keyframe of `len` bytes at layer 0.
pub fn camera(seq: u64, len: usize) -> MediaFrame {
    MediaFrame {
        track: Track::Camera as i32,
        layer: 0,
        keyframe: true,
        sequence: seq,
        capture_time_us: now_us(),
        audio_level: 127,
        codec: Codec::H264 as i32,
        sealed: false,
        payload: Bytes::from(vec![0x5A; len]),
        sender: 0,
    }
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
