//! Tests of the gossip wire format: round trips, truncation, bounds, and garbage that must be an
//! error and never a panic (proptest).

use proptest::prelude::*;

use super::*;

fn record(n: u8) -> Record {
    let member = LocalMember {
        id: NodeId([n; 20]),
        client_addr: "127.0.0.2:6379".parse().unwrap(),
        cluster_addr: "[::1]:16379".parse().unwrap(),
        zone: "eu-west-1a".into(),
        weight: 2,
        vnodes: 64,
        generation: 7,
        replicas: 3,
    };
    Record { member, heartbeat: 42, status: MemberStatus::Leaving, suspects: vec![(NodeId([9; 20]), 3)] }
}

fn samples() -> Vec<Message> {
    let t = Tombstone { id: NodeId([5; 20]), generation: 1, ttl_ms: 1000 };
    let d = Digest { id: NodeId([1; 20]), generation: 2, heartbeat: 3 };
    vec![
        Message::Syn { from: NodeId([1; 20]), generation: 1, digest: vec![d], tombstones: vec![t] },
        Message::SynAck {
            from: NodeId([2; 20]),
            generation: 9,
            records: vec![record(1), record(2)],
            want: vec![NodeId([3; 20])],
            tombstones: vec![t],
        },
        Message::Ack { from: NodeId([3; 20]), generation: 4, records: vec![record(3)] },
    ]
}

#[test]
fn round_trips_and_sizes() {
    for msg in samples() {
        let bytes = msg.encode();
        assert_eq!(Message::decode(&bytes), Ok(msg));
    }
    let r = record(1);
    let mut out = BytesMut::new();
    put_records(&mut out, std::slice::from_ref(&r));
    // IPv6 addresses take 19 bytes, IPv4 7: encoded_len is an upper bound.
    assert!(out.len() - 2 <= r.encoded_len());
}

#[test]
fn every_truncation_and_extension_is_an_error() {
    for msg in samples() {
        let bytes = msg.encode();
        for cut in 0..bytes.len() {
            assert!(Message::decode(&bytes[..cut]).is_err(), "prefix {cut} accepted");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(Message::decode(&longer), Err(CodecError::Trailing(1)));
    }
}

#[test]
fn bounds_are_enforced() {
    assert_eq!(Message::decode(&[1, 1]), Err(CodecError::Version(1)), "version 1 had no replicas field");
    assert_eq!(Message::decode(&[WIRE_VERSION, 9]), Err(CodecError::Kind(9)));
    // A Syn claiming 65535 digest entries is rejected before any allocation.
    let mut syn = vec![WIRE_VERSION, KIND_SYN];
    syn.extend_from_slice(&[0; 28]);
    syn.extend_from_slice(&[0xff, 0xff]);
    assert_eq!(Message::decode(&syn), Err(CodecError::TooLarge("digest")));
    // A zone longer than 64 bytes.
    let mut long = record(1);
    long.member.zone = "z".repeat(65);
    let bytes = Message::Ack { from: NodeId([1; 20]), generation: 1, records: vec![long] }.encode();
    assert_eq!(Message::decode(&bytes), Err(CodecError::TooLarge("zone")));
    assert_eq!(Message::decode(&vec![1; MAX_MESSAGE_BYTES + 1]), Err(CodecError::TooLarge("message")));
}

proptest! {
    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::decode(&data);
    }

    #[test]
    fn mutated_messages_never_panic(i in 0usize..4096, b in any::<u8>(), which in 0usize..3) {
        let mut bytes = samples()[which].encode().to_vec();
        let at = i % bytes.len();
        bytes[at] = b;
        let _ = Message::decode(&bytes);
    }
}
