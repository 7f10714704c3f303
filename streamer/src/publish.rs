//! Publishing: capture and encode on worker threads, send on the session,
//! and react to what the server asks (keyframes, congestion).
//!
//! Video and audio each get a thread that owns its source and encoder
//! (sources block until a frame is due). Encoded frames reach the async loop
//! through small bounded queues; when a queue is full the frame is dropped
//! and counted, so a slow network never makes capture fall behind.
//!
//! With [`PublishOptions::reconnect`] set, a session that fails for a reason
//! retrying can fix (the server restarted or drained, the network dropped)
//! is replaced by a new one after a jittered backoff while capture keeps
//! running; the first frame on the new session is a keyframe. Refusals
//! that would repeat (a bad token, a wrong path) end publishing.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use edgecall_proto::e2ee::RoomKey;
use edgecall_proto::wire::{server_message, Codec, MediaFrame, Track};
use tokio::sync::mpsc;

use crate::media::audio::{audio_level, AudioSource, OpusEncoder};
use crate::media::h264::{EncodedVideo, VideoEncoder, VideoSettings};
use crate::media::source::FrameSource;
use crate::media::MediaError;
use crate::{connect_with_retry, sent_unless_withheld, Backoff, ClientError, JoinTarget, Session};

/// Encoded frames waiting for the network before new ones are dropped.
const QUEUE_FRAMES: usize = 8;
/// How often a ping measures the round-trip time (also the heartbeat).
const PING_EVERY: Duration = Duration::from_secs(2);

/// Why publishing stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Capture or encoding failed.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The session failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Sealing a payload failed.
    #[error("end-to-end encryption: {0}")]
    E2ee(#[from] edgecall_proto::e2ee::E2eeError),
}

/// Seals payloads with the room key in the name of `sender`.
pub struct Sealer {
    key: RoomKey,
    sender: String,
}

impl Sealer {
    /// Seals as `sender` (our identity from the Welcome) with `key`.
    pub fn new(key: RoomKey, sender: impl Into<String>) -> Self {
        Self {
            key,
            sender: sender.into(),
        }
    }

    /// Seals as `sender` from now on (the identity of a new session).
    pub fn rebind(&mut self, sender: impl Into<String>) {
        self.sender = sender.into();
    }

    fn seal(&self, sequence: u64, payload: &[u8]) -> Result<Vec<u8>, PublishError> {
        Ok(self
            .key
            .seal(&self.sender, sequence, payload, &mut rand_core::OsRng)?)
    }
}

/// What to publish.
pub struct PublishOptions {
    /// Video encoding, if a video source is given.
    pub video: Option<VideoSettings>,
    /// Seal payloads end to end.
    pub sealer: Option<Sealer>,
    /// How often `on_progress` gets a [`Progress::Status`].
    pub status_every: Duration,
    /// Where to join again when the session fails for a retryable reason;
    /// `None` ends publishing with the session's error.
    pub reconnect: Option<JoinTarget>,
}

/// What `publish` reports as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The periodic status.
    Status(&'a Status),
    /// The session failed; the next attempt to join is `attempt`, after
    /// `delay`.
    Reconnecting {
        /// Why the session (or the previous attempt) failed.
        reason: &'a ClientError,
        /// Attempts so far for this outage, counting the next one.
        attempt: u32,
        /// Wait before that attempt.
        delay: Duration,
    },
    /// Joined again after `outage`.
    Reconnected {
        /// The participant id of the new session.
        participant: u32,
        /// From the failure to the new Welcome.
        outage: Duration,
    },
}

/// Counters for the status line and the final report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublishStats {
    /// Video pictures sent (all layers).
    pub video_frames: u64,
    /// Audio frames sent.
    pub audio_frames: u64,
    /// Payload bytes sent.
    pub bytes: u64,
    /// Frames dropped because the network queue was full.
    pub dropped: u64,
    /// Frames not sent because the host's announced limits (size, rate)
    /// would refuse them.
    pub withheld: u64,
    /// Keyframe requests received from the server.
    pub keyframe_requests: u64,
    /// Most recent round-trip time.
    pub rtt: Option<Duration>,
    /// Sessions that failed and were replaced by a new one.
    pub reconnects: u64,
}

/// One status report: totals plus rates over the last interval.
#[derive(Debug, Clone)]
pub struct Status {
    /// Totals so far.
    pub totals: PublishStats,
    /// Top-layer video frames per second over the interval.
    pub fps: f64,
    /// Sent kbit/s over the interval.
    pub kbps: f64,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rtt = self.totals.rtt.map_or_else(
            || "-".into(),
            |rtt| format!("{:.1} ms", rtt.as_secs_f64() * 1e3),
        );
        write!(
            f,
            "video {:5.1} fps | {:7.1} kbps | rtt {rtt} | dropped {} | withheld {} | keyframe requests {}",
            self.fps,
            self.kbps,
            self.totals.dropped,
            self.totals.withheld,
            self.totals.keyframe_requests
        )
    }
}

enum VideoControl {
    Keyframe(Option<u32>),
    BitrateScale(f32),
}

struct Captured<T> {
    capture_us: u64,
    item: T,
}

/// An Opus packet and its audio level.
type AudioOut = Captured<(Vec<u8>, u8)>;
/// The pictures of every layer for one captured frame.
type VideoOut = Captured<Vec<EncodedVideo>>;

/// Microseconds since the Unix epoch now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn spawn_video(
    mut source: Box<dyn FrameSource>,
    settings: VideoSettings,
    control: std_mpsc::Receiver<VideoControl>,
    out: mpsc::Sender<Result<VideoOut, MediaError>>,
    dropped: Arc<AtomicU64>,
) {
    std::thread::spawn(move || {
        let mut encoder = match VideoEncoder::new(settings) {
            Ok(encoder) => encoder,
            Err(err) => {
                let _ = out.blocking_send(Err(err));
                return;
            }
        };
        loop {
            while let Ok(command) = control.try_recv() {
                let result = match command {
                    VideoControl::Keyframe(layer) => {
                        encoder.request_keyframe(layer);
                        Ok(())
                    }
                    VideoControl::BitrateScale(scale) => encoder.set_bitrate_scale(scale),
                };
                if let Err(err) = result {
                    let _ = out.blocking_send(Err(err));
                    return;
                }
            }
            let result = source.next_frame().and_then(|frame| {
                let capture_us = now_us();
                encoder
                    .encode(&frame)
                    .map(|item| Captured { capture_us, item })
            });
            let failed = result.is_err();
            match out.try_send(result) {
                Ok(()) if failed => return,
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    // The next picture must not reference the dropped one.
                    encoder.request_keyframe(None);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    });
}

fn spawn_audio(
    mut source: Box<dyn AudioSource>,
    out: mpsc::Sender<Result<AudioOut, MediaError>>,
    dropped: Arc<AtomicU64>,
) {
    std::thread::spawn(move || {
        let mut encoder = match OpusEncoder::new() {
            Ok(encoder) => encoder,
            Err(err) => {
                let _ = out.blocking_send(Err(err));
                return;
            }
        };
        loop {
            let result = source.next_frame().and_then(|samples| {
                let capture_us = now_us();
                let level = audio_level(&samples);
                encoder.encode(&samples).map(|packet| Captured {
                    capture_us,
                    item: (packet, level),
                })
            });
            let failed = result.is_err();
            match out.try_send(result) {
                Ok(()) if failed => return,
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    });
}

/// The bitrate share to use when the server reports congestion on our
/// downlink: a streamer usually shares its access link (a Pi on Wi-Fi), so
/// trouble in one direction is a hint to send less in the other.
fn congestion_scale(max_layer: u32, video_paused: bool) -> f32 {
    if video_paused {
        0.25
    } else if max_layer == 0 {
        0.5
    } else {
        1.0
    }
}

/// Publishes `video` and `audio` on `session` until `stop` completes or the
/// session fails. Returns the final counters.
pub async fn publish(
    session: &mut Session,
    video: Option<Box<dyn FrameSource>>,
    audio: Option<Box<dyn AudioSource>>,
    mut options: PublishOptions,
    stop: impl Future<Output = ()>,
    mut on_progress: impl FnMut(Progress<'_>),
) -> Result<PublishStats, PublishError> {
    let dropped = Arc::new(AtomicU64::new(0));
    let (video_tx, mut video_rx) = mpsc::channel(QUEUE_FRAMES);
    let (audio_tx, mut audio_rx) = mpsc::channel(QUEUE_FRAMES);
    let (control_tx, control_rx) = std_mpsc::channel();
    let has_video = match (video, options.video.clone()) {
        (Some(source), Some(settings)) => {
            spawn_video(source, settings, control_rx, video_tx, dropped.clone());
            true
        }
        _ => {
            drop(video_tx);
            false
        }
    };
    let has_audio = match audio {
        Some(source) => {
            spawn_audio(source, audio_tx, dropped.clone());
            true
        }
        None => {
            drop(audio_tx);
            false
        }
    };
    let top_layer = options.video.as_ref().map_or(0, |v| u32::from(v.simulcast));
    let mut stats = PublishStats::default();
    let mut sequences = [0u64; 4]; // audio, layer 0, 1, 2
    let mut status_timer = tokio::time::interval(options.status_every);
    status_timer.tick().await;
    let mut ping_timer = tokio::time::interval(PING_EVERY);
    let mut last_status = (Instant::now(), 0u64, 0u64);
    let mut sealer = options.sealer.take();
    let mut backoff = Backoff::default();
    tokio::pin!(stop);
    loop {
        // One event on the current session; `true` when asked to stop.
        let step: Result<bool, PublishError> = async {
        tokio::select! {
            () = &mut stop => return Ok(true),
            Some(result) = video_rx.recv(), if has_video => {
                let captured = result?;
                for picture in captured.item {
                    let slot = 1 + picture.layer.min(2) as usize;
                    let sequence = sequences[slot];
                    sequences[slot] += 1;
                    let payload = match &sealer {
                        Some(sealer) => sealer.seal(sequence, &picture.data)?,
                        None => picture.data,
                    };
                    stats.bytes += payload.len() as u64;
                    if picture.layer == top_layer {
                        stats.video_frames += 1;
                    }
                    let sent = sent_unless_withheld(session.send_media(MediaFrame {
                        track: Track::Camera as i32,
                        layer: picture.layer,
                        keyframe: picture.keyframe,
                        sequence,
                        capture_time_us: captured.capture_us,
                        audio_level: 127,
                        codec: Codec::H264 as i32,
                        sealed: sealer.is_some(),
                        payload: Bytes::from(payload),
                        sender: 0,
                    }).await)?;
                    if !sent {
                        // Receivers cannot decode past the gap.
                        stats.withheld += 1;
                        let _ = control_tx.send(VideoControl::Keyframe(Some(picture.layer)));
                    }
                }
            }
            Some(result) = audio_rx.recv(), if has_audio => {
                let captured = result?;
                let (packet, level) = captured.item;
                let sequence = sequences[0];
                sequences[0] += 1;
                let payload = match &sealer {
                    Some(sealer) => sealer.seal(sequence, &packet)?,
                    None => packet,
                };
                stats.bytes += payload.len() as u64;
                stats.audio_frames += 1;
                let sent = sent_unless_withheld(session.send_media(MediaFrame {
                    track: Track::Audio as i32,
                    layer: 0,
                    keyframe: true,
                    sequence,
                    capture_time_us: captured.capture_us,
                    audio_level: u32::from(level),
                    codec: Codec::Opus as i32,
                    sealed: sealer.is_some(),
                    payload: Bytes::from(payload),
                    sender: 0,
                }).await)?;
                if !sent {
                    stats.withheld += 1;
                }
            }
            message = session.recv() => {
                match message?.msg {
                    Some(server_message::Msg::KeyframeRequest(request))
                        if request.track == Track::Camera as i32 =>
                    {
                        tracing::debug!(layer = request.layer, "keyframe requested");
                        stats.keyframe_requests += 1;
                        let _ = control_tx.send(VideoControl::Keyframe(Some(request.layer)));
                    }
                    Some(server_message::Msg::Congestion(congestion)) => {
                        tracing::info!(?congestion, "server reports congestion");
                        let scale = congestion_scale(congestion.max_layer, congestion.video_paused);
                        let _ = control_tx.send(VideoControl::BitrateScale(scale));
                    }
                    Some(server_message::Msg::Error(error)) => {
                        tracing::warn!(message = %error.message, "server error");
                    }
                    _ => {}
                }
            }
            _ = ping_timer.tick() => {
                session.ping().await?;
            }
            _ = status_timer.tick() => {
                stats.dropped = dropped.load(Ordering::Relaxed);
                stats.rtt = session.rtt();
                let elapsed = last_status.0.elapsed().as_secs_f64().max(1e-3);
                let status = Status {
                    fps: (stats.video_frames - last_status.1) as f64 / elapsed,
                    kbps: (stats.bytes - last_status.2) as f64 * 8.0 / 1000.0 / elapsed,
                    totals: stats.clone(),
                };
                last_status = (Instant::now(), stats.video_frames, stats.bytes);
                on_progress(Progress::Status(&status));
            }
        }
        Ok(false)
        }
        .await;
        let err = match step {
            Ok(true) => break,
            Ok(false) => continue,
            Err(PublishError::Client(err)) if options.reconnect.is_some() && err.is_retryable() => {
                err
            }
            Err(err) => return Err(err),
        };
        let Some(config) = options.reconnect.as_ref() else {
            return Err(err.into());
        };
        let lost_at = Instant::now();
        on_progress(Progress::Reconnecting {
            reason: &err,
            attempt: 1,
            delay: Duration::ZERO,
        });
        let new_session = tokio::select! {
            () = &mut stop => break,
            joined = connect_with_retry(config, &mut backoff, None, |reason, attempt, delay| {
                on_progress(Progress::Reconnecting { reason, attempt, delay });
            }) => joined?,
        };
        *session = new_session;
        stats.reconnects += 1;
        if let Some(sealer) = sealer.as_mut() {
            // Sealed frames are bound to the identity of the session.
            sealer.rebind(session.welcome().identity.clone());
        }
        // What was encoded during the outage is stale: receivers start
        // again from a keyframe.
        let mut stale = 0;
        while video_rx.try_recv().is_ok() {
            stale += 1;
        }
        while audio_rx.try_recv().is_ok() {
            stale += 1;
        }
        dropped.fetch_add(stale, Ordering::Relaxed);
        let _ = control_tx.send(VideoControl::Keyframe(None));
        on_progress(Progress::Reconnected {
            participant: session.participant_id(),
            outage: lost_at.elapsed(),
        });
    }
    stats.dropped = dropped.load(Ordering::Relaxed);
    stats.rtt = session.rtt();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn congestion_lowers_the_bitrate_share() {
        assert_eq!(congestion_scale(2, false), 1.0);
        assert_eq!(congestion_scale(0, false), 0.5);
        assert_eq!(congestion_scale(2, true), 0.25);
    }
}
