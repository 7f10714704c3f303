//! `web-bench`: glass-to-glass latency of the web client on loopback, for
//! BENCHMARKS.md (`cargo xtask bench-web` builds everything and runs it).
//!
//! For each path — two pages through the edge (`wrangler dev`, WebSocket)
//! and two pages through the relay (WebTransport) — it lets the call warm
//! up, then collects at least `--samples` new `window.edgecall.
//! latencySamples()` per page (render time minus the sender's capture time)
//! and prints p50 / p99 per page and for both together.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use edgecall_e2e::browser::Browser;
use edgecall_e2e::edge::{repo_root, Edge};
use edgecall_e2e::relay::RelayProcess;
use edgecall_e2e::web::{self, meeting_url, percentile, phase};

const PAGES: [&str; 2] = ["alice", "bob"];
const WARM_UP: Duration = Duration::from_secs(5);
const COLLECT_LIMIT: Duration = Duration::from_secs(240);

struct Options {
    samples: usize,
    paths: Vec<String>,
}

fn options() -> Result<Options> {
    let mut options = Options {
        samples: 300,
        paths: vec!["edge".into(), "relay".into()],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--samples" => {
                options.samples = args
                    .next()
                    .context("--samples needs a number")?
                    .parse()
                    .context("--samples needs a number")?;
            }
            "--path" => {
                let path = args.next().context("--path needs edge or relay")?;
                if path != "edge" && path != "relay" {
                    bail!("--path {path:?}: use edge or relay");
                }
                options.paths = vec![path];
            }
            other => bail!("unknown argument {other:?} (use --samples N, --path edge|relay)"),
        }
    }
    Ok(options)
}

/// The page's latency samples (ms), oldest first.
fn samples(browser: &Browser, page: &str) -> Result<Vec<f64>> {
    let value = browser.eval(page, "window.edgecall.latencySamples()")?;
    value
        .as_array()
        .context("latencySamples() is not an array")?
        .iter()
        .map(|v| v.as_f64().context("a sample is not a number"))
        .collect()
}

fn summary(label: &str, values: &[f64]) -> String {
    let p = |q| percentile(values, q).unwrap_or(f64::NAN);
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    format!(
        "{label:<14} n={:<5} p50 {:>6.1} ms  p99 {:>6.1} ms  mean {:>6.1} ms  max {:>6.1} ms",
        values.len(),
        p(50.0),
        p(99.0),
        mean,
        p(100.0)
    )
}

/// Runs two pages in one room at `base` and reports their latency.
fn measure(path: &str, base: &str, wanted: usize) -> Result<()> {
    let artifacts = repo_root().join("dist/test-artifacts/bench").join(path);
    let browser = Browser::start(&artifacts)?;
    let room = format!(
        "bench-{path}-{}",
        edgecall_e2e::frames::now_us() % 1_000_000
    );
    for page in PAGES {
        browser.open(
            page,
            &meeting_url(base, page, &room, &[("autojoin", "1")], None),
        )?;
    }
    for page in PAGES {
        browser.wait_state(page, "in the call", Duration::from_secs(60), |s| {
            (phase(s) == "in-call").then_some(())
        })?;
    }
    std::thread::sleep(WARM_UP);
    let start: Vec<usize> = PAGES
        .iter()
        .map(|page| samples(&browser, page).map(|s| s.len()))
        .collect::<Result<_>>()?;
    let begun = Instant::now();
    let collected = loop {
        let now: Vec<Vec<f64>> = PAGES
            .iter()
            .map(|page| samples(&browser, page))
            .collect::<Result<_>>()?;
        let fresh: Vec<Vec<f64>> = now
            .into_iter()
            .zip(&start)
            .map(|(all, from)| all[(*from).min(all.len())..].to_vec())
            .collect();
        if fresh.iter().all(|s| s.len() >= wanted) {
            break fresh;
        }
        if begun.elapsed() > COLLECT_LIMIT {
            bail!(
                "{path}: only {:?} samples after {COLLECT_LIMIT:?}",
                fresh.iter().map(Vec::len).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let state = browser.state(PAGES[0])?;
    println!(
        "\n{path}: transport {}, after a {WARM_UP:?} warm-up",
        state["transport"]
    );
    for (page, values) in PAGES.iter().zip(&collected) {
        println!("  {}", summary(&format!("{page} (recv)"), values));
    }
    let all: Vec<f64> = collected.concat();
    println!("  {}", summary("both", &all));
    Ok(())
}

fn main() -> Result<()> {
    let options = options()?;
    web::ensure_built()?;
    println!(
        "web-bench: {} samples per page; machine: {} cores; load average {}",
        options.samples,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for path in &options.paths {
        match path.as_str() {
            "edge" => {
                let edge = Edge::start(&[])?;
                measure("edge", &edge.http_base(), options.samples)?;
            }
            _ => {
                let root = web::web_root();
                let relay = RelayProcess::start(&["--web-root", &root.display().to_string()])?;
                measure("relay", &relay.http, options.samples)?;
            }
        }
    }
    Ok(())
}
