//! Every failure users hit most ends with one `error:` line and exit
//! status 1, never a panic.

mod support;

use support::{streamer, Relay};

/// Runs `stream` with `args` plus synthetic sources, expects a one-line
/// error containing `needle`.
fn fails_with(args: &[&str], needle: &str) {
    let mut all = vec!["stream", "--meeting-id", "errors", "--user-id", "pi"];
    all.extend_from_slice(args);
    let output = streamer(&all);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit status; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
}

const SYNTHETIC: [&str; 4] = ["--video-source", "test-pattern", "--audio-source", "tone"];

#[test]
fn unreachable_server_is_one_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut args = vec!["--url", url.as_str()];
    args.extend(SYNTHETIC);
    fails_with(&args, "is the server running and reachable");
}

#[test]
fn bad_cert_hash_is_one_line() {
    let relay = Relay::start(&[]);
    let wrong = "ab".repeat(32);
    let mut args = vec!["--url", relay.url.as_str(), "--cert-sha256", wrong.as_str()];
    args.extend(SYNTHETIC);
    fails_with(&args, "does not match --cert-sha256");
}

#[test]
fn malformed_cert_hash_is_one_line() {
    let mut args = vec!["--url", "https://127.0.0.1:1", "--cert-sha256", "xyz"];
    args.extend(SYNTHETIC);
    fails_with(&args, "--cert-sha256");
}

#[test]
fn bad_token_is_one_line() {
    let relay = Relay::start(&["--token-secret", "s3cret"]);
    let mut args = vec![
        "--url",
        relay.url.as_str(),
        "--cert-sha256",
        relay.cert_sha256.as_str(),
        "--token",
        "not.a.token",
    ];
    args.extend(SYNTHETIC);
    fails_with(&args, "join token was refused");
}

#[test]
fn unsupported_frame_format_is_one_line() {
    let mut args = vec!["--url", "https://127.0.0.1:1", "--frame-format", "RGB3"];
    args.extend(SYNTHETIC);
    fails_with(&args, "--frame-format");
}

#[test]
fn unsupported_resolution_is_one_line() {
    let mut args = vec!["--url", "https://127.0.0.1:1", "--resolution", "641x480"];
    args.extend(SYNTHETIC);
    fails_with(&args, "must be even");
}
