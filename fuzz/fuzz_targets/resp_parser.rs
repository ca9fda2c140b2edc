//! cargo-fuzz target `resp_parser`: feeds libFuzzer's input to `cartwheel::fuzzing::resp_parser`, the same
//! function the corpus replay test (`tests/fuzz_corpus.rs`) runs on `fuzz/corpus/resp_parser/`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartwheel::fuzzing::resp_parser(data));
