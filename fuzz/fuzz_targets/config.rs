#![no_main]
//! `cargo fuzz run config`: see `fuzz/harness.rs` for the input layout and the properties.

#[path = "../harness.rs"]
#[allow(dead_code)] // every target includes the whole harness and uses one function of it
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::config(data));
