//! cargo-fuzz target `cluster_messages`: feeds libFuzzer's input to `cartwheel::fuzzing::cluster_messages`, the same
//! function the corpus replay test (`tests/fuzz_corpus.rs`) runs on `fuzz/corpus/cluster_messages/`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartwheel::fuzzing::cluster_messages(data));
