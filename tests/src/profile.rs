//! CPU profiles of the Worker's isolate under `wrangler dev`, taken over
//! the DevTools protocol of wrangler's inspector proxy: what `edge-load
//! --cpu-profile` records and summarises. The isolate runs the Worker and
//! its Durable Objects, so the profile shows where a delivery's time goes
//! between the engine (wasm), the JS glue and the runtime.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A sampling CPU profile in progress.
pub struct CpuProfiler {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl CpuProfiler {
    /// Attaches to the isolate behind `inspector_port` and starts sampling
    /// every `interval_us` microseconds.
    pub async fn start(inspector_port: u16, interval_us: u32) -> Result<Self> {
        let url = format!("http://127.0.0.1:{inspector_port}/json");
        let targets: Value = tokio::task::spawn_blocking(move || -> Result<Value> {
            Ok(ureq::get(&url)
                .timeout(Duration::from_secs(10))
                .call()?
                .into_json()?)
        })
        .await??;
        let debugger = targets
            .as_array()
            .and_then(|targets| {
                targets
                    .iter()
                    .find_map(|t| t["webSocketDebuggerUrl"].as_str())
            })
            .with_context(|| format!("no debuggable target in {targets}"))?
            .to_owned();
        let (ws, _) = tokio_tungstenite::connect_async(&debugger)
            .await
            .with_context(|| format!("attaching to {debugger}"))?;
        let mut profiler = Self { ws, next_id: 1 };
        profiler.call("Profiler.enable", json!({})).await?;
        profiler
            .call(
                "Profiler.setSamplingInterval",
                json!({ "interval": interval_us }),
            )
            .await?;
        profiler.call("Profiler.start", json!({})).await?;
        Ok(profiler)
    }

    /// Stops sampling and returns the profile (`Profiler.Profile`).
    pub async fn stop(mut self) -> Result<Value> {
        let mut result = self.call("Profiler.stop", json!({})).await?;
        let _ = self.ws.close(None).await;
        Ok(result["profile"].take())
    }

    async fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(Message::Text(request.to_string().into()))
            .await?;
        let answer = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(message) = self.ws.next().await {
                let Message::Text(text) = message? else {
                    continue;
                };
                let value: Value = serde_json::from_str(&text)?;
                // Events (no id) and other answers are not ours.
                if value["id"].as_u64() == Some(id) {
                    return Ok(value);
                }
            }
            bail!("the inspector closed during {method}")
        })
        .await
        .with_context(|| format!("no answer to {method}"))??;
        if let Some(error) = answer.get("error") {
            bail!("{method} failed: {error}");
        }
        Ok(answer["result"].clone())
    }
}

/// Self time of one function in a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Hot {
    /// Function name, with `[wasm]`, `[js]` or the runtime's own label.
    pub name: String,
    /// Milliseconds sampled in the function itself.
    pub self_ms: f64,
}

/// Where a profile's time went.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSummary {
    /// Milliseconds profiled.
    pub total_ms: f64,
    /// Self time by kind: `wasm` (the Worker's Rust), `js` (the
    /// wasm-bindgen and workers-rs glue and the runtime's JS), and the
    /// runtime's own entries (`(garbage collector)`, `(program)`, `(idle)`).
    pub by_kind: Vec<(String, f64)>,
    /// The functions with the most self time, most first.
    pub hottest: Vec<Hot>,
}

/// Summarises a `Profiler.Profile`: self time per function and per kind.
pub fn summarize(profile: &Value, top: usize) -> Result<ProfileSummary> {
    let nodes = profile["nodes"].as_array().context("a profile has nodes")?;
    let samples = profile["samples"]
        .as_array()
        .context("a profile has samples")?;
    let deltas = profile["timeDeltas"]
        .as_array()
        .context("a profile has timeDeltas")?;
    let mut names = HashMap::new();
    for node in nodes {
        let id = node["id"].as_u64().context("a node has an id")?;
        let frame = &node["callFrame"];
        let function = frame["functionName"].as_str().unwrap_or_default();
        let url = frame["url"].as_str().unwrap_or_default();
        let (kind, name) = if function.starts_with('(') {
            (function.to_owned(), function.to_owned())
        } else if url.starts_with("wasm://") {
            ("wasm".to_owned(), format!("[wasm] {function}"))
        } else {
            let function = if function.is_empty() {
                "(anonymous)"
            } else {
                function
            };
            let file = url.rsplit('/').next().unwrap_or_default();
            ("js".to_owned(), format!("[js] {function} {file}"))
        };
        names.insert(id, (kind, name));
    }
    let mut by_function: HashMap<&str, f64> = HashMap::new();
    let mut by_kind: HashMap<&str, f64> = HashMap::new();
    let mut total_us = 0.0;
    // Each sample's time is the delta to the next sample.
    for (i, sample) in samples.iter().enumerate() {
        let us = deltas.get(i + 1).and_then(Value::as_f64).unwrap_or(0.0);
        let Some((kind, name)) = sample.as_u64().and_then(|id| names.get(&id)) else {
            continue;
        };
        total_us += us;
        *by_function.entry(name).or_default() += us;
        *by_kind.entry(kind).or_default() += us;
    }
    let mut hottest: Vec<Hot> = by_function
        .into_iter()
        .map(|(name, us)| Hot {
            name: name.to_owned(),
            self_ms: us / 1_000.0,
        })
        .collect();
    hottest.sort_by(|a, b| {
        b.self_ms
            .total_cmp(&a.self_ms)
            .then_with(|| a.name.cmp(&b.name))
    });
    hottest.truncate(top);
    let mut by_kind: Vec<(String, f64)> = by_kind
        .into_iter()
        .map(|(kind, us)| (kind.to_owned(), us / 1_000.0))
        .collect();
    by_kind.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ProfileSummary {
        total_ms: total_us / 1_000.0,
        by_kind,
        hottest,
    })
}

impl std::fmt::Display for ProfileSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |ms: f64| 100.0 * ms / self.total_ms.max(f64::MIN_POSITIVE);
        writeln!(f, "CPU profile: {:.0} ms sampled", self.total_ms)?;
        for (kind, ms) in &self.by_kind {
            writeln!(f, "  {kind:<22} {ms:>9.1} ms {:>5.1} %", share(*ms))?;
        }
        writeln!(f, "  hottest functions (self time):")?;
        for hot in &self.hottest {
            writeln!(
                f,
                "    {:>9.1} ms {:>5.1} %  {}",
                hot.self_ms,
                share(hot.self_ms),
                hot.name
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_time_is_summed_per_function_and_kind() {
        let profile = json!({
            "nodes": [
                {"id": 1, "callFrame": {"functionName": "(root)", "url": ""}},
                {"id": 2, "callFrame": {"functionName": "route", "url": "wasm://wasm/ab12"}},
                {"id": 3, "callFrame": {"functionName": "send", "url": "file:///w/index.js"}},
                {"id": 4, "callFrame": {"functionName": "(garbage collector)", "url": ""}},
            ],
            "samples": [2, 3, 2, 4, 1],
            "timeDeltas": [0, 1000, 2000, 3000, 4000],
        });
        let summary = summarize(&profile, 2).expect("summary");
        assert_eq!(summary.total_ms, 10.0);
        assert_eq!(
            summary.hottest,
            vec![
                Hot {
                    name: "(garbage collector)".into(),
                    self_ms: 4.0
                },
                Hot {
                    name: "[wasm] route".into(),
                    self_ms: 4.0
                },
            ]
        );
        let kinds: HashMap<String, f64> = summary.by_kind.into_iter().collect();
        assert_eq!(kinds["wasm"], 4.0);
        assert_eq!(kinds["js"], 2.0);
        assert_eq!(kinds["(garbage collector)"], 4.0);
        assert_eq!(kinds["(root)"], 0.0);
    }
}
