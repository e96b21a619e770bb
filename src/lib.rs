//! hivecheck: an end-to-end validation harness for TheHive and Cortex analyzer automation.
//!
//! The library is laid out by domain: [`client`] talks to TheHive, [`scenario`] loads the
//! declarative test files, [`runner`] executes their steps, [`report`] shapes what people
//! read, and [`emulator`] is a built-in TheHive + Cortex that answers as the real servers do.
//! [`harness`] turns scenarios into `cargo test`-style trials and [`cli`] is the command line.

pub mod cleanup;
pub mod cli;
pub mod client;
pub mod config;
pub mod emulator;
pub mod exit;
pub mod harness;
pub mod ipgen;
pub mod preflight;
pub mod report;
pub mod runbook;
pub mod runner;
pub mod scenario;
pub mod stack;
