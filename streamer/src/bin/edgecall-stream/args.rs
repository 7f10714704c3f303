//! Command-line flags (clap). Flag names follow the original project's
//! `videocall-cli stream` so its users feel at home.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Streams a camera or test pattern into an edgecall meeting, lists capture
/// devices, or runs synthetic load bots.
#[derive(Debug, Parser)]
#[command(name = "edgecall-stream", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Join a meeting and publish video (H.264) and audio (Opus) until Ctrl-C.
    Stream(StreamArgs),
    /// List cameras, their formats, and audio input devices (no flags: cameras and audio inputs).
    Info(InfoArgs),
    /// Run N synthetic participants in one room and measure what they receive.
    Bots(BotsArgs),
}

/// Where video comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VideoSourceKind {
    /// The camera chosen by --video-device-index (needs the `camera` build feature).
    Camera,
    /// Moving colour bars with a frame counter (no device needed).
    TestPattern,
    /// Publish no video.
    None,
}

/// Where audio comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AudioSourceKind {
    /// The microphone chosen by --audio-device (needs the `mic` build feature).
    Mic,
    /// A 440 Hz tone (no device needed).
    Tone,
    /// Publish no audio.
    None,
}

/// Which transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportChoice {
    /// `https://` → WebTransport; `http://`, `ws://`, `wss://` → WebSocket.
    Auto,
    /// QUIC WebTransport (the native relay).
    Webtransport,
    /// WebSocket (the edge, or the relay's WebSocket listener).
    Websocket,
}

/// Server and identity flags shared by `stream` and `bots`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Server base URL: a relay `https://host:4443` (WebTransport) or the edge
    /// `https://…` / `http://127.0.0.1:8787` (WebSocket; see --transport).
    #[arg(long, env = "EDGECALL_URL", required_unless_present = "directory")]
    pub url: Option<String>,
    /// Instead of --url: a relay directory (`edgecall-directory`) to ask
    /// which relay serves the meeting, asked again at every reconnect (a
    /// drained or dead relay leaves its answers).
    #[arg(long, env = "EDGECALL_DIRECTORY", conflicts_with_all = ["url", "cert_sha256"])]
    pub directory: Option<String>,
    /// The meeting (room) id to join: 1–64 letters, digits, `-` or `_`.
    #[arg(long)]
    pub meeting_id: String,
    /// A join token (JWT) if the server requires one.
    #[arg(long, env = "EDGECALL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Pin the server certificate by its SHA-256 (64 hex digits), for a relay
    /// with a self-signed certificate (see its /cert-hash endpoint).
    #[arg(long)]
    pub cert_sha256: Option<String>,
    /// Transport; `auto` picks from the URL scheme.
    #[arg(long, value_enum, default_value_t = TransportChoice::Auto)]
    pub transport: TransportChoice,
}

/// `stream` flags.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Your participant name in the meeting (also the E2EE sender name).
    #[arg(long)]
    pub user_id: String,
    /// Video source.
    #[arg(long, value_enum, default_value_t = VideoSourceKind::Camera)]
    pub video_source: VideoSourceKind,
    /// Camera index, as listed by `edgecall-stream info --list-cameras`.
    #[arg(long, default_value_t = 0)]
    pub video_device_index: u32,
    /// Capture and encode resolution, WIDTHxHEIGHT (even numbers).
    #[arg(long, default_value = "1280x720")]
    pub resolution: String,
    /// Frames per second to capture and encode.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Camera pixel format to ask for: NV12, YUYV or MJPEG (converted to I420).
    #[arg(long, default_value = "NV12")]
    pub frame_format: String,
    /// Target H.264 bitrate of the full-size layer, kbit/s.
    #[arg(long, default_value_t = 500)]
    pub bitrate_kbps: u32,
    /// Also publish a half-size layer (two simulcast layers) so receivers with
    /// little bandwidth get a smaller picture.
    #[arg(long)]
    pub simulcast: bool,
    /// Seconds between periodic keyframes (keyframes also come on request).
    #[arg(long, default_value_t = 3)]
    pub keyframe_interval: u32,
    /// Audio source.
    #[arg(long, value_enum, default_value_t = AudioSourceKind::Mic)]
    pub audio_source: AudioSourceKind,
    /// Audio input device name (see `info --list-audio-devices`); default device if unset.
    #[arg(long)]
    pub audio_device: Option<String>,
    /// End-to-end encryption secret (the `#key=…` part of the meeting link):
    /// payloads are sealed so the server cannot read them.
    #[arg(long, env = "EDGECALL_E2EE_KEY", hide_env_values = true)]
    pub e2ee_key: Option<String>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds between status lines on stderr (0 turns them off).
    #[arg(long, default_value_t = 1.0)]
    pub status_interval: f64,
}

/// `info` flags; none means `--list-cameras --list-audio-devices`.
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// List cameras with their index.
    #[arg(long)]
    pub list_cameras: bool,
    /// List the formats and resolutions of the camera at --video-device-index.
    #[arg(long)]
    pub list_formats: bool,
    /// Camera for --list-formats.
    #[arg(long, default_value_t = 0)]
    pub video_device_index: u32,
    /// List audio input devices.
    #[arg(long)]
    pub list_audio_devices: bool,
}

/// `bots` flags.
#[derive(Debug, Clone, Args)]
pub struct BotsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Number of participants.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub count: usize,
    /// How many of them publish media (the rest only receive); at most the
    /// room's last-N so every receiver gets every publisher.
    #[arg(long, default_value_t = 3)]
    pub publishers: usize,
    /// Seconds over which participants join, evenly spread.
    #[arg(long, default_value_t = 5.0)]
    pub ramp_up: f64,
    /// Seconds of measurement after the last participant joined.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Resolution of the bots' pre-encoded test pattern.
    #[arg(long, default_value = "320x240")]
    pub resolution: String,
    /// Frames per second each publisher sends.
    #[arg(long, default_value_t = 15)]
    pub fps: u32,
    /// Bitrate of the pre-encoded video, kbit/s.
    #[arg(long, default_value_t = 300)]
    pub bitrate_kbps: u32,
    /// Name prefix; participant i is `<prefix>-<i>`.
    #[arg(long, default_value = "bot")]
    pub name_prefix: String,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON summary to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// Parses `WIDTHxHEIGHT`.
pub fn parse_resolution(text: &str) -> anyhow::Result<(usize, usize)> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow::anyhow!("resolution {text:?}: use WIDTHxHEIGHT, e.g. 1280x720"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| anyhow::anyhow!("resolution {text:?}: use WIDTHxHEIGHT, e.g. 1280x720"))
    };
    Ok((parse(w)?, parse(h)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_flag_has_help_text() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some() || arg.get_id() == "help",
                    "{} --{} has no help",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
        cli.debug_assert();
    }

    #[test]
    fn resolutions_parse() {
        assert_eq!(parse_resolution("1280x720").unwrap(), (1280, 720));
        assert!(parse_resolution("1280").is_err());
        assert!(parse_resolution("axb").is_err());
    }
}
