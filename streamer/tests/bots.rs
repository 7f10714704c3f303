//! `edgecall-stream bots` against a real relay: every bot joins and every
//! receiver measures the publishers' media.

mod support;

use support::{streamer, Relay};

#[test]
fn bots_join_and_report_what_each_receiver_got_as_json() {
    let relay = Relay::start(&[]);
    let output = streamer(&[
        "bots",
        "--url",
        &relay.url,
        "--cert-sha256",
        &relay.cert_sha256,
        "--meeting-id",
        "load",
        "--count",
        "4",
        "--publishers",
        "2",
        "--ramp-up",
        "0.5",
        "--duration",
        "2",
        "--resolution",
        "160x120",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("a JSON summary on stdout");
    assert_eq!(report["participants"], 4);
    assert_eq!(report["joined"], 4);
    assert_eq!(report["publishers"], 2);
    let receivers = report["receivers"].as_array().expect("receivers");
    assert_eq!(receivers.len(), 4);
    for receiver in receivers {
        assert!(
            receiver["video_frames"].as_u64().unwrap_or(0) > 0,
            "{receiver}"
        );
        assert!(
            receiver["audio_frames"].as_u64().unwrap_or(0) > 0,
            "{receiver}"
        );
        assert!(receiver["latency_p99_ms"].as_f64().unwrap_or(-1.0) >= 0.0);
    }
}
