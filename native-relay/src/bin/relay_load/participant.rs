//! One simulated participant: a WebTransport session that sends media on a
//! schedule and counts what it receives.

use std::time::Duration;

use anyhow::{Context, Result};
use edgecall_proto::wire::{self, server_message, Track};
use edgecall_relay::process::now_us;
use edgecall_stream::Session;
use prost::Message;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

/// Keep-alive for the engine's heartbeat timeout (receive-only clients
/// would otherwise be silent).
const PING_EVERY: Duration = Duration::from_secs(5);
/// A camera keyframe every this many frames.
const KEYFRAME_EVERY: u64 = 30;

/// What one participant sends during the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plan {
    /// Audio datagrams per second (0: none).
    pub audio_rate: f64,
    /// Audio payload bytes.
    pub audio_bytes: usize,
    /// Audio level (RFC 6464: 0 loudest, 127 silent).
    pub audio_level: u32,
    /// Camera frames per second on layer 0 (0: none).
    pub video_fps: f64,
    /// Camera payload bytes.
    pub video_bytes: usize,
    /// Whether its receptions count towards the results.
    pub counted: bool,
    /// Where in the send period this participant's frames fall, as a
    /// fraction of the period (0 ≤ phase < 1): real participants are not
    /// in lockstep.
    pub phase: f64,
}

/// When the send phase runs (the same for everyone).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// First frames fall due.
    pub start: Instant,
    /// No frames fall due after this.
    pub end: Instant,
    /// Receiving stops.
    pub drain_end: Instant,
}

/// What one participant did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Audio frames sent.
    pub audio_sent: u64,
    /// Camera frames sent.
    pub video_sent: u64,
    /// Send calls that failed.
    pub send_errors: u64,
    /// Media messages received (counted participants only).
    pub received: u64,
    /// Encoded bytes of those messages.
    pub received_bytes: u64,
    /// Capture-to-receive delay of each audio frame, in microseconds.
    pub audio_delays_us: Vec<u32>,
    /// Capture-to-receive delay of each camera frame, in microseconds.
    pub video_delays_us: Vec<u32>,
    /// Why the session ended early, if it did.
    pub closed: Option<String>,
}

fn media(track: Track, sequence: u64, level: u32, bytes: usize) -> wire::MediaFrame {
    let audio = track == Track::Audio;
    wire::MediaFrame {
        track: track as i32,
        layer: 0,
        keyframe: !audio && sequence.is_multiple_of(KEYFRAME_EVERY),
        sequence,
        capture_time_us: now_us(),
        audio_level: level,
        codec: if audio {
            wire::Codec::Opus
        } else {
            wire::Codec::H264
        } as i32,
        sealed: false,
        payload: vec![(sequence % 251) as u8; bytes].into(),
        sender: 0,
    }
}

/// How many frames at `rate` per second are due `elapsed` into the run.
fn due(rate: f64, elapsed: Duration) -> u64 {
    (rate * elapsed.as_secs_f64()) as u64
}

/// Receives (uncounted) until the schedule is set, so that joins do not
/// back up while the others connect; then sends per `plan` from `start` to
/// `end` and receives until `drain_end`.
pub async fn run(
    mut session: Session,
    plan: Plan,
    mut schedule: watch::Receiver<Option<Schedule>>,
) -> Result<Tally> {
    let mut tally = Tally::default();
    let Schedule {
        start,
        end,
        drain_end,
    } = loop {
        tokio::select! {
            ready = schedule.wait_for(Option::is_some) => {
                break (*ready.context("the load generator went away")?).context("no schedule")?;
            }
            message = session.recv() => if let Err(err) = message {
                tally.closed = Some(err.to_string());
                return Ok(tally);
            },
        }
    };
    let fastest = plan.audio_rate.max(plan.video_fps);
    let period = if fastest > 0.0 {
        Duration::from_secs_f64(1.0 / fastest).clamp(Duration::from_millis(1), PING_EVERY)
    } else {
        PING_EVERY
    };
    // Everything shifts by this participant's phase, so it still sends
    // exactly `rate × run time` frames.
    let shift = period.mul_f64(plan.phase.clamp(0.0, 0.999));
    let (start, end, drain_end) = (start + shift, end + shift, drain_end + shift);
    let mut ticker = tokio::time::interval_at(start, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut pinged = start;
    let finished = tokio::time::sleep_until(drain_end);
    tokio::pin!(finished);
    loop {
        tokio::select! {
            () = &mut finished => break,
            message = session.recv() => match message {
                Ok(wire::ServerMessage { msg: Some(server_message::Msg::Media(frame)) }) => {
                    if plan.counted {
                        tally.received += 1;
                        tally.received_bytes += frame.encoded_len() as u64;
                        let delay = now_us().saturating_sub(frame.capture_time_us);
                        let delays = if frame.track == Track::Audio as i32 {
                            &mut tally.audio_delays_us
                        } else {
                            &mut tally.video_delays_us
                        };
                        delays.push(u32::try_from(delay).unwrap_or(u32::MAX));
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tally.closed = Some(err.to_string());
                    break;
                }
            },
            now = ticker.tick() => {
                if now.duration_since(pinged) >= PING_EVERY {
                    pinged = now;
                    if session.ping().await.is_err() {
                        tally.send_errors += 1;
                    }
                }
                // Exactly `rate × run time` frames in all: nothing new falls due after `end`.
                let elapsed = now.min(end).duration_since(start);
                while tally.audio_sent < due(plan.audio_rate, elapsed) {
                    let frame = media(Track::Audio, tally.audio_sent, plan.audio_level, plan.audio_bytes);
                    tally.audio_sent += 1;
                    if session.send_media(frame).await.is_err() {
                        tally.send_errors += 1;
                    }
                }
                while tally.video_sent < due(plan.video_fps, elapsed) {
                    let frame = media(Track::Camera, tally.video_sent, 0, plan.video_bytes);
                    tally.video_sent += 1;
                    if session.send_media(frame).await.is_err() {
                        tally.send_errors += 1;
                    }
                }
            }
        }
    }
    session.close();
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_fall_due_at_the_rate() {
        assert_eq!(due(50.0, Duration::from_millis(999)), 49);
        assert_eq!(due(50.0, Duration::from_secs(1)), 50);
        assert_eq!(due(0.0, Duration::from_secs(9)), 0);
    }
}
