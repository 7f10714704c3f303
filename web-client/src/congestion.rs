//! Receive-side congestion control.
//!
//! A Worker cannot see how much waits in a WebSocket's send queue, so the
//! edge never learns that it (or the path to us) is falling behind; the
//! relay does, but only for its own queue. The client sees the symptom
//! either way: media arrives later and later after its capture time, and
//! pings take longer to come back. This controller watches both and steps
//! down what we ask for — the low layer only (and, when allowed, no video)
//! — telling the server with a `Congestion` message; it steps back up once things have
//! been calm for a while. While stepped down we also stop encoding our own
//! high layer, which relieves the same server and our uplink.
//!
//! Delay is measured as `arrival − capture` per frame. Sender and receiver
//! clocks differ, so only the excess over the smallest delay seen recently
//! (a sliding baseline) counts, which is the queueing part.

use std::collections::VecDeque;

/// How much of the call we receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Everything the server's policy allows.
    Full,
    /// Only the lowest simulcast layer of every video.
    LowLayer,
    /// No video at all; audio keeps flowing.
    VideoPaused,
}

impl Level {
    fn down(self) -> Level {
        match self {
            Level::Full => Level::LowLayer,
            Level::LowLayer | Level::VideoPaused => Level::VideoPaused,
        }
    }

    fn up(self) -> Level {
        match self {
            Level::VideoPaused => Level::LowLayer,
            Level::LowLayer | Level::Full => Level::Full,
        }
    }

    /// The highest layer to receive (and to send).
    pub fn max_layer(self) -> u32 {
        match self {
            Level::Full => 2,
            Level::LowLayer | Level::VideoPaused => 0,
        }
    }

    /// Whether video is paused.
    pub fn video_paused(self) -> bool {
        self == Level::VideoPaused
    }
}

/// Queueing delay above which the path counts as congested.
const DELAY_CONGESTED_MS: f64 = 400.0;
/// Round trip above which the path counts as congested.
const RTT_CONGESTED_MS: f64 = 1_000.0;
/// Below both of these the path counts as calm.
const DELAY_CALM_MS: f64 = 120.0;
const RTT_CALM_MS: f64 = 400.0;
/// Congestion must last this long before stepping down…
const DOWN_AFTER_MS: f64 = 1_000.0;
/// …and after a step down, the queue gets this long to drain before the
/// next one.
const DOWN_SPACING_MS: f64 = 3_000.0;
/// Calm must last this long before stepping up.
const UP_AFTER_MS: f64 = 8_000.0;
/// Without calm but also without congestion for this long, step up anyway
/// to find out whether the path can take more (a receiver whose delay
/// settled a little above "calm" would otherwise stay down for good).
const PROBE_AFTER_MS: f64 = 20_000.0;
/// The delay baseline is the minimum over this window: longer than any
/// congestion episode it must see through, short enough to follow a
/// sender's clock being stepped.
const BASELINE_WINDOW_MS: f64 = 30_000.0;
/// Resolution of the baseline: one minimum per bucket of this length.
const BASELINE_BUCKET_MS: f64 = 1_000.0;
/// Recent delay is the median of the samples of this window.
const RECENT_WINDOW_MS: f64 = 500.0;
/// The queueing delay's trend is taken over this window…
const TREND_WINDOW_MS: f64 = 2_000.0;
/// …and a queue shrinking faster than this (ms of delay per s) is
/// draining: stepping down further would not help, so it waits.
const DRAINING_MS_PER_S: f64 = -100.0;

/// The controller. Feed it observations and call [`Self::evaluate`]
/// regularly; it returns a new level when one is due.
#[derive(Debug, Clone)]
pub struct CongestionControl {
    level: Level,
    /// The lowest level it steps down to.
    floor: Level,
    /// (arrival ms, one-way delay ms) samples of the recent window.
    recent: VecDeque<(f64, f64)>,
    /// (bucket start ms, smallest delay in it) over the baseline window.
    minima: VecDeque<(f64, f64)>,
    rtt_ms: Option<f64>,
    congested_since: Option<f64>,
    calm_since: Option<f64>,
    uncongested_since: Option<f64>,
    /// (evaluation ms, queueing delay ms) over the trend window.
    trend: VecDeque<(f64, f64)>,
    last_change_ms: f64,
}

impl Default for CongestionControl {
    fn default() -> Self {
        Self::new()
    }
}

impl CongestionControl {
    /// Starts at [`Level::Full`] and steps down at most to
    /// [`Level::LowLayer`]: a receiver cannot tell a queue in front of it
    /// from a backlog upstream of the server (seen on the local edge: a 16 s
    /// stall between a publisher and the Durable Object), and pausing video
    /// for the latter turns late video into no video without helping.
    pub fn new() -> Self {
        Self::with_floor(Level::LowLayer)
    }

    /// Like [`Self::new`], stepping down as far as `floor` (e.g.
    /// [`Level::VideoPaused`] for audio only under congestion).
    pub fn with_floor(floor: Level) -> Self {
        Self {
            level: Level::Full,
            floor,
            recent: VecDeque::new(),
            minima: VecDeque::new(),
            rtt_ms: None,
            congested_since: None,
            calm_since: None,
            uncongested_since: None,
            trend: VecDeque::new(),
            last_change_ms: f64::NEG_INFINITY,
        }
    }

    /// The current level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// A media frame captured at `capture_ms` (sender's wall clock)
    /// arrived at `arrival_ms` (ours).
    pub fn observe_frame(&mut self, capture_ms: f64, arrival_ms: f64) {
        if capture_ms <= 0.0 || !capture_ms.is_finite() || !arrival_ms.is_finite() {
            return;
        }
        let delay = arrival_ms - capture_ms;
        self.recent.push_back((arrival_ms, delay));
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| arrival_ms - at > RECENT_WINDOW_MS)
        {
            self.recent.pop_front();
        }
        let bucket = (arrival_ms / BASELINE_BUCKET_MS).floor() * BASELINE_BUCKET_MS;
        match self.minima.back_mut() {
            Some((start, min)) if *start == bucket => *min = min.min(delay),
            _ => self.minima.push_back((bucket, delay)),
        }
        while self
            .minima
            .front()
            .is_some_and(|(start, _)| arrival_ms - start > BASELINE_WINDOW_MS)
        {
            self.minima.pop_front();
        }
    }

    /// A measured round trip. An unanswered ping counts too: pass its age
    /// (a pong stuck behind a long queue says as much as a late one).
    pub fn observe_rtt(&mut self, rtt_ms: f64) {
        if rtt_ms.is_finite() && rtt_ms >= 0.0 {
            self.rtt_ms = Some(rtt_ms);
        }
    }

    /// How much the recent delay exceeds the window's smallest, in ms.
    pub fn queueing_delay_ms(&self, now_ms: f64) -> Option<f64> {
        let baseline = self
            .minima
            .iter()
            .map(|(_, min)| *min)
            .fold(f64::INFINITY, f64::min);
        let mut recent: Vec<f64> = self
            .recent
            .iter()
            .filter(|(at, _)| now_ms - at <= RECENT_WINDOW_MS)
            .map(|(_, d)| *d)
            .collect();
        if recent.is_empty() || !baseline.is_finite() {
            return None;
        }
        recent.sort_by(f64::total_cmp);
        Some(recent[recent.len() / 2] - baseline)
    }

    /// Decides at `now_ms`; returns the new level when it changed.
    pub fn evaluate(&mut self, now_ms: f64) -> Option<Level> {
        let delay = self.queueing_delay_ms(now_ms);
        let rtt = self.rtt_ms;
        let draining = delay.is_some_and(|d| self.is_draining(d, now_ms));
        // A large delay whose queue is already draining (e.g. a backlog
        // built up upstream that is now clearing) is waited out.
        let congested = delay.is_some_and(|d| d > DELAY_CONGESTED_MS && !draining)
            || rtt.is_some_and(|r| r > RTT_CONGESTED_MS);
        let calm = delay.is_none_or(|d| d < DELAY_CALM_MS) && rtt.is_none_or(|r| r < RTT_CALM_MS);
        if congested {
            self.calm_since = None;
            self.uncongested_since = None;
            let since = *self.congested_since.get_or_insert(now_ms);
            if now_ms - since >= DOWN_AFTER_MS
                && now_ms - self.last_change_ms >= DOWN_SPACING_MS
                && self.level < self.floor
            {
                return Some(self.change(self.level.down(), now_ms));
            }
        } else {
            self.congested_since = None;
            let uncongested = *self.uncongested_since.get_or_insert(now_ms);
            let calm_for = if calm {
                now_ms - *self.calm_since.get_or_insert(now_ms)
            } else {
                self.calm_since = None;
                0.0
            };
            let probe = now_ms - uncongested >= PROBE_AFTER_MS;
            if (calm_for >= UP_AFTER_MS || probe) && self.level != Level::Full {
                self.calm_since = calm.then_some(now_ms);
                self.uncongested_since = Some(now_ms);
                return Some(self.change(self.level.up(), now_ms));
            }
        }
        None
    }

    /// Records `delay` and says whether the queue shrank faster than
    /// [`DRAINING_MS_PER_S`] over the trend window.
    fn is_draining(&mut self, delay: f64, now_ms: f64) -> bool {
        self.trend.push_back((now_ms, delay));
        while self
            .trend
            .front()
            .is_some_and(|(at, _)| now_ms - at > TREND_WINDOW_MS)
        {
            self.trend.pop_front();
        }
        match self.trend.front() {
            Some((at, first)) if now_ms - at >= TREND_WINDOW_MS / 2.0 => {
                (delay - first) / ((now_ms - at) / 1_000.0) < DRAINING_MS_PER_S
            }
            _ => false,
        }
    }

    fn change(&mut self, level: Level, now_ms: f64) -> Level {
        self.level = level;
        self.last_change_ms = now_ms;
        // What was measured before the change says little about after it.
        self.congested_since = None;
        level
    }
}

#[cfg(test)]
mod tests {
    use super::{CongestionControl, Level};

    /// Feeds 50 frames/s from `from` to `to` ms with `delay(t)` ms of
    /// one-way delay (plus a fixed clock offset), pinging every 2 s with a
    /// round trip of `rtt(t)`; returns the levels announced and when.
    fn run(
        cc: &mut CongestionControl,
        from: f64,
        to: f64,
        delay: impl Fn(f64) -> f64,
        rtt: impl Fn(f64) -> f64,
    ) -> Vec<(f64, Level)> {
        const CLOCK_OFFSET_MS: f64 = 123_456.0;
        let mut changes = Vec::new();
        let mut t = from;
        while t < to {
            cc.observe_frame(t - delay(t) + CLOCK_OFFSET_MS, t + CLOCK_OFFSET_MS * 2.0);
            if (t % 2_000.0) < 20.0 {
                cc.observe_rtt(rtt(t));
            }
            if let Some(level) = cc.evaluate(t + CLOCK_OFFSET_MS * 2.0) {
                changes.push((t, level));
            }
            t += 20.0;
        }
        changes
    }

    #[test]
    fn a_steady_path_with_any_clock_offset_stays_at_full() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        let changes = run(&mut cc, 0.0, 60_000.0, |_| 30.0, |_| 40.0);
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(cc.level(), Level::Full);
    }

    #[test]
    fn a_growing_queue_steps_down_to_low_layer_then_pauses_video() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        run(&mut cc, 0.0, 5_000.0, |_| 30.0, |_| 40.0);
        // From 5 s the queue grows by 200 ms every second.
        let changes = run(
            &mut cc,
            5_000.0,
            20_000.0,
            |t| 30.0 + (t - 5_000.0) * 0.2,
            |_| 40.0,
        );
        let levels: Vec<Level> = changes.iter().map(|(_, l)| *l).collect();
        assert_eq!(levels, [Level::LowLayer, Level::VideoPaused], "{changes:?}");
        // Not on the first late frame, and with room to drain in between.
        assert!(changes[0].0 > 7_000.0, "{changes:?}");
        assert!(changes[1].0 - changes[0].0 >= 3_000.0, "{changes:?}");
    }

    #[test]
    fn a_short_spike_does_not_step_down() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        let spike = |t: f64| {
            if (10_000.0..10_600.0).contains(&t) {
                900.0
            } else {
                30.0
            }
        };
        let changes = run(&mut cc, 0.0, 30_000.0, spike, |_| 40.0);
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn a_slow_round_trip_alone_steps_down() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        let changes = run(&mut cc, 0.0, 10_000.0, |_| 30.0, |_| 2_500.0);
        assert_eq!(changes.first().map(|c| c.1), Some(Level::LowLayer));
    }

    #[test]
    fn calm_steps_back_up_one_level_at_a_time() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        run(&mut cc, 0.0, 20_000.0, |_| 30.0, |_| 3_000.0);
        assert_eq!(cc.level(), Level::VideoPaused);
        let changes = run(&mut cc, 20_000.0, 60_000.0, |_| 30.0, |_| 40.0);
        let levels: Vec<Level> = changes.iter().map(|(_, l)| *l).collect();
        assert_eq!(levels, [Level::LowLayer, Level::Full], "{changes:?}");
        assert!(changes[0].0 >= 28_000.0, "waits for calm: {changes:?}");
        assert!(changes[1].0 - changes[0].0 >= 8_000.0, "{changes:?}");
    }

    #[test]
    fn a_long_congestion_does_not_become_the_new_normal() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        run(&mut cc, 0.0, 5_000.0, |_| 30.0, |_| 40.0);
        // Twenty seconds with a standing 800 ms queue (and pings that do
        // not show it): it must not step back up during them.
        let changes = run(&mut cc, 5_000.0, 25_000.0, |_| 830.0, |_| 40.0);
        let levels: Vec<Level> = changes.iter().map(|(_, l)| *l).collect();
        assert_eq!(levels, [Level::LowLayer, Level::VideoPaused], "{changes:?}");
    }

    #[test]
    fn an_uneasy_but_uncongested_path_is_probed_after_20_s() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        run(&mut cc, 0.0, 10_000.0, |_| 30.0, |_| 3_000.0);
        assert_eq!(cc.level(), Level::VideoPaused);
        // 250 ms of queueing: not calm, not congested either.
        let changes = run(&mut cc, 10_000.0, 60_000.0, |_| 280.0, |_| 300.0);
        let levels: Vec<Level> = changes.iter().map(|(_, l)| *l).collect();
        assert_eq!(levels, [Level::LowLayer, Level::Full], "{changes:?}");
        // The first step is a probe; by the second the 30 s baseline has
        // taken the standing delay as the path's own.
        assert!(changes[0].0 >= 30_000.0, "{changes:?}");
        assert!(changes[1].0 - changes[0].0 >= 8_000.0, "{changes:?}");
    }

    #[test]
    fn a_large_but_draining_backlog_is_waited_out() {
        let mut cc = CongestionControl::with_floor(Level::VideoPaused);
        run(&mut cc, 0.0, 5_000.0, |_| 30.0, |_| 40.0);
        // A 20 s backlog appears at once and drains at 1 s per second.
        let changes = run(
            &mut cc,
            5_000.0,
            25_000.0,
            |t| 30.0 + (20_000.0 - (t - 5_000.0)).max(0.0),
            |_| 40.0,
        );
        // At most the first step (before the trend is known); never
        // audio only.
        assert!(
            changes.iter().all(|(_, l)| *l != Level::VideoPaused),
            "{changes:?}"
        );
    }

    #[test]
    fn by_default_it_stops_at_the_low_layer() {
        let mut cc = CongestionControl::new();
        run(&mut cc, 0.0, 20_000.0, |_| 30.0, |_| 3_000.0);
        assert_eq!(cc.level(), Level::LowLayer);
    }

    #[test]
    fn levels_map_to_the_congestion_message() {
        assert_eq!(
            (Level::Full.max_layer(), Level::Full.video_paused()),
            (2, false)
        );
        assert_eq!(
            (Level::LowLayer.max_layer(), Level::LowLayer.video_paused()),
            (0, false)
        );
        assert!(Level::VideoPaused.video_paused());
    }
}
