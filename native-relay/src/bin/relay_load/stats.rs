//! Pure helpers: percentiles, `/proc` parsing and Prometheus text parsing.

use anyhow::{bail, Context, Result};

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, fixed at 100
/// by the Linux ABI on the architectures we run on).
pub const USER_HZ: f64 = 100.0;

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending).
pub fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// User + system CPU time of a process, in clock ticks, from the text of
/// `/proc/<pid>/stat` (fields 14 and 15; the command name in field 2 may
/// hold spaces and parentheses, so fields are counted after its last `)`).
pub fn cpu_ticks(stat: &str) -> Result<u64> {
    let (_, rest) = stat
        .rsplit_once(')')
        .context("no `)` after the command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let field = |index: usize, name: &str| -> Result<u64> {
        fields
            .get(index)
            .with_context(|| format!("{name} missing"))?
            .parse()
            .with_context(|| format!("{name} is not a number"))
    };
    Ok(field(11, "utime")? + field(12, "stime")?)
}

/// A `kB` line such as `VmRSS:    1234 kB` of `/proc/<pid>/status`, in KiB.
pub fn status_kib(status: &str, key: &str) -> Result<u64> {
    let Some(line) = status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
    else {
        bail!("{key} missing");
    };
    line.trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("{key} is not a number: {line:?}"))
}

/// The sum of every sample of metric `name` (with any labels) in a
/// Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            let bare = key.split('{').next()?;
            (bare == name).then(|| value.parse::<u64>().ok())?
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&[7], 1.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn cpu_ticks_survive_odd_command_names() {
        let stat = "4242 (relay (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 1500 250 0 0 20 0 9 0 123 456 789";
        assert_eq!(cpu_ticks(stat).unwrap(), 1750);
        assert!(cpu_ticks("4242 (relay) S 1").is_err());
        assert!(cpu_ticks("no parenthesis").is_err());
    }

    #[test]
    fn status_lines_are_read_in_kib() {
        let status = "Name:\trelay\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmRSS").unwrap(), 10240);
        assert_eq!(status_kib(status, "VmHWM").unwrap(), 20480);
        assert!(status_kib(status, "VmSwap").is_err());
    }

    #[test]
    fn metric_samples_are_summed_across_labels() {
        let text = "# HELP edgecall_drops_total x\nedgecall_drops_total{reason=\"stale\"} 3\nedgecall_drops_total{reason=\"queue_full\"} 4\nedgecall_frames_out_total 10\n";
        assert_eq!(metric_sum(text, "edgecall_drops_total"), 7);
        assert_eq!(metric_sum(text, "edgecall_frames_out_total"), 10);
        assert_eq!(metric_sum(text, "edgecall_rooms"), 0);
    }
}
