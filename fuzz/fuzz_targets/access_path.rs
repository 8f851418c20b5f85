//! The store's access path under arbitrary requests: one SQLite store with the world of
//! `access_path` (patients A, B and C and their records), opened once, and every input
//! decoded into a caller and a store call that [`access_path::World::check`] holds to the
//! model. A violation or a panic is a crash.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/store/tests/access_path/mod.rs"]
mod access_path;

static WORLD: OnceLock<access_path::World> = OnceLock::new();

fuzz_target!(|request: access_path::Request| {
    let world = WORLD.get_or_init(access_path::World::open);
    if let Err(e) = world.check(&request) {
        panic!("{request:?}: {e}");
    }
});
