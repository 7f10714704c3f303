//! Glass-to-glass latency samples and their percentiles.

/// Keeps the most recent latency samples (milliseconds).
#[derive(Debug, Clone)]
pub struct LatencySamples {
    samples: Vec<f64>,
    cap: usize,
}

impl LatencySamples {
    /// Keeps at most `cap` samples (the oldest go first).
    pub fn new(cap: usize) -> Self {
        Self {
            samples: Vec::new(),
            cap: cap.max(1),
        }
    }

    /// Records one rendered frame: `render_us - capture_us`, in ms.
    /// Nonsense (capture in the future by more than a second, or no
    /// capture time) is ignored.
    pub fn record(&mut self, capture_us: f64, render_us: f64) {
        if capture_us <= 0.0 {
            return;
        }
        let ms = (render_us - capture_us) / 1_000.0;
        if !(-1_000.0..=60_000.0).contains(&ms) {
            return;
        }
        if self.samples.len() == self.cap {
            self.samples.remove(0);
        }
        self.samples.push(ms);
    }

    /// All samples, oldest first.
    pub fn all(&self) -> &[f64] {
        &self.samples
    }

    /// The `p`-th percentile (0..=100), nearest rank.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.samples, p)
    }
}

/// Nearest-rank percentile of `values`.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_capped_and_percentiles_use_nearest_rank() {
        let mut s = LatencySamples::new(3);
        for ms in [10.0, 20.0, 30.0, 40.0] {
            s.record(1_000_000.0, 1_000_000.0 + ms * 1_000.0);
        }
        assert_eq!(s.all(), &[20.0, 30.0, 40.0]);
        assert_eq!(s.percentile(50.0), Some(30.0));
        assert_eq!(s.percentile(100.0), Some(40.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn missing_or_absurd_capture_times_are_ignored() {
        let mut s = LatencySamples::new(10);
        s.record(0.0, 5.0);
        s.record(1e15, 1e15 - 5e9);
        assert!(s.all().is_empty());
    }
}
