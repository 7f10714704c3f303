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

/// Every process in process group `group`.
pub fn group_members(group: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let pgrp: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(2)?
                .parse()
                .ok()?;
            (pgrp == group).then_some(pid)
        })
        .collect()
}

/// The processes whose CPU use is measured from now on: one process, or a
/// whole process group (wrangler's node proxy and workerd together).
pub struct ProcessSample {
    pids: Vec<u32>,
    cpu_at_start: f64,
    started: Instant,
}

impl ProcessSample {
    fn of_pids(pids: Vec<u32>) -> Option<Self> {
        let cpu_at_start = pids
            .iter()
            .filter_map(|p| cpu_and_rss(*p))
            .map(|(c, _)| c)
            .sum();
        (!pids.is_empty()).then(|| Self {
            pids,
            cpu_at_start,
            started: Instant::now(),
        })
    }

    /// Starts measuring `pid`.
    pub fn of(pid: u32) -> Option<Self> {
        cpu_and_rss(pid)?;
        Self::of_pids(vec![pid])
    }

    /// Starts measuring every process in process group `group`.
    pub fn of_group(group: u32) -> Option<Self> {
        Self::of_pids(group_members(group))
    }

    /// CPU seconds used since the start, and resident memory now (KB),
    /// summed over the processes.
    pub fn since(&self) -> (f64, u64) {
        let (cpu, rss) = self
            .pids
            .iter()
            .filter_map(|p| cpu_and_rss(*p))
            .fold((0.0, 0), |(c, r), (pc, pr)| (c + pc, r + pr));
        (cpu - self.cpu_at_start, rss)
    }

    /// Seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// Pins every thread of every process in group `group` to `cpus` (a
/// `taskset` list such as `1` or `2-3`), so a server's figures are not
/// shared with its load generator. Needs util-linux's `taskset`.
pub fn pin_group(group: u32, cpus: &str) -> std::io::Result<()> {
    for pid in group_members(group) {
        let status = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "taskset -a -p -c {cpus} {pid} failed ({status})"
            )));
        }
    }
    Ok(())
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
