//! Built-in TheHive + Cortex emulator (being written).
