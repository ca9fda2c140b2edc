//! cargo-fuzz target `rpc_frame`: feeds libFuzzer's input to `cartwheel::fuzzing::rpc_frame`, the same
//! function the corpus replay test (`tests/fuzz_corpus.rs`) runs on `fuzz/corpus/rpc_frame/`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartwheel::fuzzing::rpc_frame(data));
