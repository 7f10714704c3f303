//! `edgecall-stream stream` survives its server: the relay it publishes to
//! is killed mid-stream (SIGKILL, as a crash) and started again on the same
//! address with the same certificate. The streamer says it lost the
//! connection, joins again by itself, and a receiver decodes its video
//! again from a keyframe. A streamer sent by a relay directory moves to
//! another relay when its own drains.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use edgecall_e2e::relay::{DirectoryProcess, RelayProcess};
use edgecall_e2e::TempDir;
use edgecall_proto::wire::{server_message, Track};
use edgecall_stream::{JoinConfig, RelayDirectory, Session, TransportKind, Trust};
use openh264::decoder::Decoder;
use support::spawn_streamer;

/// How long the test waits for anything before failing (a hang guard, not
/// a speed claim: the recovery time is printed).
const GIVE_UP: Duration = Duration::from_secs(60);
/// Video pictures to decode before and after the restart.
const PICTURES: usize = 10;

/// The streamer process, killed when the test ends however it ends.
struct Streamer(std::process::Child);

impl Streamer {
    /// Stops it and returns what it wrote to stderr.
    fn finish(mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut stderr = String::new();
        self.0
            .stderr
            .take()
            .expect("piped stderr")
            .read_to_string(&mut stderr)
            .expect("streamer output");
        stderr
    }
}

impl Drop for Streamer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A certificate both relay processes serve, so the pinned hash holds.
struct Certificate {
    dir: std::path::PathBuf,
}

impl Certificate {
    fn generate() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "edgecall-reconnect-{}-{}",
            std::process::id(),
            edgecall_e2e::frames::now_us()
        ));
        std::fs::create_dir_all(&dir).expect("certificate dir");
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .expect("self-signed certificate");
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).expect("cert.pem");
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem())
            .expect("key.pem");
        Self { dir }
    }

    fn flags(&self) -> [String; 4] {
        [
            "--cert".into(),
            self.dir.join("cert.pem").display().to_string(),
            "--key".into(),
            self.dir.join("key.pem").display().to_string(),
        ]
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_relay(listen: &str, cert: &Certificate) -> RelayProcess {
    let flags = cert.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    RelayProcess::start_at(listen, &flags).expect("start edgecall-relay")
}

/// Joins as a receiver, retrying while the relay comes back up.
async fn join_receiver(relay: &RelayProcess, room: &str) -> Session {
    let config = JoinConfig::new(&relay.url, room, "viewer")
        .expect("valid URL")
        .transport(TransportKind::WebTransport)
        .trust(Trust::cert_hash_hex(&relay.cert_sha256).expect("valid hash"));
    let started = Instant::now();
    loop {
        match Session::connect(&config).await {
            Ok(session) => return session,
            Err(err) if started.elapsed() < GIVE_UP => {
                eprintln!("receiver join failed ({err}); retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("the receiver cannot join: {err}"),
        }
    }
}

/// Receives until `PICTURES` video pictures from the participant named
/// `sender` decode, starting at its first keyframe; returns when the first
/// of them arrived.
async fn decode_pictures_from(session: &mut Session, sender: &str) -> Instant {
    let mut names: std::collections::HashMap<u32, String> = session
        .welcome()
        .roster
        .iter()
        .map(|p| (p.id, p.name.clone()))
        .collect();
    let mut decoder = Decoder::new().expect("openh264 decoder");
    let mut decoded = 0;
    let mut first = None;
    let mut keyframe_seen = false;
    let started = Instant::now();
    while decoded < PICTURES {
        let wait = GIVE_UP.saturating_sub(started.elapsed());
        let message = tokio::time::timeout(wait, session.recv())
            .await
            .unwrap_or_else(|_| panic!("{decoded} pictures from {sender} within {GIVE_UP:?}"))
            .expect("the receiver's session stays up");
        let frame = match message.msg {
            Some(server_message::Msg::Media(frame)) => frame,
            Some(server_message::Msg::Joined(joined)) => {
                if let Some(p) = joined.participant {
                    names.insert(p.id, p.name);
                }
                continue;
            }
            _ => continue,
        };
        let from_sender = names.get(&frame.sender).is_some_and(|name| name == sender);
        if !from_sender || frame.track != Track::Camera as i32 {
            continue;
        }
        // A receiver joining mid-stream starts at a keyframe.
        keyframe_seen |= frame.keyframe;
        if !keyframe_seen {
            continue;
        }
        if let Ok(Some(_)) = decoder.decode(&frame.payload) {
            first.get_or_insert_with(Instant::now);
            decoded += 1;
        }
    }
    first.expect("at least one picture")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamer_joins_a_restarted_relay_again_and_its_video_decodes() {
    let cert = Certificate::generate();
    let mut relay = start_relay("127.0.0.1:0", &cert);
    let listen = relay.listen_addr().to_owned();
    let room = format!("reconnect-{}", edgecall_e2e::frames::now_us() % 1_000_000);
    let streamer = Streamer(spawn_streamer(&[
        "stream",
        "--url",
        &relay.url,
        "--meeting-id",
        &room,
        "--user-id",
        "pi",
        "--cert-sha256",
        &relay.cert_sha256.clone(),
        "--video-source",
        "test-pattern",
        "--audio-source",
        "tone",
        "--resolution",
        "320x240",
        "--fps",
        "15",
        "--keyframe-interval",
        "30",
        "--status-interval",
        "1",
    ]));

    let mut receiver = join_receiver(&relay, &room).await;
    decode_pictures_from(&mut receiver, "pi").await;
    drop(receiver);

    relay.kill();
    let killed = Instant::now();
    let relay = start_relay(&listen, &cert);
    let restarted = Instant::now();
    let mut receiver = join_receiver(&relay, &room).await;
    // The keyframe interval (30 s) is longer than the test: the keyframe the
    // receiver starts from is the one the streamer encodes on reconnecting
    // (or the server asks for on the receiver's behalf).
    let first = decode_pictures_from(&mut receiver, "pi").await;
    eprintln!(
        "video decoded again {:.1} s after the kill ({:.1} s after the restart)",
        (first - killed).as_secs_f64(),
        (first - restarted).as_secs_f64()
    );

    let stderr = streamer.finish();
    assert!(
        stderr.contains("connection lost") && stderr.contains("reconnecting (attempt"),
        "the streamer says it lost the relay: {stderr}"
    );
    assert!(
        stderr.contains("reconnected as participant"),
        "the streamer says it is back: {stderr}"
    );
}

/// A relay publishing itself as `id` into `registry`.
fn start_published_relay(registry: &TempDir, id: &str) -> RelayProcess {
    RelayProcess::start_published(registry.path(), id, None, &[]).expect("start edgecall-relay")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamer_sent_by_a_directory_moves_to_another_relay_when_its_relay_drains() {
    let registry = TempDir::new("edgecall-registry").expect("a registry folder");
    let mut relays = vec![
        start_published_relay(&registry, "relay-a"),
        start_published_relay(&registry, "relay-b"),
    ];
    let directory =
        DirectoryProcess::start(registry.path(), None).expect("start edgecall-directory");
    let room = format!("drain-{}", edgecall_e2e::frames::now_us() % 1_000_000);
    // Which relay the directory sends the room to while both are up.
    let lookup = RelayDirectory::new(&directory.url, &room, None).expect("directory URL");
    let started = Instant::now();
    let first_id = loop {
        match lookup.lookup().await {
            Ok(answer) => break answer.relay_id,
            Err(err) if started.elapsed() < GIVE_UP => {
                eprintln!("no answer yet ({err})");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("the directory never answered: {err}"),
        }
    };
    let first = usize::from(first_id == "relay-b");
    let streamer = Streamer(spawn_streamer(&[
        "stream",
        "--directory",
        &directory.url,
        "--meeting-id",
        &room,
        "--user-id",
        "pi",
        "--video-source",
        "test-pattern",
        "--audio-source",
        "tone",
        "--resolution",
        "320x240",
        "--fps",
        "15",
        "--keyframe-interval",
        "30",
        "--status-interval",
        "1",
    ]));
    let mut receiver = join_receiver(&relays[first], &room).await;
    decode_pictures_from(&mut receiver, "pi").await;
    drop(receiver);

    // A graceful shutdown: the relay closes its sessions with 4013 and
    // leaves the directory's answers.
    let drained = relays.remove(first);
    drained.terminate().expect("SIGTERM the relay");
    let terminated = Instant::now();
    let other = &relays[0];
    let mut receiver = join_receiver(other, &room).await;
    let decoded = decode_pictures_from(&mut receiver, "pi").await;
    eprintln!(
        "video decoded on the other relay {:.1} s after the drain began",
        (decoded - terminated).as_secs_f64()
    );
    let mut drained = drained;
    drained.wait_exit(GIVE_UP).expect("the drained relay exits");

    let stderr = streamer.finish();
    assert!(
        stderr.contains("4013") || stderr.contains("draining"),
        "the streamer says its relay drained: {stderr}"
    );
    assert!(
        stderr.contains("reconnected as participant"),
        "the streamer says it is back: {stderr}"
    );
}
