//! Micro-benchmarks of the RESP request parser, [`RequestParser::parse`].
//!
//! What is measured: turning request bytes already in a connection's read buffer into argument
//! lists, exactly as the connection loop does (call `parse` until it returns `Ok(None)`). Socket
//! I/O, command dispatch and reply encoding are not included. Cases:
//!
//! - `set_64b`: one multibulk `SET key:000123 <64-byte value>`;
//! - `pipeline_16_set_64b`: 16 such SETs in one buffer, parsed until `None`;
//! - `get`: one multibulk `GET key:000123`;
//! - `inline_ping`: the inline request `PING\r\n`;
//! - `set_1mib`: one multibulk SET whose value is a 1 MiB bulk, whole in the buffer.
//!
//! Every iteration parses a fresh copy of the request bytes; building that copy is setup
//! (`iter_batched`) and is not timed. The parser itself is reused across iterations, as one
//! connection reuses its parser. Throughput is reported in request bytes.
//!
//! Run with `cargo bench --bench parser` (add a filter such as `cargo bench --bench parser --
//! pipeline` to run one case). Criterion keeps the previous run under `target/criterion/` and
//! reports the change against it.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cartwheel::resp::parser::{ParserLimits, RequestParser};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// The multibulk encoding of `args`.
fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses every complete request in `buf`; returns them so that dropping them is not timed.
/// `expected` only sizes the result up front, keeping its growth out of the measurement.
fn parse_all(parser: &mut RequestParser, buf: &mut BytesMut, expected: usize) -> Vec<Vec<Bytes>> {
    let mut requests = Vec::with_capacity(expected);
    while let Some(args) = parser.parse(buf).expect("benchmark input is valid RESP") {
        requests.push(args);
    }
    requests
}

fn bench_parser(c: &mut Criterion) {
    let value_64 = [b'v'; 64];
    let set = multibulk(&[b"SET", b"key:000123", &value_64]);
    let pipeline = set.repeat(16);
    let get = multibulk(&[b"GET", b"key:000123"]);
    let inline = b"PING\r\n".to_vec();
    let value_1m = vec![b'x'; 1024 * 1024];
    let large = multibulk(&[b"SET", b"key:000123", &value_1m]);

    // (name, request bytes, requests in the buffer, batch size for the untimed copies)
    let cases: [(&str, &[u8], usize, BatchSize); 5] = [
        ("set_64b", &set, 1, BatchSize::SmallInput),
        ("pipeline_16_set_64b", &pipeline, 16, BatchSize::SmallInput),
        ("get", &get, 1, BatchSize::SmallInput),
        ("inline_ping", &inline, 1, BatchSize::SmallInput),
        ("set_1mib", &large, 1, BatchSize::LargeInput),
    ];

    let mut group = c.benchmark_group("parser");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50);
    for (name, input, expected, batch) in cases {
        // Check the case once before timing it: every request must come out whole.
        let mut check = BytesMut::from(input);
        assert_eq!(parse_all(&mut RequestParser::new(ParserLimits::default()), &mut check, expected).len(), expected);
        assert!(check.is_empty(), "{name}: bytes left unparsed");

        let mut parser = RequestParser::new(ParserLimits::default());
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || BytesMut::from(input),
                |mut buf| black_box(parse_all(&mut parser, black_box(&mut buf), expected)),
                batch,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parser);
criterion_main!(benches);
