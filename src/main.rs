//! The `nnc` binary: everything happens in [`nnc::cli`].

fn main() -> std::process::ExitCode {
    nnc::cli::main()
}
