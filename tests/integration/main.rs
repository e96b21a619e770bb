//! Integration tests, one binary. Each test starts its own emulator on 127.0.0.1 port 0.
//!
//! To debug one: `cargo test --test integration <name> -- --nocapture` with
//! `HIVECHECK_LOG=debug` shows every HTTP exchange and the emulator's own log lines.

// Run-scoped clean-up and `hivecheck cleanup`.
mod cleanup;
// The hivecheck binary as a process: exit codes, listing, signals.
mod cli;
// The built-in emulator answering as TheHive 4 and Cortex do.
mod emulator;
// The emulator's TheHive 5 profile, also driven by the official TheHive4py client.
mod emulator_th5;
// The emulator's split roles: Cortex over HTTP and TheHive reaching it.
mod emulator_roles;
// A proxy in front of an emulator that misbehaves on request (5xx, odd shapes).
mod proxy;
// Preflight: one report and one exit code per kind of failure.
mod preflight;
// The runner's steps and verdicts against the in-process emulator.
mod runner;
// Shared set-up: emulators, targets, contexts, scenarios.
mod support;
