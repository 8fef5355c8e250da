#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Writes the golden record vectors and their named corruptions into a directory:
//!
//! `cargo run -p aq-evidence --example gen_vectors -- crates/aq-evidence/vectors`
//!
//! Running it again reproduces the committed files byte for byte; `tests/vectors.rs` checks that.

#[path = "../tests/support/vectors_gen.rs"]
mod vectors_gen;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "vectors".into());
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let files = vectors_gen::generate();
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    eprintln!("wrote {} files to {}", files.len(), dir.display());
}
