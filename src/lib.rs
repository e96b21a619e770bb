//! hivecheck: an end-to-end validation harness for TheHive and Cortex analyzer automation.
//!
//! The library is laid out by domain: `client` talks to TheHive, `scenario` loads the
//! declarative test files, `runner` executes their steps, `report` shapes what people read,
//! and `emulator` is a built-in TheHive + Cortex that answers as the real servers do.

pub mod emulator;
