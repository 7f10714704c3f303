//! `edgecall-relay`: see the crate docs and `native-relay/README.md`.

use anyhow::Result;
use edgecall_relay::config::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => subscriber.json().init(),
        LogFormat::Text => subscriber.init(),
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(edgecall_relay::run(settings))
}
