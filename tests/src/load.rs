//! Measurement helpers for load tools: percentiles and the CPU and memory
//! of a server process read from `/proc`.

use std::fs;
use std::time::Instant;

/// The `p`-th percentile of sorted samples (0 when empty).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// CPU seconds (user + system) and resident KB of one process.
fn cpu_and_rss(pid: u32) -> Option<(f64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(((utime + stime) / ticks, rss))
}

/// A process whose CPU use is measured from now on.
pub struct ProcessSample {
    pid: u32,
    cpu_at_start: f64,
    started: Instant,
}

impl ProcessSample {
    /// Starts measuring `pid`.
    pub fn of(pid: u32) -> Option<Self> {
        let (cpu_at_start, _) = cpu_and_rss(pid)?;
        Some(Self {
            pid,
            cpu_at_start,
            started: Instant::now(),
        })
    }

    /// Starts measuring the first process named `name` in process group
    /// `group` (e.g. workerd under wrangler).
    pub fn of_children(group: u32, name: &str) -> Option<Self> {
        let pid = fs::read_dir("/proc").ok()?.find_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let comm = stat.split_once('(')?.1.rsplit_once(')')?.0;
            let rest = stat.rsplit_once(')')?.1;
            let pgrp: u32 = rest.split_whitespace().nth(2)?.parse().ok()?;
            (pgrp == group && comm == name).then_some(pid)
        })?;
        Self::of(pid)
    }

    /// CPU seconds used since the start, and resident memory now (KB).
    pub fn since(&self) -> (f64, u64) {
        let (cpu, rss) = cpu_and_rss(self.pid).unwrap_or((self.cpu_at_start, 0));
        (cpu - self.cpu_at_start, rss)
    }

    /// Seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_sample() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), 51);
        assert_eq!(percentile(&samples, 99.0), 99);
        assert_eq!(percentile(&[], 99.0), 0);
    }

    #[test]
    fn this_process_can_be_measured() {
        let sample = ProcessSample::of(std::process::id()).expect("own /proc entry");
        let (_, rss) = sample.since();
        assert!(rss > 0);
    }
}
