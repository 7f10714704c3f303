//! Generates the prost types from `edgecall.proto` with protox (pure Rust,
//! no `protoc` binary needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=edgecall.proto");
    let descriptors = protox::compile(["edgecall.proto"], ["."])?;
    prost_build::Config::new()
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
