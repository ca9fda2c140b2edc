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

    store.flush().unwrap();
    store.sync().unwrap();
    store.clear().unwrap();
    assert!(store.scan(b"", None, 10).unwrap().is_empty());
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
        store.write(&[Write::Put(b("k"), b("v"))]).unwrap();
        store.sync().unwrap();
    }
    let store = FjallStore::open(dir.path(), 8 << 20).unwrap();
    assert_eq!(store.get(b"k").unwrap(), Some(b("v")));
}
