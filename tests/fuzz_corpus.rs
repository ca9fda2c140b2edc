//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and crash reproducers
//! (`fuzz/regressions/<target>/`) through the same functions the cargo-fuzz targets call
//! (`cartwheel::fuzzing`), on the stable toolchain and without libFuzzer, so a decoder that
//! starts panicking on a known input fails plain `cargo test`.
//!
//! Also checks that the generated seeds are committed as the encoders make them today. After a
//! wire format change, regenerate them with
//! `cargo test --test fuzz_corpus -- --ignored regenerate_seeds` (rewrites `seed-*` files only).

use std::fs;
use std::path::{Path, PathBuf};

use cartwheel::fuzzing::{self, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

#[test]
fn corpora_and_regressions_replay_without_panics() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for &target in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(target));
        assert!(!corpus.is_empty(), "no corpus for {target}");
        for path in corpus.iter().chain(&files(&fuzz_dir().join("regressions").join(target))) {
            let data = fs::read(path).unwrap();
            replayed += 1;
            if std::panic::catch_unwind(|| assert!(fuzzing::run(target, &data))).is_err() {
                failures.push(format!("{target}: {}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {replayed} inputs panicked:\n{}", failures.len(), failures.join("\n"));
    println!("replayed {replayed} inputs");
}

#[test]
fn committed_seeds_match_the_encoders() {
    for seed in fuzzing::seeds() {
        let path = fuzz_dir().join("corpus").join(seed.target).join(format!("seed-{}", seed.name));
        let committed = fs::read(&path).unwrap_or_default();
        assert!(
            committed == seed.bytes,
            "{} is missing or stale: run `cargo test --test fuzz_corpus -- --ignored regenerate_seeds`",
            path.display()
        );
    }
}

/// Rewrites every target's `seed-*` files from the encoders (other corpus files are kept).
#[test]
#[ignore = "writes fuzz/corpus; run after a wire format change"]
fn regenerate_seeds() {
    for &target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        for path in files(&dir) {
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed-")) {
                fs::remove_file(path).unwrap();
            }
        }
    }
    let seeds = fuzzing::seeds();
    for seed in &seeds {
        let path = fuzz_dir().join("corpus").join(seed.target).join(format!("seed-{}", seed.name));
        fs::write(path, &seed.bytes).unwrap();
    }
    println!("wrote {} seeds", seeds.len());
}
