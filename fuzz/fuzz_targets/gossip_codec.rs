//! cargo-fuzz target `gossip_codec`: feeds libFuzzer's input to `cartwheel::fuzzing::gossip_codec`, the same
//! function the corpus replay test (`tests/fuzz_corpus.rs`) runs on `fuzz/corpus/gossip_codec/`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartwheel::fuzzing::gossip_codec(data));
