//! The `backend` command: a thin shim over the library (see `cli.rs`).

fn main() -> std::process::ExitCode {
    backend::cli::main()
}
