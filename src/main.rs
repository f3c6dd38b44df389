//! The `tinygpt` binary: everything lives in `tinygpt::cli`.
fn main() -> std::process::ExitCode {
    tinygpt::cli::run()
}
