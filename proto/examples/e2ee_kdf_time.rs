//! How long deriving a room key takes on this machine: the typed path
//! (Argon2id, 19 MiB, t = 2) and the generated path (HKDF only).
//!
//! `cargo run -p edgecall-proto --example e2ee_kdf_time` (the dev profile
//! builds argon2 and blake2 optimised, as the web profile does).

use std::time::Instant;

use edgecall_proto::e2ee::{RoomKey, RoomSecret};

fn main() -> Result<(), edgecall_proto::e2ee::E2eeError> {
    const RUNS: u32 = 5;
    let typed = RoomSecret::Typed("correct horse battery staple".into());
    let generated = RoomSecret::Generated(*b"0123456789abcdef");
    for (what, secret) in [
        ("typed (Argon2id)", &typed),
        ("generated (HKDF)", &generated),
    ] {
        let mut best = f64::MAX;
        for _ in 0..RUNS {
            let started = Instant::now();
            RoomKey::new(secret, "standup")?;
            best = best.min(started.elapsed().as_secs_f64() * 1_000.0);
        }
        println!("{what}: best of {RUNS} {best:.2} ms");
    }
    Ok(())
}
