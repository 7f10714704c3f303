//! Capture devices through the binary. This machine class has no camera and
//! no sound card (see TOOLCHAIN.md), so with the `camera` / `mic` features
//! on, the tests check the failures users hit without a device and capture
//! from ALSA's `null` input (a real cpal stream that delivers silence);
//! without the features, that the binary says how to get them.

mod support;

use support::streamer;

/// `edgecall-stream <args>` must fail with exit status 1 and exactly one
/// `error:` line on stderr that contains every one of `needles`.
fn fails_with(args: &[&str], needles: &[&str]) {
    let output = streamer(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit status; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
    }
}

/// `stream` flags up to the sources: a server that is never reached
/// because opening the device fails first.
const STREAM: [&str; 7] = [
    "stream",
    "--url",
    "https://127.0.0.1:1",
    "--meeting-id",
    "devices",
    "--user-id",
    "pi",
];

fn stream_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    STREAM
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

#[cfg(feature = "camera")]
mod camera {
    use super::*;

    /// The lowest camera index with no V4L2 node: 0 on a machine without
    /// cameras.
    fn absent_index() -> String {
        (0..64)
            .find(|i| !std::path::Path::new(&format!("/dev/video{i}")).exists())
            .expect("a free camera index")
            .to_string()
    }

    #[test]
    fn streaming_from_a_missing_camera_is_one_line() {
        let index = absent_index();
        let args = stream_args(&["--audio-source", "tone", "--video-device-index", &index]);
        fails_with(
            &args,
            &[
                &format!("camera {index} not found"),
                "--list-cameras",
                "--video-source test-pattern",
            ],
        );
    }

    #[test]
    fn listing_the_formats_of_a_missing_camera_is_one_line() {
        let index = absent_index();
        fails_with(
            &["info", "--list-formats", "--video-device-index", &index],
            &[&format!("camera {index} not found")],
        );
    }

    #[test]
    fn listing_cameras_works_without_any() {
        let output = streamer(&["info", "--list-cameras"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{output:?}");
        if !std::path::Path::new("/dev/video0").exists() {
            assert_eq!(stdout.trim(), "no cameras found");
        }
    }
}

#[cfg(not(feature = "camera"))]
#[test]
fn without_the_camera_feature_the_camera_says_how_to_get_one() {
    let args = stream_args(&["--audio-source", "tone"]);
    fails_with(
        &args,
        &["built without camera support", "--features camera"],
    );
}

#[cfg(feature = "mic")]
mod mic {
    use edgecall_stream::{Session, TransportKind};

    use super::*;
    use support::{sent_counts, stream_into, Relay};

    /// Whether ALSA sees no sound card at all.
    fn no_sound_card() -> bool {
        std::fs::read_to_string("/proc/asound/cards")
            .map(|cards| cards.contains("no soundcards"))
            .unwrap_or(true)
    }

    #[test]
    fn an_unknown_audio_device_is_one_line_listing_the_inputs() {
        let args = stream_args(&[
            "--video-source",
            "test-pattern",
            "--audio-device",
            "no-such-mic",
        ]);
        // ALSA always has its `null` input, so the list is never empty.
        fails_with(
            &args,
            &[
                "audio input \"no-such-mic\" not found",
                "null",
                "--audio-source tone",
            ],
        );
    }

    #[test]
    fn no_sound_card_means_the_default_microphone_fails_in_one_line() {
        if !no_sound_card() {
            eprintln!("this machine has a sound card; the default input may work");
            return;
        }
        let args = stream_args(&["--video-source", "test-pattern"]);
        fails_with(&args, &["microphone \"default\"", "--audio-source tone"]);
    }

    #[test]
    fn audio_inputs_are_listed_by_id() {
        let output = streamer(&["info", "--list-audio-devices"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{output:?}");
        assert!(stdout.lines().any(|l| l.starts_with("null: ")), "{stdout}");
        assert!(output.stderr.is_empty(), "alsa-lib noise on stderr");
    }

    /// The whole microphone path for real: cpal opens ALSA's `null` input,
    /// its silence is framed, Opus-encoded and published to a relay, and a
    /// receiver decodes 20 ms frames at level 127.
    #[tokio::test]
    async fn the_null_input_streams_silence_into_the_relay() {
        let relay = Relay::start(&[]);
        let mut receiver =
            Session::connect(&relay.join("mic-null", "viewer", TransportKind::WebTransport))
                .await
                .expect("receiver joins");
        let args = [
            "stream",
            "--url",
            &relay.url,
            "--cert-sha256",
            &relay.cert_sha256,
            "--meeting-id",
            "mic-null",
            "--user-id",
            "pi",
            "--video-source",
            "none",
            "--audio-device",
            "null",
            "--duration",
            "3",
        ];
        let (decoded, output) = stream_into(&mut receiver, &args, None).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "streamer failed: {stderr}");
        let (video_sent, audio_sent) = sent_counts(&stderr);
        assert_eq!(video_sent, 0, "{stderr}");
        // 3 s of 20 ms frames; the device paces itself, so allow slack.
        assert!(audio_sent >= 50, "{stderr}");
        assert!(
            decoded.audio_frames * 10 >= audio_sent * 9,
            "decoded {} of {audio_sent}",
            decoded.audio_frames
        );
        assert!(
            decoded.levels.iter().all(|&l| l == 127),
            "{:?}",
            decoded.levels
        );
    }
}

#[cfg(not(feature = "mic"))]
#[test]
fn without_the_mic_feature_the_microphone_says_how_to_get_one() {
    let args = stream_args(&["--video-source", "test-pattern"]);
    fails_with(
        &args,
        &["built without microphone support", "--features mic"],
    );
}

/// `info` with no flags lists cameras and audio inputs under a heading
/// each; no camera is a line, not a failure (a Pi with none attached).
#[cfg(all(feature = "camera", feature = "mic"))]
#[test]
fn info_alone_lists_cameras_and_audio_inputs() {
    let output = streamer(&["info"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"cameras:"), "{stdout}");
    let audio = lines
        .iter()
        .position(|&l| l == "audio inputs:")
        .unwrap_or_else(|| panic!("no audio heading: {stdout}"));
    if !std::path::Path::new("/dev/video0").exists() {
        assert_eq!(&lines[1..audio], ["  no cameras found"], "{stdout}");
    }
    // ALSA always has its `null` input.
    assert!(
        lines[audio + 1..].iter().any(|l| l.starts_with("  null: ")),
        "{stdout}"
    );
    assert!(output.stderr.is_empty(), "{output:?}");
}

#[cfg(not(feature = "camera"))]
#[test]
fn info_alone_without_the_camera_feature_says_how_to_get_one() {
    fails_with(&["info"], &["built without camera support"]);
}
