//! `edgecall-directory`: the relay directory as an AWS Lambda (function
//! URL or API Gateway). See [`edgecall_relay::directory`].
//!
//! Environment:
//! - `EDGECALL_DIRECTORY_REGISTRY` (required): where relays publish,
//!   `dynamodb://<table>` (build with `--features aws`) or `file:///dir`.
//! - `EDGECALL_TOKEN_SECRET` (optional): the relays' HS256 join-token
//!   secret; when set, only callers with a join token for the room (or the
//!   API key) get an answer. The directory never mints tokens.
//! - `EDGECALL_DIRECTORY_API_KEY` (optional): lets the operator's own
//!   services ask without a join token (header `x-api-key`).
//! - `EDGECALL_TOKEN_SECRET_PARAMETER`, `EDGECALL_DIRECTORY_API_KEY_PARAMETER`
//!   (instead of the two above; build with `--features aws`): the names of
//!   SSM parameters (SecureString) holding those secrets, read with the
//!   function's role at start (what `terraform/` deploys). See
//!   [`edgecall_relay::secrets`]: setting both a value and its parameter,
//!   or naming a parameter that cannot be read, stops the start rather than
//!   running open.
//! - `EDGECALL_DIRECTORY_STALE_AFTER_SECS` (optional, default 90): skip
//!   relays silent for longer.
//!
//! `--serve <addr>` (or `EDGECALL_DIRECTORY_SERVE`) runs the same handler
//! as a plain HTTP server instead of the Lambda runtime, for local
//! development and the end-to-end tests; it prints
//! `edgecall-directory listening on http://<addr>` once it accepts.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use edgecall_relay::directory::Directory;
use edgecall_relay::registry::{Registry, Target};
use edgecall_relay::secrets::SecretReader;
use lambda_http::{service_fn, Request};

/// Flags (the settings themselves come from the environment, as in Lambda).
#[derive(Debug, Parser)]
#[command(
    name = "edgecall-directory",
    version,
    about = "edgecall relay directory (AWS Lambda)"
)]
struct Args {
    /// Serve plain HTTP on this address instead of running under the Lambda
    /// runtime (port 0 picks a free port).
    #[arg(long, env = "EDGECALL_DIRECTORY_SERVE")]
    serve: Option<std::net::SocketAddr>,
}

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
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // CloudWatch adds its own timestamps.
        .without_time()
        // Lambda sends both streams to CloudWatch; stdout stays free for
        // the `--serve` ready line.
        .with_writer(std::io::stderr)
        .init();

    let target: Target = std::env::var("EDGECALL_DIRECTORY_REGISTRY")
        .context("set EDGECALL_DIRECTORY_REGISTRY to dynamodb://<table> or file:///dir")?
        .parse()?;
    let registry = Registry::open(&target).await?;
    let secrets = SecretReader::new();
    let token_secret = secrets.read("EDGECALL_TOKEN_SECRET").await?;
    let api_key = secrets.read("EDGECALL_DIRECTORY_API_KEY").await?;
    let mut directory = Directory::new(registry, token_secret, api_key)
        .context("EDGECALL_TOKEN_SECRET is not usable as an HS256 key")?;
    if let Some(stale) = env_secs("EDGECALL_DIRECTORY_STALE_AFTER_SECS")? {
        directory.stale_after = stale;
    }
    if !directory.verifies() {
        tracing::warn!(
            "OPEN DIRECTORY: no EDGECALL_TOKEN_SECRET(_PARAMETER), so anyone is told which relay serves a room \
             (right only when the relays run open too)"
        );
    }
    if let Some(addr) = args.serve {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        println!("{}http://{local}", edgecall_relay::process::DIRECTORY_READY);
        return edgecall_relay::directory::serve_local(directory, listener).await;
    }
    let directory = &directory;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(directory.handle(request).await)
    }))
    .await
    .map_err(|err| anyhow::anyhow!("the Lambda runtime stopped: {err}"))
}
