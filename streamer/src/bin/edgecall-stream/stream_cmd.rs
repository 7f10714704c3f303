//! `stream`: join, publish until Ctrl-C (or --duration), print status.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use edgecall_proto::e2ee::RoomKey;
use edgecall_stream::media::h264::VideoSettings;
use edgecall_stream::media::{devices, AudioSource, FrameSource, PixelFormat, TestPattern, Tone};
use edgecall_stream::publish::{publish, Progress, PublishOptions, Sealer};
use edgecall_stream::Session;

use crate::args::{parse_resolution, AudioSourceKind, StreamArgs, VideoSourceKind};
use crate::join::join_target;

/// Runs `stream`.
pub async fn run(args: StreamArgs) -> Result<()> {
    let (width, height) = parse_resolution(&args.resolution)?;
    let format: PixelFormat = args
        .frame_format
        .parse()
        .with_context(|| format!("--frame-format {:?}", args.frame_format))?;
    if args.fps == 0 || args.fps > 120 {
        bail!("--fps {}: use 1 to 120", args.fps);
    }
    if args.bitrate_kbps < 50 {
        bail!("--bitrate-kbps {}: use at least 50", args.bitrate_kbps);
    }
    let target = join_target(&args.server, &args.user_id)?;

    // Open devices before connecting, so a missing camera fails fast.
    let video: Option<Box<dyn FrameSource>> = match args.video_source {
        VideoSourceKind::TestPattern => Some(Box::new(TestPattern::new(width, height, args.fps)?)),
        VideoSourceKind::Camera => Some(devices::open_camera(
            args.video_device_index,
            format,
            width,
            height,
            args.fps,
        )?),
        VideoSourceKind::None => None,
    };
    let audio: Option<Box<dyn AudioSource>> = match args.audio_source {
        AudioSourceKind::Tone => Some(Box::new(Tone::new(440.0, 0.1))),
        AudioSourceKind::Mic => Some(devices::open_microphone(args.audio_device.as_deref())?),
        AudioSourceKind::None => None,
    };
    if video.is_none() && audio.is_none() {
        bail!("nothing to publish: --video-source none and --audio-source none");
    }
    let (width, height) = video.as_ref().map_or((width, height), |v| v.dimensions());

    let key = match &args.e2ee_key {
        Some(secret) => Some(
            RoomKey::derive(secret.as_bytes(), &args.server.meeting_id).context("--e2ee-key")?,
        ),
        None => None,
    };
    let config = target.resolve().await.context("finding the server")?;
    let mut session = Session::connect(&config)
        .await
        .with_context(|| format!("joining {:?}", args.server.meeting_id))?;
    // Sealed frames are bound to the identity the server gave us.
    let sealer = key.map(|key| Sealer::new(key, session.welcome().identity.clone()));
    eprintln!(
        "joined {:?} as {:?} (participant {}, {:?}); publishing {}{}",
        args.server.meeting_id,
        args.user_id,
        session.participant_id(),
        session.transport(),
        if video.is_some() {
            format!(
                "{width}x{height}@{} H.264 {} kbps",
                args.fps, args.bitrate_kbps
            )
        } else {
            "no video".into()
        },
        if audio.is_some() { " + Opus" } else { "" },
    );

    let options = PublishOptions {
        video: video.as_ref().map(|_| VideoSettings {
            width,
            height,
            fps: args.fps,
            bitrate_kbps: args.bitrate_kbps,
            simulcast: args.simulcast,
            keyframe_interval: Duration::from_secs(u64::from(args.keyframe_interval.max(1))),
        }),
        sealer,
        status_every: Duration::from_secs_f64(args.status_interval.max(0.1)),
        // A restarted or draining server, or a dropped network: join again.
        // (A directory is asked again each time.)
        reconnect: Some(target),
    };
    let duration = args.duration.map(Duration::from_secs_f64);
    let stop = async move {
        match duration {
            Some(limit) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = tokio::time::sleep(limit) => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let tty = std::io::stderr().is_terminal();
    let show = args.status_interval > 0.0;
    let stats = publish(
        &mut session,
        video,
        audio,
        options,
        stop,
        |progress| match progress {
            Progress::Status(status) if show && tty => eprint!("\r{status}   "),
            Progress::Status(status) if show => eprintln!("{status}"),
            Progress::Status(_) => {}
            Progress::Reconnecting {
                reason,
                attempt,
                delay,
            } => {
                if tty {
                    eprintln!();
                }
                if attempt == 1 {
                    eprintln!("connection lost ({reason}); reconnecting (attempt 1)");
                } else {
                    eprintln!(
                        "reconnecting (attempt {attempt}) in {:.1} s: {reason}",
                        delay.as_secs_f64()
                    );
                }
            }
            Progress::Reconnected {
                participant,
                outage,
            } => eprintln!(
                "reconnected as participant {participant} after {:.1} s; streaming again",
                outage.as_secs_f64()
            ),
        },
    )
    .await
    .context("streaming")?;
    session.close();
    if show && tty {
        eprintln!();
    }
    eprintln!(
        "done: {} video frames, {} audio frames, {:.1} MB sent, {} dropped, {} reconnects",
        stats.video_frames,
        stats.audio_frames,
        stats.bytes as f64 / 1e6,
        stats.dropped,
        stats.reconnects
    );
    Ok(())
}
