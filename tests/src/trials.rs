//! Running end-to-end cases as libtest-mimic trials that share one edge:
//! each case gets its own tokio runtime, and a failure carries the tail of
//! wrangler's log.

use std::future::Future;
use std::sync::Arc;

use libtest_mimic::{Failed, Trial};

use crate::edge::Edge;

/// A trial named `name` running `case` against `edge`.
pub fn trial<F, Fut>(name: &str, edge: &Arc<Edge>, case: F) -> Trial
where
    F: FnOnce(Arc<Edge>) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let edge = edge.clone();
    Trial::test(name, move || {
        run_on(edge, "wrangler log", |e| e.log_tail(), case)
    })
}

/// Runs `case` against `host` on its own tokio runtime; a failure carries
/// `log_tail(host)` under a `--- {log} ---` heading.
pub fn run_on<H, F, Fut>(
    host: H,
    log: &str,
    log_tail: impl FnOnce(&H) -> String,
    case: F,
) -> Result<(), Failed>
where
    H: Clone,
    F: FnOnce(H) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    let kept = host.clone();
    runtime
        .block_on(case(host))
        .map_err(|e| Failed::from(format!("{e:#}\n--- {log} ---\n{}", log_tail(&kept))))
}

/// A room id no other case (or earlier run) uses: `<prefix>-<digits>`.
pub fn unique_room(prefix: &str) -> String {
    format!("{prefix}-{}", crate::frames::now_us() % 1_000_000_000)
}
