//! cargo-fuzz target `version_codec`: feeds libFuzzer's input to `cartwheel::fuzzing::version_codec`, the same
//! function the corpus replay test (`tests/fuzz_corpus.rs`) runs on `fuzz/corpus/version_codec/`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartwheel::fuzzing::version_codec(data));
