//! `embed_migrations!` reads `migrations/` at compile time, but a proc macro
//! cannot tell cargo to watch a folder: without this, a changed or added
//! migration would not reach the binary until some Rust file changed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
