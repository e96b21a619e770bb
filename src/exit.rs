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
/// Preflight: TheHive is not reachable (DNS, connection refused, time-out).
pub const PREFLIGHT_UNREACHABLE: u8 = 10;
/// Preflight: TLS failed (untrusted or invalid certificate).
pub const PREFLIGHT_TLS: u8 = 11;
/// Preflight: the user's or admin's credentials were refused.
pub const PREFLIGHT_CREDENTIALS: u8 = 12;
/// Preflight: the organisation does not exist, or the user is not a member.
pub const PREFLIGHT_ORGANISATION: u8 = 13;
/// Preflight: a Cortex server is down or refuses TheHive's key.
pub const PREFLIGHT_CORTEX: u8 = 14;
/// Preflight: a scenario's analyzer is missing on its server or does not take its data type.
pub const PREFLIGHT_ANALYZER: u8 = 15;
/// Preflight: TheHive 5's licence has expired, or does not allow what a scenario needs.
pub const PREFLIGHT_LICENCE: u8 = 16;
/// Preflight: something answers at the URL, but not as TheHive's API in the version used
/// (a missing route: wrong `--api` or context path; a server error; an unreadable body).
pub const PREFLIGHT_API: u8 = 17;
/// The container stack could not be brought up (no Docker, an image missing, a bootstrap step).
pub const STACK: u8 = 6;
