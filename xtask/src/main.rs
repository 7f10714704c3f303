//! edgecall's orchestration, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`). Each command does its own set-up, idempotently,
//! into the per-user cache described in [`cache`].

mod bench;
mod bench_web;
mod browser;
mod cache;
mod cmd;
mod edge;
mod lambda;
mod pi;
mod run;
mod setup;
mod setup_cmd;
mod steps;
mod terraform;
mod test;
mod tools;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::cache::Cache;
use crate::setup_cmd::Groups;

const USAGE: &str = "\
Usage: cargo xtask <command>

Commands:
  run            set up, build and start edgecall locally
  test           set up and run every test (what CI runs)
  build-edge     build the Worker wasm if its sources changed (wrangler's build command)
      --keep-names   always rebuild, keeping function names for CPU profiles (edge-load --cpu-profile); not for deploys
  build-web      build the browser client into dist/web if its sources changed
  bench-edge     load the edge under workerd (1→3, 1→10, 10→10, then to saturation) beside a bare broadcast baseline
  bench-web      web client glass-to-glass latency (edge and relay paths, headless Chromium) and wasm size
  check-pi       cross-build the streamer for the Raspberry Pi (aarch64), setting up what it needs
  build-lambda   build the directory Lambda's zip (arm64 `bootstrap`, provided.al2023) offline
  check-terraform
                 offline checks of terraform/: hclfmt, the structure tests, checkov (set up first)
  setup [FLAGS]  install the tools the project needs into the cache
      --all          every group (the default)
      --rust         rustup target wasm32-unknown-unknown, rustfmt, clippy
      --cargo-tools  worker-build, wasm-bindgen-cli (cargo install)
      --node         Node 22, wrangler, binaryen, playwright-core (npm)
      --apt          Debian packages (chromium, nats-server, ...)
      --media        only the Debian packages the streamer's media crates and capture devices build against
      --terraform    hclfmt (built from Debian's HCL sources), python-hcl2, checkov, moto[server] (venvs)
      --edge         what the edge needs: --rust --cargo-tools --node
      --check        only report what is installed; fail if anything is missing
  help           show this

Cache: $EDGECALL_CACHE, else $XDG_CACHE_HOME/edgecall, else ~/.cache/edgecall.
Cargo commands build into $CARGO_TARGET_DIR, else <cache>/target.";

/// What xtask was asked to do.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    Run,
    Test,
    BuildEdge { keep_names: bool },
    BuildWeb,
    BenchEdge,
    BenchWeb,
    CheckPi,
    BuildLambda,
    CheckTerraform,
    Setup { groups: Groups, check_only: bool },
    Help,
}

fn parse(args: &[String]) -> Result<Task> {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => return Ok(Task::Help),
    };
    let no_flags = |task| match rest.first() {
        None => Ok(task),
        Some(flag) => bail!("`{command}` takes no arguments, got `{flag}`"),
    };
    match command {
        "run" => no_flags(Task::Run),
        "test" => no_flags(Task::Test),
        "build-edge" => match rest {
            [] => Ok(Task::BuildEdge { keep_names: false }),
            [flag] if flag == "--keep-names" => Ok(Task::BuildEdge { keep_names: true }),
            [flag, ..] => bail!("`build-edge` takes only --keep-names, got `{flag}`"),
        },
        "build-web" => no_flags(Task::BuildWeb),
        "bench-edge" => no_flags(Task::BenchEdge),
        "bench-web" => no_flags(Task::BenchWeb),
        "check-pi" => no_flags(Task::CheckPi),
        "build-lambda" => no_flags(Task::BuildLambda),
        "check-terraform" => no_flags(Task::CheckTerraform),
        "help" | "-h" | "--help" => no_flags(Task::Help),
        "setup" => {
            let mut groups = Groups::default();
            let mut check_only = false;
            for flag in rest {
                let add = match flag.as_str() {
                    "--all" => Groups::ALL,
                    "--edge" => Groups::EDGE,
                    "--rust" => Groups {
                        rust: true,
                        ..Groups::default()
                    },
                    "--cargo-tools" => Groups {
                        cargo_tools: true,
                        ..Groups::default()
                    },
                    "--node" => Groups {
                        node: true,
                        ..Groups::default()
                    },
                    "--apt" => Groups {
                        apt: true,
                        ..Groups::default()
                    },
                    "--media" => Groups {
                        media: true,
                        ..Groups::default()
                    },
                    "--terraform" => Groups {
                        terraform: true,
                        ..Groups::default()
                    },
                    "--check" => {
                        check_only = true;
                        Groups::default()
                    }
                    other => bail!("unknown `setup` flag `{other}`"),
                };
                groups = groups.union(add);
            }
            if groups.is_empty() {
                groups = Groups::ALL;
            }
            Ok(Task::Setup { groups, check_only })
        }
        other => bail!("unknown command `{other}`"),
    }
}

/// Shared state for every command.
pub struct Ctx {
    /// The repository root (the workspace that holds `xtask/`).
    pub root: PathBuf,
    /// The per-user cache for tools and build outputs.
    pub cache: Cache,
}

impl Ctx {
    fn new() -> Result<Self> {
        // Prefer the directory cargo names at run time: a binary reused from
        // a build of another checkout still has that checkout's path baked in.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .parent()
            .context("xtask/ has no parent directory")?
            .to_path_buf();
        let cache = Cache::locate()?;
        let target = cache.apply_target_dir();
        println!(
            "edgecall xtask: cache {}, CARGO_TARGET_DIR {}",
            cache.root().display(),
            target.display()
        );
        Ok(Self { root, cache })
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = match parse(&args) {
        Ok(task) => task,
        Err(error) => {
            eprintln!("xtask: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match task {
        Task::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Task::Run => Ctx::new().and_then(|ctx| run::run(&ctx)),
        Task::Test => Ctx::new().and_then(|ctx| test::test(&ctx)),
        Task::BuildEdge { keep_names: false } => {
            Ctx::new().and_then(|ctx| edge::build(&ctx).map(drop))
        }
        Task::BuildEdge { keep_names: true } => {
            Ctx::new().and_then(|ctx| edge::build_with_names(&ctx).map(drop))
        }
        Task::BuildWeb => Ctx::new().and_then(|ctx| web::build(&ctx)),
        Task::BenchEdge => Ctx::new().and_then(|ctx| bench::bench_edge(&ctx)),
        Task::BenchWeb => Ctx::new().and_then(|ctx| bench_web::bench_web(&ctx)),
        Task::CheckPi => Ctx::new().and_then(|ctx| pi::check_pi(&ctx)),
        Task::BuildLambda => Ctx::new().and_then(|ctx| lambda::build_lambda(&ctx)),
        Task::CheckTerraform => Ctx::new().and_then(|ctx| terraform::check_terraform(&ctx)),
        Task::Setup { groups, check_only } => {
            Ctx::new().and_then(|ctx| setup_cmd::setup(&ctx.cache, groups, check_only))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nxtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Task> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse_str("").unwrap(), Task::Help);
        assert_eq!(parse_str("run").unwrap(), Task::Run);
        assert_eq!(parse_str("test").unwrap(), Task::Test);
        assert_eq!(parse_str("build-web").unwrap(), Task::BuildWeb);
        assert_eq!(parse_str("check-pi").unwrap(), Task::CheckPi);
        assert_eq!(parse_str("check-terraform").unwrap(), Task::CheckTerraform);
        assert!(parse_str("check-terraform --fix").is_err());
        assert!(parse_str("test --all").is_err());
        assert!(parse_str("deploy").is_err());
    }

    #[test]
    fn setup_defaults_to_everything() {
        let all = Task::Setup {
            groups: Groups::ALL,
            check_only: false,
        };
        assert_eq!(parse_str("setup").unwrap(), all);
        assert_eq!(parse_str("setup --all").unwrap(), all);
        assert_eq!(
            parse_str("setup --check").unwrap(),
            Task::Setup {
                groups: Groups::ALL,
                check_only: true
            }
        );
    }

    #[test]
    fn setup_groups_combine() {
        let Task::Setup { groups, .. } = parse_str("setup --node --apt").unwrap() else {
            panic!("not setup");
        };
        assert!(groups.node && groups.apt && !groups.rust && !groups.cargo_tools);
        assert_eq!(
            parse_str("setup --edge").unwrap(),
            Task::Setup {
                groups: Groups::EDGE,
                check_only: false
            }
        );
        assert!(parse_str("setup --bogus").is_err());
    }
}
