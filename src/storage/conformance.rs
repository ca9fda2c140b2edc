//! One conformance suite for every [`Store`]: `MemStore` and `FjallStore` must behave alike.

use bytes::Bytes;

use super::{FjallStore, MemStore, Store, Write};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn check_store(store: &dyn Store) {
    assert_eq!(store.get(b"a").unwrap(), None);
    store.write(&[Write::Put(b("a"), b("1")), Write::Put(b("c"), b("3")), Write::Put(b("b"), b("2"))]).unwrap();
    assert_eq!(store.get(b"b").unwrap(), Some(b("2")));

    store.write(&[Write::Put(b("b"), b("22")), Write::Delete(b("a"))]).unwrap();
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.get(b"b").unwrap(), Some(b("22")));

    // Scans are ordered, bounded and half-open.
    store.write(&[Write::Put(b("d"), b("4"))]).unwrap();
    let all = store.scan(b"", None, 100).unwrap();
    assert_eq!(all.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), vec![b("b"), b("c"), b("d")]);
    let part = store.scan(b"b", Some(b"d"), 100).unwrap();
    assert_eq!(part, vec![(b("b"), b("22")), (b("c"), b("3"))]);
    assert_eq!(store.scan(b"c", None, 1).unwrap(), vec![(b("c"), b("3"))]);

    // The hints space is separate: same keys, other values, invisible to data reads and scans.
    store.write(&[Write::Hint(b("b"), b("hinted")), Write::Put(b("e"), b("5")), Write::Hint(b("x"), b("9"))]).unwrap();
    assert_eq!(store.get(b"b").unwrap(), Some(b("22")));
    assert_eq!(store.get_hint(b"b").unwrap(), Some(b("hinted")));
    assert_eq!(store.get(b"x").unwrap(), None);
    assert_eq!(store.scan(b"d", None, 100).unwrap(), vec![(b("d"), b("4")), (b("e"), b("5"))]);
    assert_eq!(store.scan_hints(b"", Some(b"x"), 100).unwrap(), vec![(b("b"), b("hinted"))]);
    store.write(&[Write::Unhint(b("b"))]).unwrap();
    assert_eq!(store.get_hint(b"b").unwrap(), None);
    assert_eq!(store.get(b"b").unwrap(), Some(b("22")));
    store.compact_hints().unwrap();
    assert_eq!(store.scan_hints(b"", None, 100).unwrap(), vec![(b("x"), b("9"))]);

    store.flush().unwrap();
    store.sync().unwrap();
    store.clear().unwrap();
    assert!(store.scan(b"", None, 10).unwrap().is_empty());
    assert!(store.scan_hints(b"", None, 10).unwrap().is_empty());
}

#[test]
fn mem_store_conforms() {
    check_store(&MemStore::new());
}

#[test]
fn fjall_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    check_store(&FjallStore::open(dir.path(), 8 << 20).unwrap());
}

#[test]
fn fjall_store_keeps_synced_writes_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = FjallStore::open(dir.path(), 8 << 20).unwrap();
        store.write(&[Write::Put(b("k"), b("v")), Write::Hint(b("h"), b("hv"))]).unwrap();
        store.sync().unwrap();
    }
    let store = FjallStore::open(dir.path(), 8 << 20).unwrap();
    assert_eq!(store.get(b"k").unwrap(), Some(b("v")));
    assert_eq!(store.get_hint(b"h").unwrap(), Some(b("hv")));
}

#[test]
fn fjall_hints_space_gives_its_disk_back_once_hints_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallStore::open(dir.path(), 8 << 20).unwrap();
    let keys: Vec<Bytes> = (0..5000).map(|i| Bytes::from(format!("hint:{i:06}"))).collect();
    // Incompressible values (xorshift), so that the bytes on disk are what was written.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut noise = |n: usize| -> Bytes {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>()
            .into()
    };
    let batch: Vec<Write> = keys.iter().map(|k| Write::Hint(k.clone(), noise(200))).collect();
    store.write(&batch).unwrap();
    store.compact_hints().unwrap();
    let full = store.hints_disk_space();
    assert!(full > 500_000, "5000 hints of 200 bytes are on disk after a flush: {full}");
    let gone: Vec<Write> = keys.iter().map(|k| Write::Unhint(k.clone())).collect();
    store.write(&gone).unwrap();
    store.compact_hints().unwrap();
    let after = store.hints_disk_space();
    assert!(after < full / 10, "compaction after delivery shrinks the hints space: {full} -> {after}");
    assert!(store.scan_hints(b"", None, 10).unwrap().is_empty());
}
