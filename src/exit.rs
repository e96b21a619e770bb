//! The process exit codes, named once. `cargo test`'s own code (101) means "a test failed";
//! the others separate bad input from a target that could not be used.

/// Every trial passed (or only `--list` was asked).
pub const OK: u8 = 0;
/// Bad usage: unknown flag, missing or contradictory target configuration.
pub const USAGE: u8 = 2;
/// A scenario file cannot be read, parsed or validated.
pub const SCENARIO: u8 = 3;
/// The target could not be used: unreachable, credentials refused, an API step broke.
pub const TARGET: u8 = 4;
/// The built-in emulator could not start.
pub const EMULATOR: u8 = 5;
/// Some expectation was not met (the same code as `cargo test`).
pub const EXPECTATIONS: u8 = 101;
/// The run was interrupted (SIGINT or SIGTERM) after putting back what it had changed.
pub const INTERRUPTED: u8 = 130;
