//! The `hivecheck` binary: logging, then the command line.

fn main() -> std::process::ExitCode {
    hivecheck::cli::init_logging();
    hivecheck::cli::main()
}
