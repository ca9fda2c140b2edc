//! The data directory's format version, checked before anything in it is opened.
//!
//! A data directory holds a `FORMAT` file, `cartwheel data format N`. Format 1 is:
//! - space `data`: storage keys `slot (u16 BE) ‖ SipHash-48 of the key ‖ user key` ([`super::keys`])
//!   → the key's sibling set in the `version::codec` encoding;
//! - space `hints`: `target node id (20 bytes) ‖ storage key` → `created ms (u64 BE) ‖ encoded
//!   sibling set`;
//! - files beside the fjall database: `node.id` (40 hex digits) and `dots.lease` (the floor of new
//!   dot counters).
//!
//! Directories written before the `FORMAT` file existed are format 1 and get the file on their next
//! start. A node refuses a directory of a newer format (written by a newer Cartwheel) and one whose
//! `FORMAT` file it cannot read, saying so and what to do. A directory of an older format is
//! migrated in place, one step at a time ([`MIGRATIONS`]: each rewrites format N as N + 1 and then
//! the `FORMAT` file), before the store opens; every future format change (collection types,
//! numbered databases) adds its step and a test that migrates a directory of the format before.

use std::path::Path;

use super::StorageError;

/// The format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const FILE: &str = "FORMAT";
const PREFIX: &str = "cartwheel data format ";

/// One migration step: rewrites a directory of format `from` as format `from + 1`.
pub type Migration = fn(&Path) -> Result<(), StorageError>;

/// The migration steps, `(from, step)`, in order. None yet: format 1 is the first.
pub const MIGRATIONS: &[(u32, Migration)] = &[];

/// Checks `dir`'s format before the store opens: creates the file in a new or pre-versioning
/// directory, migrates an older format, refuses a newer or unreadable one.
pub fn check_format(dir: &Path) -> Result<(), StorageError> {
    check_with(dir, FORMAT_VERSION, MIGRATIONS)
}

fn check_with(dir: &Path, current: u32, migrations: &[(u32, Migration)]) -> Result<(), StorageError> {
    let err = |reason: String| StorageError::Format { path: dir.display().to_string(), reason };
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    let found = match std::fs::read_to_string(dir.join(FILE)) {
        Ok(text) => parse(&text).ok_or_else(|| {
            err(format!(
                "its {FILE} file says {:?}, not \"{PREFIX}N\"; this is not a Cartwheel data directory, or it was \
                 damaged (restore it from a replica or a backup)",
                text.trim()
            ))
        })?,
        // A new directory, or one written before the FORMAT file existed: format 1.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
        Err(e) => return Err(err(e.to_string())),
    };
    if found > current {
        return Err(err(format!(
            "it has data format {found}, written by a newer Cartwheel; this build reads format {current}. Start \
             the newer Cartwheel on it (formats are never downgraded), or move the directory aside to start empty"
        )));
    }
    let mut at = found.max(1);
    while at < current {
        let Some((_, step)) = migrations.iter().find(|(from, _)| *from == at) else {
            return Err(err(format!("no migration from data format {at} to {}", at + 1)));
        };
        tracing::warn!(dir = %dir.display(), from = at, to = at + 1, "migrating the data directory");
        step(dir)?;
        at += 1;
        write(dir, at).map_err(|e| err(e.to_string()))?;
    }
    if !dir.join(FILE).exists() {
        write(dir, current).map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

fn parse(text: &str) -> Option<u32> {
    text.trim().strip_prefix(PREFIX)?.parse().ok().filter(|&n| n >= 1)
}

/// Writes the `FORMAT` file atomically (temporary file, fsync, rename).
fn write(dir: &Path, version: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = dir.join("FORMAT.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    writeln!(f, "{PREFIX}{version}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(FILE)).unwrap()
    }

    #[test]
    fn a_new_directory_gets_the_current_format() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("new");
        check_format(&data).unwrap();
        assert_eq!(format_of(&data), format!("cartwheel data format {FORMAT_VERSION}\n"));
        check_format(&data).unwrap();
    }

    #[test]
    fn a_directory_from_before_the_format_file_is_format_1() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("node.id"), "00\n").unwrap();
        check_format(dir.path()).unwrap();
        assert_eq!(format_of(dir.path()), "cartwheel data format 1\n");
    }

    #[test]
    fn a_newer_or_unreadable_format_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "cartwheel data format 99\n").unwrap();
        let e = check_format(dir.path()).unwrap_err().to_string();
        assert!(e.contains("data format 99") && e.contains("newer Cartwheel"), "{e}");
        assert_eq!(format_of(dir.path()), "cartwheel data format 99\n", "left as it was");
        std::fs::write(dir.path().join(FILE), "something else\n").unwrap();
        let e = check_format(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a Cartwheel data directory"), "{e}");
    }

    #[test]
    fn an_older_format_is_migrated_step_by_step() {
        fn one_to_two(dir: &Path) -> Result<(), StorageError> {
            std::fs::write(dir.join("step"), "1->2\n").map_err(|e| StorageError::Engine(e.to_string()))
        }
        fn two_to_three(dir: &Path) -> Result<(), StorageError> {
            let before = std::fs::read_to_string(dir.join("step")).unwrap_or_default();
            std::fs::write(dir.join("step"), format!("{before}2->3\n")).map_err(|e| StorageError::Engine(e.to_string()))
        }
        let steps: &[(u32, Migration)] = &[(1, one_to_two), (2, two_to_three)];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "cartwheel data format 1\n").unwrap();
        check_with(dir.path(), 3, steps).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("step")).unwrap(), "1->2\n2->3\n");
        assert_eq!(format_of(dir.path()), "cartwheel data format 3\n");
        // Already current: nothing runs again.
        check_with(dir.path(), 3, steps).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("step")).unwrap(), "1->2\n2->3\n");
        // A missing step is an error, not a silent skip.
        let gap = tempfile::tempdir().unwrap();
        std::fs::write(gap.path().join(FILE), "cartwheel data format 1\n").unwrap();
        let e = check_with(gap.path(), 3, &[(2, two_to_three)]).unwrap_err().to_string();
        assert!(e.contains("no migration from data format 1 to 2"), "{e}");
    }
}
