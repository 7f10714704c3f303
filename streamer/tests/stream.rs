//! `edgecall-stream stream` with synthetic sources into a real relay (over
//! WebTransport and WebSocket) and the real edge (workerd, WebSocket); a
//! native receiver decodes the H.264 and Opus it gets.

mod support;

use edgecall_proto::e2ee::RoomKey;
use edgecall_stream::{JoinConfig, Session, TransportKind};
use support::{sent_counts, stream_into, Relay};

const SYNTHETIC: &[&str] = &[
    "--video-source",
    "test-pattern",
    "--audio-source",
    "tone",
    "--resolution",
    "320x240",
    "--fps",
    "15",
    "--bitrate-kbps",
    "300",
    "--duration",
    "3",
    "--status-interval",
    "0.5",
];

/// Streams with `args`, receives on `receiver`, checks what was decoded.
async fn stream_and_check(
    receiver: &mut Session,
    args: Vec<String>,
    key: Option<(&RoomKey, &str)>,
) -> support::Decoded {
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .chain(SYNTHETIC.iter().copied())
        .collect();
    let (decoded, output) = stream_into(receiver, &args, key).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "streamer failed: {stderr}");
    assert!(
        stderr.contains("video") && stderr.contains("kbps"),
        "status line: {stderr}"
    );
    let (video_sent, audio_sent) = sent_counts(&stderr);
    assert!(video_sent > 0 && audio_sent > 0, "{stderr}");
    // Video travels reliably: everything sent is decoded (the last frame may
    // be cut off by the close). Audio datagrams may be dropped.
    assert!(
        decoded.video_frames + 1 >= video_sent,
        "decoded {} of {video_sent} video frames",
        decoded.video_frames
    );
    assert!(
        decoded.audio_frames * 10 >= audio_sent * 9,
        "decoded {} of {audio_sent} audio frames",
        decoded.audio_frames
    );
    assert!(
        decoded.sizes.iter().all(|&size| size == (320, 240)),
        "{:?}",
        decoded.sizes
    );
    // The tone is at a tenth of full scale: about 23 dBov.
    assert!(
        decoded.levels.iter().all(|l| (20..=26).contains(l)),
        "{:?}",
        decoded.levels
    );
    decoded
}

fn base_args(url: &str, room: &str, user: &str) -> Vec<String> {
    [
        "stream",
        "--url",
        url,
        "--meeting-id",
        room,
        "--user-id",
        user,
    ]
    .map(String::from)
    .to_vec()
}

#[tokio::test]
async fn stream_into_the_relay_over_webtransport_decodes_on_a_receiver() {
    let relay = Relay::start(&[]);
    let mut receiver =
        Session::connect(&relay.join("pi-wt", "viewer", TransportKind::WebTransport))
            .await
            .expect("receiver joins");
    let mut args = base_args(&relay.url, "pi-wt", "pi");
    args.extend(["--cert-sha256".into(), relay.cert_sha256.clone()]);
    let decoded = stream_and_check(&mut receiver, args, None).await;
    assert_eq!(decoded.sealed, 0);
}

#[tokio::test]
async fn sealed_stream_over_the_relays_websocket_opens_with_the_room_key() {
    let relay = Relay::start(&[]);
    let mut receiver = Session::connect(&relay.join("pi-e2ee", "viewer", TransportKind::WebSocket))
        .await
        .expect("receiver joins");
    let mut args = base_args(&relay.url, "pi-e2ee", "pi");
    args.extend(
        [
            "--transport",
            "websocket",
            "--e2ee-key",
            "s3cret-room-key",
            "--cert-sha256",
        ]
        .map(String::from),
    );
    args.push(relay.cert_sha256.clone());
    let key = RoomKey::derive(b"s3cret-room-key", "pi-e2ee").expect("key");
    let decoded = stream_and_check(&mut receiver, args, Some((&key, "pi"))).await;
    assert_eq!(decoded.sealed, decoded.video_frames + decoded.audio_frames);
}

#[tokio::test]
async fn stream_into_the_edge_over_websocket_decodes_on_a_receiver() {
    let edge = tokio::task::spawn_blocking(|| edgecall_e2e::edge::Edge::start(&[]))
        .await
        .expect("join")
        .expect("the edge starts (cargo xtask test builds it first)");
    let base = edge.http_base();
    let config = JoinConfig::new(&base, "pi-edge", "viewer")
        .expect("url")
        .transport(TransportKind::WebSocket);
    let mut receiver = Session::connect(&config).await.expect("receiver joins");
    stream_and_check(&mut receiver, base_args(&base, "pi-edge", "pi"), None).await;
}
