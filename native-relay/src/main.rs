//! `edgecall-relay`: see the crate docs and `native-relay/README.md`.

use anyhow::Result;
use edgecall_relay::config::Settings;

fn main() -> Result<()> {
    edgecall_relay::run_process(Settings::from_env()?)
}
