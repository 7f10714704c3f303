//! `edgecall-directory`: the relay directory as an AWS Lambda (function
//! URL or API Gateway). See [`edgecall_relay::directory`].
//!
//! Environment:
//! - `EDGECALL_DIRECTORY_REGISTRY` (required): where relays publish,
//!   `dynamodb://<table>` (build with `--features aws`) or `file:///dir`.
//! - `EDGECALL_TOKEN_SECRET` (optional): HS256 secret shared with the
//!   relays; when set, answers carry a join token for `?name=`.
//! - `EDGECALL_DIRECTORY_STALE_AFTER_SECS` (optional, default 90): skip
//!   relays silent for longer.
//! - `EDGECALL_DIRECTORY_TOKEN_TTL_SECS` (optional, default 600).

use std::time::Duration;

use anyhow::{Context, Result};
use edgecall_relay::directory::Directory;
use edgecall_relay::registry::{Registry, Target};
use lambda_http::{service_fn, Request};

fn env_secs(name: &str) -> Result<Option<Duration>> {
    match std::env::var(name) {
        Ok(text) => {
            let secs: u64 = text
                .trim()
                .parse()
                .with_context(|| format!("{name}={text:?} is not a whole number of seconds"))?;
            anyhow::ensure!(secs > 0, "{name} must be positive");
            Ok(Some(Duration::from_secs(secs)))
        }
        Err(_) => Ok(None),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // CloudWatch adds its own timestamps.
        .without_time()
        .init();

    let target: Target = std::env::var("EDGECALL_DIRECTORY_REGISTRY")
        .context("set EDGECALL_DIRECTORY_REGISTRY to dynamodb://<table> or file:///dir")?
        .parse()?;
    let registry = Registry::open(&target).await?;
    let secret = std::env::var("EDGECALL_TOKEN_SECRET")
        .ok()
        .map(String::into_bytes);
    let mut directory = Directory::new(registry, secret);
    if let Some(stale) = env_secs("EDGECALL_DIRECTORY_STALE_AFTER_SECS")? {
        directory.stale_after = stale;
    }
    if let Some(ttl) = env_secs("EDGECALL_DIRECTORY_TOKEN_TTL_SECS")? {
        directory.token_ttl = ttl;
    }
    if directory.token_secret.is_none() {
        tracing::warn!(
            "no EDGECALL_TOKEN_SECRET: answers carry no join token (relays must run open)"
        );
    }
    let directory = &directory;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(directory.handle(request).await)
    }))
    .await
    .map_err(|err| anyhow::anyhow!("the Lambda runtime stopped: {err}"))
}
