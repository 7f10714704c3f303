//! Load bots: N synthetic participants in one room that publish
//! pre-encoded media and measure what they receive.
//!
//! Publishing: the first `publishers` bots replay a clip encoded once at
//! start-up (a two-second test-pattern loop that starts with a keyframe, and
//! one second of Opus tone), stamping each frame with the time it is sent as
//! its capture time. Publisher `i` sends audio level `30 + i`, so the
//! room's loudest-speaker ranking is stable and the set of forwarded
//! publishers does not churn (which would look like loss).
//!
//! Measuring: every bot counts the media frames it receives during the
//! measurement window (after the ramp-up), sequence gaps per sender track
//! and layer (loss), and the latency `arrival − capture time` (all bots run
//! on one machine, so their clocks agree).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgecall_proto::wire::{server_message, Codec, MediaFrame, Track};
use serde::Serialize;
use tokio::time::MissedTickBehavior;

use crate::media::audio::{OpusEncoder, Tone, FRAME_DURATION};
use crate::media::h264::{VideoEncoder, VideoSettings};
use crate::media::source::TestPattern;
use crate::media::{AudioSource, MediaError};
use crate::publish::now_us;
use crate::{sent_unless_withheld, JoinConfig, Session};

/// How often each bot pings (keeps it inside the heartbeat timeout).
const PING_EVERY: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone)]
pub struct BotsConfig {
    /// Server and room; the name is replaced per bot.
    pub join: JoinConfig,
    /// Participants.
    pub count: usize,
    /// How many of them publish (the first ones).
    pub publishers: usize,
    /// Joins are spread evenly over this time.
    pub ramp_up: Duration,
    /// Measurement time after the ramp-up.
    pub duration: Duration,
    /// Video of the publishers.
    pub video: VideoSettings,
    /// Bot `i` is named `<prefix>-<i>`.
    pub name_prefix: String,
}

/// Pre-encoded media the publishers replay.
struct Clip {
    video: Vec<(bool, Bytes)>,
    audio: Vec<Bytes>,
}

fn encode_clip(video: &VideoSettings) -> Result<Clip, MediaError> {
    let frames = u64::from(video.fps) * 2;
    let mut settings = video.clone();
    settings.simulcast = false;
    settings.keyframe_interval = Duration::from_secs(3600);
    let mut encoder = VideoEncoder::new(settings)?;
    let pattern = TestPattern::new(video.width, video.height, video.fps)?;
    let mut clip = Clip {
        video: Vec::new(),
        audio: Vec::new(),
    };
    for index in 0..frames {
        for picture in encoder.encode(&pattern.draw(index))? {
            clip.video
                .push((picture.keyframe, Bytes::from(picture.data)));
        }
    }
    let mut opus = OpusEncoder::new()?;
    let mut tone = Tone::new(440.0, 0.1).unpaced();
    for _ in 0..50 {
        clip.audio
            .push(Bytes::from(opus.encode(&tone.next_frame()?)?));
    }
    Ok(clip)
}

/// What one bot measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReceiverReport {
    /// The bot's name.
    pub name: String,
    /// Whether it joined.
    pub joined: bool,
    /// Whether it published.
    pub publisher: bool,
    /// Why it failed to join or dropped out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Video frames received in the window.
    pub video_frames: u64,
    /// Audio frames received in the window.
    pub audio_frames: u64,
    /// Video frames per second received (all senders together).
    pub video_fps: f64,
    /// Frames missing from sequence gaps.
    pub lost: u64,
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// Highest latency of any frame, ms.
    pub latency_max_ms: f64,
    /// Longest time between two video frames arriving in the window, ms:
    /// a stall anywhere on the path shows here even when it is too short
    /// or too rare to move the percentiles.
    pub longest_video_gap_ms: f64,
    #[serde(skip)]
    latencies_us: Vec<u64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct BotsReport {
    /// Participants started.
    pub participants: usize,
    /// Participants that joined.
    pub joined: usize,
    /// Publishing participants.
    pub publishers: usize,
    /// Measurement window, seconds.
    pub window_s: f64,
    /// Video frames/s a receiver that does not publish should get
    /// (publishers × fps).
    pub expected_video_fps: f64,
    /// Received over expected video frames, percent (a publisher expects
    /// every other publisher's video).
    pub video_delivered_percent: f64,
    /// Mean received video frames/s per receiver.
    pub mean_video_fps: f64,
    /// Lowest received video frames/s of any joined receiver.
    pub min_video_fps: f64,
    /// Lost frames over lost + received, percent.
    pub loss_percent: f64,
    /// Median latency over all received frames, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile latency over all received frames, ms.
    pub latency_p99_ms: f64,
    /// Highest latency of any received frame, ms.
    pub latency_max_ms: f64,
    /// Longest video gap any receiver saw, ms (see
    /// [`ReceiverReport::longest_video_gap_ms`]).
    pub longest_video_gap_ms: f64,
    /// Per-bot numbers.
    pub receivers: Vec<ReceiverReport>,
}

impl std::fmt::Display for BotsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "participants {} (joined {}), publishers {}, window {:.1} s",
            self.participants, self.joined, self.publishers, self.window_s
        )?;
        writeln!(
            f,
            "video per receiver: mean {:.1} fps, min {:.1} fps (non-publishers expect {:.1}); delivered {:.1} %",
            self.mean_video_fps, self.min_video_fps, self.expected_video_fps, self.video_delivered_percent
        )?;
        write!(
            f,
            "loss {:.2} %, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; longest video gap {:.1} ms",
            self.loss_percent,
            self.latency_p50_ms,
            self.latency_p99_ms,
            self.latency_max_ms,
            self.longest_video_gap_ms
        )?;
        for failed in self.receivers.iter().filter(|r| r.error.is_some()) {
            write!(
                f,
                "\n{}: {}",
                failed.name,
                failed.error.as_deref().unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

/// The value at `quantile` (0..=1) of sorted `values`, in ms.
fn percentile_ms(sorted_us: &[u64], quantile: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() - 1) as f64 * quantile).round() as usize;
    sorted_us[rank.min(sorted_us.len() - 1)] as f64 / 1e3
}

#[derive(Default)]
struct Measure {
    last_sequence: HashMap<(u32, i32, u32), u64>,
    last_video_us: Option<u64>,
    report: ReceiverReport,
}

impl Measure {
    /// Counts `frame`, which arrived at `now` (µs since the epoch).
    fn record(&mut self, frame: &MediaFrame, in_window: bool, now: u64) {
        let key = (frame.sender, frame.track, frame.layer);
        let gap = match self.last_sequence.insert(key, frame.sequence) {
            Some(last) if frame.sequence > last => frame.sequence - last - 1,
            _ => 0,
        };
        if !in_window {
            return;
        }
        self.report.lost += gap;
        if frame.track == Track::Audio as i32 {
            self.report.audio_frames += 1;
        } else {
            self.report.video_frames += 1;
            if let Some(last) = self.last_video_us.replace(now) {
                let gap_ms = now.saturating_sub(last) as f64 / 1e3;
                self.report.longest_video_gap_ms = self.report.longest_video_gap_ms.max(gap_ms);
            }
        }
        self.report
            .latencies_us
            .push(now.saturating_sub(frame.capture_time_us));
    }
}

struct Plan {
    index: usize,
    start: Instant,
    window: (Instant, Instant),
    publish: bool,
    fps: u32,
}

async fn run_bot(join: JoinConfig, plan: Plan, clip: Arc<Clip>) -> ReceiverReport {
    let mut measure = Measure::default();
    measure.report.name = join.name.clone();
    measure.report.publisher = plan.publish;
    tokio::time::sleep_until(plan.start.into()).await;
    let mut session = match Session::connect(&join).await {
        Ok(session) => session,
        Err(err) => {
            measure.report.error = Some(format!("join failed: {err}"));
            return measure.report;
        }
    };
    measure.report.joined = true;
    let mut video_timer = tokio::time::interval(Duration::from_secs(1) / plan.fps.max(1));
    video_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut audio_timer = tokio::time::interval(FRAME_DURATION);
    audio_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ping_timer = tokio::time::interval(PING_EVERY);
    let (mut video_seq, mut audio_seq) = (0u64, 0u64);
    let level = (30 + plan.index).min(126) as u32;
    let end = tokio::time::sleep_until(plan.window.1.into());
    tokio::pin!(end);
    let result: Result<(), crate::ClientError> = async {
        loop {
            tokio::select! {
                () = &mut end => return Ok(()),
                _ = video_timer.tick(), if plan.publish && !clip.video.is_empty() => {
                    let (keyframe, payload) = &clip.video[video_seq as usize % clip.video.len()];
                    sent_unless_withheld(session.send_media(MediaFrame {
                        track: Track::Camera as i32,
                        keyframe: *keyframe,
                        sequence: video_seq,
                        capture_time_us: now_us(),
                        audio_level: 127,
                        codec: Codec::H264 as i32,
                        payload: payload.clone(),
                        ..MediaFrame::default()
                    }).await)?;
                    video_seq += 1;
                }
                _ = audio_timer.tick(), if plan.publish && !clip.audio.is_empty() => {
                    let payload = &clip.audio[audio_seq as usize % clip.audio.len()];
                    sent_unless_withheld(session.send_media(MediaFrame {
                        track: Track::Audio as i32,
                        keyframe: true,
                        sequence: audio_seq,
                        capture_time_us: now_us(),
                        audio_level: level,
                        codec: Codec::Opus as i32,
                        payload: payload.clone(),
                        ..MediaFrame::default()
                    }).await)?;
                    audio_seq += 1;
                }
                _ = ping_timer.tick() => { session.ping().await?; }
                message = session.recv() => {
                    if let Some(server_message::Msg::Media(frame)) = message?.msg {
                        let now = Instant::now();
                        measure.record(&frame, now >= plan.window.0 && now < plan.window.1, now_us());
                    }
                }
            }
        }
    }
    .await;
    if let Err(err) = result {
        measure.report.error = Some(format!("dropped out: {err}"));
    }
    session.close();
    measure.report
}

/// Runs the bots and summarises what they measured.
pub async fn run(config: BotsConfig) -> Result<BotsReport, MediaError> {
    let clip = Arc::new(encode_clip(&config.video)?);
    let count = config.count.max(1);
    let publishers = config.publishers.min(count);
    let start = Instant::now() + Duration::from_millis(100);
    let window = (
        start + config.ramp_up + Duration::from_millis(500),
        start + config.ramp_up + Duration::from_millis(500) + config.duration,
    );
    let step = config.ramp_up / u32::try_from(count).unwrap_or(u32::MAX);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let mut join = config.join.clone();
        join.name = format!("{}-{index:03}", config.name_prefix);
        let plan = Plan {
            index,
            start: start + step * u32::try_from(index).unwrap_or(u32::MAX),
            window,
            publish: index < publishers,
            fps: config.video.fps,
        };
        tasks.spawn(run_bot(join, plan, clip.clone()));
    }
    let mut receivers = Vec::with_capacity(count);
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(report) => receivers.push(report),
            Err(err) => receivers.push(ReceiverReport {
                error: Some(format!("bot task failed: {err}")),
                ..ReceiverReport::default()
            }),
        }
    }
    receivers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(summarise(
        receivers,
        publishers,
        config.duration,
        config.video.fps,
    ))
}

fn summarise(
    mut receivers: Vec<ReceiverReport>,
    publishers: usize,
    window: Duration,
    fps: u32,
) -> BotsReport {
    let window_s = window.as_secs_f64().max(1e-3);
    let mut all = Vec::new();
    let (mut lost, mut received) = (0u64, 0u64);
    for r in &mut receivers {
        r.video_fps = r.video_frames as f64 / window_s;
        r.latencies_us.sort_unstable();
        r.latency_p50_ms = percentile_ms(&r.latencies_us, 0.5);
        r.latency_p99_ms = percentile_ms(&r.latencies_us, 0.99);
        r.latency_max_ms = percentile_ms(&r.latencies_us, 1.0);
        all.extend_from_slice(&r.latencies_us);
        lost += r.lost;
        received += r.video_frames + r.audio_frames;
    }
    all.sort_unstable();
    let joined: Vec<&ReceiverReport> = receivers.iter().filter(|r| r.joined).collect();
    let fps_values: Vec<f64> = joined.iter().map(|r| r.video_fps).collect();
    // A receiver that publishes does not get its own video back.
    let expected_fps = |r: &ReceiverReport| {
        let own = usize::from(r.publisher);
        (publishers.saturating_sub(own) * fps as usize) as f64
    };
    let expected_frames: f64 = joined.iter().map(|r| expected_fps(r) * window_s).sum();
    let delivered_frames: f64 = joined.iter().map(|r| r.video_frames as f64).sum();
    BotsReport {
        participants: receivers.len(),
        joined: joined.len(),
        publishers,
        window_s,
        expected_video_fps: (publishers * fps as usize) as f64,
        mean_video_fps: if fps_values.is_empty() {
            0.0
        } else {
            fps_values.iter().sum::<f64>() / fps_values.len() as f64
        },
        min_video_fps: if fps_values.is_empty() {
            0.0
        } else {
            fps_values.iter().copied().fold(f64::INFINITY, f64::min)
        },
        video_delivered_percent: if expected_frames == 0.0 {
            0.0
        } else {
            delivered_frames * 100.0 / expected_frames
        },
        loss_percent: if lost + received == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / (lost + received) as f64
        },
        latency_p50_ms: percentile_ms(&all, 0.5),
        latency_p99_ms: percentile_ms(&all, 0.99),
        latency_max_ms: percentile_ms(&all, 1.0),
        longest_video_gap_ms: receivers
            .iter()
            .map(|r| r.longest_video_gap_ms)
            .fold(0.0, f64::max),
        receivers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(sender: u32, sequence: u64) -> MediaFrame {
        MediaFrame {
            sender,
            sequence,
            track: Track::Camera as i32,
            capture_time_us: now_us(),
            ..MediaFrame::default()
        }
    }

    #[test]
    fn sequence_gaps_count_as_loss_per_sender() {
        let mut measure = Measure::default();
        for (sender, seq) in [(1, 0), (1, 1), (2, 0), (1, 4), (2, 1), (1, 3)] {
            measure.record(&frame(sender, seq), true, now_us());
        }
        assert_eq!(measure.report.lost, 2);
        assert_eq!(measure.report.video_frames, 6);
    }

    #[test]
    fn frames_outside_the_window_are_not_counted_but_keep_sequence() {
        let mut measure = Measure::default();
        measure.record(&frame(1, 0), false, now_us());
        measure.record(&frame(1, 1), true, now_us());
        assert_eq!((measure.report.lost, measure.report.video_frames), (0, 1));
    }

    #[test]
    fn the_longest_video_gap_is_kept_and_audio_does_not_fill_it() {
        let mut measure = Measure::default();
        let audio = MediaFrame {
            track: Track::Audio as i32,
            ..frame(1, 0)
        };
        let start = now_us();
        measure.record(&frame(1, 0), true, start);
        measure.record(&frame(1, 1), true, start + 100_000);
        measure.record(&audio, true, start + 600_000);
        measure.record(&frame(1, 2), true, start + 1_600_000);
        measure.record(&frame(1, 3), true, start + 1_700_000);
        assert_eq!(measure.report.longest_video_gap_ms, 1_500.0);
    }

    #[test]
    fn percentiles_pick_by_rank() {
        let values: Vec<u64> = (1..=100).map(|v| v * 1000).collect();
        assert_eq!(percentile_ms(&values, 0.5), 51.0);
        assert_eq!(percentile_ms(&values, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
