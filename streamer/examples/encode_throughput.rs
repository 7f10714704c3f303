//! Encode throughput and CPU of the test pattern through openh264:
//! `cargo run --release -p edgecall-stream --example encode_throughput -- 1280x720 300 500`
//! (resolution, frames, kbit/s). Frames are drawn and encoded as fast as
//! possible; CPU time comes from `/proc/self/stat` (Linux).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use edgecall_stream::media::h264::{VideoEncoder, VideoSettings};
use edgecall_stream::media::TestPattern;

/// User + system CPU time of this process (Linux clock ticks of 10 ms).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let resolution = args.first().map_or("640x480", String::as_str);
    let frames: u64 = args
        .get(1)
        .map_or(Ok(300), |v| v.parse())
        .context("frames")?;
    let kbps: u32 = args
        .get(2)
        .map_or(Ok(500), |v| v.parse())
        .context("kbit/s")?;
    let (w, h) = resolution
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .context("resolution WIDTHxHEIGHT")?;
    let pattern = TestPattern::new(w, h, 30)?;
    let mut encoder = VideoEncoder::new(VideoSettings {
        width: w,
        height: h,
        fps: 30,
        bitrate_kbps: kbps,
        simulcast: false,
        keyframe_interval: Duration::from_secs(3),
    })?;
    let pictures: Vec<_> = (0..frames).map(|i| pattern.draw(i)).collect();
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let mut bytes = 0usize;
    for picture in &pictures {
        bytes += encoder
            .encode(picture)?
            .iter()
            .map(|p| p.data.len())
            .sum::<usize>();
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => f64::NAN,
    };
    let fps = frames as f64 / wall;
    println!(
        "{resolution} {kbps} kbps: {frames} frames in {wall:.2} s = {fps:.0} fps ({:.1}x real time at 30 fps); \
         CPU {cpu:.2} s = {:.1} ms/frame, {:.0}% of one core at 30 fps; output {:.0} kbit/s at 30 fps",
        fps / 30.0,
        cpu * 1e3 / frames as f64,
        cpu / frames as f64 * 30.0 * 100.0,
        bytes as f64 * 8.0 / (frames as f64 / 30.0) / 1e3,
    );
    Ok(())
}
