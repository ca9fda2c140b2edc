//! cargo-fuzz target `rpc_handshake`: feeds libFuzzer's input to `cartwheel::fuzzing::rpc_handshake`, the same
//! function the corpus replay test (`tests/fuzz_corpus.rs`) runs on `fuzz/corpus/rpc_handshake/`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartwheel::fuzzing::rpc_handshake(data));
