//! Test harness: a real relay process on free loopback ports, the
//! `edgecall-stream` binary, and a receiving client that decodes what it
//! gets with openh264 and libopus.
#![allow(dead_code)]

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use edgecall_e2e::relay::RelayProcess;
use edgecall_proto::e2ee::RoomKey;
use edgecall_proto::wire::{server_message, Track};
use edgecall_stream::{JoinConfig, Session, TransportKind, Trust};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

/// A running relay (the e2e harness's process, stopped on drop).
pub struct Relay(RelayProcess);

impl std::ops::Deref for Relay {
    type Target = RelayProcess;

    fn deref(&self) -> &RelayProcess {
        &self.0
    }
}

impl Relay {
    /// Starts a relay with `extra` flags and waits for its ready line.
    pub fn start(extra: &[&str]) -> Relay {
        Relay(RelayProcess::start(extra).expect("start edgecall-relay"))
    }

    /// A pinned join of `room` as `name`.
    pub fn join(&self, room: &str, name: &str, transport: TransportKind) -> JoinConfig {
        JoinConfig::new(&self.url, room, name)
            .expect("valid URL")
            .transport(transport)
            .trust(Trust::cert_hash_hex(&self.cert_sha256).expect("valid hash"))
    }
}

/// Runs `edgecall-stream` with `args` to completion.
pub fn streamer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgecall-stream"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run edgecall-stream")
}

/// Runs `edgecall-stream` in the background.
pub fn spawn_streamer(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_edgecall-stream"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start edgecall-stream")
}

/// What a receiver decoded.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Decoded video pictures.
    pub video_frames: usize,
    /// Sizes of the decoded pictures.
    pub sizes: Vec<(usize, usize)>,
    /// Decoded 20 ms audio frames.
    pub audio_frames: usize,
    /// Audio levels from the frame headers.
    pub levels: Vec<u32>,
    /// Frames whose payload was sealed.
    pub sealed: usize,
}

/// Receives until the session is idle for `idle` (after at least one frame)
/// and decodes every media frame; opens sealed payloads with `key`.
///
/// Over WebTransport each video frame travels on its own stream, so frames
/// may arrive out of order (the relay and this client read streams
/// concurrently). Like a client's jitter buffer, video is decoded in
/// sequence order once receiving is over; audio is decoded as it comes.
pub async fn receive_and_decode(
    session: &mut Session,
    key: Option<(&RoomKey, &str)>,
    idle: Duration,
    give_up: Duration,
) -> Decoded {
    let mut opus = opus::Decoder::new(48_000, opus::Channels::Mono).expect("opus decoder");
    let mut pcm = vec![0i16; 5760];
    let mut decoded = Decoded::default();
    let mut video: Vec<(u64, Vec<u8>)> = Vec::new();
    let started = tokio::time::Instant::now();
    // Sealed frames are bound to the sender's identity; the test knows the
    // sender by name, so the roster maps one to the other.
    let mut identities: std::collections::HashMap<u32, (String, String)> = session
        .welcome()
        .roster
        .iter()
        .map(|p| (p.id, (p.name.clone(), p.identity.clone())))
        .collect();
    loop {
        let wait = if video.len() + decoded.audio_frames == 0 {
            give_up.saturating_sub(started.elapsed())
        } else {
            idle
        };
        let message = match tokio::time::timeout(wait, session.recv()).await {
            Ok(Ok(message)) => message,
            Ok(Err(_)) | Err(_) => break,
        };
        let frame = match message.msg {
            Some(server_message::Msg::Media(frame)) => frame,
            Some(server_message::Msg::Joined(joined)) => {
                if let Some(p) = joined.participant {
                    identities.insert(p.id, (p.name, p.identity));
                }
                continue;
            }
            _ => continue,
        };
        let payload = if frame.sealed {
            decoded.sealed += 1;
            let (key, sender) = key.expect("a key for sealed frames");
            let (name, identity) = identities
                .get(&frame.sender)
                .expect("sealed frames come from someone in the roster");
            assert_eq!(name, sender, "a sealed frame from someone else");
            key.open(identity, frame.sequence, &frame.payload)
                .expect("the payload opens with the room key")
        } else {
            frame.payload.to_vec()
        };
        if frame.track == Track::Camera as i32 {
            video.push((frame.sequence, payload));
        } else if frame.track == Track::Audio as i32 {
            let samples = opus.decode(&payload, &mut pcm, false).expect("valid Opus");
            assert_eq!(samples, 960, "20 ms at 48 kHz");
            decoded.audio_frames += 1;
            decoded.levels.push(frame.audio_level);
        }
    }
    video.sort_by_key(|(sequence, _)| *sequence);
    let sequences: Vec<u64> = video.iter().map(|(sequence, _)| *sequence).collect();
    let mut decoder = Decoder::new().expect("openh264 decoder");
    for (sequence, payload) in &video {
        match decoder.decode(payload) {
            Ok(Some(picture)) => {
                decoded.video_frames += 1;
                decoded.sizes.push(picture.dimensions());
            }
            Ok(None) => {}
            Err(err) => {
                panic!("video frame {sequence} does not decode ({err}); received {sequences:?}")
            }
        }
    }
    decoded
}

/// Runs `edgecall-stream <args>` while `receiver` receives and decodes
/// (see [`receive_and_decode`]); returns what was decoded and the
/// streamer's output once it has exited.
pub async fn stream_into(
    receiver: &mut Session,
    args: &[&str],
    key: Option<(&RoomKey, &str)>,
) -> (Decoded, Output) {
    let child = spawn_streamer(args);
    let decoded = receive_and_decode(
        receiver,
        key,
        Duration::from_secs(3),
        Duration::from_secs(60),
    )
    .await;
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("streamer output");
    (decoded, output)
}

/// The counts the streamer printed in its last line:
/// `done: V video frames, A audio frames, …`.
pub fn sent_counts(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("done:"))
        .unwrap_or_else(|| panic!("no summary in {stderr:?}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}
