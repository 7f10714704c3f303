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
    Trial::test(name, move || run_async(edge, case))
}

fn run_async<F, Fut>(edge: Arc<Edge>, case: F) -> Result<(), Failed>
where
    F: FnOnce(Arc<Edge>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    let log = edge.clone();
    runtime
        .block_on(case(edge))
        .map_err(|e| Failed::from(format!("{e:#}\n--- wrangler log ---\n{}", log.log_tail())))
}

/// A room id no other case (or earlier run) uses: `<prefix>-<digits>`.
pub fn unique_room(prefix: &str) -> String {
    format!("{prefix}-{}", crate::frames::now_us() % 1_000_000_000)
}
