//! One conformance suite for every [`Store`]: `MemStore` and `FjallStore` must behave alike.

use bytes::Bytes;

use super::{scan_all, FjallStore, MemStore, Space, Store, Write};

const D: Space = Space::Data;
const H: Space = Space::Hints;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn check_store(store: &dyn Store) {
    assert_eq!(store.get(D, b"a").unwrap(), None);
    store
        .write(&[Write::Put(D, b("a"), b("1")), Write::Put(D, b("c"), b("3")), Write::Put(D, b("b"), b("2"))])
        .unwrap();
    assert_eq!(store.get(D, b"b").unwrap(), Some(b("2")));

    store.write(&[Write::Put(D, b("b"), b("22")), Write::Delete(D, b("a"))]).unwrap();
    assert_eq!(store.get(D, b"a").unwrap(), None);
    assert_eq!(store.get(D, b"b").unwrap(), Some(b("22")));

    // Scans are ordered, bounded and half-open.
    store.write(&[Write::Put(D, b("d"), b("4"))]).unwrap();
    let all = store.scan(D, b"", None, 100).unwrap();
    assert_eq!(all.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), vec![b("b"), b("c"), b("d")]);
    let part = store.scan(D, b"b", Some(b"d"), 100).unwrap();
    assert_eq!(part, vec![(b("b"), b("22")), (b("c"), b("3"))]);
    assert_eq!(store.scan(D, b"c", None, 1).unwrap(), vec![(b("c"), b("3"))]);

    // The hints space is separate: same keys, other values, invisible to data reads and scans.
    store
        .write(&[Write::Put(H, b("b"), b("hinted")), Write::Put(D, b("e"), b("5")), Write::Put(H, b("x"), b("9"))])
        .unwrap();
    assert_eq!(store.get(D, b"b").unwrap(), Some(b("22")));
    assert_eq!(store.get(H, b"b").unwrap(), Some(b("hinted")));
    assert_eq!(store.get(D, b"x").unwrap(), None);
    assert_eq!(store.scan(D, b"d", None, 100).unwrap(), vec![(b("d"), b("4")), (b("e"), b("5"))]);
    assert_eq!(store.scan(H, b"", Some(b"x"), 100).unwrap(), vec![(b("b"), b("hinted"))]);
    store.write(&[Write::Delete(H, b("b"))]).unwrap();
    assert_eq!(store.get(H, b"b").unwrap(), None);
    assert_eq!(store.get(D, b"b").unwrap(), Some(b("22")));
    store.compact(H).unwrap();
    assert_eq!(store.scan(H, b"", None, 100).unwrap(), vec![(b("x"), b("9"))]);

    // scan_all pages through a whole range, bounds kept, whatever the page size.
    for page in [1, 2, 100] {
        let keys: Vec<Bytes> = scan_all(store, D, b"c", Some(b"e"), page).map(|e| e.unwrap().0).collect();
        assert_eq!(keys, vec![b("c"), b("d")], "page {page}");
        let all: Vec<Bytes> = scan_all(store, D, b"", None, page).map(|e| e.unwrap().0).collect();
        assert_eq!(all, vec![b("b"), b("c"), b("d"), b("e")], "page {page}");
    }

    // A snapshot keeps what was stored when it was taken, whatever is written after.
    let snap = store.snapshot();
    store
        .write(&[Write::Put(D, b("c"), b("changed")), Write::Delete(D, b("d")), Write::Put(D, b("f"), b("6"))])
        .unwrap();
    assert_eq!(
        snap.scan(D, b"c", Some(b"g"), 100).unwrap(),
        vec![(b("c"), b("3")), (b("d"), b("4")), (b("e"), b("5"))]
    );
    assert_eq!(snap.scan(D, b"c", None, 1).unwrap(), vec![(b("c"), b("3"))]);
    assert_eq!(store.scan(D, b"c", Some(b"g"), 100).unwrap().len(), 3);
    drop(snap);

    store.flush().unwrap();
    store.sync().unwrap();
    store.clear().unwrap();
    assert!(store.scan(D, b"", None, 10).unwrap().is_empty());
    assert!(store.scan(H, b"", None, 10).unwrap().is_empty());
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
        store.write(&[Write::Put(D, b("k"), b("v")), Write::Put(H, b("h"), b("hv"))]).unwrap();
        store.sync().unwrap();
    }
    let store = FjallStore::open(dir.path(), 8 << 20).unwrap();
    assert_eq!(store.get(D, b"k").unwrap(), Some(b("v")));
    assert_eq!(store.get(H, b"h").unwrap(), Some(b("hv")));
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
    let batch: Vec<Write> = keys.iter().map(|k| Write::Put(H, k.clone(), noise(200))).collect();
    store.write(&batch).unwrap();
    store.compact(H).unwrap();
    let full = store.space_disk_space(H);
    assert!(full > 500_000, "5000 hints of 200 bytes are on disk after a flush: {full}");
    let gone: Vec<Write> = keys.iter().map(|k| Write::Delete(H, k.clone())).collect();
    store.write(&gone).unwrap();
    store.compact(H).unwrap();
    let after = store.space_disk_space(H);
    assert!(after < full / 10, "compaction after delivery shrinks the hints space: {full} -> {after}");
    assert!(store.scan(H, b"", None, 10).unwrap().is_empty());
}
