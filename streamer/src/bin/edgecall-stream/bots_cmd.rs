//! `bots`: run load bots and print their summary.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use edgecall_stream::bots::{self, BotsConfig};
use edgecall_stream::media::h264::VideoSettings;

use crate::args::{parse_resolution, BotsArgs};
use crate::join::join_target;

/// Runs `bots`.
pub async fn run(args: BotsArgs) -> Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if args.fps == 0 || args.fps > 60 {
        bail!("--fps {}: use 1 to 60", args.fps);
    }
    let (width, height) = parse_resolution(&args.resolution)?;
    // Every bot joins the one server (or the relay the directory names now).
    let join = join_target(&args.server, &args.name_prefix)?
        .resolve()
        .await
        .context("finding the server")?;
    eprintln!(
        "{} bots ({} publishing {width}x{height}@{} fps) joining {:?} over {:.1} s, then measuring for {:.1} s",
        args.count, args.publishers.min(args.count), args.fps, args.server.meeting_id, args.ramp_up, args.duration
    );
    let report = bots::run(BotsConfig {
        join,
        count: args.count,
        publishers: args.publishers,
        ramp_up: Duration::from_secs_f64(args.ramp_up.max(0.0)),
        duration: Duration::from_secs_f64(args.duration.max(0.1)),
        video: VideoSettings {
            width,
            height,
            fps: args.fps,
            bitrate_kbps: args.bitrate_kbps,
            simulcast: false,
            keyframe_interval: Duration::from_secs(2),
        },
        name_prefix: args.name_prefix.clone(),
    })
    .await
    .context("preparing the bots' media")?;
    let json = serde_json::to_string_pretty(&report).context("encoding the summary")?;
    if let Some(path) = &args.json_out {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        println!("{report}");
    }
    if report.joined == 0 {
        bail!("no bot could join; see the errors above");
    }
    Ok(())
}
