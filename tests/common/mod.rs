//! Helpers shared by the Rust integration tests.

pub mod redis;
pub mod requests;
